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

/// The simulator as the plant's gateways: half the machines as JSON, half
/// as Sparkplug B, through the built-in endpoint with registry
/// credentials; the screen and history get everything the direct
/// simulator gives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_publishes_over_mqtt_like_real_gateways() {
    let db = zhizao_testkit::sqlite().await;
    let store = db.store.clone();
    let tenant = store.create_tenant("demo", "Demo").await.unwrap();
    plant::seed(&store, tenant.id).await.unwrap();
    let hub = Arc::new(LiveHub::default());
    let dir = tempfile::tempdir().unwrap();
    let history =
        Arc::new(zhizao_tsdb::Tsdb::open(zhizao_tsdb::TsdbConfig::new(dir.path())).unwrap());
    let gateway =
        zhizao_mqtt::gateway::Gateway::with_hub(store.clone(), history.clone(), Some(hub.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(zhizao_mqtt::serve(listener, gateway.clone()));

    // Twice: the second start finds its gateways registered and gives
    // them new passwords.
    for _ in 0..2 {
        let sim = tokio::spawn(zhizao_sim::gateways::run(
            store.clone(),
            addr,
            tenant.id,
            1,
            50.0,
        ));
        // While they run, every gateway is connected, and each edge node
        // has its machines online (waiting up to 10 s for the last births
        // on a loaded machine).
        let (devices, _) = store.list_devices(tenant.id, 100, 0).await.unwrap();
        let all_up = || {
            devices.iter().all(|d| {
                let live = hub.devices.get(d.id);
                live.online(zhizao_live::now_ms())
                    && live.edge_nodes.iter().all(|n| {
                        n.online && !n.devices.is_empty() && n.devices.iter().all(|(_, on)| *on)
                    })
            })
        };
        tokio::time::sleep(Duration::from_millis(2500)).await;
        for _ in 0..30 {
            if all_up() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        for d in &devices {
            let live = hub.devices.get(d.id);
            assert!(live.online(zhizao_live::now_ms()), "{} offline", d.code);
            if d.code.ends_with("-spb") {
                assert_eq!(live.edge_nodes.len(), 1, "{}", d.code);
                let node = &live.edge_nodes[0];
                assert!(node.online && !node.devices.is_empty(), "{node:?}");
                assert!(node.devices.iter().all(|(_, on)| *on), "{node:?}");
            } else {
                assert!(live.edge_nodes.is_empty());
            }
        }
        sim.abort();
    }
    let machines = hub.machines(tenant.id);
    assert_eq!(machines.len(), 42, "every machine reported a state");
    let produced: i64 = machines.values().map(|m| m.good_today).sum();
    assert!(produced > 0, "the screen counted nothing");

    gateway.save_traffic().await;
    let (devices, total) = store.list_devices(tenant.id, 100, 0).await.unwrap();
    let json = devices.iter().filter(|d| d.code.ends_with("-json")).count();
    let spb = devices.iter().filter(|d| d.code.ends_with("-spb")).count();
    assert_eq!(total as usize, json + spb);
    assert!(
        json >= 5 && spb >= 4,
        "{json} JSON and {spb} Sparkplug gateways"
    );
    for d in &devices {
        assert!(d.messages > 0, "{} sent nothing", d.code);
        assert_eq!(d.errors, 0, "{}: {:?}", d.code, d.last_error);
    }
    // Both kinds are in history: JSON state messages, and the Sparkplug
    // devices' births.
    let count = |measurement: &str, field: &str| {
        let q = zhizao_tsdb::Query {
            measurement: measurement.into(),
            fields: vec![field.into()],
            aggregate: Some(zhizao_tsdb::Aggregate::Count),
            group_by: vec!["equipment".into()],
            ..Default::default()
        };
        history.query(tenant.id, &q).unwrap().series.len()
    };
    assert_eq!(count("machine_state", "state"), 21);
    assert_eq!(count("telemetry", "online"), 21);
    assert_eq!(count("telemetry", "count_good"), 42);
    let status = gateway.edge_nodes(tenant.id);
    assert_eq!(status.len(), spb);
    db.cleanup().await;
}
