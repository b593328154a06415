//! A plan as planners read it: planned orders with dates and what each
//! serves, exception messages, each work centre's load by week, and when
//! each customer order can be expected given material (an order whose
//! supply chain must start before today slips by as many weeks).

use std::collections::HashMap as StdHashMap;

/// Keys here are small integers hashed by the hundred thousand per plan: a
/// fast hasher, not one hardened against chosen keys.
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

use serde::Serialize;

use crate::book::{Booked, FORECAST_ID_BASE, MasterData, Weeks, format_date};
use crate::capacity::CapacityLoad;
use crate::model::{DemandId, ItemId};
use crate::mrp::{ExceptionKind, PegSource, Plan};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PegRow {
    /// `order` (a customer order), `forecast`, or `parent` (a parent's
    /// planned order).
    pub kind: &'static str,
    /// The order number, or the item code.
    pub reference: String,
    pub date: String,
    pub quantity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedOrderRow {
    /// `ITEM@due date`: names the order within a run.
    pub key: String,
    pub item: String,
    pub name: String,
    pub uom: String,
    pub purchase: bool,
    pub release_week: usize,
    pub due_week: usize,
    pub release_date: String,
    pub due_date: String,
    pub quantity: f64,
    /// Weeks its supply chain would have had to start before this week.
    pub late_weeks: usize,
    pub pegs: Vec<PegRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExceptionRow {
    pub kind: ExceptionKind,
    pub item: String,
    pub name: String,
    pub week: usize,
    pub date: String,
    pub quantity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CentreLoad {
    pub code: String,
    pub name: String,
    pub load: Vec<f64>,
    pub capacity: Vec<f64>,
    pub overloaded_weeks: usize,
    /// Highest load as a share of capacity, in percent.
    pub peak_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub id: DemandId,
    pub number: String,
    pub customer: String,
    pub item: String,
    pub quantity: f64,
    pub due_date: String,
    pub expected_date: String,
    pub late_weeks: usize,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Summary {
    pub items: usize,
    pub customer_orders: usize,
    pub beyond_horizon: usize,
    pub production_orders: usize,
    pub purchase_requisitions: usize,
    pub exceptions: usize,
    pub late_deliveries: usize,
    /// Share of planned customer orders expected on time, percent; `None`
    /// without orders.
    pub on_time_pct: Option<f64>,
    pub overloaded_centres: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    /// Monday of each week bucket.
    pub weeks: Vec<String>,
    pub summary: Summary,
    pub exceptions: Vec<ExceptionRow>,
    pub capacity: Vec<CentreLoad>,
    pub deliveries: Vec<Delivery>,
}

/// A customer order's number and customer, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderLabel {
    pub number: String,
    pub customer: String,
    pub due: time::Date,
}

/// Weeks each planned order slips. A late order (its lead time reaches
/// before this week) slips by that much; an order waiting for a slipping
/// component starts when the component arrives, so it slips by how much
/// later that is than its own (ideal) start. Components are planned after
/// parents, so they are walked in reverse planning order.
fn slips(plan: &Plan) -> HashMap<(ItemId, usize), usize> {
    let own: HashMap<(ItemId, usize), usize> = plan
        .exceptions()
        .filter(|e| e.kind == ExceptionKind::Late)
        .map(|e| ((e.item, e.bucket), e.quantity.round().max(0.0) as usize))
        .collect();
    let input = plan.input();
    let mut slip = own.clone();
    for &item in plan.order().iter().rev() {
        for o in plan.orders_of(item) {
            let s = slip.get(&(item, o.due)).copied().unwrap_or(0);
            if s == 0 {
                continue;
            }
            let arrives = (o.due + s) as i64;
            for p in &o.pegs {
                if let PegSource::Order { item: parent, due } = p.source {
                    let lead = match input.items.get(parent) {
                        Some(it) if it.kind != crate::model::ItemKind::Phantom => it.lead_time,
                        _ => 0,
                    };
                    let ideal_start = due as i64 - lead as i64;
                    let waits = usize::try_from(arrives - ideal_start).unwrap_or(0);
                    let total = own.get(&(parent, due)).copied().unwrap_or(0).max(waits);
                    let parent_slip = slip.entry((parent, due)).or_insert(0);
                    *parent_slip = (*parent_slip).max(total);
                }
            }
        }
    }
    slip
}

fn date_of(weeks: &Weeks, bucket: usize) -> String {
    format_date(weeks.start_of(bucket))
}

/// What serving planned orders a page at a time needs, computed once per
/// plan: how much each order slips, and the orders (phantoms left out) in
/// the order planners read them — by release week, item, due week.
#[derive(Debug, Clone, Default)]
pub struct PlanIndex {
    slip: HashMap<(ItemId, usize), usize>,
    /// (item, position in the item's orders)
    orders: Vec<(ItemId, usize)>,
    production: usize,
    purchase: usize,
    /// Each demand's slip: the most any order serving it slips.
    serving: HashMap<DemandId, usize>,
}

impl PlanIndex {
    pub fn new(plan: &Plan) -> PlanIndex {
        let input = plan.input();
        let slip = slips(plan);
        // Items in code order, each item's orders in due order: dealt
        // into release weeks, that is (release, code, due) order without
        // comparing orders.
        let mut by_code: Vec<ItemId> = (0..input.items.len()).collect();
        by_code.sort_by(|&a, &b| input.items[a].code.cmp(&input.items[b].code));
        let mut weeks: Vec<Vec<(ItemId, usize)>> = vec![Vec::new(); input.horizon];
        let (mut production, mut purchase) = (0, 0);
        let mut serving: HashMap<DemandId, usize> = HashMap::default();
        for &item in &by_code {
            for (k, o) in plan.orders_of(item).iter().enumerate() {
                let s = slip.get(&(item, o.due)).copied().unwrap_or(0);
                for p in &o.pegs {
                    if let PegSource::Demand { id } = p.source {
                        let e = serving.entry(id).or_insert(0);
                        *e = (*e).max(s);
                    }
                }
                if o.phantom {
                    continue;
                }
                if o.purchase {
                    purchase += 1;
                } else {
                    production += 1;
                }
                if let Some(w) = weeks.get_mut(o.release) {
                    w.push((item, k));
                }
            }
        }
        PlanIndex {
            slip,
            orders: weeks.concat(),
            production,
            purchase,
            serving,
        }
    }

    /// Planned orders (phantoms left out).
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }
}

/// Which planned orders a page holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderFilter {
    /// Only purchase requisitions (`Some(true)`) or production orders.
    pub purchase: Option<bool>,
    /// Part of the item code, case-insensitive.
    pub item: Option<String>,
    /// Only orders whose supply chain is late.
    pub late: bool,
}

/// Labels of a plan's rows: names, units, dates, what demand is.
pub struct Labeller<'a> {
    plan: &'a Plan,
    weeks: Weeks,
    names: HashMap<&'a str, (&'a str, &'a str)>,
    orders: &'a StdHashMap<DemandId, OrderLabel>,
    forecasts: HashMap<DemandId, (ItemId, usize)>,
}

