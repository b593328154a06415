//! Rollups, merging and retention: whatever the history of writes,
//! rewrites, flushes, crashes and merges, an aggregate read through the
//! rollups equals the same aggregate recomputed from the raw points.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use proptest::prelude::*;
use zhizao_tsdb::{Aggregate, Point, Query, Retention, Tsdb, TsdbConfig, Value, ValueFilter};

const S: i64 = 1_000_000_000;
const DEVICES: [&str; 2] = ["m1", "m2"];

fn point(device: &str, field: &str, ts: i64, value: Value) -> Point {
    Point {
        measurement: "telemetry".into(),
        tags: Arc::new(vec![("device".into(), device.into())]),
        field: field.into(),
        ts,
        value,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn config(dir: &std::path::Path) -> TsdbConfig {
    let mut c = TsdbConfig::new(dir);
    c.flush_points = 60;
    c.compact_small_rows = 4000;
    c.compact_min_files = 2;
    c
}

#[derive(Debug, Clone)]
enum Op {
    /// (device, second, value)
    Write(Vec<(usize, i64, i32)>),
    Flush,
    Crash,
    Upkeep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((0..2usize, 0..12_000i64, -50..50i32), 1..80).prop_map(Op::Write),
        // Mostly in order, as a plant writes: a run of seconds from a start.
        4 => (0..2usize, 0..11_000i64, 1..200i64, -50..50i32).prop_map(|(d, t0, n, v)| {
            Op::Write((0..n).map(|k| (d, t0 + k, v + (k % 7) as i32)).collect())
        }),
        1 => Just(Op::Flush),
        1 => Just(Op::Crash),
        1 => Just(Op::Upkeep),
    ]
}

/// The model: every point, by (field, device, second).
type Model = BTreeMap<(&'static str, usize, i64), f64>;

#[derive(Debug, Clone)]
struct Check {
    field: &'static str,
    agg: Aggregate,
    every: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
    group: bool,
    gt: Option<f64>,
}

fn check() -> impl Strategy<Value = Check> {
    let aggs = prop::sample::select(vec![
        Aggregate::Count,
        Aggregate::Sum,
        Aggregate::Mean,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::First,
        Aggregate::Last,
    ]);
    let every = prop::sample::select(vec![
        None,
        Some(60),
        Some(300),
        Some(3600),
        Some(7200),
        Some(45),
    ]);
    (
        prop::sample::select(vec!["temp", "count"]),
        aggs,
        every,
        -200..12_500i64,
        1..13_000i64,
        any::<bool>(),
        prop::option::of(-30..30i32),
        any::<bool>(),
    )
        .prop_map(|(field, agg, every, start, len, group, gt, open)| Check {
            field,
            agg,
            every,
            start: (!open || every.is_some()).then_some(start * S + 7),
            end: (!open || every.is_some()).then_some((start + len) * S),
            group,
            gt: gt.map(f64::from),
        })
}

/// The aggregate recomputed from the model, as the API would return it:
/// (group device or "", bucket or selected time) → value.
fn expected(model: &Model, c: &Check) -> BTreeMap<(String, i64), f64> {
    let start = c.start.unwrap_or(i64::MIN);
    let end = c.end.unwrap_or(i64::MAX);
    type Points = Vec<(i64, usize, f64)>;
    let mut groups: BTreeMap<(String, i64), Points> = BTreeMap::new();
    for ((f, d, t), v) in model {
        let ts = t * S;
        if *f != c.field || ts < start || ts >= end || c.gt.is_some_and(|g| *v <= g) {
            continue;
        }
        let bucket = match c.every {
            None => c.start.unwrap_or(0),
            Some(e) => {
                let e = e * S;
                ts.div_euclid(e) * e
            }
        };
        let g = if c.group {
            DEVICES[*d].to_owned()
        } else {
            String::new()
        };
        groups.entry((g, bucket)).or_default().push((ts, *d, *v));
    }
    groups
        .into_iter()
        .map(|((g, bucket), mut pts)| {
            pts.sort_by_key(|p| (p.0, p.1));
            let vals: Vec<f64> = pts.iter().map(|p| p.2).collect();
            let (ts, v) = match c.agg {
                Aggregate::Count => (bucket, vals.len() as f64),
                Aggregate::Sum => (bucket, vals.iter().sum()),
                Aggregate::Mean => (bucket, vals.iter().sum::<f64>() / vals.len() as f64),
                Aggregate::Min => (bucket, vals.iter().cloned().fold(f64::INFINITY, f64::min)),
                Aggregate::Max => (
                    bucket,
                    vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                ),
                // Ties: first keeps the earlier series, last the later.
                Aggregate::First => {
                    let p = pts.iter().min_by_key(|p| (p.0, p.1)).unwrap();
                    (p.0, p.2)
                }
                Aggregate::Last => {
                    let p = pts.iter().max_by_key(|p| (p.0, p.1)).unwrap();
                    (p.0, p.2)
                }
            };
            let ts = if c.every.is_some() { bucket } else { ts };
            ((g, ts), v)
        })
        .collect()
}

fn got(db: &Tsdb, c: &Check) -> BTreeMap<(String, i64), Value> {
    let q = Query {
        measurement: "telemetry".into(),
        fields: vec![c.field.into()],
        start: c.start,
        end: c.end,
        aggregate: Some(c.agg),
        every: c.every.map(|e| e * S),
        group_by: if c.group {
            vec!["device".into()]
        } else {
            vec![]
        },
        value: c.gt.map(|g| ValueFilter {
            gt: Some(g),
            ..ValueFilter::default()
        }),
        ..Query::default()
    };
    let r = db.query(1, &q).unwrap();
    let mut out = BTreeMap::new();
    for s in r.series {
        let g = s.tags.get("device").cloned().unwrap_or_default();
        for (t, v) in s.points {
            out.insert((g.clone(), t), v.unwrap());
        }
    }
    out
}

fn same(
    c: &Check,
    got: &BTreeMap<(String, i64), Value>,
    want: &BTreeMap<(String, i64), f64>,
) -> Result<(), String> {
    let gk: Vec<_> = got.keys().collect();
    let wk: Vec<_> = want.keys().collect();
    if c.every.is_none() && !matches!(c.agg, Aggregate::First | Aggregate::Last) {
        // One value per group; its time is the range start.
        if gk.len() != wk.len() {
            return Err(format!("{c:?}: groups {gk:?} vs {wk:?}"));
        }
    } else if gk != wk {
        return Err(format!("{c:?}: keys {gk:?} vs {wk:?}"));
    }
    for ((g, v), (_, w)) in got.iter().zip(want.iter()) {
        let x = v.as_f64().unwrap();
        if c.field == "count"
            && matches!(c.agg, Aggregate::First | Aggregate::Last)
            && !matches!(v, Value::I64(_))
        {
            return Err(format!(
                "{c:?}: an integer field's {:?} came back as {v:?}",
                c.agg
            ));
        }
        if (x - w).abs() > 1e-9 * w.abs().max(1.0) {
            return Err(format!("{c:?}: {g:?} got {x}, recomputed {w}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn rollups_equal_aggregates_recomputed_from_raw(
        ops in prop::collection::vec(op(), 1..25),
        checks in prop::collection::vec(check(), 12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rt = rt();
        let mut db = Tsdb::open(config(dir.path())).unwrap();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Write(pts) => {
                    let mut batch = Vec::new();
                    for (d, t, v) in pts {
                        let temp = f64::from(v) / 4.0;
                        batch.push(point(DEVICES[d], "temp", t * S, Value::F64(temp)));
                        batch.push(point(DEVICES[d], "count", t * S, Value::I64(i64::from(v))));
                        model.insert(("temp", d, t), temp);
                        model.insert(("count", d, t), f64::from(v));
                    }
                    let out = rt.block_on(db.write(1, batch)).unwrap();
                    prop_assert!(out.rejected.is_empty());
                }
                Op::Flush => rt.block_on(db.flush()).unwrap(),
                Op::Upkeep => { rt.block_on(db.upkeep()).unwrap(); }
                Op::Crash => {
                    drop(db);
                    db = Tsdb::open(config(dir.path())).unwrap();
                }
            }
        }
        for c in &checks {
            let want = expected(&model, c);
            let have = got(&db, c);
            if let Err(e) = same(c, &have, &want) {
                prop_assert!(false, "{}", e);
            }
        }
    }
}

#[test]
fn merging_small_files_keeps_every_answer_and_survives_a_crash_midway() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let db = Tsdb::open(config(dir.path())).unwrap();
    let mut model = Model::new();
    for chunk in 0..8 {
        let mut batch = Vec::new();
        for t in chunk * 100..(chunk + 1) * 100 {
            for (d, dev) in DEVICES.iter().enumerate() {
                let v = ((t * 7 + d as i64 * 3) % 41 - 20) as f64;
                batch.push(point(dev, "temp", t * 30 * S, Value::F64(v)));
                model.insert(("temp", d, t * 30), v);
            }
        }
        rt.block_on(db.write(1, batch)).unwrap();
        rt.block_on(db.flush()).unwrap();
    }
    let before = db.stats();
    assert_eq!(before.segments, 8);
    let checks: Vec<Check> = [
        Aggregate::Mean,
        Aggregate::Count,
        Aggregate::Max,
        Aggregate::Last,
    ]
    .into_iter()
    .flat_map(|agg| {
        [None, Some(3600)].into_iter().map(move |every| Check {
            field: "temp",
            agg,
            every,
            start: Some(100 * S),
            end: Some(20_000 * S),
            group: true,
            gt: None,
        })
    })
    .collect();
    let answers: Vec<_> = checks.iter().map(|c| got(&db, c)).collect();
    for (c, a) in checks.iter().zip(&answers) {
        same(c, a, &expected(&model, c)).unwrap();
    }
    // Keep copies of the inputs, to put back as a crash midway would leave them.
    let inputs: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    let done = rt.block_on(db.upkeep()).unwrap();
    assert_eq!(done.segments_merged, 8, "{done:?}");
    let after = db.stats();
    assert_eq!(after.segments, 1);
    assert_eq!(after.segment_rows, before.segment_rows);
    assert!(after.rollup_files < before.rollup_files, "{after:?}");
    for (c, a) in checks.iter().zip(&answers) {
        assert_eq!(&got(&db, c), a, "{c:?} after merging");
    }
    drop(db);
    let seg_inputs = inputs
        .iter()
        .filter(|(p, _)| p.file_name().unwrap().to_string_lossy().starts_with("seg-"));
    assert!(
        seg_inputs.clone().all(|(p, _)| !p.exists()),
        "merged inputs are deleted"
    );
    assert_eq!(seg_inputs.count(), 8);
    for (p, bytes) in &inputs {
        std::fs::write(p, bytes).unwrap();
    }
    let db = Tsdb::open(config(dir.path())).unwrap();
    let st = db.stats();
    assert_eq!((st.segments, st.segment_rows), (1, before.segment_rows));
    for (c, a) in checks.iter().zip(&answers) {
        assert_eq!(&got(&db, c), a, "{c:?} after reopening over leftovers");
    }
}

#[test]
fn a_segment_without_rollups_gets_them_back_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let db = Tsdb::open(config(dir.path())).unwrap();
    let batch = (0..500)
        .map(|t| point("m1", "temp", t * 10 * S, Value::F64((t % 13) as f64)))
        .collect();
    rt.block_on(db.write(1, batch)).unwrap();
    rt.block_on(db.flush()).unwrap();
    let c = Check {
        field: "temp",
        agg: Aggregate::Sum,
        every: Some(600),
        start: Some(0),
        end: Some(5000 * S),
        group: false,
        gt: None,
    };
    let before = got(&db, &c);
    drop(db);
    let rollup = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("rol-"))
        .unwrap();
    std::fs::remove_file(rollup.path()).unwrap();
    let db = Tsdb::open(config(dir.path())).unwrap();
    assert_eq!(db.stats().rollup_files, 1);
    assert_eq!(got(&db, &c), before);
}

static NOW: AtomicI64 = AtomicI64::new(0);
fn test_clock() -> i64 {
    NOW.load(Ordering::SeqCst)
}

#[test]
fn retention_drops_raw_first_and_keeps_hourly_rollups() {
    const DAY: i64 = 86_400 * S;
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    NOW.store(10 * DAY, Ordering::SeqCst);
    let mut cfg = config(dir.path());
    cfg.clock = test_clock;
    cfg.retention = Retention {
        raw: Some(2 * DAY),
        minute: Some(5 * DAY),
        hour: None,
    };
    let db = Tsdb::open(cfg.clone()).unwrap();
    // Too old for the raw tier: refused with the reason.
    let out = rt
        .block_on(db.write(1, vec![point("m1", "temp", 7 * DAY, Value::F64(1.0))]))
        .unwrap();
    assert_eq!(out.accepted, 0);
    assert!(
        out.rejected[0].1.contains("retention"),
        "{:?}",
        out.rejected
    );
    // Day 9, one point a minute, all 2.0.
    let batch = (0..1440)
        .map(|m| point("m1", "temp", 9 * DAY + m * 60 * S, Value::F64(2.0)))
        .collect();
    rt.block_on(db.write(1, batch)).unwrap();
    rt.block_on(db.flush()).unwrap();
    let raw = Query {
        measurement: "telemetry".into(),
        start: Some(9 * DAY),
        end: Some(10 * DAY),
        limit: Some(5000),
        ..Query::default()
    };
    let hourly_count = Query {
        aggregate: Some(Aggregate::Count),
        every: Some(3600 * S),
        ..raw.clone()
    };
    let minute_count = Query {
        every: Some(60 * S),
        ..hourly_count.clone()
    };
    let points = |q: &Query| -> usize {
        db.query(1, q)
            .unwrap()
            .series
            .iter()
            .map(|s| s.points.len())
            .sum()
    };
    assert_eq!(points(&raw), 1440);
    assert_eq!(points(&minute_count), 1440);
    // Four days on: raw has expired, minutes and hours remain.
    NOW.store(14 * DAY, Ordering::SeqCst);
    let done = rt.block_on(db.upkeep()).unwrap();
    assert!(done.files_expired >= 1, "{done:?}");
    assert_eq!(db.stats().segments, 0);
    assert_eq!(points(&raw), 0);
    assert_eq!(points(&minute_count), 1440);
    let r = db.query(1, &hourly_count).unwrap();
    assert_eq!(r.series[0].points.len(), 24);
    assert!(
        r.series[0]
            .points
            .iter()
            .all(|p| p.1 == Some(Value::I64(60)))
    );
    // Ten days on: minutes have expired too; hours are kept forever.
    NOW.store(20 * DAY, Ordering::SeqCst);
    rt.block_on(db.upkeep()).unwrap();
    assert_eq!(points(&minute_count), 0);
    assert_eq!(points(&hourly_count), 24);
    // And after a restart.
    drop(db);
    let db = Tsdb::open(cfg).unwrap();
    assert_eq!(
        db.query(1, &hourly_count).unwrap().series[0].points.len(),
        24
    );
}
