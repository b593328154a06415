//! Why a job is late, read from a schedule alone (so it holds for any
//! schedule, also one a planner changed by hand): from the job's last
//! operation back, each operation waited for a predecessor, for the
//! operation before it on its machine, for its release, or for working
//! time. That chain, and the machine it spends longest on, explain the
//! lateness.

use serde::{Deserialize, Serialize};

use crate::model::{Instance, OpRef, Solution};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// A predecessor in its job or assembly ended just then.
    Predecessor,
    /// The machine was busy with the operation before it (or setting up).
    Machine,
    /// It starts at its job's release (or now).
    Release,
    /// It is fixed there.
    Fixed,
    /// Nothing above: the calendar (downtime) held it.
    Calendar,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStep {
    pub job: usize,
    pub operation: usize,
    pub machine: usize,
    pub start: u64,
    pub end: u64,
    pub waited_for: Wait,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateJob {
    pub job: usize,
    pub due: u64,
    pub completion: u64,
    pub tardiness: u64,
    /// From the earliest operation that matters to the job's last.
    pub chain: Vec<ChainStep>,
    /// The machine the chain spends most time on, running or queueing.
    pub bottleneck: Option<usize>,
}

/// Every job that ends after its due date, most tardy first. The solution
/// should have passed [`crate::check`].
pub fn late_jobs(inst: &Instance, sol: &Solution) -> Vec<LateJob> {
    let start = inst.starts();
    let n = inst.operation_count();
    type At = (usize, u64, u64, Option<u64>);
    let mut at: Vec<Option<At>> = vec![None; n];
    for s in &sol.operations {
        if let Some(&b) = start.get(s.job)
            && let Some(slot) = at.get_mut(b + s.operation)
        {
            *slot = Some((s.machine, s.start, s.end, s.setup_start));
        }
    }
    let refs: Vec<OpRef> = inst
        .numbering()
        .into_iter()
        .map(|(job, operation)| OpRef { job, operation })
        .collect();
    let flat = |r: OpRef| start[r.job] + r.operation;
    // Each machine's operations in time order, to find the one before.
    let mut before_on: Vec<Option<usize>> = vec![None; n];
    let mut lists: Vec<Vec<(u64, u64, usize)>> = vec![Vec::new(); inst.machines];
    for (o, a) in at.iter().enumerate() {
        if let Some((m, s, e, _)) = *a
            && let Some(l) = lists.get_mut(m)
        {
            l.push((s, e, o));
        }
    }
    for l in &mut lists {
        l.sort_unstable();
        for w in l.windows(2) {
            before_on[w[1].2] = Some(w[0].2);
        }
    }
    let preds = inst.predecessors();
    let mut late = Vec::new();
    for (j, job) in inst.jobs.iter().enumerate() {
        let Some(due) = job.due else { continue };
        let last = (start[j]..start[j] + job.operations.len())
            .filter_map(|o| at[o].map(|a| (a.2, o)))
            .max();
        let Some((completion, mut o)) = last else {
            continue;
        };
        if completion <= due {
            continue;
        }
        let mut chain = Vec::new();
        let mut time_on = vec![0u64; inst.machines];
        while let Some((m, s, e, setup)) = at[o] {
            let r = refs[o];
            let fixed = inst.operation(r).is_some_and(|x| x.fixed.is_some());
            let pred = preds[o]
                .iter()
                .map(|&p| flat(p))
                .filter_map(|p| at[p].map(|a| (a.2, p)))
                .max();
            let machine_prev = before_on[o].and_then(|p| at[p].map(|a| (a.2, p)));
            let release = job.release.max(inst.now);
            let ready = pred.map_or(release, |(pe, _)| pe.max(release));
            let (wait, next) = if fixed {
                (Wait::Fixed, None)
            } else if let Some((_, p)) = pred.filter(|&(pe, _)| pe == s) {
                (Wait::Predecessor, Some(p))
            } else if let Some((_, p)) =
                machine_prev.filter(|&(pe, _)| pe > ready || setup.is_some())
            {
                (Wait::Machine, Some(p))
            } else if setup.is_some() {
                (Wait::Machine, None)
            } else if s == release {
                (Wait::Release, None)
            } else {
                (Wait::Calendar, None)
            };
            if let Some(t) = time_on.get_mut(m) {
                let queued = if wait == Wait::Machine {
                    s.saturating_sub(ready)
                } else {
                    0
                };
                *t += (e - s) + queued;
            }
            chain.push(ChainStep {
                job: r.job,
                operation: r.operation,
                machine: m,
                start: s,
                end: e,
                waited_for: wait,
            });
            match next {
                Some(p) if chain.len() <= n => o = p,
                _ => break,
            }
        }
        chain.reverse();
        let bottleneck = time_on
            .iter()
            .enumerate()
            .filter(|(_, t)| **t > 0)
            .max_by_key(|&(m, t)| (*t, std::cmp::Reverse(m)))
            .map(|(m, _)| m);
        late.push(LateJob {
            job: j,
            due,
            completion,
            tardiness: completion - due,
            chain,
            bottleneck,
        });
    }
    late.sort_by_key(|l| (std::cmp::Reverse(l.tardiness), l.job));
    late
}
