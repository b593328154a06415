//! A machine as a seeded random process: it dwells in a state for a random
//! time, then moves on along plausible transitions (running mostly; setups
//! between batches; occasional breakdowns), makes parts at its cycle time
//! while running, and warms up or cools down.

use rand::Rng;
use zhizao_core::MachineState;

/// How a kind of machine behaves. Times are seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineProfile {
    pub cycle_s: f64,
    pub scrap_rate: f64,
    pub running_s: (f64, f64),
    pub idle_s: (f64, f64),
    pub setup_s: (f64, f64),
    pub down_s: (f64, f64),
    /// Probability that leaving `running` means a breakdown.
    pub breakdown_p: f64,
    pub idle_temp: f64,
    pub running_temp: f64,
}

impl MachineProfile {
    /// Profiles by equipment type; unknown types get a generic machine.
    pub fn for_type(equipment_type: &str) -> Self {
        let base = MachineProfile {
            cycle_s: 30.0,
            scrap_rate: 0.02,
            running_s: (20.0, 90.0),
            idle_s: (5.0, 25.0),
            setup_s: (10.0, 35.0),
            down_s: (15.0, 60.0),
            breakdown_p: 0.15,
            idle_temp: 28.0,
            running_temp: 55.0,
        };
        match equipment_type {
            "cnc_cutting" => MachineProfile {
                cycle_s: 12.0,
                running_temp: 62.0,
                ..base
            },
            "drilling" => MachineProfile {
                cycle_s: 8.0,
                ..base
            },
            "welding" => MachineProfile {
                cycle_s: 45.0,
                running_temp: 75.0,
                scrap_rate: 0.03,
                ..base
            },
            "shot_blasting" => MachineProfile {
                cycle_s: 20.0,
                breakdown_p: 0.2,
                ..base
            },
            "painting" => MachineProfile {
                cycle_s: 25.0,
                running_temp: 40.0,
                ..base
            },
            "cnc_turning" => MachineProfile {
                cycle_s: 6.0,
                scrap_rate: 0.015,
                running_temp: 58.0,
                ..base
            },
            "machining_center" => MachineProfile {
                cycle_s: 10.0,
                scrap_rate: 0.02,
                running_temp: 60.0,
                ..base
            },
            "assembly" => MachineProfile {
                cycle_s: 40.0,
                scrap_rate: 0.005,
                running_temp: 30.0,
                ..base
            },
            "test_bench" => MachineProfile {
                cycle_s: 60.0,
                scrap_rate: 0.04,
                running_temp: 45.0,
                ..base
            },
            _ => base,
        }
    }
}

/// What happened in one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub new_state: Option<MachineState>,
    pub good: i64,
    pub scrap: i64,
    pub temperature: f64,
}

#[derive(Debug, Clone)]
pub struct SimMachine {
    profile: MachineProfile,
    state: MachineState,
    remaining_s: f64,
    part_progress_s: f64,
    temperature: f64,
}

fn draw(range: (f64, f64), rng: &mut impl Rng) -> f64 {
    if range.1 > range.0 {
        rng.gen_range(range.0..range.1)
    } else {
        range.0
    }
}

impl SimMachine {
    /// Starts in a random state, part-way through its dwell time, so a fresh
    /// plant does not change all machines in lockstep.
    pub fn new(profile: MachineProfile, rng: &mut impl Rng) -> Self {
        let state = match rng.gen_range(0..10) {
            0..=5 => MachineState::Running,
            6 | 7 => MachineState::Idle,
            8 => MachineState::Setup,
            _ => MachineState::Down,
        };
        let mut m = SimMachine {
            temperature: profile.idle_temp,
            profile,
            state,
            remaining_s: 0.0,
            part_progress_s: 0.0,
        };
        m.remaining_s = draw(m.dwell(state), rng) * rng.gen_range(0.1..1.0);
        m
    }

