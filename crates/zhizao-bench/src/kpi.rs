//! KPI recomputation over history: a month of state data at one-second
//! resolution for many machines, accounted per shift and rolled up, the
//! way a monthly report recomputes it. The state data is generated, seeded:
//! runs of running, idle, setup and down with realistic lengths, every
//! change on a whole second, and a good-parts counter sampled every minute.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use zhizao_core::{Calendar, MachineState, ShiftPattern};
use zhizao_kpi::calendar::{SiteCalendar, account_shifts};
use zhizao_kpi::states::{MINOR_STOP_MS, counter_increase, intervals};
use zhizao_kpi::{Failures, Inputs, Interval, Kpis, Quantities, TimeElements};

use crate::BenchError;

#[derive(Debug, Clone, Serialize)]
pub struct KpiReport {
    pub machines: usize,
    pub days: u32,
    pub state_changes: usize,
    pub counter_samples: usize,
    pub shifts_per_machine: usize,
    /// Generating the data (not part of the recomputation).
    pub generate_s: f64,
    /// Accounting every shift of every machine, its KPIs, and the month's.
    pub recompute_s: f64,
    pub threads: usize,
    /// Mean OEE over the machines' months, as a sanity check.
    pub mean_oee: f64,
}

struct Machine {
    intervals: Vec<Interval>,
    /// (ms, running count of good parts), one a minute.
    counter: Vec<(i64, f64)>,
}

fn generate(seed: u64, from: i64, to: i64) -> Machine {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut changes = Vec::new();
    let mut t = from;
    let mut state = MachineState::Running;
    while t < to {
        changes.push((t, state));
        let minutes: f64 = match state {
            MachineState::Running => rng.gen_range(5.0..90.0),
            MachineState::Idle => rng.gen_range(1.0..20.0),
            MachineState::Setup => rng.gen_range(5.0..30.0),
            _ => rng.gen_range(0.5..40.0),
        };
        t += (minutes * 60.0) as i64 * 1000;
        state = match (state, rng.gen_range(0..10)) {
            (MachineState::Running, 0..=4) => MachineState::Idle,
            (MachineState::Running, 5..=6) => MachineState::Setup,
            (MachineState::Running, _) => MachineState::Down,
            _ => MachineState::Running,
        };
    }
    let iv = intervals(None, &changes, from, to, MINOR_STOP_MS);
    let mut counter = Vec::with_capacity(((to - from) / 60_000) as usize);
    let mut good = 0.0;
    let mut k = 0;
    let mut m = from;
    while m < to {
        while k + 1 < iv.len() && iv[k].end <= m {
            k += 1;
        }
        if iv
            .get(k)
            .is_some_and(|i| i.class == zhizao_kpi::StateClass::Running)
        {
            good += 2.0;
        }
        counter.push((m, good));
        m += 60_000;
    }
    Machine {
        intervals: iv,
        counter,
    }
}

/// Recomputes every shift of one machine and its month; returns the
/// month's OEE.
fn recompute(
    cal: &SiteCalendar,
    m: &Machine,
    from: i64,
    to: i64,
) -> Result<Option<f64>, BenchError> {
    let shifts = cal
        .shifts_between(from, to)
        .map_err(|e| BenchError::Kpi(e.to_string()))?;
    let accounted =
        account_shifts(&shifts, &[], &m.intervals).map_err(|e| BenchError::Kpi(e.to_string()))?;
    let mut month = TimeElements::default();
    let mut good = 0.0;
    let mut failures = 0;
    for (s, a) in shifts.iter().zip(&accounted) {
        let first = m.counter.partition_point(|(t, _)| *t < s.start_ms);
        let last = m.counter.partition_point(|(t, _)| *t < s.end_ms);
        let before = first.checked_sub(1).map(|i| m.counter[i].1);
        let values: Vec<f64> = m.counter[first..last].iter().map(|(_, v)| *v).collect();
        let gq = counter_increase(before, &values);
        let k = Kpis::compute(&Inputs {
            time: a.time,
            quantities: Quantities {
                pq: gq,
                gq,
                ..Quantities::default()
            },
            pri: Some(25_000.0),
            failures: Failures {
                count: a.failures,
                operating_intervals: Some(a.operating_intervals.clone()),
                restoration_times: a.restoration_times.clone(),
            },
            ..Inputs::default()
        });
        std::hint::black_box(&k);
        month = month.add(&a.time);
        good += gq;
        failures += a.failures;
    }
    let k = Kpis::compute(&Inputs {
        time: month,
        quantities: Quantities {
            pq: good,
            gq: good,
            ..Quantities::default()
        },
        pri: Some(25_000.0),
        failures: Failures {
            count: failures,
            ..Failures::default()
        },
        ..Inputs::default()
    });
    Ok(k.oee_index)
}

pub fn run(machines: usize, days: u32) -> Result<KpiReport, BenchError> {
    let cal = SiteCalendar::new(
        Calendar {
            code: "bench".into(),
            pattern: ShiftPattern::three_eight(),
            working_weekdays: vec![1, 2, 3, 4, 5, 6, 7],
            holidays: Vec::new(),
            extra_working_days: Vec::new(),
        },
        "Asia/Shanghai",
    )
    .map_err(|e| BenchError::Kpi(e.to_string()))?;
    // 1 October 2026 00:00 China Standard Time.
    let from = 1_790_784_000_000 - 8 * 3_600_000;
    let to = from + i64::from(days) * 86_400_000;
    let t0 = Instant::now();
    let data: Vec<Machine> = (0..machines)
        .map(|i| generate(i as u64 + 1, from, to))
        .collect();
    let generate_s = t0.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t1 = Instant::now();
    let chunk = machines.div_ceil(threads).max(1);
    let results: Vec<Result<Vec<Option<f64>>, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = data
            .chunks(chunk)
            .map(|part| {
                let cal = &cal;
                scope.spawn(move || {
                    part.iter()
                        .map(|m| recompute(cal, m, from, to))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BenchError::Kpi("a worker panicked".into())))
            })
            .collect()
    });
    let recompute_s = t1.elapsed().as_secs_f64();
    let mut oees = Vec::new();
    for r in results {
        oees.extend(r?.into_iter().flatten());
    }
    let shifts_per_machine = cal
        .shifts_between(from, to)
        .map_err(|e| BenchError::Kpi(e.to_string()))?
        .len();
    Ok(KpiReport {
        machines,
        days,
        state_changes: data.iter().map(|m| m.intervals.len()).sum(),
        counter_samples: data.iter().map(|m| m.counter.len()).sum(),
        shifts_per_machine,
        generate_s,
        recompute_s,
        threads,
        mean_oee: oees.iter().sum::<f64>() / oees.len().max(1) as f64,
    })
}