impl<'a> Labeller<'a> {
    pub fn new(
        plan: &'a Plan,
        booked: &Booked,
        master: &'a MasterData,
        orders: &'a StdHashMap<DemandId, OrderLabel>,
    ) -> Labeller<'a> {
        Labeller {
            plan,
            weeks: booked.weeks,
            names: master
                .items
                .iter()
                .map(|i| (i.code.as_str(), (i.name.as_str(), i.uom.as_str())))
                .collect(),
            orders,
            forecasts: plan
                .input()
                .demands
                .iter()
                .filter(|d| d.id >= FORECAST_ID_BASE)
                .map(|d| (d.id, (d.item, d.bucket)))
                .collect(),
        }
    }

    fn code(&self, i: ItemId) -> &'a str {
        self.plan
            .input()
            .items
            .get(i)
            .map_or("?", |it| it.code.as_str())
    }

    fn name_of(&self, i: ItemId) -> (&'a str, &'a str) {
        self.names.get(self.code(i)).copied().unwrap_or(("", ""))
    }

    fn peg(&self, p: &crate::mrp::Peg) -> PegRow {
        let (kind, reference, date) = match p.source {
            PegSource::Demand { id } if id >= FORECAST_ID_BASE => match self.forecasts.get(&id) {
                Some(&(item, bucket)) => (
                    "forecast",
                    self.code(item).to_owned(),
                    date_of(&self.weeks, bucket),
                ),
                None => ("forecast", String::new(), String::new()),
            },
            PegSource::Demand { id } => match self.orders.get(&id) {
                Some(o) => ("order", o.number.clone(), format_date(o.due)),
                None => ("order", format!("#{id}"), String::new()),
            },
            PegSource::Order { item, due } => (
                "parent",
                self.code(item).to_owned(),
                date_of(&self.weeks, due),
            ),
        };
        PegRow {
            kind,
            reference,
            date,
            quantity: p.quantity,
        }
    }

    fn row(&self, index: &PlanIndex, item: ItemId, k: usize) -> PlannedOrderRow {
        let o = &self.plan.orders_of(item)[k];
        let (name, uom) = self.name_of(item);
        let weeks = &self.weeks;
        PlannedOrderRow {
            key: format!("{}@{}", self.code(item), date_of(weeks, o.due)),
            item: self.code(item).to_owned(),
            name: name.to_owned(),
            uom: uom.to_owned(),
            purchase: o.purchase,
            release_week: o.release,
            due_week: o.due,
            release_date: date_of(weeks, o.release),
            due_date: date_of(weeks, o.due),
            quantity: o.quantity,
            late_weeks: index.slip.get(&(item, o.due)).copied().unwrap_or(0),
            pegs: o.pegs.iter().map(|p| self.peg(p)).collect(),
        }
    }

    /// A page of planned orders matching `filter`, and how many match.
    pub fn planned_orders(
        &self,
        index: &PlanIndex,
        filter: &OrderFilter,
        offset: usize,
        limit: usize,
    ) -> (Vec<PlannedOrderRow>, usize) {
        let needle = filter.item.as_ref().map(|s| s.to_lowercase());
        let matching = index.orders.iter().filter(|&&(item, k)| {
            let o = &self.plan.orders_of(item)[k];
            filter.purchase.is_none_or(|p| p == o.purchase)
                && (!filter.late || index.slip.get(&(item, o.due)).is_some_and(|s| *s > 0))
                && needle
                    .as_ref()
                    .is_none_or(|n| self.code(item).to_lowercase().contains(n.as_str()))
        });
        let mut total = 0;
        let mut rows = Vec::new();
        for &(item, k) in matching {
            if total >= offset && rows.len() < limit {
                rows.push(self.row(index, item, k));
            }
            total += 1;
        }
        (rows, total)
    }

    /// The planned order named `key` (`ITEM@due date`).
    pub fn planned_order(&self, index: &PlanIndex, key: &str) -> Option<PlannedOrderRow> {
        let (code, date) = key.split_once('@')?;
        let item = self
            .plan
            .input()
            .items
            .iter()
            .position(|i| i.code == code)?;
        let k = self
            .plan
            .orders_of(item)
            .iter()
            .position(|o| !o.phantom && date_of(&self.weeks, o.due) == date)?;
        Some(self.row(index, item, k))
    }
}

