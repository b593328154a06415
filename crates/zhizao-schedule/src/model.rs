//! What is scheduled and what a schedule says. The benchmarks' job shop
//! (jobs as chains, one or more machines per operation, makespan) is the
//! plain case of a plant's: precedence as a graph inside and across jobs,
//! machine calendars, setups by product family, release and due dates,
//! operations fixed in place, a previous schedule to keep close to, and
//! objectives combined in order or by weights. Everything a plant adds is
//! optional, so a benchmark file and a plant read into the same type.

use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero32(v: &u32) -> bool {
    *v == 0
}

fn one() -> u32 {
    1
}

fn is_one(v: &u32) -> bool {
    *v == 1
}

fn yes() -> bool {
    true
}

/// Where and when an operation runs (or ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub machine: usize,
    pub start: u64,
}

/// One operation: the machines it may run on, each with its duration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// (machine, duration), at least one.
    pub modes: Vec<(usize, u32)>,
    /// Product family, for setup times between families.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<usize>,
    /// Setup time when the machine comes to it from another family (or
    /// from one not known), where the instance has no setup matrix for
    /// the pair.
    #[serde(default, skip_serializing_if = "is_zero32")]
    pub setup: u32,
    /// May pause over a machine's downtime and resume after it; otherwise
    /// it needs one uninterrupted stretch of working time.
    #[serde(default, skip_serializing_if = "is_false")]
    pub splittable: bool,
    /// Started or frozen: it stays exactly here, calendars aside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<Placement>,
    /// A fixed operation's setup, just before its start (frozen before it
    /// began, the setup is part of what stays).
    #[serde(default, skip_serializing_if = "is_zero32")]
    pub fixed_setup: u32,
    /// Its place in the previous schedule, to measure disruption against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Placement>,
}

impl Operation {
    pub fn on(modes: Vec<(usize, u32)>) -> Self {
        Operation {
            modes,
            ..Self::default()
        }
    }

    /// The setup it needs after an operation of family `from` (`setups`
    /// being the instance's matrix).
    pub fn setup_after(&self, from: Option<usize>, setups: &[Vec<u32>]) -> u32 {
        if let (Some(a), Some(b)) = (from, self.family) {
            if let Some(&s) = setups.get(a).and_then(|r| r.get(b)) {
                return s;
            }
            if a == b {
                return 0;
            }
        }
        self.setup
    }

    pub fn duration_on(&self, machine: usize) -> Option<u32> {
        self.modes
            .iter()
            .find(|(m, _)| *m == machine)
            .map(|&(_, d)| d)
    }
}

/// A job (a work order): its operations, and when it may start and is
/// due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub operations: Vec<Operation>,
    /// Each operation follows the one before it; with `false` only the
    /// instance's links order them.
    #[serde(default = "yes")]
    pub chain: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub release: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<u64>,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight: u32,
}

impl Job {
    /// A chain of operations, released at once, not due.
    pub fn chain(operations: Vec<Operation>) -> Self {
        Job {
            operations,
            chain: true,
            release: 0,
            due: None,
            weight: 1,
        }
    }
}

/// An operation by job and position, both 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpRef {
    pub job: usize,
    pub operation: usize,
}

/// `after` may start only once `before` has ended: a graph inside a job,
/// or an assembly across jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub before: OpRef,
    pub after: OpRef,
}

/// When a machine does not work, and what it is set up for at the start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineCalendar {
    /// Half-open intervals `[from, to)`: shifts off, breaks, holidays,
    /// maintenance, breakdowns.
    #[serde(default)]
    pub downtime: Vec<(u64, u64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_family: Option<usize>,
}

/// What makes one schedule better than another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    Makespan,
    /// Total weighted tardiness of the jobs that have a due date.
    Tardiness,
    /// Total setup time.
    Setup,
    /// Distance from the previous schedule: each operation's shift in
    /// start, plus its duration when it changed machine.
    Disruption,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Objective {
    /// The first term decides; ties go to the next.
    Lexicographic { terms: Vec<Term> },
    /// One sum of the terms times their weights.
    Weighted {
        #[serde(default)]
        makespan: u64,
        #[serde(default)]
        tardiness: u64,
        #[serde(default)]
        setup: u64,
        #[serde(default)]
        disruption: u64,
    },
}

