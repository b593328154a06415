//! Downtime reasons: a configurable tree of why a machine stopped, in
//! Chinese and English. Each reason says what kind of time the stop is, so
//! a stop an operator explains as planned maintenance becomes planned
//! downtime, and one explained as waiting for material becomes "starved",
//! and the KPIs follow.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::{Loss, StateClass};

/// What kind of time a stop with this reason is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonClass {
    /// A failure: ADET, and a failure event.
    Breakdown,
    MinorStop,
    /// Downstream full: ADET.
    Blocked,
    /// Upstream empty, no material: ADET.
    Starved,
    /// Planned maintenance, meetings, trials: planned downtime.
    PlannedStop,
    /// No order to run: ADOT.
    Idle,
}

impl ReasonClass {
    pub fn state_class(self) -> StateClass {
        match self {
            ReasonClass::Breakdown => StateClass::Delay(Loss::Breakdown),
            ReasonClass::MinorStop => StateClass::Delay(Loss::MinorStop),
            ReasonClass::Blocked => StateClass::Delay(Loss::Blocked),
            ReasonClass::Starved => StateClass::Delay(Loss::Starved),
            ReasonClass::PlannedStop => StateClass::PlannedStop,
            ReasonClass::Idle => StateClass::Idle,
        }
    }
}

/// One reason; `code` is dotted by level (`mech.spindle`), and a child's
/// code starts with its parent's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub code: String,
    pub zh: String,
    pub en: String,
    pub class: ReasonClass,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonTree {
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ReasonError {
    pub field: String,
    pub message: String,
}

impl ReasonTree {
    /// Codes unique, made of letters, digits, `_` and `-` between dots,
    /// each child under an existing parent, both names given.
    pub fn validate(&self) -> Result<(), ReasonError> {
        let mut seen = HashSet::new();
        for (i, r) in self.reasons.iter().enumerate() {
            let bad = |f: &str, m: String| ReasonError {
                field: format!("reasons[{i}].{f}"),
                message: m,
            };
            let well_formed = !r.code.is_empty()
                && r.code.split('.').all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
            if !well_formed {
                return Err(bad(
                    "code",
                    format!("`{}` is not like `mech.spindle`", r.code),
                ));
            }
            if let Some((parent, _)) = r.code.rsplit_once('.')
                && !seen.contains(parent)
            {
                return Err(bad(
                    "code",
                    format!(
                        "`{}` comes before its parent `{parent}` (or it has none)",
                        r.code
                    ),
                ));
            }
            if !seen.insert(r.code.as_str()) {
                return Err(bad("code", format!("`{}` is there twice", r.code)));
            }
            if r.zh.trim().is_empty() || r.en.trim().is_empty() {
                return Err(bad("zh", "both names (zh and en) are needed".into()));
            }
        }
        Ok(())
    }

    pub fn get(&self, code: &str) -> Option<&Reason> {
        self.reasons.iter().find(|r| r.code == code)
    }

    /// The reasons a plant starts with.
    pub fn default_tree() -> ReasonTree {
        use ReasonClass::*;
        let r = |code: &str, zh: &str, en: &str, class| Reason {
            code: code.into(),
            zh: zh.into(),
            en: en.into(),
            class,
        };
        ReasonTree {
            reasons: vec![
                r("mech", "机械故障", "Mechanical failure", Breakdown),
                r("mech.spindle", "主轴故障", "Spindle", Breakdown),
                r("mech.tool", "刀具损坏", "Broken tool", Breakdown),
                r("mech.hydraulic", "液压系统", "Hydraulics", Breakdown),
                r("elec", "电气故障", "Electrical failure", Breakdown),
                r("elec.drive", "驱动器报警", "Drive alarm", Breakdown),
                r("elec.sensor", "传感器故障", "Sensor", Breakdown),
                r("jam", "卡料/小停机", "Jam / minor stop", MinorStop),
                r("material", "缺料", "No material", Starved),
                r(
                    "material.upstream",
                    "上道工序未到",
                    "Upstream late",
                    Starved,
                ),
                r(
                    "material.crane",
                    "等待吊运",
                    "Waiting for the crane",
                    Starved,
                ),
                r("blocked", "下游堵塞", "Downstream full", Blocked),
                r("quality", "等待质检", "Waiting for inspection", Blocked),
                r("planned", "计划停机", "Planned stop", PlannedStop),
                r(
                    "planned.maintenance",
                    "计划保养",
                    "Planned maintenance",
                    PlannedStop,
                ),
                r(
                    "planned.meeting",
                    "班前会/培训",
                    "Meeting / training",
                    PlannedStop,
                ),
                r("no_order", "无生产任务", "No order", Idle),
                r("no_operator", "无操作工", "No operator", Idle),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tree_is_valid_and_bad_trees_are_named() {
        assert_eq!(ReasonTree::default_tree().validate(), Ok(()));
        let t = |codes: &[&str]| ReasonTree {
            reasons: codes
                .iter()
                .map(|c| Reason {
                    code: (*c).into(),
                    zh: "原因".into(),
                    en: "reason".into(),
                    class: ReasonClass::Breakdown,
                })
                .collect(),
        };
        for (codes, field) in [
            (&["a", "a"][..], "reasons[1].code"),
            (&["a.b"][..], "reasons[0].code"),
            (&["a", "a..b"][..], "reasons[1].code"),
            (&["a b"][..], "reasons[0].code"),
        ] {
            assert_eq!(
                t(codes).validate().map_err(|e| e.field),
                Err(field.to_owned()),
                "{codes:?}"
            );
        }
        let mut noname = t(&["a"]);
        noname.reasons[0].en = " ".into();
        assert!(noname.validate().is_err());
    }

    #[test]
    fn reasons_say_what_kind_of_time_a_stop_is() {
        let tree = ReasonTree::default_tree();
        let class = |c: &str| tree.get(c).map(|r| r.class.state_class());
        assert_eq!(class("planned.maintenance"), Some(StateClass::PlannedStop));
        assert_eq!(
            class("material.crane"),
            Some(StateClass::Delay(Loss::Starved))
        );
        assert_eq!(class("no_order"), Some(StateClass::Idle));
        assert_eq!(class("nope"), None);
    }
}
