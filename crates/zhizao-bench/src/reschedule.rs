//! Rescheduling after a breakdown on a generated plant: 100 work orders of
//! 10 operations on 40 machines (8 centres of 5), two shifts a day with a
//! lunch break, ten product families with setups, release and due dates.
//! A schedule is searched for a while; then at 10:00 on the first day the
//! busiest machine breaks down for four hours. Timed: the one-pass repair
//! (the new schedule the floor gets at once) and a repair followed by a
//! second of search with disruption weighed. Counted: operations moved,
//! and how many of them the breakdown does not reach (by precedence or by
//! the machine order of the old schedule) — which must be none.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use zhizao_schedule::{
    Instance, Job, MachineCalendar, Objective, OpRef, Operation, Placement, Solution, SolveOptions,
    check, repair, solve,
};

use crate::BenchError;

const CENTRES: usize = 8;
const PER_CENTRE: usize = 5;
const DAY: u64 = 24 * 60;

#[derive(Debug, Clone, Serialize)]
pub struct RescheduleReport {
    pub operations: usize,
    pub machines: usize,
    pub solve_seconds: f64,
    pub makespan_min: u64,
    pub weighted_tardiness_min: u64,
    pub broken_machine: usize,
    /// Operations the breakdown reaches: on the machine in the downtime,
    /// with a setup due to begin before now, and all after them.
    pub reached: usize,
    /// Repair: milliseconds, median and slowest of the runs.
    pub repair_ms: (f64, f64),
    pub repair_moved: usize,
    pub repair_moved_unreached: usize,
    pub repair_tardiness_min: u64,
    /// Repair and one second of search with disruption weighed.
    pub improve_ms: f64,
    pub improve_moved: usize,
    pub improve_tardiness_min: u64,
}

/// The generated plant, seeded.
pub fn plant(seed: u64) -> Instance {
    let mut rng = StdRng::seed_from_u64(seed);
    let machines = CENTRES * PER_CENTRE;
    let mut jobs = Vec::new();
    for _ in 0..100 {
        let family = rng.gen_range(0..10);
        let mut ops = Vec::new();
        let mut last_centre = usize::MAX;
        let mut work = 0u64;
        for _ in 0..10 {
            let mut centre = rng.gen_range(0..CENTRES);
            if centre == last_centre {
                centre = (centre + 1) % CENTRES;
            }
            last_centre = centre;
            let base = rng.gen_range(20..120u32);
            let count = rng.gen_range(2..=PER_CENTRE);
            let first = rng.gen_range(0..PER_CENTRE);
            let modes: Vec<(usize, u32)> = (0..count)
                .map(|k| {
                    let m = centre * PER_CENTRE + (first + k) % PER_CENTRE;
                    (m, base * rng.gen_range(8..13) / 10)
                })
                .collect();
            work += u64::from(base);
            ops.push(Operation {
                modes,
                family: Some(family),
                setup: rng.gen_range(15..45),
                ..Operation::default()
            });
        }
        let release = rng.gen_range(0..8 * 60);
        // Two shifts of a 24-hour day, so about 1.5 times the work.
        let due = release + work * rng.gen_range(20..40) / 10;
        jobs.push(Job {
            operations: ops,
            chain: true,
            release,
            due: Some(due),
            weight: rng.gen_range(1..4),
        });
    }
    // Work 06:00–22:00 with a lunch break 12:00–12:30, for 60 days.
    let downtime: Vec<(u64, u64)> = (0..60)
        .flat_map(|d| {
            let day = d * DAY;
            [
                (day, day + 6 * 60),
                (day + 12 * 60, day + 12 * 60 + 30),
                (day + 22 * 60, day + DAY),
            ]
        })
        .collect();
    Instance {
        machines,
        jobs,
        calendars: vec![
            MachineCalendar {
                downtime,
                initial_family: None,
            };
            machines
        ],
        links: Vec::new(),
        setups: Vec::new(),
        now: 0,
        objective: Objective::Weighted {
            makespan: 1,
            tardiness: 10,
            setup: 1,
            disruption: 0,
        },
    }
}

