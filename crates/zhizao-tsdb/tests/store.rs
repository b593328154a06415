//! The store as a whole: durability across reopen and torn logs,
//! idempotent writes, type conflicts, and queries checked against a model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use zhizao_tsdb::{Aggregate, Fill, Point, Query, Tsdb, TsdbConfig, Value};

const S: i64 = 1_000_000_000;

fn point(device: &str, field: &str, ts: i64, value: Value) -> Point {
    Point {
        measurement: "telemetry".into(),
        tags: std::sync::Arc::new(vec![
            ("device".into(), device.into()),
            ("line".into(), "L1".into()),
        ]),
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

#[test]
fn acknowledged_points_survive_reopen_and_duplicates_collapse() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    {
        let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
        let out = rt
            .block_on(db.write(
                1,
                vec![
                    point("m1", "temp", S, Value::F64(20.0)),
                    point("m1", "temp", 2 * S, Value::F64(21.0)),
                ],
            ))
            .unwrap();
        assert_eq!(out.accepted, 2);
        // Redelivery of the same timestamp keeps one value, the last.
        rt.block_on(db.write(1, vec![point("m1", "temp", 2 * S, Value::F64(22.0))]))
            .unwrap();
        assert_eq!(db.stats().memory_points, 2);
        // Dropped without any flush call.
    }
    let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
    let dump = db.dump(1).unwrap();
    let values: Vec<(i64, Value)> = dump.into_iter().map(|(_, t, v)| (t, v)).collect();
    assert_eq!(
        values,
        vec![(S, Value::F64(20.0)), (2 * S, Value::F64(22.0))]
    );
    assert!(db.dump(2).unwrap().is_empty(), "other tenants see nothing");
}

#[test]
fn type_conflicts_and_bad_values_are_rejected_per_point() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
    rt.block_on(db.write(1, vec![point("m1", "count", S, Value::I64(5))]))
        .unwrap();
    let out = rt
        .block_on(db.write(
            1,
            vec![
                point("m1", "count", 2 * S, Value::F64(5.5)),
                point("m1", "count", 3 * S, Value::I64(6)),
                point("m1", "temp", 3 * S, Value::F64(f64::NAN)),
                point("m1", "", 3 * S, Value::F64(1.0)),
                // Conflict inside one batch: first value fixes the type.
                point("m2", "mode", S, Value::Str("auto".into())),
                point("m2", "mode", 2 * S, Value::Bool(true)),
            ],
        ))
        .unwrap();
    assert_eq!(out.accepted, 2);
    let idx: Vec<usize> = out.rejected.iter().map(|r| r.0).collect();
    assert_eq!(idx, vec![0, 2, 3, 5]);
    assert!(
        out.rejected[0].1.contains("type conflict"),
        "{}",
        out.rejected[0].1
    );
    assert!(out.rejected[1].1.contains("NaN"), "{}", out.rejected[1].1);
    // Another tenant may use another type for the same names.
    let other = rt
        .block_on(db.write(2, vec![point("m1", "count", S, Value::F64(1.5))]))
        .unwrap();
    assert_eq!(other.accepted, 1);
}

