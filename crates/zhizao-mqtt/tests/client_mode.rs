//! Client mode against the local Mosquitto: two nodes share one
//! subscription and split the messages; a node that was away gets the QoS 1
//! messages published meanwhile from its persistent session; every message
//! is stored once. Each test uses its own site in the topic, so runs and
//! tests never see each other's messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use zhizao_mqtt::client::{self, ClientConfig};
use zhizao_mqtt::gateway::Gateway;
use zhizao_store::{NewDevice, Store};
use zhizao_tsdb::{Aggregate, Query, Tsdb, TsdbConfig};

const BROKER: (&str, u16) = ("127.0.0.1", 1883);

fn unique() -> String {
    format!(
        "t{}{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

struct Node {
    history: Arc<Tsdb>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn node(store: &Store, site: &str, id: &str) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path())).unwrap());
    let gateway = Gateway::new(store.clone(), history.clone());
    let mut cfg = ClientConfig::new(BROKER.0, BROKER.1, id);
    cfg.share_group = format!("g{site}");
    cfg.topic_filter = format!("zhizao/v1/{site}/#");
    cfg.session_expiry_s = 120;
    let task = tokio::spawn(client::run(cfg, gateway));
    Node {
        history,
        task,
        _dir: dir,
    }
}

fn stored(n: &Node, tenant: i64) -> i64 {
    let q = Query {
        measurement: "telemetry".into(),
        aggregate: Some(Aggregate::Count),
        ..Query::default()
    };
    n.history
        .query(tenant, &q)
        .unwrap()
        .series
        .iter()
        .map(|s| s.points[0].1.as_ref().unwrap().as_f64().unwrap() as i64)
        .sum()
}

/// Publishes `n` QoS 1 messages (one value each) and waits for the broker's PUBACKs.
async fn publish(site: &str, from: i64, n: i64) {
    let mut opts = MqttOptions::new(format!("pub-{}", unique()), BROKER.0, BROKER.1);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(opts, 10);
    let topic = format!("zhizao/v1/{site}/L1/M1/telemetry");
    let base = zhizao_tsdb::now_ns() / 1_000_000 - 60_000;
    tokio::spawn(async move {
        for k in from..from + n {
            let body = format!(r#"{{"ts":{},"values":{{"v":{k}}}}}"#, base + k);
            client
                .publish(&topic, QoS::AtLeastOnce, false, body)
                .await
                .unwrap();
        }
    });
    let mut acked = 0;
    while acked < n {
        match tokio::time::timeout(Duration::from_secs(10), events.poll())
            .await
            .unwrap()
        {
            Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(e) => panic!("publisher: {e}"),
        }
    }
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn registry(site: &str) -> (zhizao_testkit::TestStore, i64) {
    let db = zhizao_testkit::sqlite().await;
    let t = db.store.create_tenant("plant", "Plant").await.unwrap();
    db.store
        .create_device(
            t.id,
            &NewDevice {
                code: "GW".into(),
                name: "GW".into(),
                topic_prefix: format!("zhizao/v1/{site}"),
                mapping: None,
            },
        )
        .await
        .unwrap();
    (db, t.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_messages_and_store_each_once() {
    let site = unique();
    let (db, tenant) = registry(&site).await;
    let a = node(&db.store, &site, &format!("{site}-a"));
    let b = node(&db.store, &site, &format!("{site}-b"));
    tokio::time::sleep(Duration::from_millis(500)).await; // both subscribed
    publish(&site, 0, 200).await;
    wait_for(|| stored(&a, tenant) + stored(&b, tenant) >= 200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (na, nb) = (stored(&a, tenant), stored(&b, tenant));
    assert_eq!(na + nb, 200, "every message stored once across the nodes");
    assert!(na > 0 && nb > 0, "the broker split them: {na} + {nb}");
    a.task.abort();
    b.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_was_away_gets_what_was_published_meanwhile() {
    let site = unique();
    let (db, tenant) = registry(&site).await;
    let id = format!("{site}-solo");
    let first = node(&db.store, &site, &id);
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish(&site, 0, 20).await;
    wait_for(|| stored(&first, tenant) >= 20).await;
    assert_eq!(stored(&first, tenant), 20);
    // The node goes away; messages keep coming.
    first.task.abort();
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish(&site, 20, 30).await;
    // Back with the same client id (and its own, fresh history here).
    let again = node(&db.store, &site, &id);
    wait_for(|| stored(&again, tenant) >= 30).await;
    assert_eq!(
        stored(&again, tenant),
        30,
        "the 30 published while away arrive"
    );
    again.task.abort();
}