fn key(s: &zhizao_schedule::ScheduledOp) -> OpRef {
    OpRef {
        job: s.job,
        operation: s.operation,
    }
}

fn moved(old: &Solution, new: &Solution) -> Vec<OpRef> {
    let before: HashMap<OpRef, (usize, u64)> = old
        .operations
        .iter()
        .map(|s| (key(s), (s.machine, s.start)))
        .collect();
    new.operations
        .iter()
        .filter(|s| before.get(&key(s)) != Some(&(s.machine, s.start)))
        .map(key)
        .collect()
}

pub fn run(seed: u64, solve_seconds: f64, threads: usize) -> Result<RescheduleReport, BenchError> {
    let fail = |e: String| BenchError::Plan(e);
    let mut inst = plant(seed);
    inst.validate().map_err(|e| fail(e.to_string()))?;
    let options = SolveOptions {
        time_limit: Duration::from_secs_f64(solve_seconds),
        max_iterations: None,
        threads,
        seed,
    };
    let old = solve(&inst, &options, &AtomicBool::new(false));
    let old_costs = check(&inst, &old).map_err(|e| fail(e.to_string()))?;
    // 10:00 on the first day: the busiest machine after then breaks for
    // four hours.
    let now = 10 * 60;
    let mut load = vec![0usize; inst.machines];
    for s in old.operations.iter().filter(|s| s.start >= now) {
        load[s.machine] += 1;
    }
    let machine = (0..inst.machines)
        .max_by_key(|&m| (load[m], std::cmp::Reverse(m)))
        .unwrap_or(0);
    let down = (now, now + 4 * 60);
    inst.now = now;
    for s in &old.operations {
        let op = &mut inst.jobs[s.job].operations[s.operation];
        if s.start < now {
            op.fixed = Some(Placement {
                machine: s.machine,
                start: s.start,
            });
            op.fixed_setup = s.setup_start.map_or(0, |ss| (s.start - ss) as u32);
        } else {
            op.previous = Some(Placement {
                machine: s.machine,
                start: s.start,
            });
        }
    }
    inst.calendars[machine].downtime.push(down);
    inst.validate().map_err(|e| fail(e.to_string()))?;
    let reach = zhizao_schedule::reached(&inst, &old, machine, down);

    let mut times = Vec::new();
    let mut repaired = None;
    for _ in 0..7 {
        let t = Instant::now();
        let r = repair(&inst);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        repaired = Some(r);
    }
    let repaired = repaired.ok_or_else(|| fail("no repair".into()))?;
    let repair_costs = check(&inst, &repaired).map_err(|e| fail(format!("repair: {e}")))?;
    times.sort_by(f64::total_cmp);
    let repair_moved = moved(&old, &repaired);

    inst.objective = Objective::Weighted {
        makespan: 1,
        tardiness: 10,
        setup: 1,
        disruption: 5,
    };
    let t = Instant::now();
    let improved = solve(
        &inst,
        &SolveOptions {
            time_limit: Duration::from_secs(1),
            ..options
        },
        &AtomicBool::new(false),
    );
    let improve_ms = t.elapsed().as_secs_f64() * 1000.0;
    let improved_costs = check(&inst, &improved).map_err(|e| fail(format!("improved: {e}")))?;
    Ok(RescheduleReport {
        operations: inst.operation_count(),
        machines: inst.machines,
        solve_seconds,
        makespan_min: old_costs.makespan,
        weighted_tardiness_min: old_costs.weighted_tardiness,
        broken_machine: machine,
        reached: reach.len(),
        repair_ms: (times[times.len() / 2], times[times.len() - 1]),
        repair_moved: repair_moved.len(),
        repair_moved_unreached: repair_moved.iter().filter(|r| !reach.contains(r)).count(),
        repair_tardiness_min: repair_costs.weighted_tardiness,
        improve_ms,
        improve_moved: moved(&old, &improved).len(),
        improve_tardiness_min: improved_costs.weighted_tardiness,
    })
}
