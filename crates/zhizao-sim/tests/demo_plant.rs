//! The demo plant seeds once and the simulator drives every machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use zhizao_live::LiveHub;
use zhizao_sim::plant;

#[tokio::test]
async fn seeds_once_and_simulates_every_machine() {
    let db = zhizao_testkit::sqlite().await;
    let store = db.store.clone();
    let tenant = store.create_tenant("demo", "Demo").await.unwrap();
    assert!(plant::seed(&store, tenant.id).await.unwrap());
    assert!(
        !plant::seed(&store, tenant.id).await.unwrap(),
        "second seed must not duplicate"
    );
    let layout = store.layout(tenant.id).await.unwrap();
    assert_eq!(layout.equipment.len(), plant::machine_count());
    assert_eq!(layout.equipment.len(), 42);
    assert_eq!(layout.lines.len(), 9);

    let hub = Arc::new(LiveHub::default());
    let dir = tempfile::tempdir().unwrap();
    let history =
        Arc::new(zhizao_tsdb::Tsdb::open(zhizao_tsdb::TsdbConfig::new(dir.path())).unwrap());
    let sim = tokio::spawn(zhizao_sim::run(
        store.clone(),
        hub.clone(),
        Some(history.clone()),
        tenant.id,
        1,
        50.0,
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sim.abort();
    let machines = hub.machines(tenant.id);
    assert_eq!(machines.len(), 42);
    let produced: i64 = machines.values().map(|m| m.good_today).sum();
    assert!(produced > 0, "simulated plant made nothing");
    // Initial state reports plus changes over ~75 simulated seconds.
    assert!(hub.recent_events(tenant.id).len() > 42 / 2);
    // Every machine wrote temperature, both counters and state to history.
    assert_eq!(history.stats().series, 42 * 4);
    let q = zhizao_tsdb::Query {
        measurement: "telemetry".into(),
        fields: vec!["count_good".into()],
        aggregate: Some(zhizao_tsdb::Aggregate::Last),
        group_by: vec!["equipment".into()],
        ..Default::default()
    };
    let last = history.query(tenant.id, &q).unwrap();
    let counted: f64 = last
        .series
        .iter()
        .filter_map(|s| s.points[0].1.as_ref()?.as_f64())
        .sum();
    // The task may stop between the live report and the history write of
    // its last tick, so history can trail the live view by that tick.
    assert!(
        counted > 0.0 && counted as i64 <= produced,
        "history {counted}, live {produced}"
    );
    db.cleanup().await;
}
