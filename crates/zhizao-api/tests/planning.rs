//! Production planning through the API on both backends: master data
//! checked whole, the order book with its import and export, MRP runs
//! (regenerative and net change) on a plant small enough to work out by
//! hand, promising, what-if capacity, and releasing work orders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{call, env, send};

/// Today in Shanghai (the planning day when a tenant has no site).
fn today() -> time::Date {
    zhizao_api::planning::local_date("Asia/Shanghai").unwrap()
}

fn monday() -> time::Date {
    zhizao_plan::book::Weeks::from_today(today(), 1).start
}

/// `w` weeks and `d` days after this week's Monday.
fn day(w: i64, d: i64) -> String {
    zhizao_plan::book::format_date(monday() + time::Duration::weeks(w) + time::Duration::days(d))
}

/// A pump of a shaft (turned from bar) and a bought motor.
fn master() -> Value {
    json!({
        "units": [{"from": "m", "to": "mm", "factor": 1000}],
        "items": [
            {"code": "PUMP", "name": "潜水泵", "kind": "finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}},
            {"code": "SHAFT", "name": "泵轴", "kind": "semi_finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}},
            {"code": "BAR", "kind": "raw", "uom": "mm", "lead_time_weeks": 2, "lot": {"rule": "min_multiple", "minimum": 100, "multiple": 50}},
            {"code": "MOTOR", "kind": "purchased", "uom": "pcs", "lead_time_weeks": 3, "lot": {"rule": "fixed", "quantity": 20}, "on_hand": 10, "safety_stock": 5}
        ],
        "bom": [
            {"parent": "PUMP", "component": "SHAFT", "quantity": 1},
            {"parent": "PUMP", "component": "MOTOR", "quantity": 1},
            {"parent": "SHAFT", "component": "BAR", "quantity": 0.5, "uom": "m"}
        ],
        "work_centres": [
            {"code": "ASM", "name": "装配", "machines": 1, "hours_per_week": 40, "efficiency": 1},
            {"code": "CNC", "name": "数控车", "machines": 1, "hours_per_week": 20, "efficiency": 1},
            {"code": "CNC2", "name": "数控车二", "machines": 1, "hours_per_week": 40, "efficiency": 1}
        ],
        "routings": [
            {"item": "PUMP", "seq": 10, "work_centre": "ASM", "run_hours_per_unit": 1},
            {"item": "SHAFT", "seq": 10, "work_centre": "CNC", "alternatives": ["CNC2"], "setup_hours": 1, "run_hours_per_unit": 0.8}
        ]
    })
}

fn order(number: &str, quantity: f64, due: &str) -> Value {
    json!({"number": number, "customer": "华东水务", "item": "PUMP", "quantity": quantity, "due_date": due})
}

/// The current plan's planned orders as `KEY=quantity`, sorted.
async fn keys(app: &axum::Router, token: &str) -> Vec<String> {
    let (st, page) = call(
        app,
        Method::GET,
        "/api/v1/plan/orders?limit=500",
        token,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let mut k: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{}={}", o["key"].as_str().unwrap(), o["quantity"]))
        .collect();
    k.sort();
    k
}

#[tokio::test]
async fn bad_master_data_is_named_and_nothing_is_stored() {
    for db in zhizao_testkit::each_backend().await {
        let e = env(db).await;
        let put = |m: Value| {
            call(
                &e.app,
                Method::PUT,
                "/api/v1/plan/master",
                &e.planner,
                Some(m),
            )
        };
        let (st, _) = put(master()).await;
        assert_eq!(st, StatusCode::OK);
        let mut cycle = master();
        cycle["bom"]
            .as_array_mut()
            .unwrap()
            .push(json!({"parent": "BAR", "component": "PUMP", "quantity": 1}));
        let (st, body) = put(cycle).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("loop") && (msg.contains("PUMP") || msg.contains("BAR")),
            "{msg}"
        );
        let mut unknown = master();
        unknown["bom"][0]["component"] = json!("BOLT");
        let (st, body) = put(unknown).await;
        assert_eq!(
            (st, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("bom[0].component"))
        );
        let mut units = master();
        units["bom"][2]["uom"] = json!("kg");
        let (_, body) = put(units).await;
        assert_eq!(body["error"]["field"], "bom[2].uom", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no conversion from `kg` to `mm`")
        );
        let mut calendar = master();
        calendar["work_centres"][1]["hours_per_week"] = json!(0);
        let (_, body) = put(calendar).await;
        assert_eq!(body["error"]["field"], "work_centres[1].hours_per_week");
        let mut negative = master();
        negative["items"][3]["on_hand"] = json!(-4);
        let (st, _) = put(negative).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        // None of that reached the store.
        let (_, got) = call(&e.app, Method::GET, "/api/v1/plan/master", &e.viewer, None).await;
        assert_eq!(got["master"]["bom"].as_array().unwrap().len(), 3);
        assert_eq!(got["master"]["items"][1]["code"], "MOTOR");
        assert_eq!(got["master"]["items"][1]["on_hand"], 10.0);
        // Viewers read but do not write.
        let (st, _) = call(
            &e.app,
            Method::PUT,
            "/api/v1/plan/master",
            &e.viewer,
            Some(master()),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn the_order_book_is_entered_imported_and_exported() {
    for db in zhizao_testkit::each_backend().await {
        let e = env(db).await;
        call(
            &e.app,
            Method::PUT,
            "/api/v1/plan/master",
            &e.planner,
            Some(master()),
        )
        .await;
        let post = |b: Value| call(&e.app, Method::POST, "/api/v1/orders", &e.planner, Some(b));
        let (st, so1) = post(order("SO-1", 8.0, "2027-01-13")).await;
        assert_eq!(st, StatusCode::CREATED, "{so1}");
        assert_eq!(
            (so1["status"].as_str(), so1["priority"].as_i64()),
            (Some("open"), Some(5))
        );
        let (st, _) = post(order("SO-1", 1.0, "2027-01-13")).await;
        assert_eq!(st, StatusCode::CONFLICT);
        let mut bad = order("SO-9", 1.0, "2027-01-13");
        bad["item"] = json!("BOLT");
        let (st, body) = post(bad).await;
        assert_eq!(
            (st, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("item"))
        );
        let (st, body) = post(order("SO-9", -1.0, "2027-01-13")).await;
        assert_eq!(
            (st, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("quantity"))
        );
        let (st, body) = post(order("SO-9", 1.0, "2027-02-30")).await;
        assert_eq!(
            (st, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("due_date"))
        );

        // An import with bad rows stores nothing by default.
        let csv = "订单号,客户,物料,数量,交期,优先级,颜色\n\
                   SO-2,华东水务,PUMP,30,2027-01-20,2,红\n\
                   SO-3,华东水务,BOLT,5,2027-01-20,,\n\
                   SO-4,山东城投,PUMP,abc,2027-01-20,,\n\
                   SO-2,山东城投,PUMP,3,2027-01-27,,\n\
                   SO-1,华东水务,PUMP,12,2027-01-13,1,\n";
        let import = |q: &'static str| {
            let uri = format!("/api/v1/orders/import{q}");
            let (app, token) = (e.app.clone(), e.planner.clone());
            async move {
                send(
                    &app,
                    Method::POST,
                    &uri,
                    &token,
                    Some("text/csv"),
                    csv.as_bytes().to_vec(),
                )
                .await
            }
        };
        let r = import("").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        assert_eq!(r.json["applied"], false);
        assert_eq!(
            (r.json["rows"].as_u64(), r.json["rejected_rows"].as_u64()),
            (Some(5), Some(3))
        );
        let errors: Vec<(u64, &str)> = r.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap()))
            .collect();
        assert_eq!(errors, [(3, "item"), (4, "quantity"), (5, "number")]);
        assert!(
            r.json["errors"][2]["message"]
                .as_str()
                .unwrap()
                .contains("also on row 2")
        );
        assert_eq!(r.json["ignored_columns"], json!(["颜色"]));
        let (_, page) = call(&e.app, Method::GET, "/api/v1/orders", &e.viewer, None).await;
        assert_eq!(page["total"], 1, "nothing stored");
        // Keeping the good rows adds SO-2 and updates SO-1.
        let r = import("?keep_good=true").await;
        assert_eq!(
            (
                r.json["applied"].as_bool(),
                r.json["inserted"].as_u64(),
                r.json["updated"].as_u64()
            ),
            (Some(true), Some(1), Some(1))
        );
        let (_, page) = call(
            &e.app,
            Method::GET,
            "/api/v1/orders?sort=-priority",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(page["total"], 2);
        assert_eq!(
            page["items"][0]["number"], "SO-2",
            "priority 2 before 1 when descending: {page}"
        );
        assert_eq!(page["items"][1]["quantity"], 12.0);
        let (st, body) = call(
            &e.app,
            Method::GET,
            "/api/v1/orders?sort=colour",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(
            (st, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("sort"))
        );
        let (_, page) = call(
            &e.app,
            Method::GET,
            "/api/v1/orders?due_from=2027-01-15&q=%E5%8D%8E%E4%B8%9C",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(page["total"], 1);

        // XLSX export imports back as the same orders.
        let x = send(
            &e.app,
            Method::GET,
            "/api/v1/orders/export?format=xlsx",
            &e.viewer,
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(x.status, StatusCode::OK);
        assert!(x.bytes.starts_with(b"PK"));
        let c = send(
            &e.app,
            Method::GET,
            "/api/v1/orders/export",
            &e.viewer,
            None,
            Vec::new(),
        )
        .await;
        let text = String::from_utf8(c.bytes).unwrap();
        assert!(
            text.starts_with("\u{feff}number,customer,item,quantity,due_date"),
            "{text}"
        );
        assert!(
            text.contains("SO-2,华东水务,PUMP,30,2027-01-20,2,open,"),
            "{text}"
        );
        let id = page["items"][0]["id"].as_i64().unwrap();
        let (st, _) = call(
            &e.app,
            Method::DELETE,
            &format!("/api/v1/orders/{id}"),
            &e.planner,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let r = send(
            &e.app,
            Method::POST,
            "/api/v1/orders/import",
            &e.planner,
            Some("application/octet-stream"),
            x.bytes.clone(),
        )
        .await;
        assert_eq!(
            (
                r.json["applied"].as_bool(),
                r.json["inserted"].as_u64(),
                r.json["updated"].as_u64()
            ),
            (Some(true), Some(1), Some(1)),
            "{}",
            r.json
        );
        let (_, page) = call(&e.app, Method::GET, "/api/v1/orders", &e.viewer, None).await;
        assert_eq!(page["total"], 2);
        assert_eq!(page["items"][1]["due_date"], "2027-01-20");

        // A header without the needed columns is refused as a whole.
        let r = send(
            &e.app,
            Method::POST,
            "/api/v1/orders/import",
            &e.planner,
            Some("text/csv"),
            b"number,item\nSO-7,PUMP\n".to_vec(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("customer")
        );
    }
}

#[tokio::test]
async fn mrp_plans_promises_tries_changes_and_releases_work_orders() {
    for db in zhizao_testkit::each_backend().await {
        let e = env(db).await;
        let (st, _) = call(
            &e.app,
            Method::PUT,
            "/api/v1/plan/master",
            &e.planner,
            Some(master()),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let (_, not_yet) = call(
            &e.app,
            Method::GET,
            "/api/v1/plan/runs/latest",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(not_yet["error"]["code"], "not_found");
        call(
            &e.app,
            Method::POST,
            "/api/v1/orders",
            &e.planner,
            Some(order("SO-1", 8.0, &day(3, 2))),
        )
        .await;
        let (_, so2) = call(
            &e.app,
            Method::POST,
            "/api/v1/orders",
            &e.planner,
            Some(order("SO-2", 30.0, &day(4, 0))),
        )
        .await;
        let as_of = day(0, 0);
        let run_req = |kind: &str| json!({"kind": kind, "as_of": as_of, "weeks": 12});
        let (st, run) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/runs",
            &e.planner,
            Some(run_req("regenerative")),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{run}");
        // Worked out by hand (W = week from this Monday):
        // PUMP: 8 due W3, 30 due W4 → orders released W2 and W3.
        // SHAFT: needed W2 (8) and W3 (30) → released W1 and W2.
        // MOTOR (10 on hand, safety stock 5, lots of 20, 3 weeks): W2
        //   needs 8 + 5 − 10 = 3 → 20 due W2, to be released in W−1:
        //   late 1 week; W3: 30 + 5 − 22 = 13 → 20 due W3, released W0.
        // BAR (0.5 m = 500 mm a shaft, min 100 by 50): 4,000 mm due W1
        //   (late 1 week), 15,000 mm due W2.
        let w = |n: i64| day(n, 0);
        let mut expected = vec![
            format!("BAR@{}=15000.0", w(2)),
            format!("BAR@{}=4000.0", w(1)),
            format!("MOTOR@{}=20.0", w(2)),
            format!("MOTOR@{}=20.0", w(3)),
            format!("PUMP@{}=30.0", w(4)),
            format!("PUMP@{}=8.0", w(3)),
            format!("SHAFT@{}=30.0", w(3)),
            format!("SHAFT@{}=8.0", w(2)),
        ];
        expected.sort();
        assert_eq!(keys(&e.app, &e.viewer).await, expected);
        let summary = &run["report"]["summary"];
        assert_eq!(
            (
                summary["production_orders"].as_u64(),
                summary["purchase_requisitions"].as_u64()
            ),
            (Some(4), Some(4))
        );
        // SO-1's chain waits a week for bar and motors; SO-2 has time.
        let d = &run["report"]["deliveries"];
        assert_eq!(
            (d[0]["number"].as_str(), d[0]["late_weeks"].as_u64()),
            (Some("SO-1"), Some(1))
        );
        assert_eq!(d[1]["late_weeks"], 0);
        assert_eq!(summary["on_time_pct"], 50.0);
        let late: Vec<&str> = run["report"]["exceptions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["kind"] == "late")
            .map(|x| x["item"].as_str().unwrap())
            .collect();
        assert_eq!(late.len(), 2);
        assert!(late.contains(&"BAR") && late.contains(&"MOTOR"));
        // CNC: 1 + 0.8 × 30 = 25 h in W2 against 20: overloaded.
        let cnc = run["report"]["capacity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == "CNC")
            .unwrap();
        assert_eq!(cnc["load"][2], 25.0);
        assert_eq!(cnc["overloaded_weeks"], 1);
        let (_, latest) = call(
            &e.app,
            Method::GET,
            "/api/v1/plan/runs/latest",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(latest["id"], run["id"]);

        // Net change after an order changes ends where a regeneration does.
        let mut changed = order("SO-2", 28.0, &day(5, 1));
        changed["priority"] = json!(1);
        let (st, _) = call(
            &e.app,
            Method::PUT,
            &format!("/api/v1/orders/{}", so2["id"]),
            &e.planner,
            Some(changed),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let (_, net) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/runs",
            &e.planner,
            Some(run_req("net_change")),
        )
        .await;
        assert_eq!(net["kind"], "net_change", "{net}");
        assert!(net["items_replanned"].as_u64().unwrap() <= 4);
        let after_net = keys(&e.app, &e.viewer).await;
        let (_, regen) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/runs",
            &e.planner,
            Some(run_req("regenerative")),
        )
        .await;
        assert_eq!(regen["kind"], "regenerative");
        assert_eq!(after_net, keys(&e.app, &e.viewer).await);
        assert!(after_net.contains(&format!("PUMP@{}=28.0", w(5))));
        // Pages and filters of the planned orders.
        let (_, late) = call(
            &e.app,
            Method::GET,
            "/api/v1/plan/orders?late=true&purchase=false",
            &e.viewer,
            None,
        )
        .await;
        assert!(!late["items"].as_array().unwrap().is_empty(), "{late}");
        assert!(
            late["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["late_weeks"].as_u64().unwrap() > 0 && o["purchase"] == false),
            "{late}"
        );
        let (_, page) = call(
            &e.app,
            Method::GET,
            "/api/v1/plan/orders?item=bar&limit=1&offset=1",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(
            (
                page["total"].as_u64(),
                page["items"].as_array().unwrap().len()
            ),
            (Some(2), 1)
        );
        let (st, _) = call(
            &e.app,
            Method::GET,
            "/api/v1/plan/orders?colour=red",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

        // Promising: 5 pumps in week 6 can be made in time; 5 next week
        // cannot (shafts and bar take longer), and the reason says so.
        let (st, p) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/promise",
            &e.viewer,
            Some(json!({"item": "PUMP", "quantity": 5, "due_date": day(6, 2)})),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{p}");
        assert_eq!(
            (p["on_time"].as_bool(), p["promised_date"].as_str()),
            (Some(true), Some(day(6, 2).as_str()))
        );
        let (_, p) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/promise",
            &e.viewer,
            Some(json!({"item": "PUMP", "quantity": 5, "due_date": day(1, 0)})),
        )
        .await;
        assert_eq!(p["on_time"], false, "{p}");
        assert_eq!(p["reason"], "material");
        assert!(p["promised_date"].as_str().unwrap() > day(1, 0).as_str());
        let (st, p) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/promise",
            &e.viewer,
            Some(json!({"item": "GEAR", "quantity": 5, "due_date": day(3, 0)})),
        )
        .await;
        assert_eq!(
            (st, p["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("item"))
        );

        // What-if: 28 shafts now load CNC with 1 + 0.8 × 28 = 23.4 h in
        // W4; the shafts on the second lathe, or 10 more CNC hours a week,
        // take the overload away; the live plan is untouched.
        let mv = json!({"changes": [{"kind": "move", "item": "SHAFT", "from_centre": "CNC", "to_centre": "CNC2"}]});
        let (st, wi) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/what-if",
            &e.viewer,
            Some(mv.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{wi}");
        assert!(wi["overloaded_weeks"].as_u64().unwrap() >= 1);
        assert_eq!(wi["what_if_overloaded_weeks"], 0);
        let bad = json!({"changes": [{"kind": "move", "item": "PUMP", "from_centre": "ASM", "to_centre": "CNC"}]});
        let (st, _) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/what-if",
            &e.viewer,
            Some(bad),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "not an alternative");
        let add = json!({"changes": [{"kind": "add_hours", "work_centre": "CNC", "from": day(0, 0), "to": day(12, 0), "hours_per_week": 10}]});
        let (st, applied) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/what-if/apply",
            &e.planner,
            Some(add),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{applied}");
        let (_, m) = call(&e.app, Method::GET, "/api/v1/plan/master", &e.viewer, None).await;
        assert_eq!(m["master"]["capacity_changes"][0]["hours_per_week"], 10.0);
        let cnc = applied["report"]["capacity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == "CNC")
            .unwrap();
        assert_eq!(cnc["capacity"][0], 30.0);
        assert_eq!(cnc["overloaded_weeks"], 0);

        // Release the 8 shafts: a work order with its operation; the next
        // run nets it as open supply.
        let key = format!("SHAFT@{}", w(2));
        let (st, rel) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/release",
            &e.planner,
            Some(json!({"keys": [key]})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{rel}");
        let wo = &rel["work_orders"][0];
        // The released order still loads CNC in W1: 1 + 0.8 × 8 = 7.4 h.
        let cnc = rel["run"]["report"]["capacity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == "CNC")
            .unwrap();
        assert!(
            (cnc["load"][1].as_f64().unwrap() - 7.4).abs() < 1e-9,
            "{cnc}"
        );
        assert_eq!(
            (
                wo["item"].as_str(),
                wo["quantity"].as_f64(),
                wo["status"].as_str()
            ),
            (Some("SHAFT"), Some(8.0), Some("released"))
        );
        let now = keys(&e.app, &e.viewer).await;
        assert!(
            !now.iter().any(|k| k.starts_with(&format!("{key}="))),
            "{now:?}"
        );
        let (st, body) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/release",
            &e.planner,
            Some(json!({"keys": [key.clone(), format!("PUMP@{}", w(40))]})),
        )
        .await;
        assert_eq!(
            (st, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("keys[0]")),
            "released already: {body}"
        );
        let (_, wos) = call(&e.app, Method::GET, "/api/v1/work-orders", &e.viewer, None).await;
        assert_eq!(wos["total"], 1, "nothing made of a refused release");

        // A purchase requisition for bar becomes a purchase order; what
        // is received goes on hand, and the order is done when all is in.
        let (_, bars) = call(
            &e.app,
            Method::GET,
            "/api/v1/plan/orders?item=BAR&purchase=true",
            &e.viewer,
            None,
        )
        .await;
        let bar = bars["items"][0].clone();
        let bar_key = bar["key"].as_str().unwrap().to_owned();
        let (st, rel) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/release",
            &e.planner,
            Some(json!({"keys": [bar_key]})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{rel}");
        let po = &rel["purchase_orders"][0];
        assert_eq!(
            (
                po["item"].as_str(),
                po["status"].as_str(),
                po["quantity"].as_f64()
            ),
            (Some("BAR"), Some("open"), bar["quantity"].as_f64())
        );
        assert!(rel["work_orders"].as_array().unwrap().is_empty());
        let now = keys(&e.app, &e.viewer).await;
        assert!(
            !now.iter().any(|k| k.starts_with(&format!("{bar_key}="))),
            "netted by the purchase order: {now:?}"
        );
        let po_id = po["id"].as_i64().unwrap();
        let total = po["quantity"].as_f64().unwrap();
        let (st, got) = call(
            &e.app,
            Method::POST,
            &format!("/api/v1/purchase-orders/{po_id}/receive"),
            &e.planner,
            Some(json!({"quantity": 1000})),
        )
        .await;
        assert_eq!(
            (st, got["status"].as_str(), got["received"].as_f64()),
            (StatusCode::OK, Some("open"), Some(1000.0))
        );
        let (_, m) = call(&e.app, Method::GET, "/api/v1/plan/master", &e.viewer, None).await;
        let on_hand = m["master"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == "BAR")
            .unwrap()["on_hand"]
            .as_f64()
            .unwrap();
        assert_eq!(on_hand, 1000.0, "received bar is on hand");
        let (_, got) = call(
            &e.app,
            Method::POST,
            &format!("/api/v1/purchase-orders/{po_id}/receive"),
            &e.planner,
            Some(json!({"quantity": total - 1000.0})),
        )
        .await;
        assert_eq!(got["status"], "received");
        let (st, _) = call(
            &e.app,
            Method::POST,
            &format!("/api/v1/purchase-orders/{po_id}/receive"),
            &e.planner,
            Some(json!({"quantity": 1})),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT);
        let (st, _) = call(
            &e.app,
            Method::POST,
            &format!("/api/v1/purchase-orders/{po_id}/cancel"),
            &e.planner,
            Some(json!({})),
        )
        .await;
        assert_eq!(
            st,
            StatusCode::CONFLICT,
            "a received order is not cancelled"
        );
        let (_, pos) = call(
            &e.app,
            Method::GET,
            "/api/v1/purchase-orders?status=received",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(pos["total"], 1);
        let id = wo["id"].as_i64().unwrap();
        let (_, detail) = call(
            &e.app,
            Method::GET,
            &format!("/api/v1/work-orders/{id}"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(detail["operations"][0]["work_centre"], "CNC");
        assert!((detail["operations"][0]["run_hours"].as_f64().unwrap() - 6.4).abs() < 1e-9);
        let (st, _) = call(
            &e.app,
            Method::POST,
            &format!("/api/v1/work-orders/{id}/status"),
            &e.planner,
            Some(json!({"status": "completed"})),
        )
        .await;
        assert_eq!(
            st,
            StatusCode::CONFLICT,
            "released cannot jump to completed"
        );
        let (st, d) = call(
            &e.app,
            Method::POST,
            &format!("/api/v1/work-orders/{id}/operations/10/report"),
            &e.planner,
            Some(json!({"good": 7, "scrap": 1})),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{d}");
        assert_eq!(
            (
                d["order"]["status"].as_str(),
                d["operations"][0]["qty_good"].as_f64()
            ),
            (Some("in_progress"), Some(7.0))
        );
        let (st, d) = call(
            &e.app,
            Method::POST,
            &format!("/api/v1/work-orders/{id}/status"),
            &e.planner,
            Some(json!({"status": "completed"})),
        )
        .await;
        assert_eq!(
            (st, d["order"]["status"].as_str()),
            (StatusCode::OK, Some("completed"))
        );
        let (_, list) = call(
            &e.app,
            Method::GET,
            "/api/v1/work-orders?status=completed",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(list["total"], 1);

        let (_, ov) = call(
            &e.app,
            Method::GET,
            "/api/v1/plan/overview",
            &e.viewer,
            None,
        )
        .await;
        let booked: u64 = ov["order_book"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["orders"].as_u64().unwrap())
            .sum();
        assert_eq!(booked, 2, "{ov}");
        assert!(ov["run_at"].is_i64());
    }
}

#[tokio::test]
async fn centres_without_hours_work_the_site_calendar() {
    for db in zhizao_testkit::each_backend().await {
        let store = db.store.clone();
        let e = env(db).await;
        let mut m = master();
        m["work_centres"][1]
            .as_object_mut()
            .unwrap()
            .remove("hours_per_week");
        let (st, body) = call(
            &e.app,
            Method::PUT,
            "/api/v1/plan/master",
            &e.planner,
            Some(m),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let run = json!({"kind": "regenerative", "as_of": day(0, 0), "weeks": 4});
        // No site yet: no calendar to take CNC's hours from.
        let (st, body) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/runs",
            &e.planner,
            Some(run.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "work_centres[1].hours_per_week");

        // Three 8-hour shifts with half-hour breaks every day: 22.5 h a
        // day, 157.5 h a week; a Wednesday holiday in week 2 takes its
        // three shifts away (135 h).
        let site = store
            .create_site(
                e.tenant,
                zhizao_store::NewSite {
                    code: "S1".into(),
                    name: "一厂".into(),
                    timezone: Some("Asia/Shanghai".into()),
                },
            )
            .await
            .unwrap();
        let calendar = zhizao_core::Calendar {
            code: "plant".into(),
            pattern: zhizao_core::ShiftPattern::three_eight(),
            working_weekdays: vec![1, 2, 3, 4, 5, 6, 7],
            holidays: vec![day(2, 2)],
            extra_working_days: Vec::new(),
        };
        store
            .put_site_calendar(e.tenant, site.id, &calendar)
            .await
            .unwrap();
        let (st, body) = call(
            &e.app,
            Method::POST,
            "/api/v1/plan/runs",
            &e.planner,
            Some(run),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let cnc = body["report"]["capacity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == "CNC")
            .unwrap();
        let cap: Vec<f64> = cnc["capacity"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(cap, [157.5, 157.5, 135.0, 157.5]);
        // Centres with their own hours keep them.
        let asm = body["report"]["capacity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == "ASM")
            .unwrap();
        assert_eq!(asm["capacity"][2], 40.0);
    }
}
