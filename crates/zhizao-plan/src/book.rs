//! The plant as it is kept and edited: master data by code with names,
//! units and dated effectivity; customer orders and forecasts with due
//! dates; open supply. [`build`] turns it into the planner's input on
//! weekly buckets from the current week's Monday, checking every field
//! and naming a bad one with its place.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::{Date, Duration};

use crate::capacity::{Operation, WorkCentre};
use crate::file::Plant;
use crate::model::{
    BomLine, Demand, DemandId, Item, ItemKind, LotRule, MAX_HORIZON, PlanError, PlanInput, Receipt,
};

/// Demand ids of forecasts start here; customer orders use their own ids
/// below it.
pub const FORECAST_ID_BASE: DemandId = 1 << 48;

/// The longest horizon, in weeks.
pub const MAX_WEEKS: usize = MAX_HORIZON;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitConversion {
    pub from: String,
    pub to: String,
    /// One `from` is this many `to`.
    pub factor: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterItem {
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub kind: ItemKind,
    /// The stock unit every quantity of the item is in.
    pub uom: String,
    pub lead_time_weeks: usize,
    pub lot: LotRule,
    #[serde(default)]
    pub safety_stock: f64,
    #[serde(default)]
    pub on_hand: f64,
    #[serde(default)]
    pub allocated: f64,
}

impl MasterItem {
    /// A planning item with its name and stock unit.
    pub fn of(item: &Item, name: String, uom: String) -> MasterItem {
        MasterItem {
            code: item.code.clone(),
            name,
            kind: item.kind,
            uom,
            lead_time_weeks: item.lead_time,
            lot: item.lot,
            safety_stock: item.safety_stock,
            on_hand: item.on_hand,
            allocated: item.allocated,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterBomLine {
    pub parent: String,
    pub component: String,
    /// Per one parent, in `uom` (the component's stock unit when absent).
    pub quantity: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
    #[serde(default)]
    pub scrap_pct: f64,
    /// First and last day (inclusive) a parent order may be released and
    /// use this line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterWorkCentre {
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub machines: u32,
    /// Hours each machine works in a week; from the plant calendar (its
    /// shifts, breaks, holidays and make-up days, week by week) when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_per_week: Option<f64>,
    /// Share of the hours that are productive, 0 to 1.
    pub efficiency: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterOperation {
    pub item: String,
    /// Order of the step in the item's routing (10, 20, …).
    pub seq: u32,
    pub work_centre: String,
    #[serde(default)]
    pub alternatives: Vec<String>,
    #[serde(default)]
    pub setup_hours: f64,
    pub run_hours_per_unit: f64,
    /// Units passed on to the next step at a time; the whole order when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_transfer_batch: Option<f64>,
    /// Waiting before and moving after the step.
    #[serde(default)]
    pub queue_hours: f64,
    #[serde(default)]
    pub move_hours: f64,
}

/// Hours added to (or, negative, taken from) a work centre each week from
/// `from` to `to` (inclusive): an extra shift, weekend overtime, a
/// holiday closure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityChange {
    pub work_centre: String,
    pub from: String,
    pub to: String,
    pub hours_per_week: f64,
    #[serde(default)]
    pub note: String,
}

/// A tenant's master data: everything MRP and rough-cut capacity read
/// besides demand and open supply.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterData {
    #[serde(default)]
    pub units: Vec<UnitConversion>,
    pub items: Vec<MasterItem>,
    #[serde(default)]
    pub bom: Vec<MasterBomLine>,
    #[serde(default)]
    pub work_centres: Vec<MasterWorkCentre>,
    #[serde(default)]
    pub routings: Vec<MasterOperation>,
    /// Changes to the centres' weekly hours, in force in the live plan.
    #[serde(default)]
    pub capacity_changes: Vec<CapacityChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Open,
    InProduction,
    Shipped,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Open,
        OrderStatus::InProduction,
        OrderStatus::Shipped,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::InProduction => "in_production",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still to be delivered, so still demand.
    pub fn is_demand(self) -> bool {
        matches!(self, OrderStatus::Open | OrderStatus::InProduction)
    }
}

/// A customer order line as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderLine {
    pub id: DemandId,
    pub number: String,
    pub item: String,
    pub quantity: f64,
    pub due: Date,
    pub status: OrderStatus,
}

/// Expected demand of an item in the week holding `week`; customer
/// orders due that week consume it.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub item: String,
    pub week: Date,
    pub quantity: f64,
}

/// Open supply: what is left of a released work order or an open purchase
/// order.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenSupply {
    pub item: String,
    pub due: Date,
    pub quantity: f64,
}

