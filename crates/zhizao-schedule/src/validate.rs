//! An instance is checked once, where it comes in, so the search can take
//! it as sound: every reference in range, setups square, precedence
//! without a cycle, fixed operations consistent. Each fault is named by
//! its place in the instance's JSON (`jobs[2].operations[0].modes`).

use crate::model::{Instance, OpRef};

/// Times beyond this are refused, so sums of them cannot overflow.
pub const MAX_TIME: u64 = 1 << 48;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ModelError {
    pub path: String,
    pub message: String,
}

fn fault(path: impl Into<String>, message: impl Into<String>) -> Result<(), ModelError> {
    Err(ModelError {
        path: path.into(),
        message: message.into(),
    })
}

fn op_path(r: OpRef) -> String {
    format!("jobs[{}].operations[{}]", r.job, r.operation)
}

impl Instance {
    /// Every predecessor of each operation: the one before it in a chain,
    /// and links.
    pub fn predecessors(&self) -> Vec<Vec<OpRef>> {
        let start = self.starts();
        let mut preds: Vec<Vec<OpRef>> = vec![Vec::new(); self.operation_count()];
        for (j, job) in self.jobs.iter().enumerate() {
            if job.chain {
                for k in 1..job.operations.len() {
                    preds[start[j] + k].push(OpRef {
                        job: j,
                        operation: k - 1,
                    });
                }
            }
        }
        for l in &self.links {
            if let Some(&s) = start.get(l.after.job)
                && let Some(p) = preds.get_mut(s + l.after.operation)
            {
                p.push(l.before);
            }
        }
        preds
    }

