//! Machine states derived from signals. Many machines report no state,
//! only numbers (spindle speed, motor current, a door switch, an alarm
//! bit). Rules per equipment type say which state those numbers mean: the
//! first rule whose condition holds over the machine's latest values wins,
//! e.g. `down` when `alarm_active > 0`, `setup` when `door_open > 0`,
//! `running` when `spindle_speed > 100`, else `idle`. Machines that only
//! count parts are read by how recently the count rose:
//! `running` when `count_good_rise_s < 90`.

use std::collections::HashMap;

use evalexpr::{
    ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Node, Value as ExprValue,
};
use serde::{Deserialize, Serialize};
use zhizao_core::MachineState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateRule {
    pub state: MachineState,
    /// A boolean expression over the machine's latest values; `true`
    /// always holds (a default).
    pub when: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeRules {
    pub equipment_type: String,
    pub rules: Vec<StateRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateRuleSet {
    pub types: Vec<TypeRules>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct StateRuleError {
    pub field: String,
    pub message: String,
}

struct Compiled {
    state: MachineState,
    node: Node<DefaultNumericTypes>,
    variables: Vec<String>,
}

/// The suffix that turns a signal's name into the seconds since it last
/// went up (`count_good_rise_s`).
pub const RISE_SUFFIX: &str = "_rise_s";

/// What the rules see of one machine: each signal's latest value, and for
/// `<signal>_rise_s` the seconds from the signal's last increase to the
/// machine's clock: its newest sample, or a later time the platform moved
/// it to (a machine that sends only on change goes quiet when it stops).
#[derive(Debug, Default, Clone)]
pub struct Signals {
    values: HashMap<String, f64>,
    /// When each signal last went up (ms).
    rose_at: HashMap<String, i64>,
    newest_ms: Option<i64>,
    clock_ms: Option<i64>,
}

impl Signals {
    /// Takes one sample, in arrival order. A value above the previous one
    /// is a rise; a fall (a counter reset) is not.
    pub fn record(&mut self, field: &str, ts_ms: i64, value: f64) {
        if !value.is_finite() {
            return;
        }
        let previous = self.values.insert(field.to_owned(), value);
        if previous.is_some_and(|p| value > p) {
            let at = self.rose_at.entry(field.to_owned()).or_insert(ts_ms);
            *at = (*at).max(ts_ms);
        }
        self.newest_ms = Some(self.newest_ms.map_or(ts_ms, |t| t.max(ts_ms)));
        self.clock_ms = Some(self.clock_ms.map_or(ts_ms, |t| t.max(ts_ms)));
    }

    /// The newest sample's time (ms).
    pub fn newest_ms(&self) -> Option<i64> {
        self.newest_ms
    }

    /// Moves the machine's clock on to `now_ms` without a sample; never
    /// back. Returns whether it moved.
    pub fn advance_to(&mut self, now_ms: i64) -> bool {
        if self.clock_ms.is_some_and(|t| t >= now_ms) || self.newest_ms.is_none() {
            return false;
        }
        self.clock_ms = Some(now_ms);
        true
    }

    /// Whether any signal has risen (only then can time alone change what
    /// a `_rise_s` rule says).
    pub fn has_risen(&self) -> bool {
        !self.rose_at.is_empty()
    }

    /// A variable as the rules name it; `None` when the machine has not
    /// sent that signal (or it never rose).
    pub fn get(&self, name: &str) -> Option<f64> {
        if let Some(v) = self.values.get(name) {
            return Some(*v);
        }
        let base = name.strip_suffix(RISE_SUFFIX)?;
        let rose = self.rose_at.get(base)?;
        Some((self.clock_ms? - rose).max(0) as f64 / 1000.0)
    }
}

impl<S: AsRef<str>> FromIterator<(S, f64)> for Signals {
    /// Latest values without history (no rises), e.g. for tests.
    fn from_iter<I: IntoIterator<Item = (S, f64)>>(iter: I) -> Self {
        Signals {
            values: iter
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v))
                .collect(),
            ..Signals::default()
        }
    }
}

/// Rules checked and compiled, by equipment type.
pub struct StateRules {
    by_type: HashMap<String, Vec<Compiled>>,
}

impl std::fmt::Debug for StateRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateRules")
            .field("types", &self.by_type.len())
            .finish()
    }
}

impl StateRules {
    /// Checks every rule: an expression that parses and gives true or
    /// false; each equipment type once.
    pub fn compile(set: &StateRuleSet) -> Result<StateRules, StateRuleError> {
        let mut by_type = HashMap::new();
        for (t, tr) in set.types.iter().enumerate() {
            if tr.equipment_type.trim().is_empty() {
                return Err(StateRuleError {
                    field: format!("types[{t}].equipment_type"),
                    message: "must not be empty".into(),
                });
            }
            let mut compiled = Vec::with_capacity(tr.rules.len());
            for (r, rule) in tr.rules.iter().enumerate() {
                let bad = |m: String| StateRuleError {
                    field: format!("types[{t}].rules[{r}].when"),
                    message: m,
                };
                let node = evalexpr::build_operator_tree::<DefaultNumericTypes>(&rule.when)
                    .map_err(|e| bad(format!("`{}`: {e}", rule.when)))?;
                let variables: Vec<String> = node
                    .iter_variable_identifiers()
                    .map(str::to_owned)
                    .collect();
                let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
                for v in &variables {
                    let _ = ctx.set_value(v.clone(), ExprValue::from_float(0.0));
                }
                node.eval_boolean_with_context(&ctx).map_err(|e| {
                    bad(format!("`{}` does not give true or false: {e}", rule.when))
                })?;
                compiled.push(Compiled {
                    state: rule.state,
                    node,
                    variables,
                });
            }
            if by_type
                .insert(tr.equipment_type.clone(), compiled)
                .is_some()
            {
                return Err(StateRuleError {
                    field: format!("types[{t}].equipment_type"),
                    message: format!("`{}` has rules twice", tr.equipment_type),
                });
            }
        }
        Ok(StateRules { by_type })
    }