/// Weekly buckets: bucket 0 is the week starting `start` (a Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weeks {
    pub start: Date,
    pub count: usize,
}

impl Weeks {
    /// `count` weeks from the Monday of `today`'s week.
    pub fn from_today(today: Date, count: usize) -> Weeks {
        let back = today.weekday().number_days_from_monday();
        Weeks {
            start: today - Duration::days(i64::from(back)),
            count,
        }
    }

    /// The week `date` falls in, counted from bucket 0 (negative before).
    pub fn index_of(&self, date: Date) -> i64 {
        (date - self.start).whole_days().div_euclid(7)
    }

    /// The bucket a due date falls in: a date in the past is due now;
    /// `None` beyond the horizon.
    pub fn bucket_of(&self, date: Date) -> Option<usize> {
        let i = self.index_of(date).max(0);
        usize::try_from(i).ok().filter(|&b| b < self.count)
    }

    pub fn start_of(&self, bucket: usize) -> Date {
        self.start + Duration::weeks(bucket as i64)
    }

    /// The last day of a bucket (its Sunday).
    pub fn end_of(&self, bucket: usize) -> Date {
        self.start_of(bucket) + Duration::days(6)
    }
}

/// `YYYY-MM-DD` as a date.
pub fn parse_date(s: &str) -> Option<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &fmt).ok()
}

pub fn format_date(d: Date) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    d.format(&fmt).unwrap_or_default()
}

/// What [`build`] gives: the plant on buckets, and what it left out.
#[derive(Debug, Clone)]
pub struct Booked {
    pub plant: Plant,
    pub weeks: Weeks,
    /// Customer orders due after the horizon, not planned.
    pub beyond_horizon: Vec<DemandId>,
}

fn bad(field: String, message: impl Into<String>) -> PlanError {
    PlanError {
        field,
        message: message.into(),
    }
}

fn non_negative(field: String, x: f64) -> Result<(), PlanError> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(bad(field, format!("{x} is not a quantity ≥ 0")))
    }
}

fn positive(field: String, x: f64) -> Result<(), PlanError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(bad(field, format!("{x} must be > 0")))
    }
}

impl MasterData {
    /// How many `to` one `from` is, from the conversions either way.
    pub fn factor(&self, from: &str, to: &str) -> Option<f64> {
        if from == to {
            return Some(1.0);
        }
        self.units.iter().find_map(|u| {
            if u.from == from && u.to == to {
                Some(u.factor)
            } else if u.from == to && u.to == from {
                Some(1.0 / u.factor)
            } else {
                None
            }
        })
    }

    /// Checks everything that does not depend on the buckets: codes are
    /// unique and known, quantities and hours are in range, units convert,
    /// dates are dates. Cycles in the bills of material are found by MRP.
    pub fn check(&self) -> Result<(), PlanError> {
        self.index().map(|_| ())
    }

