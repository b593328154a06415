//! Inspection plans: one characteristic per line, linked to an item and
//! (for in-process checks) a routing operation, in the plants' terms —
//! IQC incoming, IPQC in-process, OQC final.

use serde::{Deserialize, Serialize};
use zhizao_core::{FieldError, validate_code, validate_name};
use zhizao_spc::{Limits, RuleSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Incoming inspection of purchased material.
    Iqc,
    /// In-process inspection at a routing operation.
    Ipqc,
    /// Final inspection before shipping.
    Oqc,
}

/// The control chart a characteristic is watched on. The first three take
/// measured values; the others counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    XbarR,
    XbarS,
    Imr,
    P,
    Np,
    C,
    U,
}

impl ChartKind {
    /// The chart's name in the SPC case format.
    pub fn case_name(self) -> &'static str {
        match self {
            ChartKind::XbarR => "xbar_r",
            ChartKind::XbarS => "xbar_s",
            ChartKind::Imr => "imr",
            ChartKind::P => "p",
            ChartKind::Np => "np",
            ChartKind::C => "c",
            ChartKind::U => "u",
        }
    }

    /// Whether the chart plots measured values (else counts).
    pub fn is_variable(self) -> bool {
        matches!(self, ChartKind::XbarR | ChartKind::XbarS | ChartKind::Imr)
    }
}

/// How often a sample is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// One sample per lot (incoming and final inspection).
    PerLot,
    /// One sample every so many minutes of production.
    EveryMinutes(u32),
    /// One sample every so many units produced.
    EveryUnits(u32),
}

/// The run rules a characteristic's chart applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleChoice {
    pub set: RuleSet,
    pub enabled: Vec<u8>,
}

impl Default for RuleChoice {
    fn default() -> Self {
        Self {
            set: RuleSet::Nelson,
            enabled: RuleSet::Nelson.all(),
        }
    }
}

/// Frozen phase-II limits of a chart's panels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrozenLimits {
    pub location: Limits,
    pub spread: Option<Limits>,
}

/// One line of an inspection plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Characteristic {
    /// Short code, e.g. `BORE-D`, unique in the tenant.
    pub code: String,
    pub name: String,
    /// The item (product or part) it is measured on.
    pub item: String,
    /// The routing operation (IPQC), when there is one.
    #[serde(default)]
    pub operation_seq: Option<i32>,
    pub stage: Stage,
    pub chart: ChartKind,
    /// Values per subgroup (1 for an individuals chart; the inspected
    /// units for an np chart).
    pub subgroup_size: u32,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub lsl: Option<f64>,
    #[serde(default)]
    pub usl: Option<f64>,
    #[serde(default)]
    pub target: Option<f64>,
    pub sampling: Sampling,
    /// The gauge it is measured with.
    #[serde(default)]
    pub gauge: String,
    /// The machine it is made on (equipment code), for alarms.
    #[serde(default)]
    pub equipment: String,
    #[serde(default)]
    pub rules: RuleChoice,
    /// Phase II: limits frozen from an in-control period; trial limits
    /// from the data shown while absent.
    #[serde(default)]
    pub limits: Option<FrozenLimits>,
}

impl Characteristic {
    /// When the next sample is due, for sampling by time: the interval
    /// after the last sample (or after the characteristic was set up).
    /// Sampling per lot or per units depends on production, not the clock.
    pub fn next_due(&self, last_sample_at: Option<i64>, created_at: i64) -> Option<i64> {
        match self.sampling {
            Sampling::EveryMinutes(m) => {
                Some(last_sample_at.unwrap_or(created_at) + i64::from(m) * 60_000)
            }
            Sampling::PerLot | Sampling::EveryUnits(_) => None,
        }
    }

