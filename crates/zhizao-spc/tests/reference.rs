//! Every case of `spc-cases.json` within its tolerance. Reads the shared
//! reference copy when it is there, else the copy kept in `tests/fixtures`.
//!
//! Nested objects (`xbar`, `r`, …) must carry exactly the expected keys, so
//! a checker comparing whole objects accepts them too; at the top level of
//! a case extra results are allowed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn cases() -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../../../shared/reference/spc-cases.json");
    let local = root.join("tests/fixtures/spc-cases.json");
    let path = if shared.exists() { shared } else { local };
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Compares `have` with `want`; returns the number of leaf values checked.
fn compare(path: &str, have: &Value, want: &Value, tol: f64, top: bool) -> usize {
    match (have, want) {
        (Value::Number(h), Value::Number(w)) => {
            let (h, w) = (h.as_f64().unwrap(), w.as_f64().unwrap());
            assert!((h - w).abs() <= tol, "{path}: {h} against {w} (± {tol})");
            1
        }
        (Value::Array(h), Value::Array(w)) => {
            assert_eq!(
                h.len(),
                w.len(),
                "{path}: {} values against {}",
                h.len(),
                w.len()
            );
            h.iter()
                .zip(w)
                .enumerate()
                .map(|(i, (h, w))| compare(&format!("{path}[{i}]"), h, w, tol, false))
                .sum()
        }
        (Value::Object(h), Value::Object(w)) => {
            if !top {
                let mut hk: Vec<_> = h.keys().collect();
                let mut wk: Vec<_> = w.keys().collect();
                hk.sort();
                wk.sort();
                assert_eq!(hk, wk, "{path}: keys differ");
            }
            w.iter()
                .map(|(k, wv)| {
                    let hv = h.get(k).unwrap_or_else(|| panic!("{path}.{k}: missing"));
                    compare(&format!("{path}.{k}"), hv, wv, tol, false)
                })
                .sum()
        }
        (h, w) => {
            assert_eq!(h, w, "{path}");
            1
        }
    }
}

#[test]
fn every_reference_case_within_its_tolerance() {
    let doc = cases();
    let got = zhizao_spc::analyze(&doc).unwrap();
    let mut checked = 0;
    let list = doc["cases"].as_array().unwrap();
    for case in list {
        let id = case["id"].as_str().unwrap();
        let tol = match &case["tolerance"] {
            t if t["exact"] == Value::Bool(true) => 0.0,
            t => t["abs"].as_f64().unwrap_or(1e-6),
        };
        checked += compare(id, &got[id], &case["expected"], tol, true);
    }
    assert_eq!(got.len(), list.len());
    assert!(checked >= 300, "only {checked} values checked");
}

#[test]
fn each_case_alone_gives_the_same_as_in_the_document() {
    let doc = cases();
    let all = zhizao_spc::analyze(&doc).unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let one = zhizao_spc::analyze(case).unwrap();
        let id = case["id"].as_str().unwrap();
        assert_eq!(one[id], all[id], "{id}");
    }
}