    fn index(&self) -> Result<MasterIndex, PlanError> {
        for (k, u) in self.units.iter().enumerate() {
            if u.from.trim().is_empty() || u.to.trim().is_empty() || u.from == u.to {
                return Err(bad(format!("units[{k}]"), "needs two different unit names"));
            }
            positive(format!("units[{k}].factor"), u.factor)?;
        }
        let mut items = HashMap::new();
        for (i, it) in self.items.iter().enumerate() {
            let f = |name: &str| format!("items[{i}].{name}");
            if it.code.trim().is_empty() {
                return Err(bad(f("code"), "must not be empty"));
            }
            if items.insert(it.code.clone(), i).is_some() {
                return Err(bad(f("code"), format!("`{}` is used twice", it.code)));
            }
            if it.uom.trim().is_empty() {
                return Err(bad(f("uom"), "must name the stock unit"));
            }
            if it.lead_time_weeks > MAX_HORIZON {
                return Err(bad(f("lead_time_weeks"), "is longer than any horizon"));
            }
        }
        let mut centres = HashMap::new();
        for (c, wc) in self.work_centres.iter().enumerate() {
            let f = |name: &str| format!("work_centres[{c}].{name}");
            if wc.code.trim().is_empty() {
                return Err(bad(f("code"), "must not be empty"));
            }
            if centres.insert(wc.code.clone(), c).is_some() {
                return Err(bad(f("code"), format!("`{}` is used twice", wc.code)));
            }
            if wc.machines == 0 {
                return Err(bad(f("machines"), "must be at least 1"));
            }
            if let Some(h) = wc.hours_per_week {
                if !(h.is_finite() && h > 0.0) {
                    return Err(bad(
                        f("hours_per_week"),
                        "the hours a machine works in a week must be > 0 (leave it out to take them from the plant calendar)",
                    ));
                }
                if h > 168.0 {
                    return Err(bad(f("hours_per_week"), "a week has 168 hours"));
                }
            }
            if !(wc.efficiency > 0.0 && wc.efficiency <= 1.0) {
                return Err(bad(f("efficiency"), "must be above 0 and at most 1"));
            }
        }
        let item_of = |code: &str, field: String| {
            items
                .get(code)
                .copied()
                .ok_or_else(|| bad(field, format!("no item `{code}`")))
        };
        let centre_of = |code: &str, field: String| {
            centres
                .get(code)
                .copied()
                .ok_or_else(|| bad(field, format!("no work centre `{code}`")))
        };
        let mut bom_factor = Vec::with_capacity(self.bom.len());
        let mut bom_dates = Vec::with_capacity(self.bom.len());
        for (k, l) in self.bom.iter().enumerate() {
            let f = |name: &str| format!("bom[{k}].{name}");
            item_of(&l.parent, f("parent"))?;
            let comp = item_of(&l.component, f("component"))?;
            positive(f("quantity"), l.quantity)?;
            if !(l.scrap_pct.is_finite() && (0.0..100.0).contains(&l.scrap_pct)) {
                return Err(bad(f("scrap_pct"), "must be 0 to under 100"));
            }
            let stock = &self.items[comp].uom;
            let factor = match &l.uom {
                None => 1.0,
                Some(u) => self.factor(u, stock).ok_or_else(|| {
                    bad(
                        f("uom"),
                        format!(
                            "no conversion from `{u}` to `{stock}`, the stock unit of `{}`",
                            l.component
                        ),
                    )
                })?,
            };
            bom_factor.push(factor);
            let date = |name: &str, s: &Option<String>| -> Result<Option<Date>, PlanError> {
                s.as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| {
                        parse_date(s).ok_or_else(|| {
                            bad(f(name), format!("`{s}` is not a date (YYYY-MM-DD)"))
                        })
                    })
                    .transpose()
            };
            let from = date("valid_from", &l.valid_from)?;
            let to = date("valid_to", &l.valid_to)?;
            if let (Some(a), Some(b)) = (from, to)
                && a > b
            {
                return Err(bad(f("valid_to"), "is before valid_from"));
            }
            bom_dates.push((from, to));
        }
        let mut routings = Vec::with_capacity(self.routings.len());
        let mut steps = std::collections::HashSet::new();
        for (k, op) in self.routings.iter().enumerate() {
            let f = |name: &str| format!("routings[{k}].{name}");
            let item = item_of(&op.item, f("item"))?;
            if !steps.insert((item, op.seq)) {
                return Err(bad(
                    f("seq"),
                    format!("`{}` already has a step {}", op.item, op.seq),
                ));
            }
            let work_centre = centre_of(&op.work_centre, f("work_centre"))?;
            let alternatives = op
                .alternatives
                .iter()
                .map(|a| centre_of(a, f("alternatives")))
                .collect::<Result<Vec<_>, _>>()?;
            non_negative(f("setup_hours"), op.setup_hours)?;
            non_negative(f("run_hours_per_unit"), op.run_hours_per_unit)?;
            non_negative(f("queue_hours"), op.queue_hours)?;
            non_negative(f("move_hours"), op.move_hours)?;
            if let Some(b) = op.min_transfer_batch {
                positive(f("min_transfer_batch"), b)?;
            }
            routings.push(Operation {
                item,
                work_centre,
                alternatives,
                setup_hours: op.setup_hours,
                run_hours_per_unit: op.run_hours_per_unit,
            });
        }
        let mut changes = Vec::with_capacity(self.capacity_changes.len());
        for (k, c) in self.capacity_changes.iter().enumerate() {
            let f = |name: &str| format!("capacity_changes[{k}].{name}");
            let centre = centre_of(&c.work_centre, f("work_centre"))?;
            let from = parse_date(&c.from).ok_or_else(|| {
                bad(
                    f("from"),
                    format!("`{}` is not a date (YYYY-MM-DD)", c.from),
                )
            })?;
            let to = parse_date(&c.to)
                .ok_or_else(|| bad(f("to"), format!("`{}` is not a date (YYYY-MM-DD)", c.to)))?;
            if to < from {
                return Err(bad(f("to"), "is before `from`"));
            }
            if !(c.hours_per_week.is_finite() && c.hours_per_week != 0.0) {
                return Err(bad(
                    f("hours_per_week"),
                    "must be a number of hours other than 0",
                ));
            }
            changes.push((centre, from, to, c.hours_per_week));
        }
        Ok(MasterIndex {
            items,
            changes,
            bom_factor,
            bom_dates,
            routings,
        })
    }
}

