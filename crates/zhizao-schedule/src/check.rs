//! A schedule checker that shares nothing with the search: every
//! operation once, on a machine it may use, for its duration in working
//! time (in one stretch unless it may pause), not before its release or
//! `now`, after all its predecessors, fixed operations where they were
//! fixed, never overlapping another on its machine, with the setup its
//! family change needs before it; and the costs recomputed (and compared
//! with the solution's, when it states them).

use crate::model::{Costs, Instance, OpRef, Solution};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckError(pub String);

/// Working time in `[a, b)` given downtime intervals (in any order, maybe
/// overlapping).
fn working(down: &[(u64, u64)], a: u64, b: u64) -> u64 {
    if b <= a {
        return 0;
    }
    let mut cut: Vec<(u64, u64)> = down
        .iter()
        .map(|&(x, y)| (x.max(a), y.min(b)))
        .filter(|(x, y)| x < y)
        .collect();
    cut.sort_unstable();
    let (mut lost, mut reach) = (0, a);
    for (x, y) in cut {
        let x = x.max(reach);
        if y > x {
            lost += y - x;
            reach = y;
        }
    }
    (b - a) - lost
}

pub fn check(instance: &Instance, solution: &Solution) -> Result<Costs, CheckError> {
    let fail = |m: String| Err(CheckError(m));
    let name = |r: OpRef| format!("job {} operation {}", r.job, r.operation);
    let down =
        |m: usize| -> &[(u64, u64)] { instance.calendars.get(m).map_or(&[][..], |c| &c.downtime) };
    let mut seen: Vec<Vec<Option<(u64, u64, usize)>>> = instance
        .jobs
        .iter()
        .map(|j| vec![None; j.operations.len()])
        .collect();
    // (start, end, setup start, operation) per machine.
    type Run = (u64, u64, Option<u64>, OpRef);
    let mut on_machine: Vec<Vec<Run>> = vec![Vec::new(); instance.machines];
    for s in &solution.operations {
        let r = OpRef {
            job: s.job,
            operation: s.operation,
        };
        let Some(op) = instance.operation(r) else {
            return fail(format!("job {} has no operation {}", s.job, s.operation));
        };
        let slot = &mut seen[s.job][s.operation];
        if slot.is_some() {
            return fail(format!("{} is scheduled twice", name(r)));
        }
        let Some(d) = op.duration_on(s.machine) else {
            return fail(format!("{} cannot run on machine {}", name(r), s.machine));
        };
        let d = u64::from(d);
        if s.end < s.start {
            return fail(format!("{} ends before it starts", name(r)));
        }
        if let Some(f) = op.fixed {
            let setup = u64::from(op.fixed_setup).min(f.start);
            let setup_start = (setup > 0).then(|| f.start - setup);
            if f.machine != s.machine
                || f.start != s.start
                || s.end != s.start + d
                || s.setup_start != setup_start
            {
                return fail(format!(
                    "{} is fixed on machine {} from {} but runs on {} {}–{}",
                    name(r),
                    f.machine,
                    f.start,
                    s.machine,
                    s.start,
                    s.end
                ));
            }
        } else {
            let job = &instance.jobs[s.job];
            if s.start < job.release.max(instance.now) && d > 0 {
                return fail(format!(
                    "{} starts at {}, before its release at {}",
                    name(r),
                    s.start,
                    job.release.max(instance.now)
                ));
            }
            let work = working(down(s.machine), s.start, s.end);
            let whole = s.end - s.start == d;
            if work != d || (!op.splittable && !whole) {
                return fail(format!(
                    "{} runs {}–{} on machine {} ({work} of working time) but takes {d}{}",
                    name(r),
                    s.start,
                    s.end,
                    s.machine,
                    if op.splittable { "" } else { " in one stretch" }
                ));
            }
        }
        *slot = Some((s.start, s.end, s.machine));
        on_machine[s.machine].push((s.start, s.end, s.setup_start, r));
    }
    let mut makespan = 0;
    let mut costs = Costs::default();
    for (j, ops) in seen.iter().enumerate() {
        let mut done = 0;
        for (k, t) in ops.iter().enumerate() {
            let Some((_, end, _)) = *t else {
                return fail(format!("job {j} operation {k} is not scheduled"));
            };
            done = done.max(end);
        }
        makespan = makespan.max(done);
        let job = &instance.jobs[j];
        if let Some(due) = job.due {
            costs.weighted_tardiness += u64::from(job.weight) * done.saturating_sub(due);
        }
    }
    for (j, job) in instance.jobs.iter().enumerate() {
        for (k, op) in job.operations.iter().enumerate() {
            let Some((start, _, machine)) = seen[j][k] else {
                continue;
            };
            if let Some(p) = op.previous {
                let shift = start.abs_diff(p.start)
                    + if p.machine == machine {
                        0
                    } else {
                        u64::from(op.duration_on(machine).unwrap_or(0))
                    };
                if shift > 0 {
                    costs.disruption += shift;
                    costs.moved += 1;
                }
            }
        }
    }
    let preds = instance.predecessors();
    for (o, (j, k)) in instance.numbering().into_iter().enumerate() {
        let Some((start, _, _)) = seen[j][k] else {
            continue;
        };
        for &p in &preds[o] {
            if let Some((_, pend, _)) = seen[p.job][p.operation]
                && start < pend
            {
                return fail(format!(
                    "job {j} operation {k} starts at {start}, before its predecessor {} ends at {pend}",
                    name(p)
                ));
            }
        }
    }
    for (m, list) in on_machine.iter_mut().enumerate() {
        list.sort_unstable_by_key(|x| (x.0, x.1, x.3));
        let mut prev: Option<(u64, u64, OpRef)> = None;
        let initial = instance.calendars.get(m).and_then(|c| c.initial_family);
        for &(start, end, setup_start, r) in list.iter() {
            let op = instance.operation(r);
            let fixed = op.is_some_and(|o| o.fixed.is_some());
            let prev_family = match prev {
                Some((_, _, p)) => instance.operation(p).and_then(|o| o.family),
                None => initial,
            };
            let prev_end = prev.map_or(0, |p| p.1);
            let need = if let Some(o) = op.filter(|_| fixed) {
                u64::from(o.fixed_setup).min(start)
            } else {
                op.map_or(0, |o| {
                    u64::from(o.setup_after(prev_family, &instance.setups))
                })
            };
            // Two instants at one time cannot be told apart: no setup
            // between them is asked for.
            let tie = prev.is_some_and(|p| p.0 == p.1 && p.0 == start) && start == end;
            if let Some(p) = prev
                && start < p.1
                && end > start
                && p.1 > p.0
            {
                return fail(format!(
                    "machine {m}: {} ({}–{}) overlaps {} ({start}–{end})",
                    name(p.2),
                    p.0,
                    p.1,
                    name(r)
                ));
            }
            if need > 0 && !tie {
                let Some(ss) = setup_start else {
                    return fail(format!(
                        "machine {m}: {} needs a setup of {need} but has none",
                        name(r)
                    ));
                };
                let fits = if fixed {
                    ss >= prev_end
                } else {
                    ss >= prev_end && ss >= instance.now && working(down(m), ss, start) >= need
                };
                if !fits {
                    return fail(format!(
                        "machine {m}: {} has its setup of {need} from {ss} to {start}, which does not fit after {prev_end}",
                        name(r)
                    ));
                }
                costs.setup_time += need;
            }
            prev = Some((start, end, r));
        }
    }
    costs.makespan = makespan;
    if makespan != solution.makespan {
        return fail(format!(
            "the makespan is {makespan}, not {}",
            solution.makespan
        ));
    }
    if let Some(stated) = solution.costs
        && stated != costs
    {
        return fail(format!("the costs are {costs:?}, not {stated:?}"));
    }
    Ok(costs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ScheduledOp;
    use crate::parse::{Format, parse};

    #[test]
    fn the_checker_finds_each_kind_of_fault() {
        let inst = parse("2 2\n0 3 1 2\n1 4 0 1\n", Format::Jssp).unwrap_or_else(|e| panic!("{e}"));
        let op = |job, operation, machine, start, end| ScheduledOp {
            job,
            operation,
            machine,
            start,
            end,
            setup_start: None,
        };
        let good = Solution {
            costs: None,
            makespan: 5,
            operations: vec![
                op(0, 0, 0, 0, 3),
                op(0, 1, 1, 4, 6),
                op(1, 0, 1, 0, 4),
                op(1, 1, 0, 4, 5),
            ],
        };
        assert_eq!(
            check(&inst, &good).map_err(|e| e.0),
            Err("the makespan is 6, not 5".into())
        );
        let good = Solution {
            makespan: 6,
            ..good
        };
        check(&inst, &good).unwrap_or_else(|e| panic!("{e}"));
        let mut overlap = good.clone();
        overlap.operations[1] = op(0, 1, 1, 3, 5);
        assert!(check(&inst, &overlap).unwrap_err().0.contains("overlaps"));
        let mut early = good.clone();
        early.operations[3] = op(1, 1, 0, 3, 4);
        assert!(
            check(&inst, &early)
                .unwrap_err()
                .0
                .contains("before its predecessor")
        );
        let mut wrong = good.clone();
        wrong.operations[0] = op(0, 0, 1, 0, 3);
        assert!(
            check(&inst, &wrong)
                .unwrap_err()
                .0
                .contains("cannot run on machine 1")
        );
        let mut missing = good;
        missing.operations.pop();
        assert!(
            check(&inst, &missing)
                .unwrap_err()
                .0
                .contains("not scheduled")
        );
    }
}
