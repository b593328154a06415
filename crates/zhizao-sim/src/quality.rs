//! The demo plants' inspection plan and the measurements their gauges and
//! inspectors take. The bore of the pump casing is turned on a lathe whose
//! tool wears: its diameter creeps up sample by sample until the tool is
//! changed, so the chart (frozen from an in-control period) trips a run
//! rule within the first minutes of the demo, and again after every tool
//! change. The other characteristics stay in control.
//!
//! The model is pure and seeded: sample `k` of a characteristic is the
//! same whenever it is asked for.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zhizao_quality::{Characteristic, ChartKind, FrozenLimits, RuleChoice, Sampling, Stage};
use zhizao_spc::Limits;
use zhizao_store::{NewSample, Store, StoreError};

/// Samples stored before the demo starts, so charts have a history.
pub const BACKFILL: i64 = 25;
/// Minutes between two backfilled samples.
const BACKFILL_EVERY_MIN: i64 = 10;

/// Bore: nominal 25.000 mm, within-subgroup σ 4 µm, tool wear 0.8 µm a
/// sample, tool changed every 24 samples.
const BORE_NOMINAL: f64 = 25.0;
const BORE_SIGMA: f64 = 0.004;
const BORE_WEAR: f64 = 0.0008;
const TOOL_LIFE: i64 = 24;

fn limits(center: f64, half: f64) -> Limits {
    Limits {
        center,
        ucl: center + half,
        lcl: center - half,
    }
}

/// The demo's inspection plan.
pub fn characteristics() -> Vec<Characteristic> {
    let n = 5.0f64;
    // Frozen from the in-control period: X̄ ± 3σ/√n, R with d2 = 2.326,
    // D4 = 2.114 for n = 5.
    let bore_limits = FrozenLimits {
        location: limits(BORE_NOMINAL, 3.0 * BORE_SIGMA / n.sqrt()),
        spread: Some(Limits {
            center: 2.326 * BORE_SIGMA,
            ucl: 2.114 * 2.326 * BORE_SIGMA,
            lcl: 0.0,
        }),
    };
    vec![
        Characteristic {
            code: "BORE-D".into(),
            name: "泵壳内孔直径".into(),
            item: "CASING-50".into(),
            operation_seq: Some(10),
            stage: Stage::Ipqc,
            chart: ChartKind::XbarR,
            subgroup_size: 5,
            unit: "mm".into(),
            lsl: Some(24.97),
            usl: Some(25.03),
            target: Some(BORE_NOMINAL),
            sampling: Sampling::EveryMinutes(10),
            gauge: "内径千分尺 IM-07".into(),
            equipment: "TRN-01".into(),
            rules: RuleChoice::default(),
            limits: Some(bore_limits),
        },
        Characteristic {
            code: "SHAFT-OD".into(),
            name: "泵轴外径".into(),
            item: "SHAFT-304".into(),
            operation_seq: Some(10),
            stage: Stage::Ipqc,
            chart: ChartKind::Imr,
            subgroup_size: 1,
            unit: "mm".into(),
            lsl: Some(19.98),
            usl: Some(20.02),
            target: Some(20.0),
            sampling: Sampling::EveryUnits(20),
            gauge: "外径千分尺 OM-02".into(),
            equipment: "TRN-02".into(),
            rules: RuleChoice::default(),
            limits: None,
        },
        Characteristic {
            code: "WELD-DEF".into(),
            name: "焊缝外观缺陷数".into(),
            item: "COL-WELD-400".into(),
            operation_seq: Some(10),
            stage: Stage::Ipqc,
            chart: ChartKind::C,
            subgroup_size: 1,
            unit: "处".into(),
            lsl: None,
            usl: None,
            target: None,
            sampling: Sampling::PerLot,
            gauge: "目视 + 焊缝检验尺".into(),
            equipment: "WLD-01".into(),
            rules: RuleChoice::default(),
            limits: None,
        },
        Characteristic {
            code: "PUMP-LEAK".into(),
            name: "整泵密封试验不合格".into(),
            item: "QJ-50".into(),
            operation_seq: None,
            stage: Stage::Oqc,
            chart: ChartKind::P,
            subgroup_size: 50,
            unit: "台".into(),
            lsl: None,
            usl: None,
            target: None,
            sampling: Sampling::PerLot,
            gauge: "气密试验台".into(),
            equipment: "TST-01".into(),
            rules: RuleChoice::default(),
            limits: None,
        },
    ]
}

/// A normal deviate (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    let v: f64 = rng.r#gen();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// Poisson by counting exponential gaps (small means only).
fn poisson(rng: &mut StdRng, mean: f64) -> f64 {
    let limit = (-mean).exp();
    let mut product: f64 = rng.r#gen();
    let mut count = 0.0;
    while product > limit {
        product *= rng.r#gen::<f64>();
        count += 1.0;
    }
    count
}

