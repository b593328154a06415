//! The demo plants' planning data: what the steel-structure workshop and
//! the pump plant make, from what, on which work centres (the demo's
//! lines), and six months of customer orders, seeded. Planning a file of
//! it gives meaningful orders, pegs and loads on first start.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zhizao_plan::book::{
    MasterBomLine, MasterData, MasterItem, MasterOperation, MasterWorkCentre, UnitConversion,
    Weeks, format_date,
};
use zhizao_plan::file::{BomLineFile, DemandFile, OperationFile, PlantFile, ReceiptFile};
use zhizao_plan::{Item, ItemKind, LotRule, WorkCentre};
use zhizao_store::{NewCustomerOrder, NewWorkOrder, Store, StoreError};

/// Two 8-hour shifts, six days a week.
const HOURS_PER_MACHINE_WEEK: f64 = 2.0 * 8.0 * 6.0;

/// Weekly buckets planned: half a year.
pub const WEEKS: usize = 26;

fn item(code: &str, kind: ItemKind, lead_time: usize, lot: LotRule, on_hand: f64) -> Item {
    Item {
        code: code.into(),
        kind,
        lead_time,
        lot,
        safety_stock: 0.0,
        on_hand,
        allocated: 0.0,
    }
}

fn line(parent: &str, component: &str, quantity: f64, scrap_pct: f64) -> BomLineFile {
    BomLineFile {
        parent: parent.into(),
        component: component.into(),
        quantity,
        scrap_pct,
        effective: None,
    }
}

fn op(item: &str, centre: &str, setup_hours: f64, run_hours_per_unit: f64) -> OperationFile {
    OperationFile {
        item: item.into(),
        work_centre: centre.into(),
        alternatives: Vec::new(),
        setup_hours,
        run_hours_per_unit,
    }
}

fn centre(code: &str, machines: f64) -> WorkCentre {
    // Two 8-hour shifts, six days a week, per machine.
    WorkCentre {
        code: code.into(),
        hours_per_bucket: machines * HOURS_PER_MACHINE_WEEK,
        efficiency: 0.85,
        hours_by_bucket: None,
    }
}

