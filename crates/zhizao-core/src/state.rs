//! Machine states as the control centre shows them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state a machine is in at a moment, as a gateway reports it or as
/// the state rules derive it from signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineState {
    Running,
    Idle,
    Setup,
    /// A stop the plan foresaw (maintenance window, meeting, cleaning).
    PlannedStop,
    /// Ready but cannot pass its output on (the next station is full).
    Blocked,
    /// Ready but lacks input (material, parts, the previous station).
    Starved,
    /// Unplanned stop (breakdown).
    Down,
    /// No data from the machine.
    Offline,
}

impl MachineState {
    pub const ALL: [MachineState; 8] = [
        MachineState::Running,
        MachineState::Idle,
        MachineState::Setup,
        MachineState::PlannedStop,
        MachineState::Blocked,
        MachineState::Starved,
        MachineState::Down,
        MachineState::Offline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MachineState::Running => "running",
            MachineState::Idle => "idle",
            MachineState::Setup => "setup",
            MachineState::PlannedStop => "planned_stop",
            MachineState::Blocked => "blocked",
            MachineState::Starved => "starved",
            MachineState::Down => "down",
            MachineState::Offline => "offline",
        }
    }
}

impl fmt::Display for MachineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown machine state `{0}` (expected running, idle, setup, planned_stop, blocked, starved, down or offline)"
)]
pub struct UnknownState(pub String);

impl FromStr for MachineState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MachineState::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_text_round_trips() {
        for s in MachineState::ALL {
            assert_eq!(s.as_str().parse::<MachineState>(), Ok(s));
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert!("broken".parse::<MachineState>().is_err());
    }
}
