//! Order promising: the earliest bucket a new order can be delivered in
//! without taking anything from orders already planned. Stock and supply
//! not needed by the plan are available to promise; beyond that the item
//! must be made (or bought) within its lead time, from components that are
//! themselves available or can be made in time, on work centres with
//! hours left (capable to promise). When the answer is later than asked,
//! the reason is what failed at the asked bucket.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::capacity::{Operation, WhatIf, WorkCentre, by_item, capacity, order_hours, rough_cut};
use crate::model::{ItemId, ItemKind, PlanError};
use crate::mrp::Plan;

const EPS: f64 = 1e-9;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shortage {
    /// Not enough of `item` in time, and it cannot be made or bought in
    /// time either (its lead time reaches before bucket 0).
    LeadTime { item: ItemId },
    /// Work centre `work_centre` has no hours left for it.
    Capacity { work_centre: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promise {
    pub requested: usize,
    /// The earliest bucket from `requested` on; `None` when not within the
    /// horizon.
    pub bucket: Option<usize>,
    /// Why not at `requested` (when later or never).
    pub reason: Option<Shortage>,
}

/// What a trial takes from the plan, kept apart so a failed trial leaves
/// nothing behind.
struct Trial<'a> {
    plan: &'a Plan,
    /// Each item's operations.
    ops: &'a [Vec<&'a Operation>],
    /// Stock above safety stock per bucket, for items touched.
    spare: HashMap<ItemId, Vec<f64>>,
    /// Hours left per centre and bucket.
    hours: &'a mut Vec<Vec<f64>>,
    taken_hours: Vec<(usize, usize, f64)>,
}

impl Trial<'_> {
    fn spare_of(&mut self, item: ItemId) -> &mut Vec<f64> {
        let plan = self.plan;
        self.spare.entry(item).or_insert_with(|| {
            let it = &plan.input().items[item];
            let ss = if it.kind == ItemKind::Phantom {
                0.0
            } else {
                it.safety_stock
            };
            plan.projected(item).iter().map(|p| p - ss).collect()
        })
    }

    /// Supplies `quantity` of `item` by bucket `t`: from spare stock, else
    /// made or bought within the lead time. Needs are gathered level by
    /// level (as MRP does), so a part used on many paths is checked once
    /// per bucket, not once per path.
    fn supply(&mut self, item: ItemId, quantity: f64, t: usize) -> Result<(), Shortage> {
        let plan = self.plan;
        let llc = |i: ItemId| plan.low_level_code(i);
        let mut needs: BTreeMap<(usize, ItemId), BTreeMap<usize, f64>> = BTreeMap::new();
        needs
            .entry((llc(item), item))
            .or_default()
            .insert(t, quantity);
        while let Some(((_, item), by_bucket)) = needs.pop_first() {
            for (t, quantity) in by_bucket {
                for (component, bucket, need) in self.supply_one(item, quantity, t)? {
                    *needs
                        .entry((llc(component), component))
                        .or_default()
                        .entry(bucket)
                        .or_default() += need;
                }
            }
        }
        Ok(())
    }

    /// One item's need: spare stock first, then making or buying; returns
    /// what making needs of its components (component, bucket, quantity).
    fn supply_one(
        &mut self,
        item: ItemId,
        quantity: f64,
        t: usize,
    ) -> Result<Vec<(ItemId, usize, f64)>, Shortage> {
        let spare = self.spare_of(item);
        // Taking stock at `t` leaves less from `t` on.
        let free = spare[t..]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .max(0.0);
        let take = free.min(quantity);
        for s in spare[t..].iter_mut() {
            *s -= take;
        }
        let rest = quantity - take;
        if rest <= EPS {
            return Ok(Vec::new());
        }
        let it = &self.plan.input().items[item];
        let phantom = it.kind == ItemKind::Phantom;
        let lead = if phantom { 0 } else { it.lead_time };
        if lead > t {
            return Err(Shortage::LeadTime { item });
        }
        let release = t - lead;
        if it.kind.is_bought() {
            return Ok(Vec::new());
        }
        // A phantom is built at its parent's station: no hours of its own,
        // as in rough-cut.
        let ops: &[&Operation] = if phantom {
            &[]
        } else {
            self.ops.get(item).map_or(&[], Vec::as_slice)
        };
        let last = t
            .max(release.saturating_add(1))
            .min(self.hours.first().map_or(0, Vec::len));
        for (c, need) in order_hours(ops, &[], rest).collect::<Vec<_>>() {
            let Some(row) = self.hours.get_mut(c) else {
                continue;
            };
            let left: f64 = row[release..last].iter().map(|h| h.max(0.0)).sum();
            if left + EPS < need {
                return Err(Shortage::Capacity { work_centre: c });
            }
            // Earliest hours first.
            let mut due = need;
            for (b, slot) in row.iter_mut().enumerate().take(last).skip(release) {
                let use_here = due.min(slot.max(0.0));
                *slot -= use_here;
                self.taken_hours.push((c, b, use_here));
                due -= use_here;
            }
        }
        Ok(self
            .plan
            .components(item)
            .map(|l| (l.component, release, l.need(rest, release)))
            .filter(|(_, _, need)| *need > EPS)
            .collect())
    }

    /// Gives back the hours a failed trial took.
    fn undo_hours(&mut self) {
        for (c, b, h) in self.taken_hours.drain(..) {
            self.hours[c][b] += h;
        }
    }
}