struct MasterIndex {
    items: HashMap<String, usize>,
    /// (centre, first day, last day, hours per week)
    changes: Vec<(usize, Date, Date, f64)>,
    bom_factor: Vec<f64>,
    bom_dates: Vec<(Option<Date>, Option<Date>)>,
    routings: Vec<Operation>,
}

/// The plant on `weeks`: customer orders still to deliver and forecasts
/// (less the orders due the same week) as demand, open supply as
/// receipts. Orders past due are due now; those after the horizon are left
/// out and listed. Every work centre must have its hours per week.
pub fn build(
    master: &MasterData,
    orders: &[OrderLine],
    forecasts: &[Forecast],
    supply: &[OpenSupply],
    weeks: Weeks,
) -> Result<Booked, PlanError> {
    build_on_calendar(master, orders, forecasts, supply, weeks, None)
}

/// [`build`], with the hours one machine works in each week by the plant
/// calendar, for the work centres that do not give their own.
pub fn build_on_calendar(
    master: &MasterData,
    orders: &[OrderLine],
    forecasts: &[Forecast],
    supply: &[OpenSupply],
    weeks: Weeks,
    calendar_hours: Option<&[f64]>,
) -> Result<Booked, PlanError> {
    if !(1..=MAX_HORIZON).contains(&weeks.count) {
        return Err(bad(
            "weeks".into(),
            format!("the horizon must be 1 to {MAX_HORIZON} weeks"),
        ));
    }
    let ix = master.index()?;
    let h = weeks.count;
    let item_of = |code: &str, field: String| {
        ix.items
            .get(code)
            .copied()
            .ok_or_else(|| bad(field, format!("no item `{code}`")))
    };
    let items = master
        .items
        .iter()
        .map(|it| Item {
            code: it.code.clone(),
            kind: it.kind,
            lead_time: it.lead_time_weeks,
            lot: it.lot,
            safety_stock: it.safety_stock,
            on_hand: it.on_hand,
            allocated: it.allocated,
        })
        .collect();
    let bom = master
        .bom
        .iter()
        .zip(ix.bom_factor.iter().zip(&ix.bom_dates))
        .map(|(l, (factor, (from, to)))| {
            // Week buckets whose Monday lies in [from, to].
            let first = from.map_or(0, |d| {
                let i = (d - weeks.start).whole_days();
                usize::try_from((i + 6).div_euclid(7).max(0)).unwrap_or(0)
            });
            let last = to.map_or(h, |d| {
                let i = weeks.index_of(d) + 1;
                usize::try_from(i.max(0)).unwrap_or(0).min(h)
            });
            let effective = match (from, to) {
                (None, None) => None,
                // Never within the horizon; `(h, h + 1)` keeps the line
                // (and its place for messages) but never uses it.
                _ if first >= last => Some((h, h + 1)),
                _ => Some((first, last)),
            };
            Ok(BomLine {
                parent: item_of(&l.parent, String::new())?,
                component: item_of(&l.component, String::new())?,
                quantity: l.quantity * factor,
                scrap_pct: l.scrap_pct,
                effective,
            })
        })
        .collect::<Result<Vec<_>, PlanError>>()?;
    let (demands, receipts, beyond_horizon) =
        demand_and_supply(&item_of, orders, forecasts, supply, weeks)?;
    // A change covers the weeks whose Monday to Sunday meets its days.
    let what_if = ix
        .changes
        .iter()
        .filter_map(|&(work_centre, from, to, hours)| {
            let a = weeks.index_of(from).max(0);
            let b = (weeks.index_of(to) + 1).min(h as i64);
            (a < b).then_some(crate::capacity::WhatIf::AddHours {
                work_centre,
                from: a as usize,
                to: b as usize,
                hours,
            })
        })
        .collect();
    let work_centres = master
        .work_centres
        .iter()
        .enumerate()
        .map(|(c, wc)| {
            let machines = f64::from(wc.machines);
            Ok(match (wc.hours_per_week, calendar_hours) {
                (Some(h), _) => WorkCentre {
                    code: wc.code.clone(),
                    hours_per_bucket: machines * h,
                    efficiency: wc.efficiency,
                    hours_by_bucket: None,
                },
                (None, Some(by_week)) => WorkCentre {
                    code: wc.code.clone(),
                    hours_per_bucket: machines * by_week.iter().copied().fold(0.0, f64::max),
                    efficiency: wc.efficiency,
                    hours_by_bucket: Some(by_week.iter().map(|h| machines * h).collect()),
                },
                (None, None) => {
                    return Err(bad(
                        format!("work_centres[{c}].hours_per_week"),
                        format!(
                            "`{}` gives no hours per week and there is no plant calendar to take them from (add a site)",
                            wc.code
                        ),
                    ));
                }
            })
        })
        .collect::<Result<Vec<_>, PlanError>>()?;
    Ok(Booked {
        plant: Plant {
            input: PlanInput {
                horizon: h,
                items,
                bom,
                demands,
                receipts,
            },
            work_centres,
            routings: ix.routings,
            what_if,
        },
        weeks,
        beyond_horizon,
    })
}