/// Both demo plants in one plant file.
pub fn demo_plant_file(seed: u64) -> PlantFile {
    use ItemKind::*;
    let l4l = LotRule::LotForLot;
    let mut items = Vec::new();
    let mut bom = Vec::new();
    let mut routings = Vec::new();

    // Steel structure: columns and beams welded from H-sections, plates
    // and stiffeners; cut, drilled, welded, blasted and painted.
    items.extend([
        item("GZ-H400", Finished, 1, l4l, 2.0),
        item("GL-H300", Finished, 1, l4l, 4.0),
        item("COL-WELD-400", SemiFinished, 1, l4l, 0.0),
        item("BEAM-WELD-300", SemiFinished, 1, l4l, 0.0),
        item(
            "H400-CUT",
            SemiFinished,
            1,
            LotRule::MinMultiple {
                minimum: 10.0,
                multiple: 5.0,
            },
            6.0,
        ),
        item(
            "H300-CUT",
            SemiFinished,
            1,
            LotRule::MinMultiple {
                minimum: 10.0,
                multiple: 5.0,
            },
            8.0,
        ),
        item(
            "PL20-DRILLED",
            SemiFinished,
            1,
            LotRule::PeriodOrderQuantity { buckets: 2 },
            20.0,
        ),
        item("STIFFENER-10", Phantom, 0, l4l, 0.0),
        item(
            "H400x200-12M",
            Raw,
            3,
            LotRule::Fixed { quantity: 20.0 },
            12.0,
        ),
        item(
            "H300x150-12M",
            Raw,
            3,
            LotRule::Fixed { quantity: 20.0 },
            10.0,
        ),
        item(
            "Q355-PL20",
            Raw,
            2,
            LotRule::MinMultiple {
                minimum: 50.0,
                multiple: 10.0,
            },
            80.0,
        ),
        item(
            "Q355-PL10",
            Raw,
            2,
            LotRule::MinMultiple {
                minimum: 50.0,
                multiple: 10.0,
            },
            60.0,
        ),
        item(
            "HS-BOLT-M24",
            Purchased,
            1,
            LotRule::Fixed { quantity: 500.0 },
            800.0,
        ),
        item(
            "PRIMER-EP",
            Purchased,
            1,
            LotRule::Fixed { quantity: 200.0 },
            150.0,
        ),
    ]);
    bom.extend([
        line("GZ-H400", "COL-WELD-400", 1.0, 0.0),
        line("GZ-H400", "HS-BOLT-M24", 24.0, 2.0),
        line("GZ-H400", "PRIMER-EP", 6.0, 5.0),
        line("GL-H300", "BEAM-WELD-300", 1.0, 0.0),
        line("GL-H300", "HS-BOLT-M24", 16.0, 2.0),
        line("GL-H300", "PRIMER-EP", 4.0, 5.0),
        line("COL-WELD-400", "H400-CUT", 1.0, 0.0),
        line("COL-WELD-400", "PL20-DRILLED", 2.0, 0.0),
        line("COL-WELD-400", "STIFFENER-10", 4.0, 0.0),
        line("BEAM-WELD-300", "H300-CUT", 1.0, 0.0),
        line("BEAM-WELD-300", "PL20-DRILLED", 2.0, 0.0),
        line("H400-CUT", "H400x200-12M", 1.0, 3.0),
        line("H300-CUT", "H300x150-12M", 1.0, 3.0),
        line("PL20-DRILLED", "Q355-PL20", 1.0, 4.0),
        line("STIFFENER-10", "Q355-PL10", 0.25, 6.0),
    ]);
    routings.extend([
        op("H400-CUT", "L-CUT", 0.5, 0.6),
        op("H300-CUT", "L-CUT", 0.5, 0.5),
        op("PL20-DRILLED", "L-CUT", 0.3, 0.2),
        op("PL20-DRILLED", "L-DRL", 0.5, 0.4),
        op("COL-WELD-400", "L-WLD", 1.0, 10.0),
        op("BEAM-WELD-300", "L-WLD", 1.0, 6.0),
        op("GZ-H400", "L-BLS", 0.5, 0.8),
        op("GZ-H400", "L-PNT", 0.5, 1.5),
        op("GL-H300", "L-BLS", 0.5, 0.6),
        op("GL-H300", "L-PNT", 0.5, 1.0),
    ]);

    // Submersible pumps: two models sharing a motor family and seals.
    items.extend([
        item("QJ-50", Finished, 1, l4l, 8.0),
        item("QJ-80", Finished, 1, l4l, 5.0),
        item(
            "CASING-50",
            SemiFinished,
            1,
            LotRule::MinMultiple {
                minimum: 20.0,
                multiple: 10.0,
            },
            15.0,
        ),
        item(
            "CASING-80",
            SemiFinished,
            1,
            LotRule::MinMultiple {
                minimum: 20.0,
                multiple: 10.0,
            },
            10.0,
        ),
        item(
            "IMPELLER-50",
            SemiFinished,
            1,
            LotRule::PeriodOrderQuantity { buckets: 2 },
            20.0,
        ),
        item(
            "IMPELLER-80",
            SemiFinished,
            1,
            LotRule::PeriodOrderQuantity { buckets: 2 },
            12.0,
        ),
        item(
            "SHAFT-304",
            SemiFinished,
            1,
            LotRule::MinMultiple {
                minimum: 30.0,
                multiple: 10.0,
            },
            25.0,
        ),
        item(
            "CASTING-HT250-50",
            Purchased,
            3,
            LotRule::Fixed { quantity: 50.0 },
            30.0,
        ),
        item(
            "CASTING-HT250-80",
            Purchased,
            3,
            LotRule::Fixed { quantity: 50.0 },
            20.0,
        ),
        item("BAR-304-D40", Raw, 2, l4l, 40.0),
        item(
            "MOTOR-4KW",
            Purchased,
            4,
            LotRule::Fixed { quantity: 40.0 },
            25.0,
        ),
        item(
            "MOTOR-7KW",
            Purchased,
            4,
            LotRule::Fixed { quantity: 20.0 },
            12.0,
        ),
        item(
            "SEAL-MECH-25",
            Purchased,
            2,
            LotRule::Fixed { quantity: 100.0 },
            120.0,
        ),
    ]);
    bom.extend([
        line("QJ-50", "CASING-50", 1.0, 0.0),
        line("QJ-50", "IMPELLER-50", 3.0, 0.0),
        line("QJ-50", "SHAFT-304", 1.0, 0.0),
        line("QJ-50", "MOTOR-4KW", 1.0, 0.0),
        line("QJ-50", "SEAL-MECH-25", 2.0, 1.0),
        line("QJ-80", "CASING-80", 1.0, 0.0),
        line("QJ-80", "IMPELLER-80", 4.0, 0.0),
        line("QJ-80", "SHAFT-304", 1.0, 0.0),
        line("QJ-80", "MOTOR-7KW", 1.0, 0.0),
        line("QJ-80", "SEAL-MECH-25", 2.0, 1.0),
        line("CASING-50", "CASTING-HT250-50", 1.0, 2.0),
        line("CASING-80", "CASTING-HT250-80", 1.0, 2.0),
        line("IMPELLER-50", "BAR-304-D40", 0.3, 5.0),
        line("IMPELLER-80", "BAR-304-D40", 0.4, 5.0),
        line("SHAFT-304", "BAR-304-D40", 1.2, 3.0),
    ]);
    let mut impeller_lathe = op("IMPELLER-50", "L-TRN", 0.5, 0.4);
    impeller_lathe.alternatives = vec!["L-MC".into()];
    routings.extend([
        impeller_lathe,
        op("IMPELLER-80", "L-TRN", 0.5, 0.5),
        op("SHAFT-304", "L-TRN", 0.3, 0.3),
        op("CASING-50", "L-MC", 0.5, 0.8),
        op("CASING-80", "L-MC", 0.5, 1.1),
        op("QJ-50", "L-ASM", 0.2, 1.2),
        op("QJ-80", "L-ASM", 0.2, 1.6),
        op("QJ-50", "L-TST", 0.0, 0.5),
        op("QJ-80", "L-TST", 0.0, 0.6),
    ]);
    let work_centres = vec![
        centre("L-CUT", 6.0),
        centre("L-DRL", 6.0),
        centre("L-WLD", 3.0),
        centre("L-BLS", 4.0),
        centre("L-PNT", 6.0),
        centre("L-TRN", 4.0),
        centre("L-MC", 4.0),
        centre("L-ASM", 2.0),
        centre("L-TST", 2.0),
    ];

    // Six months of orders: a large steel contract front-loaded, and a
    // steady flow of pump orders with a seasonal rise (irrigation).
    let mut rng = StdRng::seed_from_u64(seed);
    let mut demands = Vec::new();
    let mut id = 1;
    for week in 0..WEEKS {
        let mut order = |item: &str, quantity: f64| {
            demands.push(DemandFile {
                id,
                item: item.into(),
                bucket: week,
                quantity,
            });
            id += 1;
        };
        if (2..14).contains(&week) {
            order("GZ-H400", f64::from(rng.gen_range(8..16)));
            order("GL-H300", f64::from(rng.gen_range(15..30)));
        } else if rng.gen_bool(0.5) {
            order("GL-H300", f64::from(rng.gen_range(5..15)));
        }
        let season = if (8..18).contains(&week) { 2 } else { 1 };
        for _ in 0..rng.gen_range(1..3) {
            order("QJ-50", f64::from(rng.gen_range(10..30) * season));
        }
        if rng.gen_bool(0.6) {
            order("QJ-80", f64::from(rng.gen_range(5..15) * season));
        }
    }
    let receipts = vec![
        ReceiptFile {
            item: "H400x200-12M".into(),
            bucket: 1,
            quantity: 40.0,
        },
        ReceiptFile {
            item: "MOTOR-4KW".into(),
            bucket: 2,
            quantity: 40.0,
        },
        ReceiptFile {
            item: "CASTING-HT250-50".into(),
            bucket: 1,
            quantity: 50.0,
        },
    ];
    PlantFile {
        horizon: WEEKS,
        items,
        bom,
        demands,
        receipts,
        work_centres,
        routings,
        what_if: Vec::new(),
    }
}