#[test]
fn queries_raw_paged_and_aggregated() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
    let mut pts = Vec::new();
    for i in 0..120 {
        pts.push(point("m1", "temp", i * S, Value::F64(i as f64)));
        pts.push(point("m2", "temp", i * S, Value::F64(100.0 + i as f64)));
    }
    rt.block_on(db.write(1, pts)).unwrap();

    // Raw pages of 50 cover all 240 points once.
    let mut q = Query {
        measurement: "telemetry".into(),
        fields: vec!["temp".into()],
        limit: Some(50),
        ..Default::default()
    };
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let r = db.query(1, &q).unwrap();
        seen += r.series.iter().map(|s| s.points.len()).sum::<usize>();
        pages += 1;
        match r.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!((seen, pages), (240, 5));

    // 1-minute mean per device over [0, 120 s).
    let q = Query {
        measurement: "telemetry".into(),
        fields: vec!["*".into()],
        start: Some(0),
        end: Some(120 * S),
        aggregate: Some(Aggregate::Mean),
        every: Some(60 * S),
        group_by: vec!["device".into()],
        ..Default::default()
    };
    let r = db.query(1, &q).unwrap();
    assert_eq!(r.series.len(), 2);
    assert_eq!(
        r.series[0].tags.get("device").map(String::as_str),
        Some("m1")
    );
    assert_eq!(
        r.series[0].points,
        vec![
            (0, Some(Value::F64(29.5))),
            (60 * S, Some(Value::F64(89.5)))
        ]
    );

    // Without group_by all devices form one group; last without a range is the latest.
    let q = Query {
        measurement: "telemetry".into(),
        aggregate: Some(Aggregate::Last),
        ..Default::default()
    };
    let r = db.query(1, &q).unwrap();
    assert_eq!(r.series.len(), 1);
    assert_eq!(r.series[0].points, vec![(119 * S, Some(Value::F64(219.0)))]);

    // Filter by tag, count above nothing, fill.
    let q = Query {
        measurement: "telemetry".into(),
        filter: vec![("device".into(), "m2".into())],
        start: Some(0),
        end: Some(240 * S),
        aggregate: Some(Aggregate::Count),
        every: Some(60 * S),
        fill: Fill::Null,
        ..Default::default()
    };
    let r = db.query(1, &q).unwrap();
    assert_eq!(
        r.series[0].points,
        vec![
            (0, Some(Value::I64(60))),
            (60 * S, Some(Value::I64(60))),
            (120 * S, None),
            (180 * S, None)
        ]
    );

    for (bad, field) in [
        (
            Query {
                measurement: "telemetry".into(),
                every: Some(S),
                ..Default::default()
            },
            "every",
        ),
        (
            Query {
                measurement: "telemetry".into(),
                aggregate: Some(Aggregate::Mean),
                every: Some(1),
                start: Some(0),
                end: Some(S),
                ..Default::default()
            },
            "every",
        ),
        (
            Query {
                measurement: "telemetry".into(),
                start: Some(5),
                end: Some(5),
                ..Default::default()
            },
            "end",
        ),
        (
            Query {
                measurement: "telemetry".into(),
                cursor: Some("garbage".into()),
                ..Default::default()
            },
            "cursor",
        ),
    ] {
        assert_eq!(db.query(1, &bad).unwrap_err().field, field);
    }
}