/// Demands, receipts, and the orders beyond the horizon.
type DemandAndSupply = (Vec<Demand>, Vec<Receipt>, Vec<DemandId>);

/// Demand and open supply on `weeks`, items found by `item_of`.
fn demand_and_supply(
    item_of: &dyn Fn(&str, String) -> Result<usize, PlanError>,
    orders: &[OrderLine],
    forecasts: &[Forecast],
    supply: &[OpenSupply],
    weeks: Weeks,
) -> Result<DemandAndSupply, PlanError> {
    let h = weeks.count;
    let mut demands = Vec::new();
    let mut beyond_horizon = Vec::new();
    let mut ordered: HashMap<(usize, usize), f64> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for (k, o) in orders.iter().enumerate() {
        let f = |name: &str| format!("orders[{k}].{name}");
        if o.id >= FORECAST_ID_BASE || !ids.insert(o.id) {
            return Err(bad(f("id"), format!("{} is not a free order id", o.id)));
        }
        let item = item_of(&o.item, f("item"))?;
        positive(f("quantity"), o.quantity)?;
        if !o.status.is_demand() {
            continue;
        }
        match weeks.bucket_of(o.due) {
            Some(bucket) => {
                *ordered.entry((item, bucket)).or_default() += o.quantity;
                demands.push(Demand {
                    id: o.id,
                    item,
                    bucket,
                    quantity: o.quantity,
                });
            }
            None => beyond_horizon.push(o.id),
        }
    }
    for (k, fc) in forecasts.iter().enumerate() {
        let f = |name: &str| format!("forecasts[{k}].{name}");
        let item = item_of(&fc.item, f("item"))?;
        non_negative(f("quantity"), fc.quantity)?;
        let i = weeks.index_of(fc.week);
        let Some(bucket) = usize::try_from(i).ok().filter(|&b| b < h) else {
            // A past week's forecast is history; a later one is beyond
            // the plan.
            continue;
        };
        let left = fc.quantity - ordered.get(&(item, bucket)).copied().unwrap_or(0.0);
        if left > 0.0 {
            demands.push(Demand {
                id: FORECAST_ID_BASE + k as u64,
                item,
                bucket,
                quantity: left,
            });
        }
    }
    let mut receipts = Vec::new();
    for (k, s) in supply.iter().enumerate() {
        let f = |name: &str| format!("supply[{k}].{name}");
        let item = item_of(&s.item, f("item"))?;
        non_negative(f("quantity"), s.quantity)?;
        // Supply due past the horizon is not planned against.
        if let Some(bucket) = weeks.bucket_of(s.due) {
            receipts.push(Receipt {
                item,
                bucket,
                quantity: s.quantity,
            });
        }
    }
    Ok((demands, receipts, beyond_horizon))
}

