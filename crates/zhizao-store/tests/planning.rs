//! Planning data on both backends: master data replaced whole and read
//! back the same; the order book's paging, filters, unique numbers and
//! import upserts; MRP runs kept to the newest; work orders with their
//! operations and status moves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use zhizao_plan::book::MasterData;
use zhizao_store::{NewCustomerOrder, NewWorkOrder, OrderQuery, OrderSort, RUNS_KEPT, StoreError};
use zhizao_testkit::each_backend;

fn master() -> MasterData {
    serde_json::from_str(
        r#"{
        "units": [{"from": "m", "to": "mm", "factor": 1000}],
        "items": [
            {"code": "PUMP", "name": "潜水泵", "kind": "finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}, "safety_stock": 2},
            {"code": "BAR", "kind": "raw", "uom": "mm", "lead_time_weeks": 2, "lot": {"rule": "min_multiple", "minimum": 6000, "multiple": 1000}, "on_hand": 500, "allocated": 100}
        ],
        "bom": [{"parent": "PUMP", "component": "BAR", "quantity": 0.4, "uom": "m", "scrap_pct": 5, "valid_from": "2026-12-07"}],
        "work_centres": [{"code": "CNC", "name": "数控车", "machines": 2, "hours_per_week": 80, "efficiency": 0.9}],
        "routings": [{"item": "PUMP", "seq": 10, "work_centre": "CNC", "alternatives": [], "setup_hours": 1, "run_hours_per_unit": 0.5, "min_transfer_batch": 5, "queue_hours": 2, "move_hours": 0.5}],
        "capacity_changes": [{"work_centre": "CNC", "from": "2027-02-08", "to": "2027-02-14", "hours_per_week": -80, "note": "春节"}]
    }"#,
    )
    .unwrap()
}

fn order(number: &str, customer: &str, due: &str, priority: i64) -> NewCustomerOrder {
    NewCustomerOrder {
        number: number.into(),
        customer: customer.into(),
        item: "PUMP".into(),
        quantity: 10.0,
        due_date: due.into(),
        priority,
        status: "open".into(),
        note: String::new(),
    }
}

#[tokio::test]
async fn master_data_is_replaced_whole_and_reads_back_the_same() {
    for t in each_backend().await {
        let s = &t.store;
        let a = s.create_tenant("plant-a", "A").await.unwrap();
        let b = s.create_tenant("plant-b", "B").await.unwrap();
        assert_eq!(s.plan_master(a.id).await.unwrap(), MasterData::default());
        assert_eq!(s.plan_master_version(a.id).await.unwrap(), 0);
        let mut m = master();
        s.put_plan_master(a.id, &m).await.unwrap();
        assert_eq!(s.plan_master_version(a.id).await.unwrap(), 1);
        // Items and centres come back by code; BOM lines in their order.
        m.items.sort_by(|x, y| x.code.cmp(&y.code));
        assert_eq!(s.plan_master(a.id).await.unwrap(), m);
        assert_eq!(s.plan_item_count(a.id).await.unwrap(), 2);
        assert_eq!(s.plan_item_count(b.id).await.unwrap(), 0);
        let mut smaller = m.clone();
        smaller.items.truncate(1); // BAR
        smaller.bom.clear();
        s.put_plan_master(a.id, &smaller).await.unwrap();
        assert_eq!(s.plan_master_version(a.id).await.unwrap(), 2);
        assert_eq!(s.plan_master_version(b.id).await.unwrap(), 0);
        assert_eq!(s.plan_master(a.id).await.unwrap(), smaller);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_order_book_pages_filters_and_keeps_numbers_unique() {
    for t in each_backend().await {
        let s = &t.store;
        let a = s.create_tenant("plant-a", "A").await.unwrap();
        let b = s.create_tenant("plant-b", "B").await.unwrap();
        let o1 = s
            .create_customer_order(a.id, &order("SO-1", "华东水务", "2027-01-10", 5))
            .await
            .unwrap();
        s.create_customer_order(a.id, &order("SO-2", "Delta Steel", "2026-12-20", 1))
            .await
            .unwrap();
        s.create_customer_order(a.id, &order("SO-3", "华东水务", "2027-02-01", 3))
            .await
            .unwrap();
        // The same number in another tenant is fine, twice in one is not.
        s.create_customer_order(b.id, &order("SO-1", "x", "2027-01-01", 5))
            .await
            .unwrap();
        let dup = s
            .create_customer_order(a.id, &order("SO-1", "x", "2027-01-01", 5))
            .await
            .unwrap_err();
        assert!(
            matches!(dup, StoreError::Conflict { ref field, .. } if field == "number"),
            "{dup}"
        );

        let (page, total) = s
            .list_customer_orders(a.id, &OrderQuery::default())
            .await
            .unwrap();
        assert_eq!(total, 3);
        let numbers: Vec<_> = page.iter().map(|o| o.number.as_str()).collect();
        assert_eq!(numbers, ["SO-2", "SO-1", "SO-3"], "by due date");
        let q = OrderQuery {
            sort: OrderSort::Priority,
            descending: true,
            search: Some("华东".into()),
            limit: 1,
            ..Default::default()
        };
        let (page, total) = s.list_customer_orders(a.id, &q).await.unwrap();
        assert_eq!((total, page.len(), page[0].number.as_str()), (2, 1, "SO-1"));
        let q = OrderQuery {
            due_from: Some("2027-01-01".into()),
            due_to: Some("2027-01-31".into()),
            ..Default::default()
        };
        assert_eq!(s.list_customer_orders(a.id, &q).await.unwrap().1, 1);

        let mut changed = order("SO-1", "华东水务", "2027-01-17", 2);
        changed.status = "in_production".into();
        let o = s
            .update_customer_order(a.id, o1.id, &changed)
            .await
            .unwrap();
        assert_eq!(
            (o.due_date.as_str(), o.status.as_str()),
            ("2027-01-17", "in_production")
        );
        assert!(matches!(
            s.update_customer_order(b.id, o1.id, &changed).await,
            Err(StoreError::NotFound { .. })
        ));

        // An import updates SO-2 and adds SO-4 in one go.
        let mut so2 = order("SO-2", "Delta Steel", "2026-12-27", 1);
        so2.quantity = 12.0;
        let (ins, upd) = s
            .upsert_customer_orders(a.id, &[so2, order("SO-4", "新客户", "2027-03-01", 5)])
            .await
            .unwrap();
        assert_eq!((ins, upd), (1, 1));
        let all = s.all_customer_orders(a.id).await.unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].quantity, 12.0);
        s.delete_customer_order(a.id, o1.id).await.unwrap();
        assert_eq!(s.all_customer_orders(a.id).await.unwrap().len(), 3);

        s.put_plan_forecasts(a.id, &[("PUMP".into(), "2027-01-04".into(), 20.0)])
            .await
            .unwrap();
        assert_eq!(s.plan_forecasts(a.id).await.unwrap().len(), 1);
        assert!(s.plan_forecasts(b.id).await.unwrap().is_empty());
        t.cleanup().await;
    }
}

