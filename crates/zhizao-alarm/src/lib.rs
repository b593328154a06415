//! Alarm rules and the alarm lifecycle, without I/O.
//!
//! Rules watch one signal of every machine (a threshold with a deadband,
//! a rate of change, a signal stuck flat, a silent machine, a state held
//! too long) or several at once (a boolean expression). An alarm follows
//! the ISA-18.2 states: raised (active, unacknowledged) → acknowledged
//! (by whom, with a comment) → cleared when its condition is gone; cleared
//! before acknowledgement it waits to be acknowledged. There is at most one
//! alarm per rule and machine, so a condition that keeps firing is one
//! alarm, not a stream. On-delays and off-delays keep a signal that
//! hovers at a limit from chattering. When more alarms rise in ten minutes
//! than an operator can handle, the rest are still recorded but marked as
//! a flood and not notified one by one.
//!
//! The caller feeds samples and state changes with their times, calls
//! [`Engine::tick`] now and then for the conditions that time alone
//! decides, and acts on the [`Event`]s that come back.

mod engine;

pub use engine::{Alarm, AlarmId, AlarmState, Engine, Event, EventKind};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// What makes a rule's alarm active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// The signal is above `limit`; it clears below `limit − deadband`.
    Above {
        field: String,
        limit: f64,
        #[serde(default)]
        deadband: f64,
    },
    /// The signal is below `limit`; it clears above `limit + deadband`.
    Below {
        field: String,
        limit: f64,
        #[serde(default)]
        deadband: f64,
    },
    /// The signal changes faster than `per_second` (either way) between
    /// two samples.
    RateOfChange { field: String, per_second: f64 },
    /// The signal has not moved by more than `epsilon` for `for_s`.
    Flatline {
        field: String,
        for_s: u64,
        #[serde(default)]
        epsilon: f64,
    },
    /// Nothing at all came from the machine for `for_s`.
    NoData { for_s: u64 },
    /// The machine has been in `state` (e.g. `down`) for longer than `for_s`.
    StateLonger { state: String, for_s: u64 },
    /// A boolean expression over the machine's latest values, e.g.
    /// `spindle_temp > 80 && coolant_flow < 2`.
    Expression { expr: String },
}

/// An alarm rule, applied to every machine (or to those listed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub severity: Severity,
    pub condition: Condition,
    /// A rule switched off raises nothing, and its alarms end.
    #[serde(default = "switched_on")]
    pub enabled: bool,
    /// The condition must hold this long before the alarm is raised.
    #[serde(default)]
    pub on_delay_s: u64,
    /// The condition must be gone this long before the alarm clears.
    #[serde(default)]
    pub off_delay_s: u64,
    /// Machines (equipment codes) the rule watches; all when absent.
    #[serde(default)]
    pub sources: Option<Vec<String>>,
}

fn switched_on() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlarmError {
    #[error("rules[{index}].{field}: {message}")]
    Rule {
        index: usize,
        field: &'static str,
        message: String,
    },
    #[error("alarm {0} does not exist (or was closed)")]
    NoSuchAlarm(AlarmId),
    #[error("alarm {0} is already acknowledged")]
    AlreadyAcknowledged(AlarmId),
}