impl Booked {
    /// Each item's place in the plan, by code.
    pub fn item_index(&self) -> HashMap<&str, usize> {
        self.plant
            .input
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| (it.code.as_str(), i))
            .collect()
    }

    /// This plant with new demand and open supply (the master data and
    /// the weeks unchanged): what a net change needs, without building
    /// the bills of material again.
    pub fn with_demand(
        &self,
        orders: &[OrderLine],
        forecasts: &[Forecast],
        supply: &[OpenSupply],
    ) -> Result<Booked, PlanError> {
        let index = self.item_index();
        let item_of = |code: &str, field: String| {
            index
                .get(code)
                .copied()
                .ok_or_else(|| bad(field, format!("no item `{code}`")))
        };
        let (demands, receipts, beyond_horizon) =
            demand_and_supply(&item_of, orders, forecasts, supply, self.weeks)?;
        let mut plant = self.plant.clone();
        plant.input.demands = demands;
        plant.input.receipts = receipts;
        Ok(Booked {
            plant,
            weeks: self.weeks,
            beyond_horizon,
        })
    }
}

/// `item`'s routing steps in order.
pub fn routing_of<'a>(master: &'a MasterData, item: &str) -> Vec<&'a MasterOperation> {
    let mut ops: Vec<_> = master.routings.iter().filter(|o| o.item == item).collect();
    ops.sort_by_key(|o| o.seq);
    ops
}

