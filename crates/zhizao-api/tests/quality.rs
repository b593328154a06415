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
        let (st, _) = call(&e.app, Method::POST, base, &e.quality, Some(bore())).await;
        assert_eq!(st, StatusCode::CONFLICT);

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