/// The earliest bucket from `requested` on in which `quantity` of `item`
/// can be delivered on top of the plan.
pub fn promise(
    plan: &Plan,
    centres: &[WorkCentre],
    routings: &[Operation],
    item: ItemId,
    quantity: f64,
    requested: usize,
) -> Result<Promise, PlanError> {
    promise_with(plan, centres, routings, &[], &[], item, quantity, requested)
}

/// [`promise`] with released orders loading the centres too (item,
/// release bucket, due bucket, quantity; see [`rough_cut`]) and the
/// centres' hours altered by `changes` (the capacity changes in force).
#[allow(clippy::too_many_arguments)]
pub fn promise_with(
    plan: &Plan,
    centres: &[WorkCentre],
    routings: &[Operation],
    released: &[(ItemId, usize, usize, f64)],
    changes: &[WhatIf],
    item: ItemId,
    quantity: f64,
    requested: usize,
) -> Result<Promise, PlanError> {
    if item >= plan.input().items.len() {
        return Err(PlanError {
            field: "item".into(),
            message: format!("no item {item}"),
        });
    }
    if !(quantity.is_finite() && quantity > 0.0) {
        return Err(PlanError {
            field: "quantity".into(),
            message: "must be > 0".into(),
        });
    }
    let h = plan.input().horizon;
    let load = rough_cut(plan, centres, routings, released, changes)?;
    let mut hours: Vec<Vec<f64>> = capacity(centres, changes, h)
        .into_iter()
        .zip(&load.load)
        .map(|(cap, l)| cap.iter().zip(l).map(|(c, l)| c - l).collect())
        .collect();
    let ops = by_item(routings, plan.input().items.len());
    let mut reason = None;
    for t in requested..h {
        let mut trial = Trial {
            plan,
            ops: &ops,
            spare: HashMap::new(),
            hours: &mut hours,
            taken_hours: Vec::new(),
        };
        match trial.supply(item, quantity, t) {
            Ok(()) => {
                return Ok(Promise {
                    requested,
                    bucket: Some(t),
                    reason,
                });
            }
            Err(why) => {
                trial.undo_hours();
                reason.get_or_insert(why);
            }
        }
    }
    Ok(Promise {
        requested,
        bucket: None,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BomLine, Demand, Item, LotRule, PlanInput};

    /// A pump (made in 1 bucket on assembly, 2 h each) of a casing
    /// (bought, 2 buckets) and an impeller (machined in 1 bucket, 1 h
    /// each); 10 pumps are already ordered for bucket 3.
    fn pumps() -> (PlanInput, Vec<WorkCentre>, Vec<Operation>) {
        let item = |code: &str, kind, lead_time, on_hand| Item {
            code: code.into(),
            kind,
            lead_time,
            lot: LotRule::LotForLot,
            safety_stock: 0.0,
            on_hand,
            allocated: 0.0,
        };
        let input = PlanInput {
            horizon: 8,
            items: vec![
                item("PUMP", ItemKind::Finished, 1, 12.0),
                item("CASING", ItemKind::Purchased, 2, 5.0),
                item("IMPELLER", ItemKind::SemiFinished, 1, 0.0),
            ],
            bom: vec![
                BomLine {
                    parent: 0,
                    component: 1,
                    quantity: 1.0,
                    scrap_pct: 0.0,
                    effective: None,
                },
                BomLine {
                    parent: 0,
                    component: 2,
                    quantity: 1.0,
                    scrap_pct: 0.0,
                    effective: None,
                },
            ],
            demands: vec![Demand {
                id: 1,
                item: 0,
                bucket: 3,
                quantity: 10.0,
            }],
            receipts: vec![],
        };
        let centres = vec![
            WorkCentre {
                code: "ASSEMBLY".into(),
                hours_per_bucket: 40.0,
                efficiency: 1.0,
                hours_by_bucket: None,
            },
            WorkCentre {
                code: "LATHE".into(),
                hours_per_bucket: 20.0,
                efficiency: 1.0,
                hours_by_bucket: None,
            },
        ];
        let routings = vec![
            Operation {
                item: 0,
                work_centre: 0,
                alternatives: vec![],
                setup_hours: 0.0,
                run_hours_per_unit: 2.0,
            },
            Operation {
                item: 2,
                work_centre: 1,
                alternatives: vec![0],
                setup_hours: 0.0,
                run_hours_per_unit: 1.0,
            },
        ];
        (input, centres, routings)
    }

    #[test]
    fn spare_stock_is_promised_at_once_and_more_takes_making() {
        let (input, centres, routings) = pumps();
        let plan = Plan::regenerate(input).unwrap_or_else(|e| panic!("{e}"));
        let p = |q: f64, t: usize| {
            promise(&plan, &centres, &routings, 0, q, t).unwrap_or_else(|e| panic!("{e}"))
        };
        // 12 on hand, 10 promised already: 2 spare.
        assert_eq!(p(2.0, 0).bucket, Some(0));
        // 5 more pumps need making (1 bucket) from casings that are bought
        // (2 buckets): 5 casings on hand cover them, impellers are
        // machined first (1 bucket), so bucket 2 at the earliest.
        let five = p(5.0, 0);
        assert_eq!(five.bucket, Some(2));
        assert_eq!(five.reason, Some(Shortage::LeadTime { item: 0 }));
        // Beyond the spare casings, more must be bought: 2 + 1 buckets.
        assert_eq!(p(10.0, 0).bucket, Some(3));
    }

    #[test]
    fn capacity_limits_the_promise_and_names_the_centre() {
        let (mut input, mut centres, mut routings) = pumps();
        // Nothing in stock: the 10 pumps are made (released in bucket 2),
        // their impellers machined in bucket 1 at 3 h each on a lathe of
        // 25 h a bucket. Casings are plenty.
        input.items[0].on_hand = 0.0;
        input.items[1].on_hand = 20.0;
        centres[1].hours_per_bucket = 25.0;
        routings[1].run_hours_per_unit = 3.0;
        let plan = Plan::regenerate(input).unwrap_or_else(|e| panic!("{e}"));
        let load =
            rough_cut(&plan, &centres, &routings, &[], &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load.load[1][1], 30.0);
        assert_eq!(load.load[0][2], 20.0);
        assert_eq!(load.overloads(), [(1, 1)]);
        // An extra shift of 40 h on the lathe in bucket 1 clears it.
        let more = WhatIf::AddHours {
            work_centre: 1,
            from: 1,
            to: 2,
            hours: 40.0,
        };
        let load =
            rough_cut(&plan, &centres, &routings, &[], &[more]).unwrap_or_else(|e| panic!("{e}"));
        assert!(load.overloads().is_empty());
        // So does moving the impellers to assembly.
        let moved = WhatIf::Move {
            item: 2,
            from_centre: 1,
            to_centre: 0,
        };
        let load =
            rough_cut(&plan, &centres, &routings, &[], &[moved]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load.load[1].iter().sum::<f64>(), 0.0);
        assert!(load.overloads().is_empty());
        // Assembly has no alternative centre: that move is refused.
        let nowhere = WhatIf::Move {
            item: 0,
            from_centre: 0,
            to_centre: 1,
        };
        let e = rough_cut(&plan, &centres, &routings, &[], &[nowhere]).map(|_| ());
        assert_eq!(e.map_err(|e| e.field), Err("changes[0]".into()));
        // 8 more pumps asked for bucket 3: their impellers would need the
        // lathe in bucket 1, which the plan has full; bucket 4 works.
        let p = promise(&plan, &centres, &routings, 0, 8.0, 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.bucket, Some(4));
        assert_eq!(p.reason, Some(Shortage::Capacity { work_centre: 1 }));
        // Asked for bucket 0: making takes a bucket.
        let p = promise(&plan, &centres, &routings, 0, 8.0, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.reason, Some(Shortage::LeadTime { item: 0 }));
        // Bad asks are named.
        assert!(promise(&plan, &centres, &routings, 9, 1.0, 0).is_err());
        assert!(promise(&plan, &centres, &routings, 0, -1.0, 0).is_err());
    }
}