    pub fn covers(&self, equipment_type: &str) -> bool {
        self.by_type.contains_key(equipment_type)
    }

    /// The state the first holding rule names; `None` when no rule holds,
    /// or the type has no rules. A rule that names a signal not yet seen
    /// (or a `_rise_s` of one that never rose) is passed over.
    pub fn derive(&self, equipment_type: &str, signals: &Signals) -> Option<MachineState> {
        let rules = self.by_type.get(equipment_type)?;
        rules.iter().find_map(|r| {
            let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
            for v in &r.variables {
                let x = signals.get(v)?;
                ctx.set_value(v.clone(), number(x)).ok()?;
            }
            r.node
                .eval_boolean_with_context(&ctx)
                .ok()
                .filter(|b| *b)
                .map(|_| r.state)
        })
    }
}

/// A value as the expressions see it: whole numbers as integers, so that
/// `door_open == 1` holds for 1.0 (the expression language compares an
/// integer and a float as unequal).
pub fn number(x: f64) -> ExprValue<DefaultNumericTypes> {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        ExprValue::from_int(x as i64)
    } else {
        ExprValue::from_float(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lathe() -> StateRuleSet {
        let rule = |state, when: &str| StateRule {
            state,
            when: when.into(),
        };
        StateRuleSet {
            types: vec![TypeRules {
                equipment_type: "cnc_turning".into(),
                rules: vec![
                    rule(MachineState::Down, "alarm_active > 0"),
                    rule(MachineState::Setup, "door_open > 0 && spindle_speed == 0"),
                    rule(MachineState::Running, "spindle_speed > 100"),
                    rule(MachineState::Idle, "true"),
                ],
            }],
        }
    }

    #[test]
    fn the_first_holding_rule_names_the_state() {
        let r = StateRules::compile(&lathe()).unwrap_or_else(|e| panic!("{e}"));
        let v = |pairs: &[(&str, f64)]| pairs.iter().copied().collect::<Signals>();
        let d = |pairs| r.derive("cnc_turning", &v(pairs));
        assert_eq!(d(&[("spindle_speed", 1200.0)]), Some(MachineState::Running));
        assert_eq!(
            d(&[("spindle_speed", 1200.0), ("alarm_active", 1.0)]),
            Some(MachineState::Down)
        );
        assert_eq!(
            d(&[
                ("spindle_speed", 0.0),
                ("door_open", 1.0),
                ("alarm_active", 0.0)
            ]),
            Some(MachineState::Setup)
        );
        assert_eq!(d(&[("spindle_speed", 0.0)]), Some(MachineState::Idle));
        assert_eq!(r.derive("welding", &v(&[("x", 1.0)])), None);
        assert!(r.covers("cnc_turning") && !r.covers("welding"));
    }

    #[test]
    fn a_counter_that_rose_lately_means_running() {
        let set = StateRuleSet {
            types: vec![TypeRules {
                equipment_type: "press".into(),
                rules: vec![
                    StateRule {
                        state: MachineState::Running,
                        when: "count_good_rise_s < 90".into(),
                    },
                    StateRule {
                        state: MachineState::Idle,
                        when: "true".into(),
                    },
                ],
            }],
        };
        let r = StateRules::compile(&set).unwrap_or_else(|e| panic!("{e}"));
        let mut m = Signals::default();
        // The first value is a baseline, not a rise.
        m.record("count_good", 0, 100.0);
        assert_eq!(m.get("count_good_rise_s"), None);
        assert_eq!(r.derive("press", &m), Some(MachineState::Idle));
        m.record("count_good", 30_000, 101.0);
        assert_eq!(m.get("count_good_rise_s"), Some(0.0));
        assert_eq!(r.derive("press", &m), Some(MachineState::Running));
        // Unchanged for 89 s, then for 91 s (other signals move the clock).
        m.record("count_good", 119_000, 101.0);
        assert_eq!(r.derive("press", &m), Some(MachineState::Running));
        m.record("temperature", 121_000, 40.0);
        assert_eq!(m.get("count_good_rise_s"), Some(91.0));
        assert_eq!(r.derive("press", &m), Some(MachineState::Idle));
        // Quiet since: time alone moves the clock on.
        m.record("count_good", 200_000, 102.0);
        assert_eq!(r.derive("press", &m), Some(MachineState::Running));
        assert!(m.advance_to(250_000));
        assert_eq!(r.derive("press", &m), Some(MachineState::Running));
        assert!(m.advance_to(291_000) && !m.advance_to(290_000));
        assert_eq!(r.derive("press", &m), Some(MachineState::Idle));
        // A reset to zero is no rise.
        m.record("count_good", 292_000, 0.0);
        assert_eq!(r.derive("press", &m), Some(MachineState::Idle));
        m.record("count_good", 293_000, 1.0);
        assert_eq!(r.derive("press", &m), Some(MachineState::Running));
    }

    #[test]
    fn bad_rules_are_named() {
        let mut set = lathe();
        set.types[0].rules[1].when = "door_open >".into();
        let e = StateRules::compile(&set).map(|_| ()).unwrap_err();
        assert_eq!(e.field, "types[0].rules[1].when");
        let mut twice = lathe();
        twice.types.push(twice.types[0].clone());
        let e = StateRules::compile(&twice).map(|_| ()).unwrap_err();
        assert_eq!(e.field, "types[1].equipment_type");
    }
}
