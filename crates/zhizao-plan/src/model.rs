//! What MRP reads: items, bills of material, demand and open supply.

use serde::{Deserialize, Serialize};

/// The most buckets a plan may have (ten years of weeks, say).
pub const MAX_HORIZON: usize = 1_000;

/// An item's place in [`PlanInput::items`].
pub type ItemId = usize;
/// A demand's own id (a customer order line or a forecast).
pub type DemandId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Raw,
    Purchased,
    SemiFinished,
    Finished,
    /// Built and used at once (a weldment that never goes to stock): its
    /// requirements pass straight to its components, after what happens
    /// to be on hand.
    Phantom,
}

impl ItemKind {
    /// Bought, not made: planned orders are purchase requisitions.
    pub fn is_bought(self) -> bool {
        matches!(self, ItemKind::Raw | ItemKind::Purchased)
    }
}

/// How net requirements become order quantities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum LotRule {
    /// Exactly each bucket's net requirement.
    LotForLot,
    /// Whole lots of this size, as many as needed.
    Fixed { quantity: f64 },
    /// At least `minimum`, rounded up to a multiple of `multiple`.
    MinMultiple { minimum: f64, multiple: f64 },
    /// One order covers the net requirements of this many buckets.
    PeriodOrderQuantity { buckets: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub code: String,
    pub kind: ItemKind,
    /// Buckets from releasing an order to its receipt.
    pub lead_time: usize,
    pub lot: LotRule,
    pub safety_stock: f64,
    pub on_hand: f64,
    /// On hand but promised to orders already released.
    pub allocated: f64,
}

/// One component of a parent, per unit of the parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BomLine {
    pub parent: ItemId,
    pub component: ItemId,
    pub quantity: f64,
    /// Extra needed for what is lost in making, in percent.
    #[serde(default)]
    pub scrap_pct: f64,
    /// Valid for parent orders released in buckets `[from, to)`; always
    /// when absent.
    #[serde(default)]
    pub effective: Option<(usize, usize)>,
}

impl BomLine {
    /// Component quantity for `parent_qty` released in `bucket`.
    pub(crate) fn need(&self, parent_qty: f64, bucket: usize) -> f64 {
        match self.effective {
            Some((from, to)) if bucket < from || bucket >= to => 0.0,
            _ => parent_qty * self.quantity * (1.0 + self.scrap_pct / 100.0),
        }
    }
}

/// Independent demand: a customer order line or a forecast, due in a
/// bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Demand {
    pub id: DemandId,
    pub item: ItemId,
    pub bucket: usize,
    pub quantity: f64,
}

/// Open supply already ordered (a released work order, an open purchase
/// order), due in a bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub item: ItemId,
    pub bucket: usize,
    pub quantity: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanInput {
    /// Buckets planned: `0..horizon`.
    pub horizon: usize,
    pub items: Vec<Item>,
    pub bom: Vec<BomLine>,
    pub demands: Vec<Demand>,
    pub receipts: Vec<Receipt>,
}

/// Input MRP cannot plan with; `field` names the place
/// (`bom[3].component`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PlanError {
    pub field: String,
    pub message: String,
}

fn bad(field: String, message: impl Into<String>) -> PlanError {
    PlanError {
        field,
        message: message.into(),
    }
}

fn quantity(field: String, x: f64) -> Result<(), PlanError> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(bad(field, format!("{x} is not a quantity ≥ 0")))
    }
}

impl PlanInput {
    /// Checks every reference, quantity and rule; cycles in the bills of
    /// material are found by the planner.
    pub fn validate(&self) -> Result<(), PlanError> {
        if !(1..=MAX_HORIZON).contains(&self.horizon) {
            return Err(bad(
                "horizon".into(),
                format!("must be 1 to {MAX_HORIZON} buckets"),
            ));
        }
        let n = self.items.len();
        for (i, it) in self.items.iter().enumerate() {
            let f = |name: &str| format!("items[{i}].{name}");
            if it.code.trim().is_empty() {
                return Err(bad(f("code"), "must not be empty"));
            }
            quantity(f("safety_stock"), it.safety_stock)?;
            quantity(f("on_hand"), it.on_hand)?;
            quantity(f("allocated"), it.allocated)?;
            if it.allocated > it.on_hand {
                return Err(bad(f("allocated"), "is more than on hand"));
            }
            match it.lot {
                LotRule::Fixed { quantity } if !(quantity.is_finite() && quantity > 0.0) => {
                    return Err(bad(f("lot.quantity"), "must be > 0"));
                }
                LotRule::MinMultiple { minimum, multiple }
                    if !(minimum.is_finite()
                        && minimum >= 0.0
                        && multiple.is_finite()
                        && multiple >= 0.0) =>
                {
                    return Err(bad(f("lot"), "minimum and multiple must be ≥ 0"));
                }
                LotRule::PeriodOrderQuantity { buckets: 0 } => {
                    return Err(bad(f("lot.buckets"), "must be at least 1"));
                }
                _ => {}
            }
        }
        for (k, l) in self.bom.iter().enumerate() {
            let f = |name: &str| format!("bom[{k}].{name}");
            if l.parent >= n {
                return Err(bad(f("parent"), format!("no item {}", l.parent)));
            }
            if l.component >= n {
                return Err(bad(f("component"), format!("no item {}", l.component)));
            }
            if l.parent == l.component {
                return Err(bad(f("component"), "an item cannot be its own component"));
            }
            if !(l.quantity.is_finite() && l.quantity > 0.0) {
                return Err(bad(f("quantity"), "must be > 0"));
            }
            if !(l.scrap_pct.is_finite() && (0.0..100.0).contains(&l.scrap_pct)) {
                return Err(bad(f("scrap_pct"), "must be 0 to under 100"));
            }
            if let Some((a, b)) = l.effective
                && a >= b
            {
                return Err(bad(f("effective"), "`from` must be before `to`"));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (k, d) in self.demands.iter().enumerate() {
            let f = |name: &str| format!("demands[{k}].{name}");
            if !ids.insert(d.id) {
                return Err(bad(f("id"), format!("{} is used twice", d.id)));
            }
            if d.item >= n {
                return Err(bad(f("item"), format!("no item {}", d.item)));
            }
            quantity(f("quantity"), d.quantity)?;
        }
        for (k, r) in self.receipts.iter().enumerate() {
            let f = |name: &str| format!("receipts[{k}].{name}");
            if r.item >= n {
                return Err(bad(f("item"), format!("no item {}", r.item)));
            }
            quantity(f("quantity"), r.quantity)?;
        }
        Ok(())
    }
}
