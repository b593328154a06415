//! Material requirements planning: items are planned parents first (by
//! low-level code); each nets its gross requirements (independent demand
//! plus what its parents' planned orders need) against stock and open
//! supply, sizes orders by its lot rule, offsets them by its lead time,
//! and passes their needs on to its components. Every planned order says
//! which requirements it serves (pegging), first in, first out.
//!
//! A net change replans only the items a change reaches: the changed item,
//! then each component whose requirements moved, level by level.

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::Serialize;

use crate::model::{Demand, DemandId, ItemId, ItemKind, LotRule, PlanError, PlanInput};

/// Quantities closer than this count as equal.
const EPS: f64 = 1e-9;

/// What a requirement is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PegSource {
    Demand {
        id: DemandId,
    },
    /// The planned order of a parent due in `due`.
    Order {
        item: ItemId,
        due: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Peg {
    pub source: PegSource,
    pub quantity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedOrder {
    pub item: ItemId,
    /// The bucket it must be received in.
    pub due: usize,
    /// The bucket it must be released in (its lead time earlier, never
    /// before bucket 0).
    pub release: usize,
    pub quantity: f64,
    /// A purchase requisition (a bought item) rather than a production
    /// order.
    pub purchase: bool,
    /// A phantom passes its needs through; it is never ordered.
    pub phantom: bool,
    pub pegs: Vec<Peg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// The order should have been released `quantity` buckets ago.
    Late,
    /// An open receipt due later is needed in `bucket`.
    Expedite,
    /// An open receipt is not needed before `bucket`.
    Defer,
    /// An open receipt is not needed in the horizon.
    Cancel,
    /// Usable stock starts below the safety stock.
    BelowSafetyStock,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exception {
    pub item: ItemId,
    pub kind: ExceptionKind,
    pub bucket: usize,
    pub quantity: f64,
}

/// A requirement of an item from one of its parents' planned orders.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dependent {
    parent: ItemId,
    parent_due: usize,
    bucket: usize,
    quantity: f64,
}

/// One item's plan.
#[derive(Debug, Clone, Default, PartialEq)]
struct ItemPlan {
    gross: Vec<f64>,
    projected: Vec<f64>,
    orders: Vec<PlannedOrder>,
    exceptions: Vec<Exception>,
}

/// A planned plant: the input, and every item's plan kept so that a
/// change replans only what it reaches.
#[derive(Debug, Clone)]
pub struct Plan {
    input: PlanInput,
    /// BOM lines of each parent (indices into `input.bom`).
    children: Vec<Vec<usize>>,
    llc: Vec<usize>,
    /// Items by low-level code, parents first.
    order: Vec<ItemId>,
    /// Scheduled receipts per item per bucket.
    receipts: Vec<Vec<f64>>,
    /// Independent demand per item: (id, bucket, quantity).
    demands: Vec<Vec<(DemandId, usize, f64)>>,
    /// Requirements per item from its parents' planned orders.
    dependent: Vec<Vec<Dependent>>,
    plans: Vec<ItemPlan>,
}

impl Plan {
    /// Checks the input, orders the items by low-level code (refusing a
    /// cycle in the bills of material) and plans every item.
    pub fn regenerate(input: PlanInput) -> Result<Plan, PlanError> {
        input.validate()?;
        let n = input.items.len();
        let h = input.horizon;
        let mut children = vec![Vec::new(); n];
        for (k, l) in input.bom.iter().enumerate() {
            children[l.parent].push(k);
        }
        let (llc, order) = low_level_codes(&input, &children)?;
        let mut receipts = vec![vec![0.0; h]; n];
        for r in &input.receipts {
            if r.bucket < h {
                receipts[r.item][r.bucket] += r.quantity;
            }
        }
        let mut demands = vec![Vec::new(); n];
        for d in &input.demands {
            demands[d.item].push((d.id, d.bucket, d.quantity));
        }
        let mut plan = Plan {
            children,
            llc,
            order,
            receipts,
            demands,
            dependent: vec![Vec::new(); n],
            plans: vec![ItemPlan::default(); n],
            input,
        };
        let all: BTreeSet<(usize, ItemId)> = (0..n).map(|i| (plan.llc[i], i)).collect();
        plan.replan(all);
        Ok(plan)
    }

    /// Adds a demand, or replaces the one with its id (a quantity of 0
    /// removes it), and replans what that reaches. Returns how many items
    /// were replanned.
    pub fn change_demand(&mut self, demand: Demand) -> Result<usize, PlanError> {
        if demand.item >= self.input.items.len() {
            return Err(PlanError {
                field: "item".into(),
                message: format!("no item {}", demand.item),
            });
        }
        if !(demand.quantity.is_finite() && demand.quantity >= 0.0) {
            return Err(PlanError {
                field: "quantity".into(),
                message: format!("{} is not a quantity ≥ 0", demand.quantity),
            });
        }
        let mut dirty = BTreeSet::new();
        for (item, list) in self.demands.iter_mut().enumerate() {
            let before = list.len();
            list.retain(|(id, _, _)| *id != demand.id);
            if list.len() != before {
                dirty.insert((self.llc[item], item));
            }
        }
        self.input.demands.retain(|d| d.id != demand.id);
        if demand.quantity > 0.0 {
            self.demands[demand.item].push((demand.id, demand.bucket, demand.quantity));
            self.input.demands.push(demand.clone());
        }
        dirty.insert((self.llc[demand.item], demand.item));
        Ok(self.replan(dirty))
    }

    /// Replans the dirty items level by level; a component whose
    /// requirements changed joins them. Returns how many were replanned.
    fn replan(&mut self, mut dirty: BTreeSet<(usize, ItemId)>) -> usize {
        let mut done = 0;
        while let Some((_, item)) = dirty.pop_first() {
            done += 1;
            let plan = self.plan_item(item);
            let changed = plan.orders != self.plans[item].orders;
            self.plans[item] = plan;
            if changed {
                for c in self.explode(item) {
                    dirty.insert((self.llc[c], c));
                }
            }
        }
        done
    }

    /// Replaces what `parent`'s orders ask of its components; returns the
    /// components whose requirements changed.
    fn explode(&mut self, parent: ItemId) -> Vec<ItemId> {
        // A parent may use a component on several lines: gather first.
        let mut asked: HashMap<ItemId, Vec<Dependent>> = HashMap::new();
        for &k in &self.children[parent] {
            let line = &self.input.bom[k];
            let deps = asked.entry(line.component).or_default();
            for o in &self.plans[parent].orders {
                let q = line.need(o.quantity, o.release);
                if q > EPS {
                    deps.push(Dependent {
                        parent,
                        parent_due: o.due,
                        bucket: o.release,
                        quantity: q,
                    });
                }
            }
        }
        let mut touched = Vec::new();
        for (c, new) in asked {
            let deps = &mut self.dependent[c];
            let old: Vec<Dependent> = deps
                .iter()
                .filter(|d| d.parent == parent)
                .copied()
                .collect();
            if old != new {
                deps.retain(|d| d.parent != parent);
                deps.extend(new);
                // One order whatever the order of replanning, so a net
                // change pegs and sums as a regeneration does.
                deps.sort_by_key(|d| (d.parent, d.parent_due, d.bucket));
                touched.push(c);
            }
        }
        touched.sort_unstable();
        touched
    }

    fn plan_item(&self, item: ItemId) -> ItemPlan {
        let it = &self.input.items[item];
        let h = self.input.horizon;
        // Requirements per bucket, with what each is for.
        let mut gross = vec![0.0; h];
        let mut sources: Vec<Vec<(PegSource, f64)>> = vec![Vec::new(); h];
        for &(id, bucket, q) in &self.demands[item] {
            if bucket < h {
                gross[bucket] += q;
                sources[bucket].push((PegSource::Demand { id }, q));
            }
        }
        for d in &self.dependent[item] {
            if d.bucket < h {
                gross[d.bucket] += d.quantity;
                sources[d.bucket].push((
                    PegSource::Order {
                        item: d.parent,
                        due: d.parent_due,
                    },
                    d.quantity,
                ));
            }
        }
        let receipts = &self.receipts[item];
        let phantom = it.kind == ItemKind::Phantom;
        // A phantom keeps no safety stock and takes no lead time.
        let (ss, lead) = if phantom {
            (0.0, 0)
        } else {
            (it.safety_stock, it.lead_time)
        };
        let start = it.on_hand - it.allocated;
        let mut exceptions = Vec::new();
        if start + EPS < ss {
            exceptions.push(Exception {
                item,
                kind: ExceptionKind::BelowSafetyStock,
                bucket: 0,
                quantity: ss - start,
            });
        }
        let mut available = start;
        let mut projected = vec![0.0; h];
        let mut orders: Vec<PlannedOrder> = Vec::new();
        for t in 0..h {
            available += receipts[t];
            let net = gross[t] + ss - available;
            if net > EPS {
                // A phantom is never ordered: exactly what is missing.
                let lot = if phantom { LotRule::LotForLot } else { it.lot };
                let q = self.lot_size(lot, net, available, ss, t, &gross, receipts);
                let release = t.saturating_sub(lead);
                if lead > t {
                    exceptions.push(Exception {
                        item,
                        kind: ExceptionKind::Late,
                        bucket: t,
                        quantity: (lead - t) as f64,
                    });
                }
                orders.push(PlannedOrder {
                    item,
                    due: t,
                    release,
                    quantity: q,
                    purchase: it.kind.is_bought(),
                    phantom,
                    pegs: Vec::new(),
                });
                available += q;
            }
            available -= gross[t];
            projected[t] = available;
        }
        receipt_messages(item, start - ss, &gross, receipts, &mut exceptions);
        peg(start, receipts, &sources, &mut orders);
        ItemPlan {
            gross,
            projected,
            orders,
            exceptions,
        }
    }

    /// The order quantity for a net requirement in bucket `t`, where
    /// `available` is the stock there before it.
    #[allow(clippy::too_many_arguments)]
    fn lot_size(
        &self,
        rule: LotRule,
        net: f64,
        available: f64,
        ss: f64,
        t: usize,
        gross: &[f64],
        receipts: &[f64],
    ) -> f64 {
        // Whole steps of `m` covering `q` (at least one).
        let steps = |q: f64, m: f64| ((q - EPS) / m).ceil().max(1.0) * m;
        match rule {
            LotRule::LotForLot => net,
            LotRule::Fixed { quantity } => steps(net, quantity),
            LotRule::MinMultiple { minimum, multiple } => {
                let q = net.max(minimum);
                if multiple > 0.0 {
                    steps(q, multiple)
                } else {
                    q
                }
            }
            LotRule::PeriodOrderQuantity { buckets } => {
                // Enough to keep the safety stock through this bucket and
                // the next ones the order covers, with their receipts.
                let end = t.saturating_add(buckets).min(self.input.horizon);
                let mut balance = available;
                let mut lowest = f64::INFINITY;
                for k in t..end {
                    if k > t {
                        balance += receipts[k];
                    }
                    balance -= gross[k];
                    lowest = lowest.min(balance);
                }
                (ss - lowest).max(net)
            }
        }
    }

    pub fn input(&self) -> &PlanInput {
        &self.input
    }

    /// Items by low-level code, parents first.
    pub fn order(&self) -> &[ItemId] {
        &self.order
    }

    pub fn low_level_code(&self, item: ItemId) -> usize {
        self.llc[item]
    }

    /// An item's gross requirements per bucket.
    pub fn gross(&self, item: ItemId) -> &[f64] {
        &self.plans[item].gross
    }

    /// An item's projected usable stock at the end of each bucket.
    pub fn projected(&self, item: ItemId) -> &[f64] {
        &self.plans[item].projected
    }

    /// An item's planned orders (phantoms' included), by due bucket.
    pub fn orders_of(&self, item: ItemId) -> &[PlannedOrder] {
        &self.plans[item].orders
    }

    /// The bill-of-material lines under `item`.
    pub fn components(&self, item: ItemId) -> impl Iterator<Item = &crate::model::BomLine> {
        self.children[item].iter().map(|&k| &self.input.bom[k])
    }

    /// Every planned order to place (no phantoms), by item.
    pub fn planned_orders(&self) -> impl Iterator<Item = &PlannedOrder> {
        self.plans
            .iter()
            .flat_map(|p| p.orders.iter())
            .filter(|o| !o.phantom)
    }

    /// Every exception, by item.
    pub fn exceptions(&self) -> impl Iterator<Item = &Exception> {
        self.plans.iter().flat_map(|p| p.exceptions.iter())
    }
}

/// Low-level codes (the deepest level each item is used at) and the items
/// ordered by them; a cycle is refused with an item on it.
fn low_level_codes(
    input: &PlanInput,
    children: &[Vec<usize>],
) -> Result<(Vec<usize>, Vec<ItemId>), PlanError> {
    let n = input.items.len();
    let mut parents_left = vec![0usize; n];
    for l in &input.bom {
        parents_left[l.component] += 1;
    }
    let mut llc = vec![0usize; n];
    let mut queue: VecDeque<ItemId> = (0..n).filter(|&i| parents_left[i] == 0).collect();
    let mut seen = 0;
    while let Some(p) = queue.pop_front() {
        seen += 1;
        for &k in &children[p] {
            let c = input.bom[k].component;
            llc[c] = llc[c].max(llc[p] + 1);
            parents_left[c] -= 1;
            if parents_left[c] == 0 {
                queue.push_back(c);
            }
        }
    }
    if seen < n {
        // Walk up through parents that are left as many steps as there
        // are items: that lands on the loop itself.
        let mut parent_of = vec![None; n];
        for l in &input.bom {
            if parents_left[l.parent] > 0 && parents_left[l.component] > 0 {
                parent_of[l.component] = Some(l.parent);
            }
        }
        let mut on_cycle = (0..n).find(|&i| parents_left[i] > 0).unwrap_or(0);
        for _ in 0..n {
            match parent_of[on_cycle] {
                Some(p) => on_cycle = p,
                None => break,
            }
        }
        return Err(PlanError {
            field: "bom".into(),
            message: format!(
                "the bills of material loop through item `{}`",
                input.items[on_cycle].code
            ),
        });
    }
    let mut order: Vec<ItemId> = (0..n).collect();
    order.sort_by_key(|&i| (llc[i], i));
    Ok((llc, order))
}

/// Messages for open receipts. Receipts are matched to requirements first
/// in, first out (after the usable stock above safety stock, `spare`):
/// each is needed from the first bucket where the requirements outrun the
/// stock and the receipts before it. Needed before it arrives: expedite;
/// only later: defer; not in the horizon: cancel.
fn receipt_messages(
    item: ItemId,
    spare: f64,
    gross: &[f64],
    receipts: &[f64],
    out: &mut Vec<Exception>,
) {
    // What the requirements up to each bucket take beyond the stock.
    let mut short = Vec::with_capacity(gross.len());
    let mut sum = -spare;
    for g in gross {
        sum += g;
        short.push(sum);
    }
    let mut covered = 0.0;
    for (r, &q) in receipts.iter().enumerate() {
        if q <= EPS {
            continue;
        }
        let needed = short.iter().position(|s| *s > covered + EPS);
        let message = match needed {
            None => Some((ExceptionKind::Cancel, r)),
            Some(t) if t < r => Some((ExceptionKind::Expedite, t)),
            Some(t) if t > r => Some((ExceptionKind::Defer, t)),
            Some(_) => None,
        };
        if let Some((kind, bucket)) = message {
            out.push(Exception {
                item,
                kind,
                bucket,
                quantity: q,
            });
        }
        covered += q;
    }
}

/// What supplies a requirement, first in, first out.
#[derive(Clone, Copy)]
enum Supply {
    Stock,
    Receipt,
    Order(usize),
}

/// Pegs each planned order to the requirements it serves: supplies
/// (usable stock, then receipts and orders as they arrive) are used up by
/// the requirements in bucket order.
fn peg(
    start: f64,
    receipts: &[f64],
    sources: &[Vec<(PegSource, f64)>],
    orders: &mut [PlannedOrder],
) {
    let mut queue: VecDeque<(Supply, f64)> = VecDeque::new();
    if start > EPS {
        queue.push_back((Supply::Stock, start));
    }
    let mut by_due: HashMap<usize, usize> = HashMap::new();
    for (i, o) in orders.iter().enumerate() {
        by_due.insert(o.due, i);
    }
    for (t, needs) in sources.iter().enumerate() {
        if receipts[t] > EPS {
            queue.push_back((Supply::Receipt, receipts[t]));
        }
        if let Some(&i) = by_due.get(&t) {
            queue.push_back((Supply::Order(i), orders[i].quantity));
        }
        for &(source, need) in needs {
            let mut left = need;
            while left > EPS {
                let Some(front) = queue.front_mut() else {
                    break;
                };
                let take = left.min(front.1);
                if let Supply::Order(i) = front.0 {
                    let pegs = &mut orders[i].pegs;
                    match pegs.last_mut() {
                        Some(p) if p.source == source => p.quantity += take,
                        _ => pegs.push(Peg {
                            source,
                            quantity: take,
                        }),
                    }
                }
                front.1 -= take;
                left -= take;
                if front.1 <= EPS {
                    queue.pop_front();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