/// Sample `k` (from 1) of the characteristic `code`: its values and, for
/// counted ones, the units inspected. Samples up to [`BACKFILL`] are the
/// in-control history; tool wear on the bore starts after them.
pub fn sample_values(code: &str, k: i64, seed: u64) -> Option<(Vec<f64>, Option<f64>)> {
    values_drawn(code, k, seed)
}

fn values_drawn(code: &str, k: i64, seed: u64) -> Option<(Vec<f64>, Option<f64>)> {
    let salt = code
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng =
        StdRng::seed_from_u64(seed ^ salt ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let round = |v: f64, places: i32| {
        let f = 10f64.powi(places);
        (v * f).round() / f
    };
    Some(match code {
        "BORE-D" => {
            let worn = if k > BACKFILL {
                (k - BACKFILL - 1) % TOOL_LIFE
            } else {
                0
            };
            let centre = BORE_NOMINAL + BORE_WEAR * worn as f64;
            let values = (0..5)
                .map(|_| round(centre + BORE_SIGMA * normal(&mut rng), 4))
                .collect();
            (values, None)
        }
        "SHAFT-OD" => (vec![round(20.0 + 0.005 * normal(&mut rng), 4)], None),
        "WELD-DEF" => (vec![poisson(&mut rng, 3.0)], None),
        "PUMP-LEAK" => {
            let inspected = 50.0;
            let bad = (0..50).filter(|_| rng.gen_bool(0.03)).count() as f64;
            (vec![bad], Some(inspected))
        }
        _ => return None,
    })
}

/// A sample of `c` as the demo's inspectors record it.
pub fn sample(c: &Characteristic, k: i64, taken_at: i64, seed: u64) -> Option<NewSample> {
    let (values, sample_size) = sample_values(&c.code, k, seed)?;
    Some(NewSample {
        values,
        sample_size,
        taken_at,
        work_order: String::new(),
        operation_seq: c.operation_seq,
        equipment: c.equipment.clone(),
        operator: ["张伟", "李娜", "王强"][(k % 3) as usize].to_owned(),
        lot: format!(
            "L{}-{:03}",
            &c.item.chars().take(3).collect::<String>(),
            (k - 1) / 10 + 1
        ),
        source: "sim".into(),
    })
}

/// The seed of the history shown at the demo's start: the first from
/// `seed` on whose history no chart rule fires. A random process signals
/// now and then (Nelson's eight tests together a few times in a hundred
/// points); a demo's history should show the process in control.
pub fn history_seed(c: &Characteristic, seed: u64) -> u64 {
    (seed..seed + 100)
        .find(|&s| {
            let groups: Vec<zhizao_quality::Subgroup> = (1..=BACKFILL)
                .filter_map(|k| {
                    let (values, sample_size) = values_drawn(&c.code, k, s)?;
                    Some(zhizao_quality::Subgroup {
                        number: k,
                        values,
                        sample_size,
                        taken_at: k,
                    })
                })
                .collect();
            zhizao_quality::chart_view(c, &groups)
                .is_ok_and(|v| v.points.iter().all(|p| !p.beyond && p.rules.is_empty()))
        })
        .unwrap_or(seed)
}

/// The pump plant's genealogy: casting lots `LCAS-001`…`003` (the lots the
/// bore samples name) machined into 60 casings, bar lots into 60 shafts,
/// and one of each assembled into each of 60 pumps `QJ50-0001`….
pub fn genealogy() -> (Vec<zhizao_quality::TraceUnit>, Vec<(usize, usize)>) {
    use zhizao_quality::{TraceUnit, UnitKind};
    let unit = |code: String, kind: UnitKind, item: &str, work_order: &str| TraceUnit {
        code,
        kind,
        item: item.to_owned(),
        quantity: None,
        work_order: work_order.to_owned(),
    };
    let mut units = Vec::new();
    for i in 1..=3 {
        units.push(unit(
            format!("LCAS-{i:03}"),
            UnitKind::Lot,
            "CASTING-HT250-50",
            "",
        ));
    }
    for i in 1..=2 {
        units.push(unit(format!("LBAR-{i:03}"), UnitKind::Lot, "BAR-304", ""));
    }
    let mut links = Vec::new();
    for i in 0..60 {
        let casing = units.len();
        units.push(unit(
            format!("CAS-{:04}", i + 1),
            UnitKind::Serial,
            "CASING-50",
            "WO-DEMO-CAS",
        ));
        links.push((i / 20, casing));
        let shaft = units.len();
        units.push(unit(
            format!("SH-{:04}", i + 1),
            UnitKind::Serial,
            "SHAFT-304",
            "WO-DEMO-SH",
        ));
        links.push((3 + i / 30, shaft));
        let pump = units.len();
        units.push(unit(
            format!("QJ50-{:04}", i + 1),
            UnitKind::Serial,
            "QJ-50",
            "WO-DEMO-QJ",
        ));
        links.push((casing, pump));
        links.push((shaft, pump));
    }
    (units, links)
}

/// Standard costs (yuan) of the demo items that scrap and rework are
/// priced at.
pub fn standard_costs() -> std::collections::BTreeMap<String, zhizao_quality::kpi::ItemCost> {
    [
        ("CASING-50", 320.0, 40.0),
        ("CASING-80", 460.0, 55.0),
        ("SHAFT-304", 150.0, 25.0),
        ("IMPELLER-50", 210.0, 35.0),
        ("IMPELLER-80", 280.0, 45.0),
        ("QJ-50", 2_600.0, 180.0),
        ("QJ-80", 3_900.0, 240.0),
        ("COL-WELD-400", 5_200.0, 600.0),
        ("BEAM-WELD-300", 3_800.0, 450.0),
        ("GZ-H400", 9_800.0, 900.0),
        ("GL-H300", 7_600.0, 750.0),
    ]
    .into_iter()
    .map(|(item, unit_cost, rework_cost)| {
        (
            item.to_owned(),
            zhizao_quality::kpi::ItemCost {
                unit_cost,
                rework_cost,
            },
        )
    })
    .collect()
}

/// On the demo's first start: the inspection plan with a history of
/// in-control samples before `now`. Returns whether it seeded anything.
pub async fn seed(store: &Store, tenant: i64, now: i64, seed: u64) -> Result<bool, StoreError> {
    if !store.list_characteristics(tenant).await?.is_empty() {
        return Ok(false);
    }
    if store.quality_costs(tenant).await?.is_empty() {
        store.put_quality_costs(tenant, &standard_costs()).await?;
    }
    if store.trace_unit_kind(tenant, "QJ50-0001").await?.is_none() {
        let (units, links) = genealogy();
        store.bulk_trace(tenant, &units, &links, now).await?;
    }
    for c in characteristics() {
        let id = store.create_characteristic(tenant, &c).await?;
        let quiet = history_seed(&c, seed);
        for k in 1..=BACKFILL {
            // The last one a minute ago: the next is due within the interval.
            let at = now - (BACKFILL - k) * BACKFILL_EVERY_MIN * 60_000 - 60_000;
            if let Some(s) = sample(&c, k, at, quiet) {
                store.add_sample(tenant, id, &s).await?;
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_valid() {
        for c in characteristics() {
            c.validate().unwrap();
        }
    }

    #[test]
    fn samples_are_repeatable_and_the_bore_drifts_after_the_history() {
        assert_eq!(sample_values("BORE-D", 7, 1), sample_values("BORE-D", 7, 1));
        let mean = |k: i64| {
            let (v, _) = sample_values("BORE-D", k, 1).unwrap();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let history: f64 = (1..=BACKFILL).map(mean).sum::<f64>() / BACKFILL as f64;
        assert!((history - BORE_NOMINAL).abs() < 0.003, "{history}");
        assert!(mean(BACKFILL + 20) > BORE_NOMINAL + 0.012);
    }

    #[test]
    fn the_drift_trips_a_rule_within_a_few_live_samples() {
        let c = &characteristics()[0];
        let groups: Vec<_> = (1..=BACKFILL + 10)
            .map(|k| zhizao_quality::Subgroup {
                number: k,
                values: sample_values("BORE-D", k, 1).unwrap().0,
                sample_size: None,
                taken_at: k,
            })
            .collect();
        let first_signal = (BACKFILL as usize..groups.len()).find(|&end| {
            let view = zhizao_quality::chart_view(c, &groups[..=end]).unwrap();
            view.latest_out_of_control()
        });
        let live = first_signal.map(|i| i as i64 + 1 - BACKFILL);
        assert!(live.is_some_and(|n| n <= 10), "{live:?}");
        // The history shown at the start signals nothing, whatever the seed.
        for seed in [0, 1, 42, 7_000] {
            for c in characteristics() {
                let quiet = history_seed(&c, seed);
                let groups: Vec<_> = (1..=BACKFILL)
                    .map(|k| {
                        let (values, sample_size) = sample_values(&c.code, k, quiet).unwrap();
                        zhizao_quality::Subgroup {
                            number: k,
                            values,
                            sample_size,
                            taken_at: k,
                        }
                    })
                    .collect();
                let view = zhizao_quality::chart_view(&c, &groups).unwrap();
                assert!(
                    view.points.iter().all(|p| !p.beyond && p.rules.is_empty()),
                    "{} with seed {seed}",
                    c.code
                );
            }
        }
    }
}
