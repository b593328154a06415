//! Scheduling through the API on both backends: a run places released
//! work orders on the machines of their centres in routing order without
//! overlaps; a breakdown, a rush order and an overrun reschedule; a move
//! is checked (a machine that cannot run it, a start before the operation
//! before it) and repaired around; locks hold through a new run; the
//! dispatch list follows the schedule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Env, call, env};
use zhizao_store::NewWorkOrder;

const MINUTE: i64 = 60_000;

/// Beams cut on one saw (setup 30 min when the item changes) and welded
/// on either of two stations.
fn master() -> Value {
    json!({
        "items": [
            {"code": "BEAM", "name": "钢梁", "kind": "finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}},
            {"code": "COLUMN", "name": "钢柱", "kind": "finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}},
            {"code": "PLATE", "name": "连接板", "kind": "finished", "uom": "pcs", "lead_time_weeks": 1, "lot": {"rule": "lot_for_lot"}}
        ],
        "bom": [],
        "work_centres": [
            {"code": "CUT", "name": "下料", "machines": 1, "hours_per_week": 40, "efficiency": 1},
            {"code": "WLD", "name": "焊接", "machines": 2, "hours_per_week": 40, "efficiency": 1}
        ],
        "routings": [
            {"item": "BEAM", "seq": 10, "work_centre": "CUT", "setup_hours": 0.5, "run_hours_per_unit": 0.5},
            {"item": "BEAM", "seq": 20, "work_centre": "WLD", "run_hours_per_unit": 1},
            {"item": "COLUMN", "seq": 10, "work_centre": "CUT", "setup_hours": 0.5, "run_hours_per_unit": 0.5},
            {"item": "COLUMN", "seq": 20, "work_centre": "WLD", "run_hours_per_unit": 1},
            {"item": "PLATE", "seq": 10, "work_centre": "WLD", "run_hours_per_unit": 1}
        ]
    })
}

fn date(days: i64) -> String {
    let d = zhizao_api::planning::local_date("Asia/Shanghai").unwrap() + time::Duration::days(days);
    zhizao_plan::book::format_date(d)
}

async fn setup(e: &Env) -> Vec<i64> {
    let (st, body) = call(
        &e.app,
        Method::PUT,
        "/api/v1/plan/master",
        &e.planner,
        Some(master()),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let wo = |item: &str, qty: f64, due: i64, ops: Vec<(i64, &str, f64, f64)>| NewWorkOrder {
        item: item.into(),
        quantity: qty,
        release_date: date(0),
        due_date: date(due),
        pegs: "[]".into(),
        operations: ops
            .into_iter()
            .map(|(s, c, su, run)| (s, c.to_owned(), su, run))
            .collect(),
    };
    let orders = vec![
        wo(
            "BEAM",
            4.0,
            1,
            vec![(10, "CUT", 0.5, 2.0), (20, "WLD", 0.0, 4.0)],
        ),
        wo(
            "COLUMN",
            2.0,
            2,
            vec![(10, "CUT", 0.5, 1.0), (20, "WLD", 0.0, 2.0)],
        ),
        wo(
            "BEAM",
            6.0,
            3,
            vec![(10, "CUT", 0.5, 3.0), (20, "WLD", 0.0, 6.0)],
        ),
        wo("PLATE", 5.0, 2, vec![(10, "WLD", 0.0, 5.0)]),
    ];
    e.store
        .create_work_orders(e.tenant, &orders)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect()
}

/// Every operation on a machine of its centre, in routing order, without
/// overlaps (setups included), each machine's setups where the item
/// changes.
fn assert_valid(s: &Value) {
    let ops = s["operations"].as_array().unwrap();
    let mut by_order: HashMap<i64, Vec<&Value>> = HashMap::new();
    let mut by_machine: HashMap<&str, Vec<&Value>> = HashMap::new();
    for o in ops {
        let m = o["machine"].as_str().unwrap();
        assert!(m.starts_with(o["centre"].as_str().unwrap()), "{o}");
        assert!(o["end_ms"].as_i64() > o["start_ms"].as_i64(), "{o}");
        by_order
            .entry(o["work_order_id"].as_i64().unwrap())
            .or_default()
            .push(o);
        by_machine.entry(m).or_default().push(o);
    }
    for list in by_order.values_mut() {
        list.sort_by_key(|o| o["seq"].as_i64());
        for w in list.windows(2) {
            assert!(
                w[1]["start_ms"].as_i64() >= w[0]["end_ms"].as_i64(),
                "{} before {}",
                w[1],
                w[0]
            );
        }
    }
    for list in by_machine.values_mut() {
        list.sort_by_key(|o| o["start_ms"].as_i64());
        for w in list.windows(2) {
            let begins = w[1]["setup_start_ms"]
                .as_i64()
                .unwrap_or(w[1]["start_ms"].as_i64().unwrap());
            assert!(
                begins >= w[0]["end_ms"].as_i64().unwrap(),
                "{} overlaps {}",
                w[1],
                w[0]
            );
            if w[0]["item"] != w[1]["item"] && w[1]["centre"] == "CUT" {
                assert!(
                    w[1]["setup_start_ms"].is_i64(),
                    "a change of item needs a setup: {}",
                    w[1]
                );
            }
        }
    }
}

fn find(s: &Value, wo: i64, seq: i64) -> &Value {
    s["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["work_order_id"] == wo && o["seq"] == seq)
        .unwrap_or_else(|| panic!("no operation {wo}/{seq} in {s}"))
}

#[tokio::test]
async fn runs_events_moves_locks_and_dispatch_lists() {
    for db in zhizao_testkit::each_backend().await {
        let e = env(db).await;
        let ids = setup(&e).await;
        let (st, none) = call(&e.app, Method::GET, "/api/v1/schedule", &e.viewer, None).await;
        assert_eq!((st, none), (StatusCode::OK, Value::Null));
        let run = Some(json!({"time_limit_s": 0.5}));
        let (st, body) = call(
            &e.app,
            Method::POST,
            "/api/v1/schedule/runs",
            &e.viewer,
            run.clone(),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
        let (st, bad) = call(
            &e.app,
            Method::POST,
            "/api/v1/schedule/runs",
            &e.planner,
            Some(json!({"time_limit_s": 0})),
        )
        .await;
        assert_eq!(
            (st, bad["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("time_limit_s"))
        );
        let mut heard = e.hub.subscribe();
        // The schedule versions the live feed announced so far.
        let mut announced = move || {
            std::iter::from_fn(|| heard.try_recv().ok())
                .filter_map(|m| match &m.message {
                    zhizao_live::LiveMessage::Schedule {
                        version, reason, ..
                    } => Some((*version, reason.clone())),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let (st, s) = call(
            &e.app,
            Method::POST,
            "/api/v1/schedule/runs",
            &e.planner,
            run.clone(),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{s}");
        // Open Gantt charts hear of each stored version at once.
        let news = announced();
        assert_eq!(news.len(), 1, "{news:?}");
        assert_eq!(Some(news[0].0), s["id"].as_i64());
        assert_eq!(s["operations"].as_array().unwrap().len(), 7, "{s}");
        let codes: Vec<&str> = s["machines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["CUT-1", "WLD-1", "WLD-2"]);
        assert_eq!(s["orders"].as_array().unwrap().len(), 4);
        assert_valid(&s);
        // Durations: the first BEAM cut is 2 h, its welding 4 h.
        let cut = find(&s, ids[0], 10);
        assert_eq!(
            cut["end_ms"].as_i64().unwrap() - cut["start_ms"].as_i64().unwrap(),
            120 * MINUTE
        );

        // The saw's dispatch list, in order.
        let (st, list) = call(
            &e.app,
            Method::GET,
            "/api/v1/schedule/dispatch?machine=CUT-1",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{list}");
        let starts: Vec<i64> = list["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["start_ms"].as_i64().unwrap())
            .collect();
        assert_eq!(starts.len(), 3);
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
        let (st, _) = call(
            &e.app,
            Method::GET,
            "/api/v1/schedule/dispatch?machine=NOPE-1",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // Moves: onto a machine that cannot run it, before the operation
        // before it ends; then a good one, tried and made.
        let weld = find(&s, ids[2], 20).clone();
        let other = if weld["machine"] == "WLD-1" {
            "WLD-2"
        } else {
            "WLD-1"
        };
        let uri = format!("/api/v1/schedule/operations/{}/20", ids[2]);
        let (st, refused) = call(
            &e.app,
            Method::PATCH,
            &uri,
            &e.planner,
            Some(json!({"machine": "CUT-1", "start_ms": weld["start_ms"]})),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT, "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cannot run on CUT-1"),
            "{refused}"
        );
        let before_cut = find(&s, ids[2], 10)["end_ms"].as_i64().unwrap() - 60 * MINUTE;
        let (st, refused) = call(
            &e.app,
            Method::PATCH,
            &uri,
            &e.planner,
            Some(json!({"machine": other, "start_ms": before_cut})),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT, "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("before the operation before it ends"),
            "{refused}"
        );
        let later = weld["start_ms"].as_i64().unwrap() + 600 * MINUTE;
        let (st, tried) = call(
            &e.app,
            Method::PATCH,
            &uri,
            &e.planner,
            Some(json!({"machine": other, "start_ms": later, "dry_run": true})),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{tried}");
        assert_eq!(tried["id"], 0);
        let moved = find(&tried, ids[2], 20);
        assert_eq!(
            (
                moved["machine"].as_str(),
                moved["start_ms"].as_i64(),
                moved["locked"].as_bool()
            ),
            (Some(other), Some(later), Some(true))
        );
        assert_valid(&tried);
        // Nothing that the move does not push has moved: every other
        // operation keeps its machine, and its start unless it was on the
        // target machine after the new slot.
        for o in s["operations"].as_array().unwrap() {
            if o["work_order_id"] == ids[2] && o["seq"] == 20 {
                continue;
            }
            let now = find(
                &tried,
                o["work_order_id"].as_i64().unwrap(),
                o["seq"].as_i64().unwrap(),
            );
            assert_eq!(now["machine"], o["machine"]);
            if o["machine"] != other || o["end_ms"].as_i64().unwrap() <= later {
                assert_eq!(now["start_ms"], o["start_ms"], "{o} moved to {now}");
            }
        }
        let (_, still) = call(&e.app, Method::GET, "/api/v1/schedule", &e.viewer, None).await;
        assert_eq!(still["id"], s["id"], "a dry run stores nothing");
        let (st, made) = call(
            &e.app,
            Method::PATCH,
            &uri,
            &e.planner,
            Some(json!({"machine": other, "start_ms": later})),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{made}");
        assert!(made["id"].as_i64() > s["id"].as_i64());

        // The lock holds through a new run.
        let (st, s2) = call(
            &e.app,
            Method::POST,
            "/api/v1/schedule/runs",
            &e.planner,
            run.clone(),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{s2}");
        let kept = find(&s2, ids[2], 20);
        assert_eq!(
            (
                kept["machine"].as_str(),
                kept["start_ms"].as_i64(),
                kept["locked"].as_bool()
            ),
            (Some(other), Some(later), Some(true))
        );
        assert_valid(&s2);
        // Another operation moved onto the locked one's slot is refused;
        // the locked one is never pushed aside.
        let mut refused_for_lock = 0;
        for o in s2["operations"].as_array().unwrap() {
            if o["seq"] != 20 || o["work_order_id"] == ids[2] || o["centre"] != kept["centre"] {
                continue;
            }
            let (st, r) = call(
                &e.app,
                Method::PATCH,
                &format!("/api/v1/schedule/operations/{}/20", o["work_order_id"]),
                &e.planner,
                Some(json!({"machine": other, "start_ms": later, "dry_run": true})),
            )
            .await;
            if st == StatusCode::OK {
                let held = find(&r, ids[2], 20);
                assert_eq!(
                    (held["machine"].as_str(), held["start_ms"].as_i64()),
                    (Some(other), Some(later)),
                    "{r}"
                );
            } else {
                assert_eq!(st, StatusCode::CONFLICT, "{r}");
                if r["error"]["message"].as_str().unwrap().contains("overlaps") {
                    refused_for_lock += 1;
                }
            }
        }
        assert!(
            refused_for_lock > 0,
            "no move landed on the locked operation"
        );
        let lock_uri = format!("{uri}/lock");
        let (st, unlocked) = call(
            &e.app,
            Method::PUT,
            &lock_uri,
            &e.planner,
            Some(json!({"locked": false})),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{unlocked}");
        assert_eq!(find(&unlocked, ids[2], 20)["locked"], false);
        let news = announced();
        let last = news.last().expect("the unlock was announced");
        assert_eq!(Some(last.0), unlocked["id"].as_i64());
        assert!(last.1.starts_with("unlock "), "{news:?}");
        // Older versions open as they were stored.
        let first_uri = format!("/api/v1/schedule/versions/{}", s["id"]);
        let (st, first) = call(&e.app, Method::GET, &first_uri, &e.viewer, None).await;
        assert_eq!(st, StatusCode::OK, "{first}");
        assert_eq!(first["id"], s["id"]);
        assert_eq!(first["operations"], s["operations"]);
        let (st, _) = call(
            &e.app,
            Method::GET,
            "/api/v1/schedule/versions/999999",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, bad) = call(
            &e.app,
            Method::GET,
            "/api/v1/schedule/versions/first",
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(
            (st, bad["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("id"))
        );

        // A breakdown of the saw for two hours: nothing cuts then.
        let (st, broken) = call(
            &e.app,
            Method::POST,
            "/api/v1/schedule/events",
            &e.planner,
            Some(json!({"kind": "breakdown", "machine": "CUT-1", "minutes": 120, "note": "锯条断裂"})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{broken}");
        assert_valid(&broken);
        let b = &broken["breakdowns"][0];
        for o in broken["operations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["machine"] == "CUT-1")
        {
            let begins = o["setup_start_ms"]
                .as_i64()
                .unwrap_or(o["start_ms"].as_i64().unwrap());
            assert!(
                o["end_ms"].as_i64() <= b["from_ms"].as_i64()
                    || begins >= b["to_ms"].as_i64().unwrap(),
                "{o} runs in the breakdown {b}"
            );
        }
        let (st, bad) = call(
            &e.app,
            Method::POST,
            "/api/v1/schedule/events",
            &e.planner,
            Some(json!({"kind": "breakdown", "machine": "XX-9", "minutes": 10})),
        )
        .await;
        assert_eq!(
            (st, bad["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("machine"))
        );

        // An overrun of an hour makes that operation an hour longer.
        let first = find(&broken, ids[3], 10).clone();
        let (st, over) = call(
            &e.app,
            Method::POST,
            "/api/v1/schedule/events",
            &e.planner,
            Some(json!({"kind": "overrun", "work_order_id": ids[3], "seq": 10, "minutes": 60})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{over}");
        let longer = find(&over, ids[3], 10);
        let len = |o: &Value| o["end_ms"].as_i64().unwrap() - o["start_ms"].as_i64().unwrap();
        assert_eq!(len(longer), len(&first) + 60 * MINUTE);
        assert_valid(&over);

        // A rush order is weighed ten times.
        let (st, rushed) = call(
            &e.app,
            Method::POST,
            "/api/v1/schedule/events",
            &e.planner,
            Some(json!({"kind": "rush", "work_order_id": ids[2]})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{rushed}");
        let row = rushed["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["work_order_id"] == ids[2])
            .unwrap();
        assert_eq!(row["rush"], true);

        let (_, versions) = call(
            &e.app,
            Method::GET,
            "/api/v1/schedule/versions",
            &e.viewer,
            None,
        )
        .await;
        let reasons: Vec<&str> = versions
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["reason"].as_str().unwrap())
            .collect();
        assert_eq!(reasons.len(), 7, "{reasons:?}");
        assert!(reasons[0].starts_with("rush WO-"), "{reasons:?}");
        assert_eq!(reasons[2], "breakdown CUT-1");
    }
}
