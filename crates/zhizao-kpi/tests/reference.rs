//! Every published worked example in `kpi-cases.json`, within its
//! tolerance. Reads the shared reference copy when it is there, else the
//! copy kept in `tests/fixtures`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn cases() -> Value {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/kpi-cases.json");
    let local =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kpi-cases.json");
    let path = if shared.exists() { shared } else { local };
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn every_reference_case_within_its_tolerance() {
    let doc = cases();
    let got = zhizao_kpi::reference::compute_all(&doc).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let tol = case["tolerance"]["abs"].as_f64().unwrap_or(1e-6);
        for (name, want) in case["expected"].as_object().unwrap() {
            let have = &got[id][name];
            let have = have
                .as_f64()
                .unwrap_or_else(|| panic!("{id}.{name}: no value ({have})"));
            let want = want.as_f64().unwrap();
            assert!(
                (have - want).abs() <= tol,
                "{id}.{name}: {have} against {want} (± {tol})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} values checked");
}

#[test]
fn bad_inputs_name_their_place() {
    let doc: Value = serde_json::json!({"cases": [{"id": "x", "inputs": {"APT": "ten"}}]});
    let e = zhizao_kpi::reference::compute_all(&doc).unwrap_err();
    assert_eq!(e.place, "cases[0].inputs.APT");
    let doc: Value = serde_json::json!({"cases": [{"id": "x", "inputs": {"unit": "fortnights"}}]});
    let e = zhizao_kpi::reference::compute_all(&doc).unwrap_err();
    assert_eq!(e.place, "cases[0].inputs.unit");
    let doc: Value = serde_json::json!({"cases": [{"id": "x", "inputs": {"FE": 1.5}}]});
    assert!(zhizao_kpi::reference::compute_all(&doc).is_err());
}

#[test]
fn what_a_case_does_not_give_stays_unknown() {
    // APT and PBT only: availability is known, setup rate and MTBF are not.
    let doc: Value =
        serde_json::json!({"cases": [{"id": "x", "inputs": {"APT": 300, "PBT": 400}}]});
    let got = zhizao_kpi::reference::compute_all(&doc).unwrap();
    assert_eq!(got["x"]["availability"], 0.75);
    for unknown in [
        "setup_rate",
        "utilization_efficiency",
        "mtbf_operating_time_over_failures",
        "mttr",
        "oee_index",
        "quality_ratio",
    ] {
        assert!(
            got["x"][unknown].is_null(),
            "{unknown}: {}",
            got["x"][unknown]
        );
    }
}