/// Chinese name and stock unit of each demo item.
const ITEM_NAMES: [(&str, &str, &str); 27] = [
    ("GZ-H400", "H400 钢柱", "pcs"),
    ("GL-H300", "H300 钢梁", "pcs"),
    ("COL-WELD-400", "钢柱焊接组件", "pcs"),
    ("BEAM-WELD-300", "钢梁焊接组件", "pcs"),
    ("H400-CUT", "H400 下料件", "pcs"),
    ("H300-CUT", "H300 下料件", "pcs"),
    ("PL20-DRILLED", "20mm 连接板（钻孔）", "pcs"),
    ("STIFFENER-10", "10mm 加劲肋（虚拟件）", "pcs"),
    ("H400x200-12M", "H 型钢 400×200 12m", "pcs"),
    ("H300x150-12M", "H 型钢 300×150 12m", "pcs"),
    ("Q355-PL20", "Q355 钢板 20mm", "pcs"),
    ("Q355-PL10", "Q355 钢板 10mm", "pcs"),
    ("HS-BOLT-M24", "高强螺栓 M24", "pcs"),
    ("PRIMER-EP", "环氧底漆", "L"),
    ("QJ-50", "QJ-50 潜水泵", "pcs"),
    ("QJ-80", "QJ-80 潜水泵", "pcs"),
    ("CASING-50", "泵壳 50", "pcs"),
    ("CASING-80", "泵壳 80", "pcs"),
    ("IMPELLER-50", "叶轮 50", "pcs"),
    ("IMPELLER-80", "叶轮 80", "pcs"),
    ("SHAFT-304", "304 不锈钢泵轴", "pcs"),
    ("CASTING-HT250-50", "HT250 泵壳铸件 50", "pcs"),
    ("CASTING-HT250-80", "HT250 泵壳铸件 80", "pcs"),
    ("BAR-304-D40", "304 圆钢 Ø40", "m"),
    ("MOTOR-4KW", "潜水电机 4kW", "pcs"),
    ("MOTOR-7KW", "潜水电机 7.5kW", "pcs"),
    ("SEAL-MECH-25", "机械密封 25", "pcs"),
];

