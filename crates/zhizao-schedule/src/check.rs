//! A schedule checker that shares nothing with the search: every
//! operation once, on a machine it may use, for its duration, after the
//! job's previous operation, never overlapping another on its machine,
//! and the makespan as stated.

use crate::model::{Instance, Solution};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckError(pub String);

pub fn check(instance: &Instance, solution: &Solution) -> Result<(), CheckError> {
    let fail = |m: String| Err(CheckError(m));
    let mut seen: Vec<Vec<Option<(u64, u64)>>> = instance
        .jobs
        .iter()
        .map(|ops| vec![None; ops.len()])
        .collect();
    let mut on_machine: Vec<Vec<(u64, u64, usize, usize)>> = vec![Vec::new(); instance.machines];
    for s in &solution.operations {
        let Some(op) = instance
            .jobs
            .get(s.job)
            .and_then(|ops| ops.get(s.operation))
        else {
            return fail(format!("job {} has no operation {}", s.job, s.operation));
        };
        let slot = &mut seen[s.job][s.operation];
        if slot.is_some() {
            return fail(format!(
                "job {} operation {} is scheduled twice",
                s.job, s.operation
            ));
        }
        let Some(&(_, d)) = op.modes.iter().find(|(m, _)| *m == s.machine) else {
            return fail(format!(
                "job {} operation {} cannot run on machine {}",
                s.job, s.operation, s.machine
            ));
        };
        if s.end < s.start || s.end - s.start != u64::from(d) {
            return fail(format!(
                "job {} operation {} runs {}–{} but takes {d} on machine {}",
                s.job, s.operation, s.start, s.end, s.machine
            ));
        }
        *slot = Some((s.start, s.end));
        on_machine[s.machine].push((s.start, s.end, s.job, s.operation));
    }
    let mut makespan = 0;
    for (j, ops) in seen.iter().enumerate() {
        let mut ready = 0;
        for (k, t) in ops.iter().enumerate() {
            let Some((start, end)) = *t else {
                return fail(format!("job {j} operation {k} is not scheduled"));
            };
            if start < ready {
                return fail(format!(
                    "job {j} operation {k} starts at {start}, before its previous operation ends at {ready}"
                ));
            }
            ready = end;
            makespan = makespan.max(end);
        }
    }
    for (m, list) in on_machine.iter_mut().enumerate() {
        list.sort_unstable();
        for w in list.windows(2) {
            if w[1].0 < w[0].1 && w[0].1 > w[0].0 && w[1].1 > w[1].0 {
                return fail(format!(
                    "machine {m}: job {} operation {} ({}–{}) overlaps job {} operation {} ({}–{})",
                    w[0].2, w[0].3, w[0].0, w[0].1, w[1].2, w[1].3, w[1].0, w[1].1
                ));
            }
        }
    }
    if makespan != solution.makespan {
        return fail(format!(
            "the makespan is {makespan}, not {}",
            solution.makespan
        ));
    }
    Ok(())
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
        };
        let good = Solution {
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
                .contains("before its previous")
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