/// Whether `kind` is made in the plant (and so released as a work order).
pub fn is_made(kind: ItemKind) -> bool {
    matches!(kind, ItemKind::Finished | ItemKind::SemiFinished)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrp::Plan;
    use time::Weekday;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap_or_else(|| panic!("{s}"))
    }

    fn master() -> MasterData {
        let json = r#"{
            "units": [{"from": "m", "to": "mm", "factor": 1000}],
            "items": [
                {"code": "PUMP", "name": "潜水泵", "kind": "finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}},
                {"code": "SHAFT", "kind": "semi_finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}},
                {"code": "BAR", "kind": "raw", "uom": "mm", "lead_time_weeks": 2, "lot": {"rule": "lot_for_lot"}, "on_hand": 500}
            ],
            "bom": [
                {"parent": "PUMP", "component": "SHAFT", "quantity": 1},
                {"parent": "SHAFT", "component": "BAR", "quantity": 0.4, "uom": "m", "valid_from": "2026-12-07"}
            ],
            "work_centres": [{"code": "CNC", "machines": 2, "hours_per_week": 80, "efficiency": 0.9}],
            "routings": [{"item": "SHAFT", "seq": 10, "work_centre": "CNC", "setup_hours": 1, "run_hours_per_unit": 0.5}]
        }"#;
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"))
    }

    fn order(id: u64, number: &str, qty: f64, due: &str) -> OrderLine {
        OrderLine {
            id,
            number: number.into(),
            item: "PUMP".into(),
            quantity: qty,
            due: d(due),
            status: OrderStatus::Open,
        }
    }

    #[test]
    fn weeks_start_on_monday_and_dates_fall_in_buckets() {
        // 2026-11-30 is a Monday; 2026-12-03 a Thursday.
        let w = Weeks::from_today(d("2026-12-03"), 4);
        assert_eq!(w.start, d("2026-11-30"));
        assert_eq!(w.start.weekday(), Weekday::Monday);
        assert_eq!(w.bucket_of(d("2026-11-01")), Some(0), "past due is due now");
        assert_eq!(w.bucket_of(d("2026-12-06")), Some(0));
        assert_eq!(w.bucket_of(d("2026-12-07")), Some(1));
        assert_eq!(w.bucket_of(d("2026-12-27")), Some(3));
        assert_eq!(w.bucket_of(d("2026-12-28")), None);
        assert_eq!(w.end_of(1), d("2026-12-13"));
    }

    #[test]
    fn orders_forecasts_units_and_dates_become_buckets() {
        let w = Weeks::from_today(d("2026-11-30"), 4);
        let orders = [
            order(1, "SO-1", 6.0, "2026-12-23"),
            order(2, "SO-2", 3.0, "2027-03-01"),
            OrderLine {
                status: OrderStatus::Shipped,
                ..order(3, "SO-3", 9.0, "2026-12-16")
            },
        ];
        let forecasts = [Forecast {
            item: "PUMP".into(),
            week: d("2026-12-21"),
            quantity: 10.0,
        }];
        let supply = [OpenSupply {
            item: "SHAFT".into(),
            due: d("2026-12-08"),
            quantity: 2.0,
        }];
        let b = build(&master(), &orders, &forecasts, &supply, w).unwrap_or_else(|e| panic!("{e}"));
        let input = &b.plant.input;
        // SO-1 in week 3; the forecast of 10 that week is consumed to 4;
        // SO-2 is past the horizon; SO-3 is shipped.
        assert_eq!(input.demands.len(), 2);
        assert_eq!(
            (input.demands[0].bucket, input.demands[0].quantity),
            (3, 6.0)
        );
        assert_eq!(input.demands[1].quantity, 4.0);
        assert_eq!(b.beyond_horizon, vec![2]);
        assert_eq!(input.receipts[0].bucket, 1);
        // 0.4 m of bar is 400 mm, from the week of 7 December on.
        assert_eq!(input.bom[1].quantity, 400.0);
        assert_eq!(input.bom[1].effective, Some((1, 4)));
        assert_eq!(b.plant.work_centres[0].hours_per_bucket, 160.0);
        // 10 pumps in week 3, released in week 2 → 10 shafts needed in
        // week 2, less the 2 arriving in week 1 → 8 released in week 1,
        // when the bar line is in effect → 3,200 mm of bar less 500 on
        // hand, ordered in week −1: late.
        let plan = Plan::regenerate(b.plant.input).unwrap_or_else(|e| panic!("{e}"));
        let bar: f64 = plan.orders_of(2).iter().map(|o| o.quantity).sum();
        assert_eq!(bar, 2700.0);
        assert!(
            plan.exceptions()
                .any(|e| e.item == 2 && e.kind == crate::ExceptionKind::Late)
        );
    }

    #[test]
    fn new_demand_on_a_booked_plant_is_the_same_as_booking_again() {
        let w = Weeks::from_today(d("2026-11-30"), 6);
        let first = build(
            &master(),
            &[order(1, "SO-1", 6.0, "2026-12-23")],
            &[],
            &[],
            w,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let orders = [
            order(1, "SO-1", 9.0, "2026-12-09"),
            order(2, "SO-2", 3.0, "2027-03-01"),
        ];
        let supply = [OpenSupply {
            item: "SHAFT".into(),
            due: d("2026-12-08"),
            quantity: 2.0,
        }];
        let again = first
            .with_demand(&orders, &[], &supply)
            .unwrap_or_else(|e| panic!("{e}"));
        let whole = build(&master(), &orders, &[], &supply, w).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.plant, whole.plant);
        assert_eq!(again.beyond_horizon, whole.beyond_horizon);
        let mut unknown = orders.to_vec();
        unknown[0].item = "GEAR".into();
        assert_eq!(
            first.with_demand(&unknown, &[], &[]).unwrap_err().field,
            "orders[0].item"
        );
    }

    #[test]
    fn bad_master_data_is_named() {
        let mut m = master();
        m.bom[1].uom = Some("kg".into());
        assert_eq!(
            m.check().unwrap_err().to_string(),
            "bom[1].uom: no conversion from `kg` to `mm`, the stock unit of `BAR`"
        );
        let mut m = master();
        m.bom[0].component = "BOLT".into();
        assert_eq!(
            m.check().unwrap_err().to_string(),
            "bom[0].component: no item `BOLT`"
        );
        let mut m = master();
        m.work_centres[0].hours_per_week = Some(0.0);
        assert_eq!(
            m.check().unwrap_err().field,
            "work_centres[0].hours_per_week"
        );
        // Without hours of its own a centre needs the plant calendar.
        let mut m = master();
        m.work_centres[0].hours_per_week = None;
        m.check().unwrap_or_else(|e| panic!("{e}"));
        let w = Weeks::from_today(d("2026-11-30"), 3);
        let e = build(&m, &[], &[], &[], w).map(|_| ()).unwrap_err();
        assert_eq!(e.field, "work_centres[0].hours_per_week");
        // A holiday week has fewer hours: 2 machines × the calendar's.
        let b = build_on_calendar(&m, &[], &[], &[], w, Some(&[120.0, 96.0, 120.0]))
            .unwrap_or_else(|e| panic!("{e}"));
        let cnc = &b.plant.work_centres[0];
        assert_eq!((cnc.hours_in(0), cnc.hours_in(1)), (240.0, 192.0));
        let mut m = master();
        m.bom[0].quantity = -1.0;
        assert_eq!(m.check().unwrap_err().field, "bom[0].quantity");
        let mut m = master();
        m.bom[1].valid_to = Some("2026-13-01".into());
        assert_eq!(m.check().unwrap_err().field, "bom[1].valid_to");
        let mut m = master();
        m.routings[0].seq = 10;
        m.routings.push(m.routings[0].clone());
        assert_eq!(m.check().unwrap_err().field, "routings[1].seq");
        // A cycle is named by MRP.
        let mut m = master();
        m.bom.push(MasterBomLine {
            parent: "BAR".into(),
            component: "PUMP".into(),
            quantity: 1.0,
            uom: None,
            scrap_pct: 0.0,
            valid_from: None,
            valid_to: None,
        });
        let b = build(&m, &[], &[], &[], Weeks::from_today(d("2026-11-30"), 4))
            .unwrap_or_else(|e| panic!("{e}"));
        let e = Plan::regenerate(b.plant.input).map(|_| ()).unwrap_err();
        assert!(e.message.contains("PUMP"), "{e}");
    }
}