#[tokio::test]
async fn runs_keep_the_newest_and_work_orders_move_through_their_states() {
    for t in each_backend().await {
        let s = &t.store;
        let a = s.create_tenant("plant-a", "A").await.unwrap();
        let b = s.create_tenant("plant-b", "B").await.unwrap();
        s.insert_plan_run(b.id, "regenerative", "x", "{}")
            .await
            .unwrap();
        let mut last = 0;
        for k in 0..RUNS_KEPT + 3 {
            last = s
                .insert_plan_run(a.id, "regenerative", "planner", &format!("{{\"k\":{k}}}"))
                .await
                .unwrap();
        }
        let runs = s.list_plan_runs(a.id).await.unwrap();
        assert_eq!(runs.len() as i64, RUNS_KEPT);
        assert_eq!(runs[0].id, last);
        assert_eq!(
            s.list_plan_runs(b.id).await.unwrap().len(),
            1,
            "another tenant's stay"
        );
        let latest = s.latest_plan_run(a.id).await.unwrap().unwrap();
        assert_eq!(latest.result, format!("{{\"k\":{}}}", RUNS_KEPT + 2));

        let made = s
            .create_work_orders(
                a.id,
                &[NewWorkOrder {
                    item: "PUMP".into(),
                    quantity: 8.0,
                    release_date: "2026-12-07".into(),
                    due_date: "2026-12-14".into(),
                    pegs: "[]".into(),
                    operations: vec![(10, "CNC".into(), 1.0, 4.0), (20, "ASM".into(), 0.5, 8.0)],
                }],
            )
            .await
            .unwrap();
        assert_eq!(made[0].number, "WO-000001");
        assert_eq!(made[0].status, "released");
        let id = made[0].id;
        assert_eq!(s.open_work_order_progress(a.id).await.unwrap().len(), 1);
        assert!(
            s.set_work_order_status(a.id, id, "released", "in_progress")
                .await
                .unwrap()
        );
        assert!(
            !s.set_work_order_status(a.id, id, "released", "in_progress")
                .await
                .unwrap()
        );
        s.report_work_order_operation(a.id, id, 10, 7.0, 1.0)
            .await
            .unwrap();
        s.report_work_order_operation(a.id, id, 10, 1.0, 0.0)
            .await
            .unwrap();
        let ops = s.work_order_operations(a.id, id).await.unwrap();
        assert_eq!((ops[0].qty_good, ops[0].qty_scrap), (8.0, 1.0));
        // What is finished is what the last operation made good.
        s.report_work_order_operation(a.id, id, 20, 5.0, 0.0)
            .await
            .unwrap();
        let open = s.open_work_order_progress(a.id).await.unwrap();
        assert_eq!((open[0].0.id, open[0].1), (id, 5.0));
        assert!(
            s.report_work_order_operation(a.id, id, 30, 1.0, 0.0)
                .await
                .is_err()
        );
        assert!(
            s.work_order_operations(b.id, id).await.is_err(),
            "not another tenant's"
        );
        let (page, total) = s
            .list_work_orders(a.id, Some("in_progress"), 50, 0)
            .await
            .unwrap();
        assert_eq!((page.len(), total), (1, 1));
        assert_eq!(
            s.list_work_orders(a.id, Some("closed"), 50, 0)
                .await
                .unwrap()
                .1,
            0
        );
        assert_eq!(s.list_work_orders(a.id, None, 50, 0).await.unwrap().1, 1);
        let again = s
            .create_work_orders(
                a.id,
                &[NewWorkOrder {
                    item: "PUMP".into(),
                    quantity: 2.0,
                    release_date: "2026-12-07".into(),
                    due_date: "2026-12-14".into(),
                    pegs: "[]".into(),
                    operations: vec![],
                }],
            )
            .await
            .unwrap();
        assert_eq!(again[0].number, "WO-000002");
        t.cleanup().await;
    }
}
