//! A plant as a file people write: items, work centres and everything that
//! refers to them by code, not by position. It becomes the planner's input
//! with every reference checked, and a bad one named with its place.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::capacity::{Operation, WhatIf, WorkCentre};
use crate::model::{BomLine, Demand, DemandId, Item, ItemId, PlanError, PlanInput, Receipt};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BomLineFile {
    pub parent: String,
    pub component: String,
    pub quantity: f64,
    #[serde(default)]
    pub scrap_pct: f64,
    #[serde(default)]
    pub effective: Option<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandFile {
    pub id: DemandId,
    pub item: String,
    pub bucket: usize,
    pub quantity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptFile {
    pub item: String,
    pub bucket: usize,
    pub quantity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationFile {
    pub item: String,
    pub work_centre: String,
    #[serde(default)]
    pub alternatives: Vec<String>,
    #[serde(default)]
    pub setup_hours: f64,
    pub run_hours_per_unit: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WhatIfFile {
    AddHours {
        work_centre: String,
        from: usize,
        to: usize,
        hours: f64,
    },
    Move {
        item: String,
        from_centre: String,
        to_centre: String,
    },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlantFile {
    pub horizon: usize,
    pub items: Vec<Item>,
    #[serde(default)]
    pub bom: Vec<BomLineFile>,
    #[serde(default)]
    pub demands: Vec<DemandFile>,
    #[serde(default)]
    pub receipts: Vec<ReceiptFile>,
    #[serde(default)]
    pub work_centres: Vec<WorkCentre>,
    #[serde(default)]
    pub routings: Vec<OperationFile>,
    #[serde(default)]
    pub what_if: Vec<WhatIfFile>,
}

/// What the planner takes from a [`PlantFile`].
#[derive(Debug, Clone, PartialEq)]
pub struct Plant {
    pub input: PlanInput,
    pub work_centres: Vec<WorkCentre>,
    pub routings: Vec<Operation>,
    pub what_if: Vec<WhatIf>,
}

fn lookup<'a>(
    index: &'a HashMap<String, usize>,
    what: &'a str,
) -> impl Fn(&str, String) -> Result<usize, PlanError> + 'a {
    move |code, field| {
        index.get(code).copied().ok_or_else(|| PlanError {
            field,
            message: format!("no {what} `{code}`"),
        })
    }
}

fn unique<'a>(
    codes: impl Iterator<Item = &'a str>,
    what: &str,
) -> Result<HashMap<String, usize>, PlanError> {
    let mut index = HashMap::new();
    for (i, code) in codes.enumerate() {
        if index.insert(code.to_owned(), i).is_some() {
            return Err(PlanError {
                field: format!("{what}[{i}].code"),
                message: format!("`{code}` is used twice"),
            });
        }
    }
    Ok(index)
}

impl PlantFile {
    /// Resolves every code; an unknown or repeated one is named with its
    /// place (`bom[3].component: no item `X``).
    pub fn resolve(self) -> Result<Plant, PlanError> {
        let items = unique(self.items.iter().map(|i| i.code.as_str()), "items")?;
        let centres = unique(
            self.work_centres.iter().map(|c| c.code.as_str()),
            "work_centres",
        )?;
        let item = lookup(&items, "item");
        let centre = lookup(&centres, "work centre");
        let bom = self
            .bom
            .iter()
            .enumerate()
            .map(|(k, l)| {
                Ok(BomLine {
                    parent: item(&l.parent, format!("bom[{k}].parent"))?,
                    component: item(&l.component, format!("bom[{k}].component"))?,
                    quantity: l.quantity,
                    scrap_pct: l.scrap_pct,
                    effective: l.effective,
                })
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        let demands = self
            .demands
            .iter()
            .enumerate()
            .map(|(k, d)| {
                Ok(Demand {
                    id: d.id,
                    item: item(&d.item, format!("demands[{k}].item"))?,
                    bucket: d.bucket,
                    quantity: d.quantity,
                })
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        let receipts = self
            .receipts
            .iter()
            .enumerate()
            .map(|(k, r)| {
                Ok(Receipt {
                    item: item(&r.item, format!("receipts[{k}].item"))?,
                    bucket: r.bucket,
                    quantity: r.quantity,
                })
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        let routings = self
            .routings
            .iter()
            .enumerate()
            .map(|(k, op)| {
                Ok(Operation {
                    item: item(&op.item, format!("routings[{k}].item"))?,
                    work_centre: centre(&op.work_centre, format!("routings[{k}].work_centre"))?,
                    alternatives: op
                        .alternatives
                        .iter()
                        .map(|a| centre(a, format!("routings[{k}].alternatives")))
                        .collect::<Result<Vec<_>, _>>()?,
                    setup_hours: op.setup_hours,
                    run_hours_per_unit: op.run_hours_per_unit,
                })
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        let what_if = self
            .what_if
            .iter()
            .enumerate()
            .map(|(k, w)| {
                Ok(match w {
                    WhatIfFile::AddHours {
                        work_centre,
                        from,
                        to,
                        hours,
                    } => WhatIf::AddHours {
                        work_centre: centre(work_centre, format!("what_if[{k}].work_centre"))?,
                        from: *from,
                        to: *to,
                        hours: *hours,
                    },
                    WhatIfFile::Move {
                        item: i,
                        from_centre,
                        to_centre,
                    } => WhatIf::Move {
                        item: item(i, format!("what_if[{k}].item"))?,
                        from_centre: centre(from_centre, format!("what_if[{k}].from_centre"))?,
                        to_centre: centre(to_centre, format!("what_if[{k}].to_centre"))?,
                    },
                })
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        Ok(Plant {
            input: PlanInput {
                horizon: self.horizon,
                items: self.items,
                bom,
                demands,
                receipts,
            },
            work_centres: self.work_centres,
            routings,
            what_if,
        })
    }
}

/// An item's code, for output.
pub fn code_of(input: &PlanInput, item: ItemId) -> &str {
    input.items.get(item).map_or("?", |i| i.code.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_resolve_and_bad_ones_are_named() {
        let json = r#"{
            "horizon": 4,
            "items": [
                {"code": "PUMP", "kind": "finished", "lead_time": 1, "lot": {"rule": "lot_for_lot"}, "safety_stock": 0, "on_hand": 0, "allocated": 0},
                {"code": "SHAFT", "kind": "purchased", "lead_time": 2, "lot": {"rule": "fixed", "quantity": 20}, "safety_stock": 0, "on_hand": 5, "allocated": 0}
            ],
            "bom": [{"parent": "PUMP", "component": "SHAFT", "quantity": 1}],
            "demands": [{"id": 1, "item": "PUMP", "bucket": 3, "quantity": 8}],
            "work_centres": [{"code": "ASM", "hours_per_bucket": 40, "efficiency": 0.9}],
            "routings": [{"item": "PUMP", "work_centre": "ASM", "run_hours_per_unit": 1.5}],
            "what_if": [{"kind": "add_hours", "work_centre": "ASM", "from": 0, "to": 2, "hours": 8}]
        }"#;
        let file: PlantFile = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        let plant = file.clone().resolve().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plant.input.bom[0].component, 1);
        assert_eq!(plant.routings[0].work_centre, 0);
        assert_eq!(code_of(&plant.input, 1), "SHAFT");
        let mut bad = file.clone();
        bad.bom[0].component = "BOLT".into();
        let e = bad.resolve().map(|_| ()).unwrap_err();
        assert_eq!(e.to_string(), "bom[0].component: no item `BOLT`");
        let mut twice = file;
        twice.items[1].code = "PUMP".into();
        assert_eq!(
            twice.resolve().map(|_| ()).unwrap_err().field,
            "items[1].code"
        );
    }
}