    /// The flat number of each job's first operation.
    pub fn starts(&self) -> Vec<usize> {
        let mut at = 0;
        self.jobs
            .iter()
            .map(|j| {
                let s = at;
                at += j.operations.len();
                s
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        if self.machines == 0 {
            return fault("machines", "needs at least one machine");
        }
        let families = self.setups.len();
        for (a, row) in self.setups.iter().enumerate() {
            if row.len() != families {
                return fault(
                    format!("setups[{a}]"),
                    format!(
                        "has {} entries; the matrix is {families} × {families}",
                        row.len()
                    ),
                );
            }
        }
        let family_ok = |f: Option<usize>| f.is_none_or(|f| families == 0 || f < families);
        if !self.calendars.is_empty() && self.calendars.len() != self.machines {
            return fault(
                "calendars",
                format!(
                    "has {} calendars for {} machines (give one per machine or none)",
                    self.calendars.len(),
                    self.machines
                ),
            );
        }
        for (m, c) in self.calendars.iter().enumerate() {
            for (i, &(a, b)) in c.downtime.iter().enumerate() {
                if a > b {
                    return fault(
                        format!("calendars[{m}].downtime[{i}]"),
                        format!("ends at {b}, before it starts at {a}"),
                    );
                }
                if b > MAX_TIME {
                    return fault(
                        format!("calendars[{m}].downtime[{i}]"),
                        format!("{b} is beyond the largest time, {MAX_TIME}"),
                    );
                }
            }
            if !family_ok(c.initial_family) {
                return fault(
                    format!("calendars[{m}].initial_family"),
                    format!("no such family: the setup matrix has {families}"),
                );
            }
        }
        if self.now > MAX_TIME {
            return fault("now", format!("beyond the largest time, {MAX_TIME}"));
        }
        for (j, job) in self.jobs.iter().enumerate() {
            if job.release > MAX_TIME || job.due.is_some_and(|d| d > MAX_TIME) {
                return fault(
                    format!("jobs[{j}]"),
                    format!("release and due must be at most {MAX_TIME}"),
                );
            }
            for (k, op) in job.operations.iter().enumerate() {
                let here = op_path(OpRef {
                    job: j,
                    operation: k,
                });
                if op.modes.is_empty() {
                    return fault(format!("{here}.modes"), "no machine may run this operation");
                }
                for (i, &(m, _)) in op.modes.iter().enumerate() {
                    if m >= self.machines {
                        return fault(
                            format!("{here}.modes[{i}]"),
                            format!(
                                "machine {m} does not exist (machines are 0–{})",
                                self.machines - 1
                            ),
                        );
                    }
                    if op.modes[..i].iter().any(|x| x.0 == m) {
                        return fault(
                            format!("{here}.modes[{i}]"),
                            format!("machine {m} is given twice"),
                        );
                    }
                }
                if !family_ok(op.family) {
                    return fault(
                        format!("{here}.family"),
                        format!("no such family: the setup matrix has {families}"),
                    );
                }
                if let Some(f) = op.fixed {
                    if op.duration_on(f.machine).is_none() {
                        return fault(
                            format!("{here}.fixed"),
                            format!("fixed on machine {}, which may not run it", f.machine),
                        );
                    }
                    if f.start > MAX_TIME {
                        return fault(format!("{here}.fixed"), format!("starts beyond {MAX_TIME}"));
                    }
                }
                if let Some(p) = op.previous
                    && (p.machine >= self.machines || p.start > MAX_TIME)
                {
                    return fault(format!("{here}.previous"), "no such machine or time");
                }
            }
        }
        for (i, l) in self.links.iter().enumerate() {
            for (end, r) in [("before", l.before), ("after", l.after)] {
                if self.operation(r).is_none() {
                    return fault(
                        format!("links[{i}].{end}"),
                        format!("{} does not exist", op_path(r)),
                    );
                }
            }
            if l.before == l.after {
                return fault(format!("links[{i}]"), "an operation cannot precede itself");
            }
        }
        self.validate_precedence()?;
        self.validate_fixed()
    }

    fn validate_precedence(&self) -> Result<(), ModelError> {
        let refs: Vec<OpRef> = self
            .numbering()
            .into_iter()
            .map(|(job, operation)| OpRef { job, operation })
            .collect();
        let start = self.starts();
        let flat = |r: OpRef| start[r.job] + r.operation;
        let preds = self.predecessors();
        let n = refs.len();
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut indeg = vec![0usize; n];
        for (o, ps) in preds.iter().enumerate() {
            for &p in ps {
                succs[flat(p)].push(o);
                indeg[o] += 1;
            }
        }
        let mut queue: Vec<usize> = (0..n).filter(|&o| indeg[o] == 0).collect();
        let mut done = 0;
        while let Some(o) = queue.pop() {
            done += 1;
            for &s in &succs[o] {
                indeg[s] -= 1;
                if indeg[s] == 0 {
                    queue.push(s);
                }
            }
        }
        if done == n {
            return Ok(());
        }
        // Walk back through predecessors still in the cycle's part until
        // one repeats: that stretch is a cycle.
        let Some(mut o) = (0..n).find(|&o| indeg[o] > 0) else {
            return Ok(());
        };
        let mut seen = vec![usize::MAX; n];
        let mut path = Vec::new();
        while seen[o] == usize::MAX {
            seen[o] = path.len();
            path.push(o);
            match preds[o].iter().map(|&p| flat(p)).find(|&p| indeg[p] > 0) {
                Some(p) => o = p,
                None => break,
            }
        }
        let mut cycle: Vec<usize> = path[seen[o].min(path.len())..].to_vec();
        cycle.reverse();
        cycle.push(cycle[0]);
        let names: Vec<String> = cycle.iter().map(|&o| op_path(refs[o])).collect();
        fault(
            op_path(refs[cycle[0]]),
            format!("the precedence is a cycle: {}", names.join(" → ")),
        )
    }

    fn validate_fixed(&self) -> Result<(), ModelError> {
        let mut on_machine: Vec<Vec<(u64, u64, OpRef)>> = vec![Vec::new(); self.machines];
        let preds = self.predecessors();
        let start = self.starts();
        for (j, job) in self.jobs.iter().enumerate() {
            for (k, op) in job.operations.iter().enumerate() {
                let r = OpRef {
                    job: j,
                    operation: k,
                };
                let Some(f) = op.fixed else { continue };
                let d = u64::from(op.duration_on(f.machine).unwrap_or(0));
                let setup = u64::from(op.fixed_setup).min(f.start);
                on_machine[f.machine].push((f.start - setup, f.start + d, r));
                for &p in &preds[start[j] + k] {
                    let Some(pf) = self.operation(p).and_then(|x| x.fixed.map(|f| (x, f))) else {
                        return fault(
                            format!("{}.fixed", op_path(r)),
                            format!("fixed, but its predecessor {} is not", op_path(p)),
                        );
                    };
                    let pend = pf.1.start + u64::from(pf.0.duration_on(pf.1.machine).unwrap_or(0));
                    if pend > f.start {
                        return fault(
                            format!("{}.fixed", op_path(r)),
                            format!(
                                "starts at {}, before its predecessor {} ends at {pend}",
                                f.start,
                                op_path(p)
                            ),
                        );
                    }
                }
            }
        }
        for (m, list) in on_machine.iter_mut().enumerate() {
            list.sort_unstable();
            for w in list.windows(2) {
                if w[1].0 < w[0].1 {
                    return fault(
                        format!("{}.fixed", op_path(w[1].2)),
                        format!("overlaps {} on machine {m}", op_path(w[0].2)),
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Job, Link, Operation, Placement};

    fn plant() -> Instance {
        let op = |m| Operation::on(vec![(m, 5)]);
        Instance::job_shop(2, vec![vec![op(0), op(1)], vec![op(1), op(0)]])
    }

    fn link(a: (usize, usize), b: (usize, usize)) -> Link {
        Link {
            before: OpRef {
                job: a.0,
                operation: a.1,
            },
            after: OpRef {
                job: b.0,
                operation: b.1,
            },
        }
    }

    #[test]
    fn a_cycle_is_named_operation_by_operation() {
        let mut p = plant();
        p.links = vec![link((0, 1), (1, 0)), link((1, 1), (0, 0))];
        let e = p.validate().unwrap_err();
        assert!(e.message.starts_with("the precedence is a cycle: "), "{e}");
        for name in [
            "jobs[0].operations[0]",
            "jobs[0].operations[1]",
            "jobs[1].operations[0]",
            "jobs[1].operations[1]",
        ] {
            assert!(e.message.contains(name), "{e}");
        }
        p.links.pop();
        p.validate().unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn each_fault_is_named_by_its_place() {
        type Change = Box<dyn Fn(&mut Instance)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|p| p.jobs[1].operations[0].modes.clear()),
                "jobs[1].operations[0].modes: no machine",
            ),
            (
                Box::new(|p| p.jobs[0].operations[1].modes.push((7, 1))),
                "jobs[0].operations[1].modes[1]: machine 7 does not exist",
            ),
            (
                Box::new(|p| p.setups = vec![vec![0, 1], vec![0]]),
                "setups[1]: has 1 entries",
            ),
            (
                Box::new(|p| p.calendars = vec![Default::default()]),
                "calendars: has 1 calendars for 2 machines",
            ),
            (
                Box::new(|p| p.links.push(link((0, 0), (3, 0)))),
                "links[0].after: jobs[3].operations[0] does not exist",
            ),
            (
                Box::new(|p| {
                    p.jobs[0].operations[1].fixed = Some(Placement {
                        machine: 1,
                        start: 0,
                    });
                }),
                "jobs[0].operations[1].fixed: fixed, but its predecessor jobs[0].operations[0] is not",
            ),
            (
                Box::new(|p| {
                    p.jobs[1].operations[0].fixed = Some(Placement {
                        machine: 1,
                        start: 0,
                    });
                    p.jobs[0].operations[0].fixed = Some(Placement {
                        machine: 0,
                        start: 0,
                    });
                    p.jobs[0].operations[1].fixed = Some(Placement {
                        machine: 1,
                        start: 5,
                    });
                    p.jobs[1].operations[1].fixed = Some(Placement {
                        machine: 0,
                        start: 3,
                    });
                }),
                "jobs[1].operations[1].fixed: starts at 3, before its predecessor jobs[1].operations[0] ends at 5",
            ),
        ];
        for (change, expected) in cases {
            let mut p = plant();
            change(&mut p);
            let e = p.validate().unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e} (expected {expected})");
        }
        let mut p = plant();
        p.jobs.push(Job {
            chain: false,
            ..Job::chain(vec![Operation::on(vec![(0, 1)])])
        });
        p.validate().unwrap_or_else(|e| panic!("{e}"));
    }
}
