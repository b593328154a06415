//! What a breakdown reaches in a schedule: the operations whose place it
//! takes (on the machine while it is down, or with a setup due to begin
//! before `now`), and everything after them by precedence or in the
//! schedule's machine order. A repair must move nothing else; the
//! benchmark and the property test hold it to that.

use std::collections::{HashMap, HashSet};

use crate::model::{Instance, OpRef, ScheduledOp, Solution};

fn key(s: &ScheduledOp) -> OpRef {
    OpRef {
        job: s.job,
        operation: s.operation,
    }
}

/// `inst` is the plant after the breakdown of `machine` over `down`
/// (its `now` set, started operations fixed); `old` the schedule before.
pub fn reached(
    inst: &Instance,
    old: &Solution,
    machine: usize,
    down: (u64, u64),
) -> HashSet<OpRef> {
    let mut hit: Vec<OpRef> = old
        .operations
        .iter()
        .filter(|s| inst.operation(key(s)).is_some_and(|o| o.fixed.is_none()))
        .filter(|s| {
            let begins = s.setup_start.unwrap_or(s.start);
            begins < inst.now || (s.machine == machine && begins < down.1 && s.end > down.0)
        })
        .map(key)
        .collect();
    let mut after: HashMap<OpRef, Vec<OpRef>> = HashMap::new();
    let preds = inst.predecessors();
    for (o, (job, operation)) in inst.numbering().into_iter().enumerate() {
        for &p in &preds[o] {
            after.entry(p).or_default().push(OpRef { job, operation });
        }
    }
    let mut by_machine: Vec<Vec<&ScheduledOp>> = vec![Vec::new(); inst.machines];
    for s in &old.operations {
        if let Some(list) = by_machine.get_mut(s.machine) {
            list.push(s);
        }
    }
    for list in &mut by_machine {
        list.sort_by_key(|s| (s.start, s.end));
        for w in list.windows(2) {
            after.entry(key(w[0])).or_default().push(key(w[1]));
        }
    }
    let mut seen = HashSet::new();
    while let Some(r) = hit.pop() {
        if seen.insert(r) {
            hit.extend(after.get(&r).into_iter().flatten().copied());
        }
    }
    seen
}
