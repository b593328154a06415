use proptest::prelude::*;

use super::*;
use crate::model::{BomLine, Item, Receipt};

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

fn line(parent: ItemId, component: ItemId, quantity: f64) -> BomLine {
    BomLine {
        parent,
        component,
        quantity,
        scrap_pct: 0.0,
        effective: None,
    }
}

fn demand(id: DemandId, item: ItemId, bucket: usize, quantity: f64) -> Demand {
    Demand {
        id,
        item,
        bucket,
        quantity,
    }
}

fn orders(plan: &Plan, item: ItemId) -> Vec<(usize, usize, f64)> {
    plan.orders_of(item)
        .iter()
        .map(|o| (o.due, o.release, o.quantity))
        .collect()
}

fn kinds(plan: &Plan, item: ItemId) -> Vec<(ExceptionKind, usize, f64)> {
    plan.exceptions()
        .filter(|e| e.item == item)
        .map(|e| (e.kind, e.bucket, e.quantity))
        .collect()
}

/// A frame (F, made, lead time 1) of two brackets (C, bought in lots of
/// 50, lead time 2, 50 on order for bucket 1).
fn frame_and_brackets() -> PlanInput {
    PlanInput {
        horizon: 8,
        items: vec![
            item("F", ItemKind::Finished, 1, LotRule::LotForLot, 10.0),
            item(
                "C",
                ItemKind::Purchased,
                2,
                LotRule::Fixed { quantity: 50.0 },
                20.0,
            ),
        ],
        bom: vec![line(0, 1, 2.0)],
        demands: vec![demand(1, 0, 3, 30.0), demand(2, 0, 5, 40.0)],
        receipts: vec![Receipt {
            item: 1,
            bucket: 1,
            quantity: 50.0,
        }],
    }
}

