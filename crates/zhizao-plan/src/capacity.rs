//! Rough-cut capacity: the hours the plan puts on each work centre per
//! bucket, against what the centre has; and what-if changes (an extra
//! shift, overtime, moving an operation to its alternative centre)
//! evaluated on a copy, never on the plan.

use serde::{Deserialize, Serialize};

use crate::model::{ItemId, PlanError};
use crate::mrp::Plan;

/// A group of machines planned as one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkCentre {
    pub code: String,
    /// Hours available per bucket on the plant calendar (shifts × hours ×
    /// machines).
    pub hours_per_bucket: f64,
    /// Share of the hours that are productive, 0 to 1.
    pub efficiency: f64,
    /// Hours in each bucket when the plant calendar gives them (holidays,
    /// make-up days); `hours_per_bucket` past its end or when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_by_bucket: Option<Vec<f64>>,
}

impl WorkCentre {
    /// Hours available in `bucket`, before efficiency.
    pub fn hours_in(&self, bucket: usize) -> f64 {
        self.hours_by_bucket
            .as_ref()
            .and_then(|h| h.get(bucket))
            .copied()
            .unwrap_or(self.hours_per_bucket)
    }
}

/// One step of an item's routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub item: ItemId,
    pub work_centre: usize,
    /// Centres that can do it instead.
    #[serde(default)]
    pub alternatives: Vec<usize>,
    pub setup_hours: f64,
    pub run_hours_per_unit: f64,
}

/// A change to try: hours added to a centre over a range of buckets, or
/// an item's operation moved to another centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WhatIf {
    /// An extra shift or weekend overtime: `hours` more in each bucket of
    /// `[from, to)`.
    AddHours {
        work_centre: usize,
        from: usize,
        to: usize,
        hours: f64,
    },
    /// `item`'s operations on `from_centre` go to `to_centre`.
    Move {
        item: ItemId,
        from_centre: usize,
        to_centre: usize,
    },
}

/// Load against capacity per work centre and bucket, in hours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityLoad {
    pub load: Vec<Vec<f64>>,
    pub capacity: Vec<Vec<f64>>,
}

impl CapacityLoad {
    /// (work centre, bucket) where the load is above capacity.
    pub fn overloads(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (c, (load, cap)) in self.load.iter().zip(&self.capacity).enumerate() {
            for (t, (l, k)) in load.iter().zip(cap).enumerate() {
                if *l > *k + 1e-9 {
                    out.push((c, t));
                }
            }
        }
        out
    }
}

/// Checks centres, operations and changes against each other and the
/// plan's items.
pub fn validate(
    items: usize,
    centres: &[WorkCentre],
    routings: &[Operation],
    changes: &[WhatIf],
) -> Result<(), PlanError> {
    let bad = |field: String, message: &str| PlanError {
        field,
        message: message.into(),
    };
    for (i, c) in centres.iter().enumerate() {
        let by_bucket = c.hours_by_bucket.as_deref().unwrap_or(&[]);
        if !(c.hours_per_bucket.is_finite() && c.hours_per_bucket >= 0.0)
            || by_bucket.iter().any(|h| !(h.is_finite() && *h >= 0.0))
        {
            return Err(bad(
                format!("work_centres[{i}].hours_per_bucket"),
                "must be ≥ 0",
            ));
        }
        if !(c.efficiency > 0.0 && c.efficiency <= 1.0) {
            return Err(bad(
                format!("work_centres[{i}].efficiency"),
                "must be above 0 and at most 1",
            ));
        }
    }
    let centre = |c: usize| c < centres.len();
    for (k, op) in routings.iter().enumerate() {
        let f = |n: &str| format!("routings[{k}].{n}");
        if op.item >= items {
            return Err(bad(f("item"), "no such item"));
        }
        if !centre(op.work_centre) || !op.alternatives.iter().all(|a| centre(*a)) {
            return Err(bad(f("work_centre"), "no such work centre"));
        }
        if !(op.setup_hours.is_finite()
            && op.setup_hours >= 0.0
            && op.run_hours_per_unit.is_finite()
            && op.run_hours_per_unit >= 0.0)
        {
            return Err(bad(f("run_hours_per_unit"), "hours must be ≥ 0"));
        }
    }
    for (k, w) in changes.iter().enumerate() {
        let ok = match w {
            WhatIf::AddHours {
                work_centre,
                hours,
                from,
                to,
            } => centre(*work_centre) && hours.is_finite() && from < to,
            WhatIf::Move {
                item,
                from_centre,
                to_centre,
            } => routings.iter().any(|op| {
                op.item == *item
                    && op.work_centre == *from_centre
                    && op.alternatives.contains(to_centre)
            }),
        };
        if !ok {
            return Err(bad(
                format!("changes[{k}]"),
                "names a missing centre or an empty range, or moves an operation the item does not have there to a centre that is not its alternative",
            ));
        }
    }
    Ok(())
}