impl Default for Objective {
    fn default() -> Self {
        Objective::Lexicographic {
            terms: vec![Term::Makespan],
        }
    }
}

impl Objective {
    /// The costs as a key where less is better.
    pub fn key(&self, c: &Costs) -> [u128; 4] {
        let value = |t: &Term| -> u128 {
            u128::from(match t {
                Term::Makespan => c.makespan,
                Term::Tardiness => c.weighted_tardiness,
                Term::Setup => c.setup_time,
                Term::Disruption => c.disruption,
            })
        };
        let mut key = [0u128; 4];
        match self {
            Objective::Lexicographic { terms } => {
                for (k, t) in key.iter_mut().zip(terms) {
                    *k = value(t);
                }
            }
            Objective::Weighted {
                makespan,
                tardiness,
                setup,
                disruption,
            } => {
                key[0] = u128::from(*makespan) * value(&Term::Makespan)
                    + u128::from(*tardiness) * value(&Term::Tardiness)
                    + u128::from(*setup) * value(&Term::Setup)
                    + u128::from(*disruption) * value(&Term::Disruption);
            }
        }
        key
    }
}

/// A shop to schedule. Times are whole units from 0 (the platform uses
/// minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub machines: usize,
    pub jobs: Vec<Job>,
    /// One per machine, or none at all (always working).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calendars: Vec<MachineCalendar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// `setups[a][b]`: time to change a machine from family `a` to `b`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setups: Vec<Vec<u32>>,
    /// Nothing that is not fixed starts before this.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub now: u64,
    #[serde(default)]
    pub objective: Objective,
}

impl Instance {
    /// Chains of operations on always-working machines, for the makespan.
    pub fn job_shop(machines: usize, jobs: Vec<Vec<Operation>>) -> Self {
        Instance {
            machines,
            jobs: jobs.into_iter().map(Job::chain).collect(),
            calendars: Vec::new(),
            links: Vec::new(),
            setups: Vec::new(),
            now: 0,
            objective: Objective::default(),
        }
    }

    pub fn operation_count(&self) -> usize {
        self.jobs.iter().map(|j| j.operations.len()).sum()
    }

    pub fn operation(&self, r: OpRef) -> Option<&Operation> {
        self.jobs.get(r.job)?.operations.get(r.operation)
    }

    /// The operations numbered job by job: (job, position) of each.
    pub fn numbering(&self) -> Vec<(usize, usize)> {
        self.jobs
            .iter()
            .enumerate()
            .flat_map(|(j, job)| (0..job.operations.len()).map(move |k| (j, k)))
            .collect()
    }

    /// Nothing beyond chains on always-working machines and the makespan:
    /// the benchmarks' job shop, which has a search of its own.
    pub fn is_plain_job_shop(&self) -> bool {
        self.calendars.iter().all(|c| c.downtime.is_empty())
            && self.links.is_empty()
            && self.setups.iter().flatten().all(|&s| s == 0)
            && self
                .jobs
                .iter()
                .flat_map(|j| &j.operations)
                .all(|o| o.setup == 0)
            && self.now == 0
            && self.objective == Objective::default()
            && self.jobs.iter().all(|j| {
                j.chain && j.release == 0 && j.operations.iter().all(|o| o.fixed.is_none())
            })
    }
}

/// What a schedule costs, by each term.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Costs {
    pub makespan: u64,
    pub weighted_tardiness: u64,
    pub setup_time: u64,
    pub disruption: u64,
    /// Operations whose machine or start differ from the previous schedule.
    pub moved: usize,
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
    /// When the machine's setup for it begins, if it needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_start: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    pub makespan: u64,
    pub operations: Vec<ScheduledOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub costs: Option<Costs>,
}