    pub fn state(&self) -> MachineState {
        self.state
    }

    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    fn dwell(&self, s: MachineState) -> (f64, f64) {
        match s {
            MachineState::Running => self.profile.running_s,
            MachineState::Idle
            | MachineState::PlannedStop
            | MachineState::Blocked
            | MachineState::Starved => self.profile.idle_s,
            MachineState::Setup => self.profile.setup_s,
            MachineState::Down | MachineState::Offline => self.profile.down_s,
        }
    }

    fn next_state(&self, rng: &mut impl Rng) -> MachineState {
        match self.state {
            MachineState::Running => {
                let r: f64 = rng.r#gen();
                if r < self.profile.breakdown_p {
                    MachineState::Down
                } else if r < self.profile.breakdown_p + 0.3 {
                    MachineState::Setup
                } else if r < self.profile.breakdown_p + 0.38 {
                    // Waiting for material from upstream.
                    MachineState::Starved
                } else if r < self.profile.breakdown_p + 0.42 {
                    MachineState::Blocked
                } else {
                    MachineState::Idle
                }
            }
            MachineState::Idle
            | MachineState::Setup
            | MachineState::PlannedStop
            | MachineState::Blocked
            | MachineState::Starved => MachineState::Running,
            MachineState::Down | MachineState::Offline => {
                if rng.gen_bool(0.7) {
                    MachineState::Running
                } else {
                    MachineState::Idle
                }
            }
        }
    }

    /// Advances the machine by `dt` seconds.
    pub fn step(&mut self, dt: f64, rng: &mut impl Rng) -> Tick {
        let mut good = 0;
        let mut scrap = 0;
        if self.state == MachineState::Running {
            self.part_progress_s += dt;
            while self.part_progress_s >= self.profile.cycle_s {
                self.part_progress_s -= self.profile.cycle_s;
                if rng.gen_bool(self.profile.scrap_rate.clamp(0.0, 1.0)) {
                    scrap += 1;
                } else {
                    good += 1;
                }
            }
        }
        let target = if self.state == MachineState::Running {
            self.profile.running_temp
        } else {
            self.profile.idle_temp
        };
        // First-order approach to the target with a 60 s time constant, plus noise.
        self.temperature += (target - self.temperature) * (dt / 60.0).min(1.0);
        self.temperature += rng.gen_range(-0.2..0.2);
        self.remaining_s -= dt;
        let mut new_state = None;
        if self.remaining_s <= 0.0 {
            let next = self.next_state(rng);
            self.state = next;
            self.remaining_s = draw(self.dwell(next), rng);
            new_state = Some(next);
        }
        Tick {
            new_state,
            good,
            scrap,
            temperature: (self.temperature * 10.0).round() / 10.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn a_machine_changes_state_and_produces_over_an_hour() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut m = SimMachine::new(MachineProfile::for_type("cnc_turning"), &mut rng);
        let (mut changes, mut good, mut scrap) = (0, 0, 0);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3600 {
            let t = m.step(1.0, &mut rng);
            if let Some(s) = t.new_state {
                changes += 1;
                seen.insert(s);
            }
            good += t.good;
            scrap += t.scrap;
            assert!(t.temperature > 10.0 && t.temperature < 100.0);
        }
        assert!(changes > 20, "only {changes} state changes in an hour");
        assert!(seen.contains(&MachineState::Running) && seen.contains(&MachineState::Down));
        // Running roughly half the time at a 6 s cycle.
        assert!(good > 100 && good < 600, "good = {good}");
        assert!(scrap < good / 10);
    }

    #[test]
    fn no_output_unless_running() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut m = SimMachine::new(MachineProfile::for_type("drilling"), &mut rng);
        for _ in 0..2000 {
            let before = m.state();
            let t = m.step(1.0, &mut rng);
            if before != MachineState::Running {
                assert_eq!(t.good + t.scrap, 0);
            }
        }
    }

    #[test]
    fn same_seed_same_run() {
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut m = SimMachine::new(MachineProfile::for_type("welding"), &mut rng);
            (0..500).map(|_| m.step(1.0, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
    }
}