/// The log file the writer appends to (the highest generation).
fn newest_log(dir: &std::path::Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs.pop().expect("a log file")
}

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<(u8, u8, i64, i64)>), // device, field, ts, value
    Reopen,
    TearTail(u8),
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((0u8..3, 0u8..2, 0i64..50, -1000i64..1000), 1..20).prop_map(Op::Write),
        1 => Just(Op::Reopen),
        1 => (1u8..40).prop_map(Op::TearTail),
        1 => Just(Op::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any sequence of writes, crashes (drop without flush, or a torn
    /// partial record appended as a crash mid-write would leave) and
    /// reopenings returns exactly the acknowledged points, last write wins.
    #[test]
    fn acknowledged_writes_survive_any_crash_sequence(ops in prop::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let rt = rt();
        let mut model: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
        // Small enough that writes also start background flushes.
        let config = TsdbConfig { flush_points: 40, ..TsdbConfig::new(dir.path()) };
        let mut db = Some(Tsdb::open(config.clone()).unwrap());
        for op in ops {
            match op {
                Op::Write(ws) => {
                    let pts: Vec<Point> = ws.iter().map(|(d, f, t, v)| point(&format!("d{d}"), &format!("f{f}"), *t, Value::I64(*v))).collect();
                    let out = rt.block_on(db.as_ref().unwrap().write(7, pts)).unwrap();
                    prop_assert_eq!(out.accepted, ws.len());
                    for (d, f, t, v) in ws {
                        model.insert((format!("d{d}"), format!("f{f}"), t), v);
                    }
                }
                Op::Reopen => {
                    drop(db.take());
                    db = Some(Tsdb::open(config.clone()).unwrap());
                }
                Op::TearTail(n) => {
                    drop(db.take());
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new().append(true).open(newest_log(dir.path())).unwrap();
                    f.write_all(&vec![0xAB; n as usize]).unwrap();
                    drop(f);
                    db = Some(Tsdb::open(config.clone()).unwrap());
                }
                Op::Flush => {
                    rt.block_on(db.as_ref().unwrap().flush()).unwrap();
                    prop_assert_eq!(db.as_ref().unwrap().stats().memory_points, 0);
                }
            }
        }
        // Before and after a final reopen, queries see exactly the model.
        let live = db.take().unwrap();
        let before = live.dump(7).unwrap().len();
        drop(live);
        let db = Tsdb::open(config).unwrap();
        let stored: BTreeMap<(String, String, i64), i64> = db
            .dump(7)
            .unwrap()
            .into_iter()
            .map(|(k, t, v)| {
                let Value::I64(v) = v else { panic!("type changed") };
                ((k.tag("device").unwrap().to_owned(), k.field.clone(), t), v)
            })
            .collect();
        prop_assert_eq!(before, model.len());
        prop_assert_eq!(stored, model);
    }

    /// Bucketed aggregates equal the same aggregates recomputed from raw points.
    #[test]
    fn bucketed_aggregates_match_raw(values in prop::collection::vec((0i64..600, -100i64..100), 1..200), every_s in 1i64..120) {
        let dir = tempfile::tempdir().unwrap();
        let rt = rt();
        let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
        let pts: Vec<Point> = values.iter().map(|(t, v)| point("m", "x", t * S, Value::F64(*v as f64))).collect();
        rt.block_on(db.write(1, pts)).unwrap();
        let mut raw: BTreeMap<i64, f64> = BTreeMap::new();
        for (t, v) in &values { raw.insert(t * S, *v as f64); }
        let every = every_s * S;
        for agg in [Aggregate::Count, Aggregate::Sum, Aggregate::Min, Aggregate::Max, Aggregate::Mean, Aggregate::First, Aggregate::Last] {
            let q = Query { measurement: "telemetry".into(), start: Some(0), end: Some(600 * S), aggregate: Some(agg), every: Some(every), ..Default::default() };
            let r = db.query(1, &q).unwrap();
            let got: BTreeMap<i64, f64> = r.series[0].points.iter().map(|(t, v)| (*t, v.as_ref().unwrap().as_f64().unwrap())).collect();
            let mut want: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
            for (t, v) in &raw { want.entry(t / every * every).or_default().push(*v); }
            prop_assert_eq!(got.len(), want.len());
            for (b, vs) in want {
                let expect = match agg {
                    Aggregate::Count => vs.len() as f64,
                    Aggregate::Sum => vs.iter().sum(),
                    Aggregate::Min => vs.iter().cloned().fold(f64::INFINITY, f64::min),
                    Aggregate::Max => vs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                    Aggregate::Mean => vs.iter().sum::<f64>() / vs.len() as f64,
                    Aggregate::First => vs[0],
                    Aggregate::Last => vs[vs.len() - 1],
                };
                prop_assert!((got[&b] - expect).abs() < 1e-9, "{:?} bucket {}: {} vs {}", agg, b, got[&b], expect);
            }
        }
    }
}

#[test]
fn flushed_segments_serve_queries_and_later_writes_win() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
    let mut pts = Vec::new();
    for i in 0..1000 {
        pts.push(point(
            "m1",
            "temp",
            i * S,
            Value::F64(20.0 + (i % 7) as f64 * 0.1),
        ));
        pts.push(point("m1", "count", i * S, Value::I64(i)));
        pts.push(point(
            "m1",
            "mode",
            i * S,
            Value::Str(if i < 500 { "auto" } else { "manual" }.into()),
        ));
        pts.push(point("m1", "ok", i * S, Value::Bool(i % 3 == 0)));
    }
    rt.block_on(db.write(1, pts)).unwrap();
    let log0 = dir.path().join("wal-00000000.log");
    let saved = std::fs::read(&log0).unwrap();
    rt.block_on(db.flush()).unwrap();
    let stats = db.stats();
    assert_eq!(
        (stats.segments, stats.segment_rows, stats.memory_points),
        (1, 4000, 0)
    );
    assert!(!log0.exists(), "the log covered by the segment is deleted");
    assert!(dir.path().join("seg-00000000-00000000.parquet").exists());
    assert!(dir.path().join("rol-00000000-00000000.parquet").exists());

    // Overwrite a flushed point and add a new one: the newer tier wins.
    rt.block_on(db.write(
        1,
        vec![
            point("m1", "count", 10 * S, Value::I64(-1)),
            point("m1", "count", 1000 * S, Value::I64(1000)),
        ],
    ))
    .unwrap();
    let q = Query {
        measurement: "telemetry".into(),
        fields: vec!["count".into()],
        start: Some(9 * S),
        end: Some(12 * S),
        ..Default::default()
    };
    let r = db.query(1, &q).unwrap();
    assert_eq!(
        r.series[0].points,
        vec![
            (9 * S, Some(Value::I64(9))),
            (10 * S, Some(Value::I64(-1))),
            (11 * S, Some(Value::I64(11)))
        ]
    );
    let all = db.dump(1).unwrap();
    assert_eq!(all.len(), 4001);
    drop(db);

    // A crash after the segment was written but before its log was deleted
    // leaves both; reopening must not double anything.
    std::fs::write(&log0, saved).unwrap();
    let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
    assert!(!log0.exists());
    let again = db.dump(1).unwrap();
    assert_eq!(again, all);
    let mean = Query {
        measurement: "telemetry".into(),
        fields: vec!["count".into()],
        start: Some(0),
        end: Some(1000 * S),
        aggregate: Some(Aggregate::Mean),
        ..Default::default()
    };
    let r = db.query(1, &mean).unwrap();
    let expect = ((0..1000).sum::<i64>() - 10 - 1) as f64 / 1000.0;
    assert_eq!(r.series[0].points[0].1, Some(Value::F64(expect)));
    let mode = Query {
        measurement: "telemetry".into(),
        fields: vec!["mode".into()],
        aggregate: Some(Aggregate::Last),
        ..Default::default()
    };
    assert_eq!(
        db.query(1, &mode).unwrap().series[0].points[0].1,
        Some(Value::Str("manual".into()))
    );
}

