//! `POST /api/v1/spc/analyze`: every reference case within its tolerance,
//! the same answers as the library, and refusals with the field named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{call, env, send};

fn reference() -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../../../shared/reference/spc-cases.json");
    let file = if shared.exists() {
        shared
    } else {
        root.join("../zhizao-spc/tests/fixtures/spc-cases.json")
    };
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

#[tokio::test]
async fn reference_cases_and_refusals() {
    let e = env(zhizao_testkit::sqlite().await).await;
    let doc = reference();
    let (status, got) = call(
        &e.app,
        Method::POST,
        "/api/v1/spc/analyze",
        &e.viewer,
        Some(doc.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let tol = case["tolerance"]["abs"].as_f64().unwrap_or(0.0);
        checked += zhizao_testkit::json_within(id, &got[id], &case["expected"], tol);
        // One case alone answers under its id too.
        let (status, one) = call(
            &e.app,
            Method::POST,
            "/api/v1/spc/analyze",
            &e.viewer,
            Some(case.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(one[id], got[id]);
    }
    assert!(checked >= 300);

    // Bad input: 422 with the field, nothing else to lose.
    let bad = [
        (
            json!({"chart": "xbar_r", "data": [[1.0, 2.0, 3.0], [1.0, 2.0]]}),
            "data[1]",
            "equal size",
        ),
        (json!({"chart": "imr", "data": []}), "data", "empty"),
        (
            json!({"cases": [{"id": "ok", "chart": "c", "data": {"counts": [1, 2]}},
                             {"id": "b", "chart": "imr", "data": [1.0, "7,2"]}]}),
            "cases[1].data[1]",
            "number",
        ),
        (
            json!({"chart": "capability", "params": {"lsl": 10.0, "usl": 9.0},
                   "data": [1.0, 2.0, 3.0]}),
            "params.lsl",
            "reversed",
        ),
        (
            json!({"chart": "rules", "params": {"center": 0, "sigma": 1, "rules_enabled": [4]},
                   "data": [0.1, -0.2, 0.3]}),
            "params.rules_enabled[0]",
            "14",
        ),
        (
            json!({"chart": "pareto", "data": []}),
            "chart",
            "not a chart",
        ),
    ];
    for (body, field, words) in bad {
        let (status, err) = call(
            &e.app,
            Method::POST,
            "/api/v1/spc/analyze",
            &e.viewer,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_eq!(err["error"]["field"], json!(field), "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
    }
    // Not JSON at all.
    let r = send(
        &e.app,
        Method::POST,
        "/api/v1/spc/analyze",
        &e.viewer,
        Some("application/json"),
        b"{\"chart\":".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
