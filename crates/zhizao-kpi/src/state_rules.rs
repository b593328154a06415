//! Machine states derived from signals. Many machines report no state,
//! only numbers (spindle speed, motor current, a door switch, an alarm
//! bit). Rules per equipment type say which state those numbers mean: the
//! first rule whose condition holds over the machine's latest values wins,
//! e.g. `down` when `alarm_active > 0`, `setup` when `door_open > 0`,
//! `running` when `spindle_speed > 100`, else `idle`.

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
    /// is passed over.
    pub fn derive(
        &self,
        equipment_type: &str,
        values: &HashMap<String, f64>,
    ) -> Option<MachineState> {
        let rules = self.by_type.get(equipment_type)?;
        rules.iter().find_map(|r| {
            let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
            for v in &r.variables {
                let x = values.get(v)?;
                ctx.set_value(v.clone(), number(*x)).ok()?;
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
        let v = |pairs: &[(&str, f64)]| {
            pairs
                .iter()
                .map(|(k, x)| ((*k).to_owned(), *x))
                .collect::<HashMap<_, _>>()
        };
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
