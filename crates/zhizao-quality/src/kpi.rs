//! Quality figures a plant manager reads: first-pass yield per operation
//! and rolled throughput yield per item (from the quantities reported on
//! work orders), where nonconformances come from (Pareto by item and by
//! cause category), and the cost of poor quality (scrap and rework at
//! standard cost).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ncr::{CauseCategory, Decision, Ncr, NcrStatus};

/// What one operation of a work order reported.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationYield {
    pub item: String,
    pub seq: i64,
    pub work_centre: String,
    pub good: f64,
    pub scrap: f64,
}

/// Standard costs of an item, for the cost of poor quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ItemCost {
    /// What one unit is worth (material and work), lost when scrapped.
    pub unit_cost: f64,
    /// What reworking or repairing one unit costs.
    pub rework_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepYield {
    pub seq: i64,
    pub work_centre: String,
    pub good: f64,
    pub scrap: f64,
    /// good / (good + scrap); `None` before anything is reported.
    pub fpy: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemYield {
    pub item: String,
    pub steps: Vec<StepYield>,
    /// The product of the steps' first-pass yields.
    pub rty: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CentreYield {
    pub work_centre: String,
    pub good: f64,
    pub scrap: f64,
    pub fpy: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoBar {
    pub key: String,
    pub quantity: f64,
    pub reports: usize,
    /// Share of the whole, summed from the largest bar down.
    pub cumulative: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PoorQualityCost {
    /// Scrap reported on work orders and decided on reports, at unit cost.
    pub scrap: f64,
    /// Rework and repair decided on reports, at rework cost.
    pub rework: f64,
    pub total: f64,
    /// Items with losses but no standard cost (counted as 0).
    pub items_without_cost: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityFigures {
    pub by_item: Vec<ItemYield>,
    pub by_centre: Vec<CentreYield>,
    pub pareto_by_item: Vec<ParetoBar>,
    pub pareto_by_cause: Vec<ParetoBar>,
    pub cost: PoorQualityCost,
    pub open_reports: usize,
}

fn ratio(good: f64, scrap: f64) -> Option<f64> {
    let total = good + scrap;
    (total > 0.0).then(|| good / total)
}

fn pareto(groups: BTreeMap<String, (f64, usize)>) -> Vec<ParetoBar> {
    let total: f64 = groups.values().map(|(q, _)| q).sum();
    let mut bars: Vec<(String, f64, usize)> =
        groups.into_iter().map(|(k, (q, n))| (k, q, n)).collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut running = 0.0;
    bars.into_iter()
        .map(|(key, quantity, reports)| {
            running += quantity;
            ParetoBar {
                key,
                quantity,
                reports,
                cumulative: if total > 0.0 { running / total } else { 0.0 },
            }
        })
        .collect()
}

fn cause_key(c: CauseCategory) -> &'static str {
    match c {
        CauseCategory::Man => "man",
        CauseCategory::Machine => "machine",
        CauseCategory::Material => "material",
        CauseCategory::Method => "method",
        CauseCategory::Environment => "environment",
        CauseCategory::Measurement => "measurement",
    }
}

/// The figures from what operations reported, the reports, and costs.
pub fn quality_figures(
    operations: &[OperationYield],
    reports: &[Ncr],
    costs: &BTreeMap<String, ItemCost>,
) -> QualityFigures {
    // Yield per item and operation, and per work centre.
    let mut steps: BTreeMap<(String, i64), (String, f64, f64)> = BTreeMap::new();
    let mut centres: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut scrap_by_item: BTreeMap<String, f64> = BTreeMap::new();
    for o in operations {
        let s = steps
            .entry((o.item.clone(), o.seq))
            .or_insert_with(|| (o.work_centre.clone(), 0.0, 0.0));
        s.1 += o.good;
        s.2 += o.scrap;
        let c = centres.entry(o.work_centre.clone()).or_default();
        c.0 += o.good;
        c.1 += o.scrap;
        *scrap_by_item.entry(o.item.clone()).or_default() += o.scrap;
    }
    let mut by_item: Vec<ItemYield> = Vec::new();
    for ((item, seq), (work_centre, good, scrap)) in steps {
        if by_item.last().is_none_or(|i| i.item != item) {
            by_item.push(ItemYield {
                item: item.clone(),
                steps: Vec::new(),
                rty: None,
            });
        }
        if let Some(last) = by_item.last_mut() {
            last.steps.push(StepYield {
                seq,
                work_centre,
                good,
                scrap,
                fpy: ratio(good, scrap),
            });
        }
    }
    for i in &mut by_item {
        let reported: Vec<f64> = i.steps.iter().filter_map(|s| s.fpy).collect();
        i.rty = (!reported.is_empty()).then(|| reported.iter().product());
    }
    let by_centre = centres
        .into_iter()
        .map(|(work_centre, (good, scrap))| CentreYield {
            work_centre,
            good,
            scrap,
            fpy: ratio(good, scrap),
        })
        .collect();

    // Where reports come from; cancelled ones do not count.
    let counted: Vec<&Ncr> = reports
        .iter()
        .filter(|r| r.status != NcrStatus::Cancelled)
        .collect();
    let mut items: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut causes: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for r in &counted {
        let e = items.entry(r.what.item.clone()).or_default();
        e.0 += r.what.quantity;
        e.1 += 1;
        if let Some(rc) = &r.root_cause {
            let e = causes.entry(cause_key(rc.category).to_owned()).or_default();
            e.0 += r.what.quantity;
            e.1 += 1;
        }
    }

    // Cost: scrap on work orders, plus what approved dispositions decided.
    let mut cost = PoorQualityCost::default();
    let mut missing = std::collections::BTreeSet::new();
    let mut price = |item: &str| -> ItemCost {
        costs.get(item).copied().unwrap_or_else(|| {
            missing.insert(item.to_owned());
            ItemCost {
                unit_cost: 0.0,
                rework_cost: 0.0,
            }
        })
    };
    for (item, scrap) in &scrap_by_item {
        if *scrap > 0.0 {
            cost.scrap += scrap * price(item).unit_cost;
        }
    }
    for r in &counted {
        let Some(d) = r.disposition.as_ref().filter(|d| d.approved_by.is_some()) else {
            continue;
        };
        let p = price(&r.what.item);
        for l in &d.lines {
            match l.decision {
                Decision::Scrap => cost.scrap += l.quantity * p.unit_cost,
                Decision::Rework | Decision::Repair => cost.rework += l.quantity * p.rework_cost,
                Decision::UseAsIs | Decision::ReturnToSupplier => {}
            }
        }
    }
    cost.total = cost.scrap + cost.rework;
    cost.items_without_cost = missing.into_iter().collect();
    QualityFigures {
        by_item,
        by_centre,
        pareto_by_item: pareto(items),
        pareto_by_cause: pareto(causes),
        cost,
        open_reports: counted
            .iter()
            .filter(|r| r.status != NcrStatus::Closed)
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(item: &str, seq: i64, centre: &str, good: f64, scrap: f64) -> OperationYield {
        OperationYield {
            item: item.into(),
            seq,
            work_centre: centre.into(),
            good,
            scrap,
        }
    }

    #[test]
    fn rolled_yield_multiplies_the_steps() {
        let ops = [
            op("QJ-50", 10, "L-TRN", 90.0, 10.0),
            op("QJ-50", 10, "L-TRN", 9.0, 1.0),
            op("QJ-50", 20, "L-ASM", 95.0, 5.0),
            op("QJ-80", 10, "L-TRN", 0.0, 0.0),
        ];
        let f = quality_figures(&ops, &[], &BTreeMap::new());
        let qj50 = &f.by_item[0];
        assert_eq!(qj50.steps[0].fpy, Some(0.9));
        assert!((qj50.rty.unwrap() - 0.9 * 0.95).abs() < 1e-12);
        assert_eq!(f.by_item[1].rty, None);
        let trn = f
            .by_centre
            .iter()
            .find(|c| c.work_centre == "L-TRN")
            .unwrap();
        assert_eq!((trn.good, trn.scrap), (99.0, 11.0));
        // Scrap without a standard cost is named, not silently priced.
        assert_eq!(f.cost.items_without_cost, vec!["QJ-50".to_owned()]);
    }
}