const CENTRE_NAMES: [(&str, &str); 9] = [
    ("L-CUT", "下料线"),
    ("L-DRL", "钻孔线"),
    ("L-WLD", "焊接线"),
    ("L-BLS", "抛丸线"),
    ("L-PNT", "涂装线"),
    ("L-TRN", "数控车削"),
    ("L-MC", "加工中心"),
    ("L-ASM", "装配线"),
    ("L-TST", "试验台"),
];

/// The demo plants as master data: names, units, routings in steps.
pub fn demo_master() -> MasterData {
    let file = demo_plant_file(0);
    let name = |code: &str| {
        ITEM_NAMES
            .iter()
            .find(|(c, _, _)| *c == code)
            .map_or((code.to_owned(), "pcs".to_owned()), |(_, n, u)| {
                ((*n).to_owned(), (*u).to_owned())
            })
    };
    let mut step: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    MasterData {
        units: vec![UnitConversion {
            from: "m".into(),
            to: "mm".into(),
            factor: 1000.0,
        }],
        items: file
            .items
            .iter()
            .map(|i| {
                let (n, uom) = name(&i.code);
                MasterItem::of(i, n, uom)
            })
            .collect(),
        bom: file
            .bom
            .iter()
            .map(|l| MasterBomLine {
                parent: l.parent.clone(),
                component: l.component.clone(),
                quantity: l.quantity,
                uom: None,
                scrap_pct: l.scrap_pct,
                valid_from: None,
                valid_to: None,
            })
            .collect(),
        work_centres: file
            .work_centres
            .iter()
            .map(|c| MasterWorkCentre {
                code: c.code.clone(),
                name: CENTRE_NAMES
                    .iter()
                    .find(|(k, _)| *k == c.code)
                    .map_or_else(String::new, |(_, n)| (*n).to_owned()),
                machines: (c.hours_per_bucket / HOURS_PER_MACHINE_WEEK).round() as u32,
                hours_per_week: Some(HOURS_PER_MACHINE_WEEK),
                efficiency: c.efficiency,
            })
            .collect(),
        routings: file
            .routings
            .iter()
            .map(|o| {
                let seq = step.entry(o.item.clone()).or_insert(0);
                *seq += 10;
                MasterOperation {
                    item: o.item.clone(),
                    seq: *seq,
                    work_centre: o.work_centre.clone(),
                    alternatives: o.alternatives.clone(),
                    setup_hours: o.setup_hours,
                    run_hours_per_unit: o.run_hours_per_unit,
                    min_transfer_batch: None,
                    queue_hours: 4.0,
                    move_hours: 1.0,
                }
            })
            .collect(),
        capacity_changes: Vec::new(),
    }
}

