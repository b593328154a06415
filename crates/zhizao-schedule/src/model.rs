//! What is scheduled: jobs as chains of operations, each with the machines
//! it may run on and how long it takes on each; and what a schedule says.

use serde::{Deserialize, Serialize};

/// One operation: the machines it may run on, each with its duration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// (machine, duration), at least one.
    pub modes: Vec<(usize, u32)>,
}

/// A job shop: each job's operations run in order, one at a time per
/// machine, without interruption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub machines: usize,
    pub jobs: Vec<Vec<Operation>>,
}

impl Instance {
    pub fn operation_count(&self) -> usize {
        self.jobs.iter().map(Vec::len).sum()
    }

    /// The operations numbered job by job: (job, position) of each.
    pub fn numbering(&self) -> Vec<(usize, usize)> {
        self.jobs
            .iter()
            .enumerate()
            .flat_map(|(j, ops)| (0..ops.len()).map(move |k| (j, k)))
            .collect()
    }
}

/// One operation of a schedule, 0-based as in the benchmark files' jobs
/// and (for both formats) machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledOp {
    pub job: usize,
    pub operation: usize,
    pub machine: usize,
    pub start: u64,
    pub end: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    pub makespan: u64,
    pub operations: Vec<ScheduledOp>,
}