#[test]
fn segments_compress_regular_signals() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
    // 50 machines × 2,000 s at 1 Hz: a slowly varying temperature with
    // noise quantised to 0.1 °C, and a rising counter.
    let mut pts = Vec::new();
    let mut seed = 12345u64;
    for m in 0..50 {
        let mut count = 0;
        for t in 0..2000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((seed >> 33) % 5) as f64 * 0.1;
            let temp = ((50.0 + 10.0 * (t as f64 / 600.0).sin() + noise) * 10.0).round() / 10.0;
            count += (t % 7 == 0) as i64;
            pts.push(point(
                &format!("m{m}"),
                "temperature",
                t * S,
                Value::F64(temp),
            ));
            pts.push(point(
                &format!("m{m}"),
                "count_good",
                t * S,
                Value::I64(count),
            ));
        }
    }
    rt.block_on(db.write(1, pts)).unwrap();
    rt.block_on(db.flush()).unwrap();
    let st = db.stats();
    let bytes_per_point = st.segment_bytes as f64 / st.segment_rows as f64;
    assert_eq!(st.segment_rows, 200_000);
    eprintln!(
        "segment: {} rows, {} bytes, {bytes_per_point:.2} bytes per point",
        st.segment_rows, st.segment_bytes
    );
    // Raw storage would be 16 bytes (time + value) per point.
    assert!(
        bytes_per_point < 4.0,
        "{bytes_per_point:.2} bytes per point"
    );
}

#[test]
fn a_failed_flush_keeps_every_point_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
    let pts = (0..100)
        .map(|i| point("m1", "temp", i * S, Value::F64(i as f64)))
        .collect();
    rt.block_on(db.write(1, pts)).unwrap();
    // A directory where the segment's temporary file must go makes the
    // write of the segment fail.
    let blocker = dir.path().join("seg-00000000-00000000.parquet.tmp");
    std::fs::create_dir(&blocker).unwrap();
    let err = rt.block_on(db.flush()).unwrap_err();
    assert!(err.to_string().contains("seg-00000000"), "{err}");
    assert_eq!(db.stats().segments, 0);
    assert_eq!(
        db.dump(1).unwrap().len(),
        100,
        "the frozen tier still answers"
    );
    // Writes go on meanwhile.
    rt.block_on(db.write(1, vec![point("m1", "temp", 100 * S, Value::F64(1.0))]))
        .unwrap();
    std::fs::remove_dir(&blocker).unwrap();
    rt.block_on(db.flush()).unwrap();
    let st = db.stats();
    assert_eq!((st.segments, st.memory_points), (2, 0), "{st:?}");
    assert_eq!(db.dump(1).unwrap().len(), 101);
    drop(db);
    let db = Tsdb::open(TsdbConfig::new(dir.path())).unwrap();
    assert_eq!(db.dump(1).unwrap().len(), 101);
    assert_eq!(db.stats().segments, 2);
}