#[test]
fn nets_sizes_offsets_and_explodes_level_by_level() {
    let plan = Plan::regenerate(frame_and_brackets()).unwrap();
    assert_eq!(plan.order(), [0, 1]);
    assert_eq!(plan.low_level_code(1), 1);
    // F: 10 on hand covers part of the first order.
    assert_eq!(orders(&plan, 0), [(3, 2, 20.0), (5, 4, 40.0)]);
    assert_eq!(
        plan.projected(0),
        [10.0, 10.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    // C needs 40 in bucket 2 and 80 in bucket 4: stock and the receipt
    // cover 70, one lot of 50 the rest.
    assert_eq!(plan.gross(1)[2], 40.0);
    assert_eq!(plan.gross(1)[4], 80.0);
    assert_eq!(orders(&plan, 1), [(4, 2, 50.0)]);
    assert!(plan.orders_of(1)[0].purchase && !plan.orders_of(0)[0].purchase);
    // Pegging: the bracket lot serves F's second order, which serves
    // demand 2.
    assert_eq!(
        plan.orders_of(1)[0].pegs,
        [Peg {
            source: PegSource::Order { item: 0, due: 5 },
            quantity: 50.0
        }]
    );
    assert_eq!(
        plan.orders_of(0)[0].pegs,
        [Peg {
            source: PegSource::Demand { id: 1 },
            quantity: 20.0
        }]
    );
    // The bracket receipt is not needed before bucket 2.
    assert_eq!(kinds(&plan, 0), []);
    assert_eq!(kinds(&plan, 1), [(ExceptionKind::Defer, 2, 50.0)]);
}

#[test]
fn late_orders_lot_rules_scrap_and_effectivity() {
    let mut input = frame_and_brackets();
    // Due in bucket 0 with a lead time of 1: one bucket late.
    input.demands.push(demand(3, 0, 0, 15.0));
    let plan = Plan::regenerate(input.clone()).unwrap();
    assert_eq!(orders(&plan, 0)[0], (0, 0, 5.0));
    assert_eq!(kinds(&plan, 0), [(ExceptionKind::Late, 0, 1.0)]);

    // Two buckets per order; at least 25 in multiples of 10.
    input.demands = vec![
        demand(1, 0, 3, 30.0),
        demand(2, 0, 4, 5.0),
        demand(4, 0, 6, 1.0),
    ];
    input.items[0].lot = LotRule::PeriodOrderQuantity { buckets: 2 };
    input.items[0].on_hand = 0.0;
    let plan = Plan::regenerate(input.clone()).unwrap();
    assert_eq!(orders(&plan, 0), [(3, 2, 35.0), (6, 5, 1.0)]);
    input.items[0].lot = LotRule::MinMultiple {
        minimum: 25.0,
        multiple: 10.0,
    };
    let plan = Plan::regenerate(input.clone()).unwrap();
    // Bucket 3 needs 30; bucket 4 needs 5, raised to 25 and rounded to
    // 30, which also covers bucket 6.
    assert_eq!(orders(&plan, 0), [(3, 2, 30.0), (4, 3, 30.0)]);

    // 10 % scrap; the line holds only for parent orders released from
    // bucket 3 on.
    input.items[0].lot = LotRule::LotForLot;
    input.demands = vec![demand(1, 0, 3, 10.0), demand(2, 0, 6, 10.0)];
    input.bom[0].scrap_pct = 10.0;
    input.bom[0].effective = Some((3, 8));
    input.items[1].on_hand = 0.0;
    input.receipts.clear();
    input.items[1].lot = LotRule::LotForLot;
    let plan = Plan::regenerate(input).unwrap();
    let g = plan.gross(1);
    assert_eq!(g[2], 0.0, "released in bucket 2: the line is not yet valid");
    assert!((g[5] - 22.0).abs() < 1e-9, "{g:?}");
}

#[test]
fn phantoms_pass_their_needs_through() {
    let input = PlanInput {
        horizon: 6,
        items: vec![
            item("F", ItemKind::Finished, 1, LotRule::LotForLot, 0.0),
            item(
                "W",
                ItemKind::Phantom,
                3,
                LotRule::Fixed { quantity: 100.0 },
                5.0,
            ),
            item("R", ItemKind::Raw, 1, LotRule::LotForLot, 0.0),
        ],
        bom: vec![line(0, 1, 1.0), line(1, 2, 3.0)],
        demands: vec![demand(1, 0, 4, 10.0)],
        receipts: vec![],
    };
    let plan = Plan::regenerate(input).unwrap();
    // No lot size and no lead time for the phantom: 10 − 5 on hand, when
    // F is released.
    assert_eq!(orders(&plan, 1), [(3, 3, 5.0)]);
    assert!(plan.orders_of(1)[0].phantom);
    assert_eq!(orders(&plan, 2), [(3, 2, 15.0)]);
    assert!(plan.planned_orders().all(|o| o.item != 1));
}

#[test]
fn receipts_get_cancel_defer_and_expedite_messages() {
    let mut input = frame_and_brackets();
    input.bom.clear();
    // C: 20 on hand, 50 on order for bucket 1, and no demand: cancel.
    let plan = Plan::regenerate(input.clone()).unwrap();
    assert_eq!(kinds(&plan, 1), [(ExceptionKind::Cancel, 1, 50.0)]);
    // Needed only in bucket 5: defer.
    input.demands.push(demand(9, 1, 5, 60.0));
    let plan = Plan::regenerate(input.clone()).unwrap();
    assert_eq!(kinds(&plan, 1), [(ExceptionKind::Defer, 5, 50.0)]);
    // Needed in bucket 0, before it arrives: a planned order, and expedite.
    input.demands = vec![demand(9, 1, 0, 60.0)];
    input.items[1].lead_time = 0;
    let plan = Plan::regenerate(input).unwrap();
    assert_eq!(orders(&plan, 1), [(0, 0, 50.0)]);
    assert_eq!(kinds(&plan, 1), [(ExceptionKind::Expedite, 0, 50.0)]);
}

#[test]
fn receipts_are_judged_first_in_first_out() {
    let input = |demands: Vec<Demand>, receipts: Vec<(usize, f64)>| PlanInput {
        horizon: 8,
        items: vec![item("C", ItemKind::Purchased, 0, LotRule::LotForLot, 0.0)],
        bom: vec![],
        demands,
        receipts: receipts
            .into_iter()
            .map(|(bucket, quantity)| Receipt {
                item: 0,
                bucket,
                quantity,
            })
            .collect(),
    };
    // Two receipts, one need: the first is deferred, the second cancelled.
    let plan = Plan::regenerate(input(
        vec![demand(1, 0, 6, 50.0)],
        vec![(1, 50.0), (2, 50.0)],
    ))
    .unwrap();
    assert_eq!(
        kinds(&plan, 0),
        [
            (ExceptionKind::Defer, 6, 50.0),
            (ExceptionKind::Cancel, 2, 50.0)
        ]
    );
    // Two needs: one receipt to bucket 4, the other to bucket 6.
    let plan = Plan::regenerate(input(
        vec![demand(1, 0, 4, 50.0), demand(2, 0, 6, 50.0)],
        vec![(1, 50.0), (2, 50.0)],
    ))
    .unwrap();
    assert_eq!(
        kinds(&plan, 0),
        [
            (ExceptionKind::Defer, 4, 50.0),
            (ExceptionKind::Defer, 6, 50.0)
        ]
    );
    // Needed in bucket 0 and due in 3: expedite, and a planned order
    // covers bucket 0 meanwhile.
    let plan = Plan::regenerate(input(vec![demand(1, 0, 0, 10.0)], vec![(3, 50.0)])).unwrap();
    assert_eq!(orders(&plan, 0), [(0, 0, 10.0)]);
    assert_eq!(kinds(&plan, 0), [(ExceptionKind::Expedite, 0, 50.0)]);
}

#[test]
fn period_order_quantity_counts_receipts_carried_forward() {
    // Need 10 now, a receipt of 50 next bucket, 30 the bucket after: an
    // order of 10 covers bucket 0; the receipt covers the rest.
    let input = PlanInput {
        horizon: 4,
        items: vec![item(
            "P",
            ItemKind::SemiFinished,
            0,
            LotRule::PeriodOrderQuantity { buckets: 3 },
            0.0,
        )],
        bom: vec![],
        demands: vec![demand(1, 0, 0, 10.0), demand(2, 0, 2, 30.0)],
        receipts: vec![Receipt {
            item: 0,
            bucket: 1,
            quantity: 50.0,
        }],
    };
    let plan = Plan::regenerate(input).unwrap();
    assert_eq!(orders(&plan, 0), [(0, 0, 10.0)]);
}

#[test]
fn safety_stock_is_kept_and_a_short_start_is_reported() {
    let mut input = frame_and_brackets();
    input.items[0].safety_stock = 15.0;
    let plan = Plan::regenerate(input).unwrap();
    // 5 short at the start, and the order that fills it up is a bucket late.
    assert_eq!(
        kinds(&plan, 0),
        [
            (ExceptionKind::BelowSafetyStock, 0, 5.0),
            (ExceptionKind::Late, 0, 1.0)
        ]
    );
    assert!(plan.projected(0).iter().all(|p| *p >= 15.0 - 1e-9));
}

#[test]
fn bad_input_is_refused_with_its_place() {
    let mut loop_input = frame_and_brackets();
    loop_input.bom.push(line(1, 0, 1.0));
    let e = Plan::regenerate(loop_input).map(|_| ()).unwrap_err();
    assert_eq!(e.field, "bom");
    assert!(e.message.contains("loop"), "{e}");
    let mut i = frame_and_brackets();
    i.bom[0].component = 7;
    assert_eq!(
        Plan::regenerate(i).map(|_| ()).unwrap_err().field,
        "bom[0].component"
    );
    let mut i = frame_and_brackets();
    i.demands[1].quantity = -1.0;
    assert_eq!(
        Plan::regenerate(i).map(|_| ()).unwrap_err().field,
        "demands[1].quantity"
    );
    let mut i = frame_and_brackets();
    i.items[1].lot = LotRule::Fixed { quantity: 0.0 };
    assert_eq!(
        Plan::regenerate(i).map(|_| ()).unwrap_err().field,
        "items[1].lot.quantity"
    );
    let mut plan = Plan::regenerate(frame_and_brackets()).unwrap();
    assert!(plan.change_demand(demand(5, 9, 1, 1.0)).is_err());
}

#[test]
fn a_net_change_replans_only_what_it_reaches() {
    let mut input = frame_and_brackets();
    input
        .items
        .push(item("X", ItemKind::Finished, 1, LotRule::LotForLot, 0.0));
    let mut plan = Plan::regenerate(input).unwrap();
    // A new order for X touches X alone.
    assert_eq!(plan.change_demand(demand(7, 2, 3, 5.0)).unwrap(), 1);
    assert_eq!(orders(&plan, 2), [(3, 2, 5.0)]);
    // More of F reaches C too; removing it again restores the plan.
    let before = plan.planned_orders().cloned().collect::<Vec<_>>();
    assert_eq!(plan.change_demand(demand(8, 0, 6, 30.0)).unwrap(), 2);
    assert_ne!(plan.planned_orders().cloned().collect::<Vec<_>>(), before);
    plan.change_demand(demand(8, 0, 6, 0.0)).unwrap();
    assert_eq!(plan.planned_orders().cloned().collect::<Vec<_>>(), before);
}

/// A random plant: items only use items after them (so no loops), random
/// lot rules, stock, receipts and demands.
fn plant() -> impl Strategy<Value = PlanInput> {
    let horizon = 6usize;
    (3usize..9)
        .prop_flat_map(move |n| {
            let items = proptest::collection::vec(
                (
                    0usize..3,
                    0usize..4,
                    0.0f64..30.0,
                    0.0f64..10.0,
                    any::<bool>(),
                ),
                n,
            );
            let bom = proptest::collection::vec((0..n, 0..n, 1u8..4), 0..2 * n);
            let demands = proptest::collection::vec((0..n, 0..horizon + 1, 1u8..40), 0..8);
            let receipts = proptest::collection::vec((0..n, 0..horizon, 1u8..40), 0..4);
            (items, bom, demands, receipts)
        })
        .prop_map(move |(items, bom, demands, receipts)| PlanInput {
            horizon,
            items: items
                .into_iter()
                .enumerate()
                .map(|(i, (lot, lead, on_hand, ss, phantom))| Item {
                    code: format!("I{i}"),
                    kind: if phantom && i > 0 {
                        ItemKind::Phantom
                    } else {
                        ItemKind::SemiFinished
                    },
                    lead_time: lead,
                    lot: match lot {
                        0 => LotRule::LotForLot,
                        1 => LotRule::Fixed { quantity: 7.0 },
                        _ => LotRule::PeriodOrderQuantity { buckets: 2 },
                    },
                    safety_stock: ss,
                    on_hand,
                    allocated: 0.0,
                })
                .collect(),
            bom: bom
                .into_iter()
                .filter(|(a, b, _)| a < b)
                .map(|(a, b, q)| line(a, b, f64::from(q)))
                .collect(),
            demands: demands
                .into_iter()
                .enumerate()
                .map(|(k, (i, t, q))| demand(k as u64, i, t, f64::from(q)))
                .collect(),
            receipts: receipts
                .into_iter()
                .map(|(i, t, q)| Receipt {
                    item: i,
                    bucket: t,
                    quantity: f64::from(q),
                })
                .collect(),
        })
}

/// Orders, their pegs and the messages, with quantities to a millionth.
fn same_orders(a: &Plan, b: &Plan) -> bool {
    let q = |x: f64| (x * 1e6).round() as i64;
    type Key = (ItemId, usize, usize, i64, Vec<(String, i64)>);
    let key = |p: &Plan| {
        let mut v: Vec<Key> = (0..p.input().items.len())
            .flat_map(|i| p.orders_of(i).to_vec())
            .map(|o| {
                let pegs = o
                    .pegs
                    .iter()
                    .map(|g| (format!("{:?}", g.source), q(g.quantity)))
                    .collect();
                (o.item, o.due, o.release, q(o.quantity), pegs)
            })
            .collect();
        v.sort_unstable();
        let mut e: Vec<String> = p
            .exceptions()
            .map(|e| format!("{:?}", (e.item, e.kind, e.bucket, q(e.quantity))))
            .collect();
        e.sort_unstable();
        (v, e)
    };
    key(a) == key(b)
}

proptest! {
    /// Stock never falls below the safety stock once planned, every
    /// order's pegs fit in it, and gross requirements are what demand and
    /// the parents' orders ask.
    #[test]
    fn plans_cover_every_requirement(input in plant()) {
        let plan = Plan::regenerate(input.clone()).unwrap();
        for (i, it) in input.items.iter().enumerate() {
            let ss = if it.kind == ItemKind::Phantom { 0.0 } else { it.safety_stock };
            for p in plan.projected(i) {
                prop_assert!(*p >= ss - 1e-6, "item {i}: {p} < {ss}");
            }
            for o in plan.orders_of(i) {
                let pegged: f64 = o.pegs.iter().map(|p| p.quantity).sum();
                prop_assert!(pegged <= o.quantity + 1e-6);
                prop_assert!(o.release <= o.due && o.quantity > 0.0);
            }
            let mut expect = vec![0.0; input.horizon];
            for d in input.demands.iter().filter(|d| d.item == i && d.bucket < input.horizon) {
                expect[d.bucket] += d.quantity;
            }
            for l in input.bom.iter().filter(|l| l.component == i) {
                for o in plan.orders_of(l.parent) {
                    expect[o.release] += l.need(o.quantity, o.release);
                }
            }
            for (t, (g, e)) in plan.gross(i).iter().zip(&expect).enumerate() {
                prop_assert!((g - e).abs() < 1e-6, "item {i} bucket {t}: {g} vs {e}");
            }
        }
    }

    /// Net changes end where a regeneration of the changed input does.
    #[test]
    fn net_change_matches_regeneration(
        input in plant(),
        changes in proptest::collection::vec((0u64..10, 0usize..9, 0usize..7, 0u8..30), 1..6),
    ) {
        let mut plan = Plan::regenerate(input.clone()).unwrap();
        let n = input.items.len();
        for (id, item, bucket, q) in changes {
            plan.change_demand(demand(id, item % n, bucket, f64::from(q))).unwrap();
        }
        let again = Plan::regenerate(plan.input().clone()).unwrap();
        prop_assert!(same_orders(&plan, &again));
    }
}
