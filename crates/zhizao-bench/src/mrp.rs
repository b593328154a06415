//! MRP on a generated plant: 20,000 items in bills of material six levels
//! deep, 5,000 open customer orders, 52 weekly buckets. The plant is
//! seeded, so every run plans the same data. Times a regenerative run, net
//! changes of single orders (each undone again, so every change starts
//! from the same plan), the rough-cut capacity load, and order promises.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use zhizao_plan::{
    BomLine, Demand, Item, ItemKind, LotRule, Operation, Plan, PlanInput, Receipt, WorkCentre,
    promise, rough_cut,
};

use crate::BenchError;

/// Items per BOM level, finished goods first: 20,000 in all.
pub const LEVELS: [usize; 6] = [500, 1_500, 3_000, 4_000, 5_000, 6_000];

/// The generated plant. Items of a level use 2–5 items of the next one
/// (one in ten lines skips a level, so low-level codes matter); the last
/// level is bought.
pub fn plant(seed: u64, orders: usize, horizon: usize) -> PlanInput {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut items = Vec::new();
    let mut first = Vec::new();
    for (level, &count) in LEVELS.iter().enumerate() {
        first.push(items.len());
        for k in 0..count {
            let kind = match level {
                0 => ItemKind::Finished,
                l if l == LEVELS.len() - 1 => {
                    if k % 2 == 0 {
                        ItemKind::Raw
                    } else {
                        ItemKind::Purchased
                    }
                }
                _ if rng.gen_ratio(1, 40) => ItemKind::Phantom,
                _ => ItemKind::SemiFinished,
            };
            let lot = match rng.gen_range(0..4) {
                0 => LotRule::LotForLot,
                1 => LotRule::Fixed {
                    quantity: f64::from(rng.gen_range(10..200)),
                },
                2 => LotRule::MinMultiple {
                    minimum: f64::from(rng.gen_range(5..50)),
                    multiple: f64::from(rng.gen_range(1..20)),
                },
                _ => LotRule::PeriodOrderQuantity {
                    buckets: rng.gen_range(2..5),
                },
            };
            items.push(Item {
                code: format!("L{level}-{k:05}"),
                kind,
                lead_time: rng.gen_range(0..4),
                lot,
                safety_stock: if rng.gen_ratio(1, 5) {
                    f64::from(rng.gen_range(1..50))
                } else {
                    0.0
                },
                on_hand: f64::from(rng.gen_range(0..300)),
                allocated: 0.0,
            });
        }
    }
    first.push(items.len());
    let mut bom = Vec::new();
    for level in 0..LEVELS.len() - 1 {
        for parent in first[level]..first[level + 1] {
            for _ in 0..rng.gen_range(2..6) {
                let below = if level + 2 < LEVELS.len() && rng.gen_ratio(1, 10) {
                    level + 2
                } else {
                    level + 1
                };
                let component = rng.gen_range(first[below]..first[below + 1]);
                bom.push(BomLine {
                    parent,
                    component,
                    quantity: f64::from(rng.gen_range(1..5)),
                    scrap_pct: if rng.gen_ratio(1, 4) { 2.0 } else { 0.0 },
                    effective: None,
                });
            }
        }
    }
    let demands = (0..orders)
        .map(|id| Demand {
            id: id as u64,
            item: rng.gen_range(0..LEVELS[0]),
            bucket: rng.gen_range(0..horizon),
            quantity: f64::from(rng.gen_range(1..50)),
        })
        .collect();
    let receipts = (0..items.len() / 10)
        .map(|_| Receipt {
            item: rng.gen_range(0..items.len()),
            bucket: rng.gen_range(0..6),
            quantity: f64::from(rng.gen_range(10..200)),
        })
        .collect();
    PlanInput {
        horizon,
        items,
        bom,
        demands,
        receipts,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MrpReport {
    pub items: usize,
    pub bom_lines: usize,
    pub orders: usize,
    pub buckets: usize,
    pub planned_orders: usize,
    pub exceptions: usize,
    /// Regenerative runs, ms: each, then the median.
    pub regenerate_ms: Vec<f64>,
    pub regenerate_median_ms: f64,
    /// Net changes of one customer order, ms: (count, median, max).
    pub net_change_ms: (usize, f64, f64),
    /// Items a net change replanned: (median, max).
    pub net_change_items: (usize, usize),
    pub work_centres: usize,
    /// Rough-cut load of the whole plan, ms, and the overloaded
    /// (centre, week) cells.
    pub rough_cut_ms: f64,
    pub overloads: usize,
    /// Promises for new orders, ms: (count, median, max), and how many
    /// could be kept in the horizon.
    pub promise_ms: (usize, f64, f64),
    pub promised: usize,
}

/// Work centres of the generated plant.
pub const CENTRES: usize = 50;

/// 1–3 operations for every made item, each on one of the work centres.
pub fn routings(input: &PlanInput, seed: u64) -> Vec<Operation> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (i, it) in input.items.iter().enumerate() {
        if it.kind.is_bought() || it.kind == ItemKind::Phantom {
            continue;
        }
        for _ in 0..rng.gen_range(1..4) {
            out.push(Operation {
                item: i,
                work_centre: rng.gen_range(0..CENTRES),
                alternatives: Vec::new(),
                setup_hours: f64::from(rng.gen_range(0..4)),
                run_hours_per_unit: f64::from(rng.gen_range(1..30)) / 60.0,
            });
        }
    }
    out
}

/// Centres with a quarter more hours than the plan's average load on
/// them, so some weeks are over and most are not.
pub fn centres(
    plan: &Plan,
    routings: &[Operation],
) -> Result<Vec<WorkCentre>, zhizao_plan::PlanError> {
    let probe: Vec<WorkCentre> = (0..CENTRES)
        .map(|c| WorkCentre {
            code: format!("WC{c:02}"),
            hours_per_bucket: 0.0,
            efficiency: 1.0,
            hours_by_bucket: None,
        })
        .collect();
    let load = rough_cut(plan, &probe, routings, &[], &[])?;
    Ok(probe
        .into_iter()
        .zip(&load.load)
        .map(|(mut c, row)| {
            c.hours_per_bucket = 1.25 * row.iter().sum::<f64>() / row.len().max(1) as f64;
            c
        })
        .collect())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub fn run(orders: usize, horizon: usize, changes: usize) -> Result<MrpReport, BenchError> {
    let input = plant(2026, orders, horizon);
    let err = |e: zhizao_plan::PlanError| BenchError::Plan(e.to_string());
    let mut regenerate_ms = Vec::new();
    let mut plan = None;
    for _ in 0..3 {
        let started = Instant::now();
        let p = Plan::regenerate(input.clone()).map_err(err)?;
        regenerate_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        plan = Some(p);
    }
    let mut plan = plan.ok_or_else(|| BenchError::Plan("no run".into()))?;
    let planned_orders = plan.planned_orders().count();
    let exceptions = plan.exceptions().count();
    let mut rng = StdRng::seed_from_u64(7);
    let mut times = Vec::new();
    let mut touched = Vec::new();
    for _ in 0..changes {
        let d = input.demands[rng.gen_range(0..input.demands.len())].clone();
        let changed = Demand {
            quantity: d.quantity + f64::from(rng.gen_range(5..40)),
            bucket: rng.gen_range(0..horizon),
            ..d.clone()
        };
        let started = Instant::now();
        touched.push(plan.change_demand(changed).map_err(err)?);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        plan.change_demand(d).map_err(err)?;
    }
    let max = times.iter().copied().fold(0.0, f64::max);
    touched.sort_unstable();

    let ops = routings(&input, 11);
    let wcs = centres(&plan, &ops).map_err(err)?;
    let started = Instant::now();
    let load = rough_cut(&plan, &wcs, &ops, &[], &[]).map_err(err)?;
    let rough_cut_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut promise_times = Vec::new();
    let mut promised = 0;
    for _ in 0..changes {
        let item = rng.gen_range(0..LEVELS[0]);
        let quantity = f64::from(rng.gen_range(1..100));
        let requested = rng.gen_range(0..horizon);
        let started = Instant::now();
        let p = promise(&plan, &wcs, &ops, item, quantity, requested).map_err(err)?;
        promise_times.push(started.elapsed().as_secs_f64() * 1000.0);
        promised += usize::from(p.bucket.is_some());
    }
    let promise_max = promise_times.iter().copied().fold(0.0, f64::max);
    Ok(MrpReport {
        items: input.items.len(),
        bom_lines: input.bom.len(),
        orders,
        buckets: horizon,
        planned_orders,
        exceptions,
        regenerate_median_ms: median(&mut regenerate_ms.clone()),
        regenerate_ms,
        net_change_ms: (times.len(), median(&mut times), max),
        net_change_items: (
            touched.get(touched.len() / 2).copied().unwrap_or(0),
            touched.last().copied().unwrap_or(0),
        ),
        work_centres: wcs.len(),
        rough_cut_ms,
        overloads: load.overloads().len(),
        promise_ms: (promise_times.len(), median(&mut promise_times), promise_max),
        promised,
    })
}
