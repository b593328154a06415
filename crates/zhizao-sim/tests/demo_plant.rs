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
    let sim = tokio::spawn(zhizao_sim::run(
        store.clone(),
        hub.clone(),
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
    db.cleanup().await;
}