/// The report of `plan`, built from `booked` on `master`, with its
/// rough-cut `load`; `orders` labels customer-order demand. Planned orders
/// are counted here and served a page at a time by [`Labeller`].
pub fn report(
    plan: &Plan,
    booked: &Booked,
    master: &MasterData,
    load: &CapacityLoad,
    orders: &StdHashMap<DemandId, OrderLabel>,
    index: &PlanIndex,
) -> PlanReport {
    let weeks = &booked.weeks;
    let input = plan.input();
    let labels = Labeller::new(plan, booked, master, orders);
    let code = |i: ItemId| labels.code(i);
    let name_of = |i: ItemId| labels.name_of(i);
    let (production, purchase) = (index.production, index.purchase);
    let exceptions: Vec<ExceptionRow> = plan
        .exceptions()
        .map(|e| ExceptionRow {
            kind: e.kind,
            item: code(e.item).to_owned(),
            name: name_of(e.item).0.to_owned(),
            week: e.bucket,
            date: date_of(weeks, e.bucket),
            quantity: e.quantity,
        })
        .collect();
    let centre_names: HashMap<&str, &str> = master
        .work_centres
        .iter()
        .map(|c| (c.code.as_str(), c.name.as_str()))
        .collect();
    let capacity: Vec<CentreLoad> = booked
        .plant
        .work_centres
        .iter()
        .zip(load.load.iter().zip(&load.capacity))
        .map(|(c, (l, k))| {
            let overloaded_weeks = l.iter().zip(k).filter(|(l, k)| **l > **k + 1e-9).count();
            let peak_pct = l
                .iter()
                .zip(k)
                .filter(|(_, k)| **k > 0.0)
                .map(|(l, k)| l / k * 100.0)
                .fold(0.0, f64::max);
            CentreLoad {
                code: c.code.clone(),
                name: centre_names
                    .get(c.code.as_str())
                    .copied()
                    .unwrap_or("")
                    .to_owned(),
                load: l.clone(),
                capacity: k.clone(),
                overloaded_weeks,
                peak_pct,
            }
        })
        .collect();
    // Each customer order slips as much as the most-slipping order that
    // serves it; one served from stock is on time.
    let serving = &index.serving;
    let mut deliveries: Vec<Delivery> = input
        .demands
        .iter()
        .filter(|d| d.id < FORECAST_ID_BASE)
        .filter_map(|d| {
            let o = orders.get(&d.id)?;
            let slip = serving.get(&d.id).copied().unwrap_or(0);
            // An order past due can be delivered this week at the earliest.
            let earliest = o.due.max(weeks.start);
            let expected = earliest + time::Duration::weeks(slip as i64);
            let late_weeks =
                usize::try_from((expected - o.due).whole_days().max(0) + 6).unwrap_or(0) / 7;
            Some(Delivery {
                id: d.id,
                number: o.number.clone(),
                customer: o.customer.clone(),
                item: code(d.item).to_owned(),
                quantity: d.quantity,
                due_date: format_date(o.due),
                expected_date: format_date(expected),
                late_weeks,
            })
        })
        .collect();
    deliveries.sort_by(|a, b| (&a.due_date, &a.number).cmp(&(&b.due_date, &b.number)));
    let late_deliveries = deliveries.iter().filter(|d| d.late_weeks > 0).count();
    let summary = Summary {
        items: input.items.len(),
        customer_orders: deliveries.len(),
        beyond_horizon: booked.beyond_horizon.len(),
        production_orders: production,
        purchase_requisitions: purchase,
        exceptions: exceptions.len(),
        late_deliveries,
        on_time_pct: (!deliveries.is_empty())
            .then(|| (deliveries.len() - late_deliveries) as f64 / deliveries.len() as f64 * 100.0),
        overloaded_centres: capacity.iter().filter(|c| c.overloaded_weeks > 0).count(),
    };
    PlanReport {
        weeks: (0..weeks.count).map(|b| date_of(weeks, b)).collect(),
        summary,
        exceptions,
        capacity,
        deliveries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{OrderLine, OrderStatus, build, parse_date};
    use crate::capacity::rough_cut;

    fn d(s: &str) -> time::Date {
        parse_date(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn a_chain_that_starts_too_late_makes_its_order_late() {
        // PUMP (1 week) ← SHAFT (1 week, on CNC) ← BAR (bought, 3 weeks).
        // 10 pumps due in week 2: pumps released in week 1, shafts in
        // week 0, bar needed in week 0 but takes 3 weeks: 3 weeks late;
        // the shafts and pumps slip with it, so the order is expected 3
        // weeks after its due date. 2 pumps due in week 5 have time.
        let master: MasterData = serde_json::from_str(
            r#"{
            "items": [
                {"code": "PUMP", "name": "潜水泵", "kind": "finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}},
                {"code": "SHAFT", "kind": "semi_finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}},
                {"code": "BAR", "kind": "raw", "uom": "pcs", "lead_time_weeks": 3, "lot": {"rule": "lot_for_lot"}}
            ],
            "bom": [
                {"parent": "PUMP", "component": "SHAFT", "quantity": 1},
                {"parent": "SHAFT", "component": "BAR", "quantity": 1}
            ],
            "work_centres": [{"code": "CNC", "name": "数控", "machines": 1, "hours_per_week": 10, "efficiency": 1}],
            "routings": [{"item": "SHAFT", "seq": 10, "work_centre": "CNC", "run_hours_per_unit": 2}]
        }"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let weeks = Weeks::from_today(d("2026-11-30"), 8);
        let lines = [
            OrderLine {
                id: 1,
                number: "SO-1".into(),
                item: "PUMP".into(),
                quantity: 10.0,
                due: d("2026-12-16"),
                status: OrderStatus::Open,
            },
            OrderLine {
                id: 2,
                number: "SO-2".into(),
                item: "PUMP".into(),
                quantity: 2.0,
                due: d("2027-01-04"),
                status: OrderStatus::Open,
            },
        ];
        let booked = build(&master, &lines, &[], &[], weeks).unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::regenerate(booked.plant.input.clone()).unwrap_or_else(|e| panic!("{e}"));
        let load = rough_cut(
            &plan,
            &booked.plant.work_centres,
            &booked.plant.routings,
            &[],
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let labels = lines
            .iter()
            .map(|o| {
                (
                    o.id,
                    OrderLabel {
                        number: o.number.clone(),
                        customer: "华东水务".into(),
                        due: o.due,
                    },
                )
            })
            .collect();
        let index = PlanIndex::new(&plan);
        let r = report(&plan, &booked, &master, &load, &labels, &index);
        assert_eq!(r.weeks[0], "2026-11-30");
        let so1 = &r.deliveries[0];
        assert_eq!((so1.number.as_str(), so1.late_weeks), ("SO-1", 3));
        assert_eq!(so1.expected_date, "2027-01-06");
        assert_eq!(r.deliveries[1].late_weeks, 0);
        assert_eq!(r.summary.late_deliveries, 1);
        assert_eq!(r.summary.on_time_pct, Some(50.0));
        let rows = Labeller::new(&plan, &booked, &master, &labels);
        let pump = rows
            .planned_order(&index, "PUMP@2026-12-14")
            .unwrap_or_else(|| panic!("no pump order"));
        assert_eq!(pump.pegs[0].reference, "SO-1");
        assert_eq!(pump.late_weeks, 3);
        // Pages in release order: BAR (released week 0, bought, late) and
        // SHAFT first; only the late ones when asked.
        let (all, total) = rows.planned_orders(&index, &OrderFilter::default(), 0, 100);
        assert_eq!(total, index.len());
        assert!(
            all.windows(2)
                .all(|w| w[0].release_week <= w[1].release_week)
        );
        let late = OrderFilter {
            late: true,
            ..Default::default()
        };
        let (late_rows, n) = rows.planned_orders(&index, &late, 0, 100);
        assert_eq!(n, 3, "{late_rows:?}");
        let bought = OrderFilter {
            purchase: Some(true),
            item: Some("ba".into()),
            ..Default::default()
        };
        let (page, n) = rows.planned_orders(&index, &bought, 1, 1);
        assert_eq!((n, page.len(), page[0].due_week), (2, 1, 3));
        // 10 shafts × 2 h over week 0 on a 10-hour centre: overloaded.
        assert_eq!(r.capacity[0].load[0], 20.0);
        assert_eq!(r.capacity[0].peak_pct, 200.0);
        assert_eq!(r.summary.overloaded_centres, 1);
        assert_eq!(r.summary.purchase_requisitions, 2);
    }
}
