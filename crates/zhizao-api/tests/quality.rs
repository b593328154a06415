//! Inspection characteristics, samples and live charts through the API on
//! both backends: a bore diameter in control, its limits frozen, then a
//! drift that trips a run rule and raises an alarm; a counted
//! characteristic; refusals naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{call, env};

fn bore() -> Value {
    json!({
        "code": "BORE-D", "name": "泵体内孔直径", "item": "PB-100", "operation_seq": 20,
        "stage": "ipqc", "chart": "xbar_r", "subgroup_size": 5, "unit": "mm",
        "lsl": 24.97, "usl": 25.03, "target": 25.0,
        "sampling": {"every_minutes": 30}, "gauge": "IM-07", "equipment": "L-TRN-1"
    })
}

/// Five values around `centre`, spread like a turned bore.
fn subgroup(centre: f64, k: usize) -> Vec<f64> {
    let wobble = [-0.004, 0.002, 0.0, 0.003, -0.001];
    (0..5).map(|i| centre + wobble[(i + k) % 5]).collect()
}

#[tokio::test]
async fn characteristics_samples_charts_and_alarms() {
    for db in zhizao_testkit::each_backend().await {
        let e = env(db).await;
        let base = "/api/v1/quality/characteristics";
        e.hub
            .alarms
            .set_rules_from(
                e.tenant,
                vec![zhizao_alarm::Rule {
                    id: "spc".into(),
                    name: "SPC rule violation".into(),
                    severity: zhizao_alarm::Severity::High,
                    condition: zhizao_alarm::Condition::Above {
                        field: "spc_signal".into(),
                        limit: 0.5,
                        deadband: 0.0,
                    },
                    enabled: true,
                    on_delay_s: 0,
                    off_delay_s: 0,
                    sources: None,
                }],
                1,
            )
            .unwrap();

        // Only quality engineers (and admins) change the plan.
        let (st, _) = call(&e.app, Method::POST, base, &e.viewer, Some(bore())).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let mut reversed = bore();
        reversed["lsl"] = json!(25.1);
        let (st, err) = call(&e.app, Method::POST, base, &e.quality, Some(reversed)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["field"], "lsl");
        let mut unknown = bore();
        unknown["colour"] = json!("red");
        let (st, err) = call(&e.app, Method::POST, base, &e.quality, Some(unknown)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        let (st, created) = call(&e.app, Method::POST, base, &e.quality, Some(bore())).await;
        assert_eq!(st, StatusCode::CREATED, "{created}");
        let id = created["id"].as_i64().unwrap();
        assert_eq!(created["status"], "no_data");
        // Sampled every 30 minutes: the first sample is due 30 minutes on.
        assert_eq!(
            created["next_due_at"].as_i64().unwrap(),
            created["created_at"].as_i64().unwrap() + 30 * 60_000
        );
        assert_eq!(created["overdue"], false);
        let (st, _) = call(&e.app, Method::POST, base, &e.quality, Some(bore())).await;
        assert_eq!(st, StatusCode::CONFLICT);

        // Screens hear of every sample at once.
        let mut heard = e.hub.subscribe();
        // Twenty subgroups in control: their means vary about as much as
        // the ranges say, without a run, trend or zig-zag.
        let offsets = [
            0.0015, -0.0006, 0.0021, -0.0018, 0.0003, -0.0012, 0.0009, 0.0016, -0.0024, 0.0002,
            -0.0007, 0.0013, -0.0015, 0.0004, 0.0019, -0.0003, -0.0010, 0.0008, -0.0020, 0.0011,
        ];
        let samples = format!("{base}/{id}/samples");
        for (k, offset) in offsets.iter().enumerate() {
            let centre = 25.0 + offset;
            let (st, r) = call(
                &e.app,
                Method::POST,
                &samples,
                &e.planner,
                Some(json!({"values": subgroup(centre, k), "work_order": "WO-1", "lot": "L-7"})),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED, "{r}");
            assert_eq!(r["out_of_control"], false, "{k}: {r}");
        }
        let first = heard.try_recv().unwrap();
        match &first.message {
            zhizao_live::LiveMessage::QualitySample {
                characteristic_id,
                number,
                out_of_control,
                ..
            } => {
                assert_eq!(
                    (*characteristic_id, *number, *out_of_control),
                    (id, 1, false)
                );
            }
            other => panic!("{other:?}"),
        }
        // Wrong subgroup size and a viewer are refused; nothing is stored.
        let (st, err) = call(
            &e.app,
            Method::POST,
            &samples,
            &e.planner,
            Some(json!({"values": [25.0, 25.1]})),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["field"], "values");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("subgroups of 5")
        );
        let (st, _) = call(
            &e.app,
            Method::POST,
            &samples,
            &e.viewer,
            Some(json!({"values": subgroup(25.0, 0)})),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);

        let (st, chart) = call(
            &e.app,
            Method::GET,
            &format!("{base}/{id}/chart"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(chart["chart"]["limits_kind"], "trial");
        let points = chart["chart"]["points"].as_array().unwrap();
        assert_eq!(points.len(), 20);
        assert_eq!(chart["samples"][0]["lot"], "L-7");
        assert_eq!(chart["samples"][0]["operator"], "planner");
        let cp = chart["chart"]["capability"]["cp"].as_f64().unwrap();
        assert!(cp > 1.0, "{cp}");
        let (st, err) = call(
            &e.app,
            Method::GET,
            &format!("{base}/{id}/chart?last=0"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["field"], "last");

        // Freeze, then drift upwards: the run rule fires and the alarm rises.
        let (st, frozen) = call(
            &e.app,
            Method::PUT,
            &format!("{base}/{id}/limits"),
            &e.quality,
            Some(json!({"last": 20})),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{frozen}");
        let ucl = frozen["limits"]["location"]["ucl"].as_f64().unwrap();
        assert!(ucl > 25.0 && ucl < 25.01, "{ucl}");
        let mut tripped = None;
        for k in 0..9 {
            let (_, r) = call(
                &e.app,
                Method::POST,
                &samples,
                &e.planner,
                Some(json!({"values": subgroup(25.001 + 0.0004 * k as f64, k)})),
            )
            .await;
            if r["out_of_control"] == true {
                tripped = Some((k, r));
                break;
            }
        }
        let (k, r) = tripped.expect("the drift trips a rule");
        assert!(!r["rules"].as_array().unwrap().is_empty(), "{k}: {r}");
        let (_, alarms) = call(&e.app, Method::GET, "/api/v1/alarms", &e.viewer, None).await;
        let active = alarms["active"].as_array().unwrap();
        assert!(
            active
                .iter()
                .any(|a| a["source"] == "L-TRN-1" && a["rule"] == "spc"),
            "{alarms}"
        );
        let (_, chart) = call(
            &e.app,
            Method::GET,
            &format!("{base}/{id}/chart"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(chart["chart"]["limits_kind"], "frozen");
        assert_eq!(chart["characteristic"]["status"], "out_of_control");

        // A counted characteristic on a p chart.
        let p = json!({"code": "SEAL-LEAK", "name": "密封泄漏", "item": "PB-100", "stage": "oqc",
            "chart": "p", "subgroup_size": 50, "sampling": "per_lot"});
        let (st, created) = call(&e.app, Method::POST, base, &e.quality, Some(p)).await;
        assert_eq!(st, StatusCode::CREATED, "{created}");
        let pid = created["id"].as_i64().unwrap();
        let psamples = format!("{base}/{pid}/samples");
        for (count, n) in [(2, 50), (1, 40), (3, 50), (0, 45)] {
            let (st, r) = call(
                &e.app,
                Method::POST,
                &psamples,
                &e.quality,
                Some(json!({"count": count, "sample_size": n})),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED, "{r}");
        }
        let (st, err) = call(
            &e.app,
            Method::POST,
            &psamples,
            &e.quality,
            Some(json!({"count": 60, "sample_size": 50})),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["field"], "count");
        let (_, chart) = call(
            &e.app,
            Method::GET,
            &format!("{base}/{pid}/chart"),
            &e.viewer,
            None,
        )
        .await;
        let pts = chart["chart"]["points"].as_array().unwrap();
        assert_eq!(pts.len(), 4);
        assert!((pts[1]["value"].as_f64().unwrap() - 0.025).abs() < 1e-12);
        // Limits vary with the sample size.
        assert_ne!(pts[0]["limits"]["ucl"], pts[1]["limits"]["ucl"]);

        let (_, list) = call(&e.app, Method::GET, base, &e.viewer, None).await;
        let codes: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, vec!["BORE-D", "SEAL-LEAK"]);
        let (st, _) = call(
            &e.app,
            Method::DELETE,
            &format!("{base}/{pid}"),
            &e.quality,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _) = call(
            &e.app,
            Method::GET,
            &format!("{base}/{pid}"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn nonconformance_reports_walk_the_whole_flow_with_an_audit_trail() {
    for db in zhizao_testkit::each_backend().await {
        let e = env(db).await;
        // A second quality engineer approves what the first proposes.
        e.store
            .create_user(
                e.tenant,
                "quality2",
                "password-quality2",
                zhizao_core::Role::Quality,
            )
            .await
            .unwrap();
        let (_, login) = call(
            &e.app,
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"username": "quality2", "password": "password-quality2"})),
        )
        .await;
        let q2 = login["token"].as_str().unwrap().to_owned();
        let (st, _) = call(
            &e.app,
            Method::POST,
            "/api/v1/quality/characteristics",
            &e.quality,
            Some(bore()),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);

        let base = "/api/v1/quality/ncrs";
        let report = json!({"title": "泵壳内孔超上限", "item": "CASING-50", "quantity": 12,
            "work_order": "WO-7", "operation_seq": 10, "equipment": "TRN-01", "lot": "LCAS-003",
            "characteristic": "BORE-D", "sample_number": 31});
        // Bad input is named; a viewer may not report.
        let mut bad = report.clone();
        bad["quantity"] = json!(0);
        let (st, err) = call(&e.app, Method::POST, base, &e.planner, Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["field"], "quantity");
        let mut unknown = report.clone();
        unknown["characteristic"] = json!("NOPE");
        let (st, err) = call(&e.app, Method::POST, base, &e.planner, Some(unknown)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["field"], "characteristic");
        let (st, _) = call(&e.app, Method::POST, base, &e.viewer, Some(report.clone())).await;
        assert_eq!(st, StatusCode::FORBIDDEN);

        // A planner (anyone on the floor) records it; quality works it.
        let (st, ncr) = call(&e.app, Method::POST, base, &e.planner, Some(report)).await;
        assert_eq!(st, StatusCode::CREATED, "{ncr}");
        assert_eq!(ncr["number"], "NCR-0001");
        assert_eq!(ncr["status"], "open");
        let id = ncr["id"].as_i64().unwrap();
        let act = format!("{base}/{id}/actions");
        let (st, err) = call(
            &e.app,
            Method::POST,
            &act,
            &e.planner,
            Some(json!({"action": "contain", "containment": "隔离", "quantity_held": 12})),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{err}");
        let (st, err) = call(
            &e.app,
            Method::POST,
            &act,
            &e.quality,
            Some(json!({"action": "verify", "effective": true, "note": "x"})),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT, "{err}");
        assert_eq!(err["error"]["code"], "wrong_state");

        let steps = [
            (
                &e.quality,
                json!({"action": "contain", "containment": "隔离在制品 12 件，挂红牌", "quantity_held": 12}),
            ),
            (
                &e.quality,
                json!({"action": "propose_disposition", "lines": [
                {"decision": "rework", "quantity": 10}, {"decision": "scrap", "quantity": 2}]}),
            ),
            (
                &q2,
                json!({"action": "approve_disposition", "comment": "同意"}),
            ),
            (
                &e.quality,
                json!({"action": "record_root_cause", "category": "machine",
                "whys": ["内孔尺寸漂移", "刀具磨损", "换刀周期按班次而非件数"], "summary": "换刀周期过长"}),
            ),
            (
                &e.quality,
                json!({"action": "add_action", "kind": "corrective",
                "description": "换刀周期改为每 20 件", "owner": "王工", "due": "2026-12-05"}),
            ),
            (
                &e.quality,
                json!({"action": "add_action", "kind": "preventive",
                "description": "刀具寿命监控加入 SPC", "owner": "李工", "due": "2026-12-20"}),
            ),
            (&e.quality, json!({"action": "complete_action", "index": 0})),
            (
                &e.quality,
                json!({"action": "complete_action", "index": 1, "note": "已上线"}),
            ),
            (
                &q2,
                json!({"action": "verify", "effective": true, "note": "连续 3 班受控"}),
            ),
        ];
        let mut last = Value::Null;
        for (token, body) in steps {
            let (st, r) = call(&e.app, Method::POST, &act, token, Some(body.clone())).await;
            assert_eq!(st, StatusCode::OK, "{body}: {r}");
            last = r;
        }
        assert_eq!(last["status"], "closed");
        assert_eq!(last["disposition"]["approved_by"], "quality2");
        assert_eq!(last["root_cause"]["category"], "machine");
        let trail: Vec<&str> = last["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(trail.len(), 10, "{trail:?}");
        assert_eq!(trail[0], "record");
        assert_eq!(trail[3], "approve_disposition");
        assert_eq!(last["events"][3]["by_user"], "quality2");
        assert_eq!(last["events"][9]["to_status"], "closed");

        // The proposer may not approve their own disposition.
        let (_, second) = call(
            &e.app,
            Method::POST,
            base,
            &e.quality,
            Some(json!({"title": "焊缝气孔", "item": "COL-WELD-400", "quantity": 3})),
        )
        .await;
        let act2 = format!("{base}/{}/actions", second["id"]);
        call(
            &e.app,
            Method::POST,
            &act2,
            &e.quality,
            Some(json!({"action": "contain", "containment": "hold", "quantity_held": 3})),
        )
        .await;
        let (st, r) = call(&e.app, Method::POST, &act2, &e.quality, Some(json!({"action": "propose_disposition", "lines": [{"decision": "rework", "quantity": 2}]}))).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("cover 2"));
        call(&e.app, Method::POST, &act2, &e.quality, Some(json!({"action": "propose_disposition", "lines": [{"decision": "repair", "quantity": 3}]}))).await;
        let (st, _) = call(
            &e.app,
            Method::POST,
            &act2,
            &e.quality,
            Some(json!({"action": "approve_disposition"})),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);

        // Photos: images only, kept with the report; none once it is closed.
        let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[7u8; 64]].concat();
        let photos = format!("{base}/{}/photos", second["id"]);
        let r = support::send(
            &e.app,
            Method::POST,
            &format!("{photos}?name=weld.png"),
            &e.planner,
            Some("image/png"),
            png.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        assert_eq!(r.json["content_type"], "image/png");
        let r2 = support::send(
            &e.app,
            Method::GET,
            &format!("{photos}/{}", r.json["id"]),
            &e.viewer,
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(r2.status, StatusCode::OK);
        assert_eq!(r2.bytes, png);
        let r3 = support::send(
            &e.app,
            Method::POST,
            &photos,
            &e.planner,
            Some("image/png"),
            b"not an image".to_vec(),
        )
        .await;
        assert_eq!(r3.status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, with) = call(
            &e.app,
            Method::GET,
            &format!("{base}/{}", second["id"]),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(with["photos"][0]["name"], "weld.png");
        assert!(
            with["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|ev| ev["action"] == "add_photo")
        );
        let r4 = support::send(
            &e.app,
            Method::POST,
            &format!("{base}/{id}/photos"),
            &e.planner,
            Some("image/png"),
            png,
        )
        .await;
        assert_eq!(
            r4.status,
            StatusCode::CONFLICT,
            "a closed report takes no photos"
        );

        let (_, page) = call(
            &e.app,
            Method::GET,
            &format!("{base}?status=closed"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(page["total"], 1);
        assert_eq!(page["items"][0]["number"], "NCR-0001");
        let (_, page) = call(&e.app, Method::GET, base, &e.viewer, None).await;
        assert_eq!(page["total"], 2);
        assert_eq!(page["items"][0]["number"], "NCR-0002");
        let (st, err) = call(
            &e.app,
            Method::GET,
            &format!("{base}?status=lost"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["field"], "status");
    }
}

#[tokio::test]
async fn traceability_answers_backward_and_forward() {
    for db in zhizao_testkit::each_backend().await {
        let e = env(db).await;
        let base = "/api/v1/quality/trace";
        let rec = |body: Value| {
            let app = e.app.clone();
            let token = e.planner.clone();
            async move { call(&app, Method::POST, base, &token, Some(body)).await }
        };
        // Two casings machined from one received casting lot; a shaft from bar stock.
        for (cas, shaft) in [("CAS-001", "SH-001"), ("CAS-002", "SH-002")] {
            let (st, r) = rec(json!({"output": {"code": cas, "kind": "serial", "item": "CASING-50"},
                "inputs": [{"code": "HT250-L7", "kind": "lot", "item": "CASTING-HT250-50", "quantity": 1}],
                "operation_seq": 10})).await;
            assert_eq!(st, StatusCode::CREATED, "{r}");
            let (st, r) = rec(
                json!({"output": {"code": shaft, "kind": "serial", "item": "SHAFT-304"},
                "inputs": [{"code": "BAR-304-L2", "kind": "lot", "item": "BAR-304"}]}),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED, "{r}");
        }
        for (pump, cas, shaft) in [
            ("QJ50-0001", "CAS-001", "SH-001"),
            ("QJ50-0002", "CAS-002", "SH-002"),
        ] {
            let (st, r) = rec(json!({"output": {"code": pump, "kind": "serial", "item": "QJ-50", "work_order": "WO-9"},
                "inputs": [{"code": cas}, {"code": shaft}], "operation_seq": 10})).await;
            assert_eq!(st, StatusCode::CREATED, "{r}");
        }
        // Backward from a pump: its casing and shaft, and their lots.
        let (st, g) = call(
            &e.app,
            Method::GET,
            &format!("{base}/QJ50-0001"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{g}");
        let codes: Vec<(&str, i64)> = g["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (u["code"].as_str().unwrap(), u["depth"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("QJ50-0001", 0),
                ("CAS-001", 1),
                ("SH-001", 1),
                ("BAR-304-L2", 2),
                ("HT250-L7", 2)
            ]
        );
        assert_eq!(g["links"].as_array().unwrap().len(), 4);
        // Forward from the casting lot: both casings and both pumps.
        let (_, g) = call(
            &e.app,
            Method::GET,
            &format!("{base}/HT250-L7?direction=forward"),
            &e.viewer,
            None,
        )
        .await;
        let mut reached: Vec<&str> = g["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["code"].as_str().unwrap())
            .collect();
        reached.sort();
        assert_eq!(
            reached,
            vec!["CAS-001", "CAS-002", "HT250-L7", "QJ50-0001", "QJ50-0002"]
        );
        let (_, g) = call(
            &e.app,
            Method::GET,
            &format!("{base}/HT250-L7?direction=forward&limit=2"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(g["truncated"], true);
        assert_eq!(g["units"].as_array().unwrap().len(), 2);

        // Refusals: unknown input, a loop, a unit of another item, bad query.
        let (st, err) = rec(
            json!({"output": {"code": "QJ50-0003", "kind": "serial", "item": "QJ-50"},
            "inputs": [{"code": "CAS-404"}]}),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], "inputs[0].code");
        let (st, err) = rec(
            json!({"output": {"code": "CAS-001", "kind": "serial", "item": "CASING-50"},
            "inputs": [{"code": "QJ50-0001"}]}),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains("loop"),
            "{err}"
        );
        let (st, err) = rec(json!({"output": {"code": "CAS-001", "kind": "serial", "item": "SHAFT-304"}, "inputs": []})).await;
        assert_eq!(st, StatusCode::CONFLICT, "{err}");
        assert_eq!(err["error"]["field"], "output.code");
        let (st, _) = call(
            &e.app,
            Method::GET,
            &format!("{base}/NOPE"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, err) = call(
            &e.app,
            Method::GET,
            &format!("{base}/HT250-L7?direction=up"),
            &e.viewer,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["field"], "direction");
        let (st, _) = call(
            &e.app,
            Method::POST,
            base,
            &e.viewer,
            Some(json!({"output": {"code": "X", "kind": "lot", "item": "Y"}})),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn quality_figures_from_reports_and_reported_quantities() {
    for db in zhizao_testkit::each_backend().await {
        let e = env(db).await;
        // One order of 100 casings through turning (10 scrapped) and
        // machining (4 scrapped of the 90 left).
        let orders = e
            .store
            .create_work_orders(
                e.tenant,
                &[zhizao_store::NewWorkOrder {
                    item: "CASING-50".into(),
                    quantity: 100.0,
                    release_date: "2026-11-30".into(),
                    due_date: "2026-12-04".into(),
                    pegs: String::new(),
                    operations: vec![
                        (10, "L-TRN".into(), 0.5, 8.0),
                        (20, "L-MC".into(), 0.5, 6.0),
                    ],
                }],
            )
            .await
            .unwrap();
        let wo = orders[0].id;
        e.store
            .report_work_order_operation(e.tenant, wo, 10, 90.0, 10.0)
            .await
            .unwrap();
        e.store
            .report_work_order_operation(e.tenant, wo, 20, 86.0, 4.0)
            .await
            .unwrap();
        // Costs: a viewer may not set them; negative costs are refused.
        let costs = json!({"items": {"CASING-50": {"unit_cost": 320.0, "rework_cost": 40.0}}});
        let (st, _) = call(
            &e.app,
            Method::PUT,
            "/api/v1/quality/costs",
            &e.viewer,
            Some(costs.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let bad = json!({"items": {"CASING-50": {"unit_cost": -1.0, "rework_cost": 40.0}}});
        let (st, err) = call(
            &e.app,
            Method::PUT,
            "/api/v1/quality/costs",
            &e.quality,
            Some(bad),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["error"]["field"], "items.CASING-50.unit_cost");
        let (st, _) = call(
            &e.app,
            Method::PUT,
            "/api/v1/quality/costs",
            &e.quality,
            Some(costs),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        // A report decided as 3 reworked and 2 scrapped, and one open.
        let base = "/api/v1/quality/ncrs";
        let (_, r) = call(
            &e.app,
            Method::POST,
            base,
            &e.quality,
            Some(json!({"title": "内孔超差", "item": "CASING-50", "quantity": 5})),
        )
        .await;
        let act = format!("{base}/{}/actions", r["id"]);
        call(
            &e.app,
            Method::POST,
            &act,
            &e.quality,
            Some(json!({"action": "contain", "containment": "hold", "quantity_held": 5})),
        )
        .await;
        call(&e.app, Method::POST, &act, &e.quality, Some(json!({"action": "propose_disposition",
            "lines": [{"decision": "rework", "quantity": 3}, {"decision": "scrap", "quantity": 2}]}))).await;
        e.store
            .create_user(e.tenant, "q2", "password-q2", zhizao_core::Role::Admin)
            .await
            .unwrap();
        let (_, login) = call(
            &e.app,
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"username": "q2", "password": "password-q2"})),
        )
        .await;
        let (st, r) = call(
            &e.app,
            Method::POST,
            &act,
            login["token"].as_str().unwrap(),
            Some(json!({"action": "approve_disposition"})),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{r}");
        call(
            &e.app,
            Method::POST,
            &act,
            &e.quality,
            Some(json!({"action": "record_root_cause",
            "whys": ["刀具磨损"], "category": "machine", "summary": "换刀周期过长"})),
        )
        .await;
        call(
            &e.app,
            Method::POST,
            base,
            &e.planner,
            Some(json!({"title": "毛刺", "item": "SHAFT-304", "quantity": 2})),
        )
        .await;

        let (st, k) = call(&e.app, Method::GET, "/api/v1/quality/kpis", &e.viewer, None).await;
        assert_eq!(st, StatusCode::OK, "{k}");
        let casing = &k["by_item"][0];
        assert_eq!(casing["item"], "CASING-50");
        assert!((casing["steps"][0]["fpy"].as_f64().unwrap() - 0.9).abs() < 1e-12);
        let rty = 0.9 * (86.0 / 90.0);
        assert!(
            (casing["rty"].as_f64().unwrap() - rty).abs() < 1e-12,
            "{casing}"
        );
        // Scrap: 14 on the order and 2 decided, at 320; rework 3 at 40.
        assert!(
            (k["cost"]["scrap"].as_f64().unwrap() - 16.0 * 320.0).abs() < 1e-9,
            "{}",
            k["cost"]
        );
        assert!((k["cost"]["rework"].as_f64().unwrap() - 120.0).abs() < 1e-9);
        assert_eq!(k["pareto_by_item"][0]["key"], "CASING-50");
        assert!((k["pareto_by_item"][0]["cumulative"].as_f64().unwrap() - 5.0 / 7.0).abs() < 1e-12);
        assert_eq!(k["pareto_by_cause"][0]["key"], "machine");
        assert_eq!(k["open_reports"], 2);
    }
}

#[tokio::test]
async fn samples_import_from_csv_keeps_good_rows_and_names_bad_ones() {
    let e = env(zhizao_testkit::sqlite().await).await;
    let (st, c) = call(
        &e.app,
        Method::POST,
        "/api/v1/quality/characteristics",
        &e.quality,
        Some(bore()),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let csv = "特性,测量值,时间,批次,工单\n\
               BORE-D,25.001 25.002 24.999 25.000 25.003,2026-11-30T08:00:00+08:00,LCAS-001,WO-1\n\
               BORE-D,25.000;25.001;24.998;25.002;25.000,1796000000000,LCAS-001,\n\
               NOPE,25.0 25.0 25.0 25.0 25.0,,,\n\
               BORE-D,25.0 25.0 25.0,,,\n\
               BORE-D,25.0 abc 25.0 25.0 25.0,,,\n\
               BORE-D,25.0 25.0 25.0 25.0 25.0,yesterday,,\n\
               BORE-D,24.999 25.001 25.000 25.002 24.998,,LCAS-002,\n";
    let r = support::send(
        &e.app,
        Method::POST,
        "/api/v1/quality/samples/import",
        &e.planner,
        Some("text/csv"),
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["rows"], 7);
    assert_eq!(r.json["accepted"], 3);
    let rejected: Vec<(i64, &str)> = r.json["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["row"].as_i64().unwrap(), x["column"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (4, "characteristic"),
            (5, "values"),
            (6, "values"),
            (7, "taken_at")
        ]
    );
    let (_, chart) = call(
        &e.app,
        Method::GET,
        &format!("/api/v1/quality/characteristics/{}/chart", c["id"]),
        &e.viewer,
        None,
    )
    .await;
    let samples = chart["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 3);
    assert_eq!(samples[0]["lot"], "LCAS-001");
    assert_eq!(samples[0]["source"], "csv");
    // 08:00 in China is midnight UTC; the second row gave epoch ms.
    assert_eq!(samples[0]["taken_at"], 1_795_996_800_000i64);
    assert_eq!(samples[1]["taken_at"], 1_796_000_000_000i64);
    // A file without the characteristic column is refused as a whole.
    let r = support::send(
        &e.app,
        Method::POST,
        "/api/v1/quality/samples/import",
        &e.planner,
        Some("text/csv"),
        b"values\n1 2 3\n".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["error"]["field"], "characteristic");
}