const CUSTOMERS_STEEL: [&str; 3] = ["中建钢构华东项目部", "江苏沿海风电场", "合肥会展中心二期"];
const CUSTOMERS_PUMPS: [&str; 4] = [
    "华东水务集团",
    "安徽农灌服务站",
    "山东城投排水",
    "Delta Pumps Export",
];

/// Six months of customer orders from the week of `monday` on: the demo
/// plan's demand with dates, customers and priorities. Orders of the
/// first two weeks are already in production.
pub fn demo_orders(monday: time::Date, seed: u64) -> Vec<NewCustomerOrder> {
    let file = demo_plant_file(seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    file.demands
        .iter()
        .map(|d| {
            let steel = d.item.starts_with('G');
            let customers: &[&str] = if steel {
                &CUSTOMERS_STEEL
            } else {
                &CUSTOMERS_PUMPS
            };
            let due = monday
                + time::Duration::weeks(d.bucket as i64)
                + time::Duration::days(rng.gen_range(0..5));
            NewCustomerOrder {
                number: format!("SO-{}{:02}-{:04}", due.year(), u8::from(due.month()), d.id),
                customer: customers[rng.gen_range(0..customers.len())].to_owned(),
                item: d.item.clone(),
                quantity: d.quantity,
                due_date: format_date(due),
                priority: if steel { 2 } else { rng.gen_range(3..7) },
                status: if d.bucket < 2 {
                    "in_production"
                } else {
                    "open"
                }
                .to_owned(),
                note: String::new(),
            }
        })
        .collect()
}

/// Loads the demo master data and order book into a tenant that has no
/// planning data yet; returns whether it did.
pub async fn seed(store: &Store, tenant_id: i64, today: time::Date) -> Result<bool, StoreError> {
    if store.plan_item_count(tenant_id).await? > 0 {
        return Ok(false);
    }
    store.put_plan_master(tenant_id, &demo_master()).await?;
    let monday = Weeks::from_today(today, 1).start;
    store
        .upsert_customer_orders(tenant_id, &demo_orders(monday, 2026))
        .await?;
    store
        .create_work_orders(tenant_id, &demo_work_orders(today))
        .await?;
    Ok(true)
}

/// A fortnight of released work orders on both lines, so the schedule
/// has work from the first start: steel members and pump parts, due over
/// the next two weeks.
pub fn demo_work_orders(today: time::Date) -> Vec<NewWorkOrder> {
    let master = demo_master();
    let mut rng = StdRng::seed_from_u64(7);
    let items = [
        ("GZ-H400", 4.0),
        ("GL-H300", 8.0),
        ("IMPELLER-50", 20.0),
        ("IMPELLER-80", 12.0),
        ("SHAFT-304", 24.0),
        ("CASING-50", 16.0),
        ("CASING-80", 10.0),
        ("QJ-50", 15.0),
        ("QJ-80", 8.0),
    ];
    let mut out = Vec::new();
    for round in 0..3 {
        for (item, base) in items {
            let routing = zhizao_plan::book::routing_of(&master, item);
            if routing.is_empty() {
                continue;
            }
            let quantity = (base * f64::from(rng.gen_range(6..13)) / 10.0)
                .round()
                .max(1.0);
            let due = today + time::Duration::days(3 + 4 * round + rng.gen_range(0..4));
            out.push(NewWorkOrder {
                item: item.to_owned(),
                quantity,
                release_date: zhizao_plan::book::format_date(today),
                due_date: zhizao_plan::book::format_date(due),
                pegs: "[]".to_owned(),
                operations: routing
                    .iter()
                    .map(|op| {
                        (
                            i64::from(op.seq),
                            op.work_centre.clone(),
                            op.setup_hours,
                            op.run_hours_per_unit * quantity,
                        )
                    })
                    .collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhizao_plan::book::{OrderLine, OrderStatus, build};
    use zhizao_plan::{Plan, rough_cut};

    #[test]
    fn the_demo_master_data_checks_and_its_orders_plan() {
        let m = demo_master();
        m.check().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.items.len(), ITEM_NAMES.len());
        assert!(
            m.items
                .iter()
                .all(|i| !i.name.is_empty() && i.name != i.code)
        );
        assert_eq!(m.work_centres[2].machines, 3, "{:?}", m.work_centres[2]);
        let monday = zhizao_plan::book::parse_date("2026-11-30").unwrap_or_else(|| panic!());
        let orders = demo_orders(monday, 2026);
        assert!(orders.len() > 60, "{}", orders.len());
        let mut numbers: Vec<_> = orders.iter().map(|o| o.number.clone()).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), orders.len(), "numbers are unique");
        let lines: Vec<OrderLine> = orders
            .iter()
            .enumerate()
            .map(|(k, o)| OrderLine {
                id: k as u64 + 1,
                number: o.number.clone(),
                item: o.item.clone(),
                quantity: o.quantity,
                due: zhizao_plan::book::parse_date(&o.due_date).unwrap_or_else(|| panic!()),
                status: OrderStatus::parse(&o.status).unwrap_or_else(|| panic!()),
            })
            .collect();
        let booked = build(&m, &lines, &[], &[], Weeks::from_today(monday, WEEKS))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(booked.beyond_horizon.is_empty());
        let plan = Plan::regenerate(booked.plant.input).unwrap_or_else(|e| panic!("{e}"));
        assert!(plan.planned_orders().count() > 50);
    }

    #[test]
    fn the_demo_plants_plan_with_orders_pegs_and_load() {
        let plant = demo_plant_file(2026)
            .resolve()
            .unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::regenerate(plant.input.clone()).unwrap_or_else(|e| panic!("{e}"));
        let made = plan.planned_orders().filter(|o| !o.purchase).count();
        let bought = plan.planned_orders().filter(|o| o.purchase).count();
        assert!(made > 50 && bought > 20, "{made} made, {bought} bought");
        // Every finished-good order is pegged to customer orders.
        for o in plan.planned_orders() {
            if plant.input.items[o.item].kind == ItemKind::Finished {
                assert!(!o.pegs.is_empty(), "{o:?}");
            }
        }
        // The steel contract loads the welding line beyond its hours in
        // some weeks, and not in all.
        let load = rough_cut(&plan, &plant.work_centres, &plant.routings, &[], &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let welding = plant
            .work_centres
            .iter()
            .position(|c| c.code == "L-WLD")
            .unwrap_or_else(|| panic!("no welding"));
        let over = load
            .overloads()
            .iter()
            .filter(|(c, _)| *c == welding)
            .count();
        assert!(over > 0 && over < WEEKS, "{over} overloaded welding weeks");
    }
}
