//! Traceability as plain data: units (material lots and serial numbers)
//! and the record that some units went into another at an operation. The
//! store answers the two questions over the links: backward (what went
//! into this unit) and forward (where did this lot go).

use serde::{Deserialize, Serialize};
use zhizao_core::{FieldError, validate_code};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A quantity of one item made or received together.
    Lot,
    /// One unit with its own number.
    Serial,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Lot => "lot",
            UnitKind::Serial => "serial",
        }
    }

    pub fn parse(s: &str) -> Option<UnitKind> {
        match s {
            "lot" => Some(UnitKind::Lot),
            "serial" => Some(UnitKind::Serial),
            _ => None,
        }
    }
}

/// A lot or serial number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceUnit {
    pub code: String,
    pub kind: UnitKind,
    pub item: String,
    /// A lot's size; a serial is one unit.
    #[serde(default)]
    pub quantity: Option<f64>,
    #[serde(default)]
    pub work_order: String,
}

/// A unit consumed, by code; new lots (received material) may be
/// described in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceInput {
    pub code: String,
    /// Describes a unit not yet known (a received lot).
    #[serde(default)]
    pub kind: Option<UnitKind>,
    #[serde(default)]
    pub item: Option<String>,
    /// How much of it went in.
    #[serde(default)]
    pub quantity: Option<f64>,
}

/// "These inputs went into this output", at an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRecord {
    pub output: TraceUnit,
    #[serde(default)]
    pub inputs: Vec<TraceInput>,
    #[serde(default)]
    pub operation_seq: Option<i32>,
    /// Epoch ms; now when absent.
    #[serde(default)]
    pub at: Option<i64>,
}

impl TraceUnit {
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        validate_code(&format!("{field}.code"), &self.code)?;
        validate_code(&format!("{field}.item"), &self.item)?;
        match (self.kind, self.quantity) {
            (_, Some(q)) if !(q.is_finite() && q > 0.0) => Err(FieldError::new(
                format!("{field}.quantity"),
                format!("{q}: must be a positive quantity"),
            )),
            (UnitKind::Serial, Some(q)) if q != 1.0 => Err(FieldError::new(
                format!("{field}.quantity"),
                "a serial number is one unit",
            )),
            _ if self.work_order.chars().count() > 100 => Err(FieldError::new(
                format!("{field}.work_order"),
                "must be at most 100 characters",
            )),
            _ => Ok(()),
        }
    }
}

impl TraceRecord {
    pub fn validate(&self) -> Result<(), FieldError> {
        self.output.validate("output")?;
        for (i, input) in self.inputs.iter().enumerate() {
            let field = format!("inputs[{i}]");
            validate_code(&format!("{field}.code"), &input.code)?;
            if input.code == self.output.code {
                return Err(FieldError::new(
                    format!("{field}.code"),
                    "a unit cannot go into itself",
                ));
            }
            if let Some(item) = &input.item {
                validate_code(&format!("{field}.item"), item)?;
            }
            if let Some(q) = input.quantity
                && !(q.is_finite() && q > 0.0)
            {
                return Err(FieldError::new(
                    format!("{field}.quantity"),
                    format!("{q}: must be a positive quantity"),
                ));
            }
            if let Some(j) = self.inputs[..i].iter().position(|x| x.code == input.code) {
                return Err(FieldError::new(
                    format!("{field}.code"),
                    format!("`{}` is inputs[{j}] too", input.code),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// What went into the unit, down to raw material.
    Backward,
    /// Where the unit went, up to finished products.
    Forward,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TraceRecord {
        TraceRecord {
            output: TraceUnit {
                code: "QJ50-000123".into(),
                kind: UnitKind::Serial,
                item: "QJ-50".into(),
                quantity: None,
                work_order: "WO-12".into(),
            },
            inputs: vec![
                TraceInput {
                    code: "CAS-000123".into(),
                    kind: None,
                    item: None,
                    quantity: Some(1.0),
                },
                TraceInput {
                    code: "LSH-7".into(),
                    kind: Some(UnitKind::Lot),
                    item: Some("SHAFT-304".into()),
                    quantity: Some(1.0),
                },
            ],
            operation_seq: Some(10),
            at: None,
        }
    }

    #[test]
    fn a_unit_does_not_go_into_itself_nor_twice() {
        assert!(record().validate().is_ok());
        let mut r = record();
        r.inputs[1].code = "QJ50-000123".into();
        assert_eq!(r.validate().unwrap_err().field, "inputs[1].code");
        let mut r = record();
        r.inputs[1].code = "CAS-000123".into();
        assert_eq!(r.validate().unwrap_err().field, "inputs[1].code");
        let mut r = record();
        r.output.quantity = Some(2.0);
        assert_eq!(r.validate().unwrap_err().field, "output.quantity");
    }
}