/// Each item's operations, found once.
pub(crate) fn by_item(routings: &[Operation], items: usize) -> Vec<Vec<&Operation>> {
    let mut out = vec![Vec::new(); items];
    for op in routings {
        if let Some(ops) = out.get_mut(op.item) {
            ops.push(op);
        }
    }
    out
}

/// The hours an order of `quantity` puts on each of its operations'
/// centres: (centre, hours), after any moves.
pub(crate) fn order_hours<'a>(
    ops: &'a [&'a Operation],
    changes: &'a [WhatIf],
    quantity: f64,
) -> impl Iterator<Item = (usize, f64)> + 'a {
    ops.iter().map(move |op| {
        let centre = changes
            .iter()
            .find_map(|w| match w {
                WhatIf::Move {
                    item,
                    from_centre,
                    to_centre,
                } if *item == op.item && *from_centre == op.work_centre => Some(*to_centre),
                _ => None,
            })
            .unwrap_or(op.work_centre);
        (centre, op.setup_hours + op.run_hours_per_unit * quantity)
    })
}

/// Productive hours per centre and bucket, with any added hours.
pub(crate) fn capacity(
    centres: &[WorkCentre],
    changes: &[WhatIf],
    horizon: usize,
) -> Vec<Vec<f64>> {
    let mut cap: Vec<Vec<f64>> = centres
        .iter()
        .map(|c| (0..horizon).map(|t| c.hours_in(t) * c.efficiency).collect())
        .collect();
    for w in changes {
        if let WhatIf::AddHours {
            work_centre,
            from,
            to,
            hours,
        } = w
            && let Some(row) = cap.get_mut(*work_centre)
        {
            let eff = centres[*work_centre].efficiency;
            for slot in row.iter_mut().take(*to).skip(*from) {
                *slot += hours * eff;
            }
        }
    }
    cap
}

/// The load of the plan's made orders (and any `released` ones: item,
/// release bucket, due bucket, quantity) per centre and bucket, spread
/// evenly over the buckets from release to receipt, against capacity after
/// `changes`.
pub fn rough_cut(
    plan: &Plan,
    centres: &[WorkCentre],
    routings: &[Operation],
    released: &[(ItemId, usize, usize, f64)],
    changes: &[WhatIf],
) -> Result<CapacityLoad, PlanError> {
    validate(plan.input().items.len(), centres, routings, changes)?;
    let h = plan.input().horizon;
    for (k, &(item, release, due, quantity)) in released.iter().enumerate() {
        if item >= plan.input().items.len()
            || release >= h
            || due < release
            || !(quantity.is_finite() && quantity >= 0.0)
        {
            return Err(PlanError {
                field: format!("released[{k}]"),
                message: "needs an item, a release within the horizon, a due bucket not before it and a quantity ≥ 0".into(),
            });
        }
    }
    let ops = by_item(routings, plan.input().items.len());
    let mut load = vec![vec![0.0; h]; centres.len()];
    let made = plan
        .planned_orders()
        .filter(|o| !o.purchase)
        .map(|o| (o.item, o.release, o.due, o.quantity));
    for (item, release, due, quantity) in made.chain(released.iter().copied()) {
        let last = due.max(release.saturating_add(1)).min(h);
        let spread = last.saturating_sub(release).max(1) as f64;
        let Some(item_ops) = ops.get(item) else {
            continue;
        };
        for (c, hours) in order_hours(item_ops, changes, quantity) {
            if let Some(row) = load.get_mut(c) {
                for slot in row.iter_mut().take(last).skip(release) {
                    *slot += hours / spread;
                }
            }
        }
    }
    Ok(CapacityLoad {
        load,
        capacity: capacity(centres, changes, h),
    })
}