    /// Checks the characteristic, naming the field at fault.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_code("code", &self.code)?;
        validate_name("name", &self.name)?;
        validate_code("item", &self.item)?;
        if !self.equipment.is_empty() {
            validate_code("equipment", &self.equipment)?;
        }
        let n = self.subgroup_size;
        match self.chart {
            ChartKind::Imr if n != 1 => {
                return Err(FieldError::new(
                    "subgroup_size",
                    "an individuals chart takes one value per sample; set 1",
                ));
            }
            ChartKind::XbarR if !(2..=25).contains(&n) => {
                return Err(FieldError::new(
                    "subgroup_size",
                    format!("{n}: an X̄-R chart takes subgroups of 2 to 25 (X̄-S beyond)"),
                ));
            }
            ChartKind::XbarS if !(2..=100).contains(&n) => {
                return Err(FieldError::new(
                    "subgroup_size",
                    format!("{n}: an X̄-S chart takes subgroups of 2 to 100"),
                ));
            }
            _ if n == 0 => {
                return Err(FieldError::new("subgroup_size", "must be at least 1"));
            }
            _ => {}
        }
        if self.chart.is_variable() {
            for (field, v) in [
                ("lsl", self.lsl),
                ("usl", self.usl),
                ("target", self.target),
            ] {
                if v.is_some_and(|v| !v.is_finite()) {
                    return Err(FieldError::new(field, "must be a finite number"));
                }
            }
            if let (Some(l), Some(u)) = (self.lsl, self.usl)
                && l >= u
            {
                return Err(FieldError::new(
                    "lsl",
                    format!("{l} is not below usl {u}; the limits are reversed or equal"),
                ));
            }
            if let (Some(t), Some(l), Some(u)) = (self.target, self.lsl, self.usl)
                && !(l..=u).contains(&t)
            {
                return Err(FieldError::new(
                    "target",
                    format!("{t} lies outside {l}–{u}"),
                ));
            }
        } else if self.lsl.is_some() || self.usl.is_some() {
            return Err(FieldError::new(
                "lsl",
                "specification limits belong to measured characteristics, not counted ones",
            ));
        }
        match self.sampling {
            Sampling::EveryMinutes(0) | Sampling::EveryUnits(0) => {
                return Err(FieldError::new(
                    "sampling",
                    "the interval must be at least 1",
                ));
            }
            _ => {}
        }
        zhizao_spc::check_rules(self.rules.set, &self.rules.enabled, "rules.enabled")
            .map_err(|e| FieldError::new(e.field, e.problem))?;
        if let Some(l) = &self.limits {
            for (field, lim) in [
                ("limits.location", Some(l.location)),
                ("limits.spread", l.spread),
            ] {
                if let Some(lim) = lim
                    && !(lim.lcl <= lim.center
                        && lim.center <= lim.ucl
                        && lim.ucl.is_finite()
                        && lim.lcl.is_finite())
                {
                    return Err(FieldError::new(field, "needs lcl ≤ center ≤ ucl"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn bore() -> Characteristic {
        Characteristic {
            code: "BORE-D".into(),
            name: "泵体内孔直径".into(),
            item: "PB-100".into(),
            operation_seq: Some(20),
            stage: Stage::Ipqc,
            chart: ChartKind::XbarR,
            subgroup_size: 5,
            unit: "mm".into(),
            lsl: Some(24.98),
            usl: Some(25.02),
            target: Some(25.0),
            sampling: Sampling::EveryMinutes(30),
            gauge: "内径千分尺 IM-07".into(),
            equipment: "L-TRN-1".into(),
            rules: RuleChoice::default(),
            limits: None,
        }
    }

    #[test]
    fn sampling_by_time_is_due_an_interval_after_the_last_sample() {
        let mut c = bore();
        assert_eq!(c.next_due(Some(1_000), 0), Some(1_000 + 30 * 60_000));
        assert_eq!(c.next_due(None, 500), Some(500 + 30 * 60_000));
        c.sampling = Sampling::PerLot;
        assert_eq!(c.next_due(Some(1_000), 0), None);
    }

    #[test]
    fn reversed_specification_is_named() {
        let mut c = bore();
        c.lsl = Some(25.1);
        assert_eq!(c.validate().unwrap_err().field, "lsl");
    }

    #[test]
    fn chart_and_subgroup_size_must_agree() {
        let mut c = bore();
        c.chart = ChartKind::Imr;
        assert_eq!(c.validate().unwrap_err().field, "subgroup_size");
        c.subgroup_size = 1;
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_rule_is_named() {
        let mut c = bore();
        c.rules.enabled = vec![1, 9];
        assert_eq!(c.validate().unwrap_err().field, "rules.enabled[1]");
    }
}
