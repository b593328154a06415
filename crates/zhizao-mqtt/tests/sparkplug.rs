//! Sparkplug B edge nodes (rumqttc, MQTT 5) against the built-in endpoint
//! and, in client mode, through the local Mosquitto: births, data by
//! alias, a rebirth request on an unknown alias that reaches the edge node
//! as an NCMD, broken protobuf refused and counted, the NDEATH will taking
//! the node offline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet, PubAckReason, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use zhizao_ingest::sparkplug::proto::{Metric, MetricValue, Payload};
use zhizao_ingest::sparkplug::{BD_SEQ_METRIC, REBIRTH_METRIC, datatype};
use zhizao_mqtt::gateway::Gateway;
use zhizao_store::{NewDevice, Store};
use zhizao_tsdb::{Query, Tsdb, TsdbConfig, Value};

fn metric(name: Option<&str>, alias: u64, dt: u32, value: MetricValue) -> Metric {
    Metric::new(name, Some(alias), dt, value)
}

/// Each message a millisecond later than the last: points of one series
/// at the same time are one point (the store is idempotent).
fn payload(seq: Option<u64>, metrics: Vec<Metric>) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Payload {
        timestamp: Some(now_ms() - 60_000 + n),
        metrics,
        seq,
        ..Payload::default()
    }
    .to_bytes()
}

fn now_ms() -> u64 {
    (zhizao_tsdb::now_ns() / 1_000_000) as u64
}

fn death(bd_seq: u64) -> Vec<u8> {
    payload(
        None,
        vec![metric(
            Some(BD_SEQ_METRIC),
            0,
            datatype::UINT64,
            MetricValue::LongValue(bd_seq),
        )],
    )
}

struct Edge {
    client: AsyncClient,
    events: EventLoop,
    group: String,
    node: String,
}

impl Edge {
    fn new(port: u16, creds: Option<(&str, &str)>, group: &str, node: &str, bd_seq: u64) -> Edge {
        let mut opts = MqttOptions::new(format!("edge-{group}-{node}"), "127.0.0.1", port);
        if let Some((u, p)) = creds {
            opts.set_credentials(u, p);
        }
        opts.set_keep_alive(Duration::from_secs(5));
        opts.set_last_will(LastWill::new(
            format!("spBv1.0/{group}/NDEATH/{node}"),
            death(bd_seq),
            QoS::AtLeastOnce,
            false,
            None,
        ));
        let (client, events) = AsyncClient::new(opts, 32);
        Edge {
            client,
            events,
            group: group.into(),
            node: node.into(),
        }
    }

    fn topic(&self, kind: &str, device: Option<&str>) -> String {
        match device {
            Some(d) => format!("spBv1.0/{}/{kind}/{}/{d}", self.group, self.node),
            None => format!("spBv1.0/{}/{kind}/{}", self.group, self.node),
        }
    }

    /// Publishes at QoS 1 and returns the PUBACK's reason; everything else
    /// the connection receives meanwhile is handed to `seen`.
    async fn send(
        &mut self,
        kind: &str,
        device: Option<&str>,
        body: Vec<u8>,
        seen: &mut Vec<Packet>,
    ) -> PubAckReason {
        let topic = self.topic(kind, device);
        self.send_to(&topic, body, seen).await
    }

    async fn send_to(
        &mut self,
        topic: &str,
        body: Vec<u8>,
        seen: &mut Vec<Packet>,
    ) -> PubAckReason {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, body)
            .await
            .unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.events.poll())
                .await
                .expect("no PUBACK in 10 s")
            {
                Ok(Event::Incoming(Packet::PubAck(a))) => return a.reason,
                Ok(Event::Incoming(p)) => seen.push(p),
                Ok(_) => {}
                Err(e) => panic!("edge node connection: {e}"),
            }
        }
    }

    /// Polls until `n` packets matching `want` have arrived (10 s at most).
    async fn wait_n(
        &mut self,
        seen: &mut Vec<Packet>,
        want: impl Fn(&Packet) -> bool,
        n: usize,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while seen.iter().filter(|p| want(p)).count() < n {
            match tokio::time::timeout_at(deadline, self.events.poll()).await {
                Err(_) => return false,
                Ok(Ok(Event::Incoming(p))) => seen.push(p),
                Ok(_) => {}
            }
        }
        true
    }

    async fn wait(&mut self, seen: &mut Vec<Packet>, want: impl Fn(&Packet) -> bool) -> bool {
        self.wait_n(seen, want, 1).await
    }
}

fn is_rebirth(p: &Packet, topic: &str) -> bool {
    let Packet::Publish(p) = p else { return false };
    if p.topic != topic.as_bytes() {
        return false;
    }
    let Ok(body) = <Payload as prost::Message>::decode(p.payload.clone()) else {
        return false;
    };
    body.metrics.iter().any(|m| {
        m.name.as_deref() == Some(REBIRTH_METRIC)
            && m.value == Some(MetricValue::BooleanValue(true))
    })
}

fn births(bd_seq: u64) -> (Vec<u8>, Vec<u8>) {
    let nbirth = payload(
        Some(0),
        vec![
            metric(
                Some(BD_SEQ_METRIC),
                0,
                datatype::UINT64,
                MetricValue::LongValue(bd_seq),
            ),
            metric(
                Some(REBIRTH_METRIC),
                1,
                datatype::BOOLEAN,
                MetricValue::BooleanValue(false),
            ),
        ],
    );
    let dbirth = payload(
        Some(1),
        vec![
            metric(
                Some("spindle_temp"),
                10,
                datatype::FLOAT,
                MetricValue::FloatValue(60.0),
            ),
            metric(
                Some("count_good"),
                11,
                datatype::UINT32,
                MetricValue::IntValue(0),
            ),
        ],
    );
    (nbirth, dbirth)
}

fn temps(history: &Tsdb, tenant: i64, equipment: &str) -> Vec<f64> {
    let q = Query {
        measurement: "telemetry".into(),
        fields: vec!["spindle_temp".into()],
        filter: vec![("equipment".into(), equipment.into())],
        ..Query::default()
    };
    history
        .query(tenant, &q)
        .unwrap()
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter_map(|(_, v)| match v {
            Some(Value::F64(x)) => Some(*x),
            _ => None,
        })
        .collect()
}

async fn registry(prefix: &str) -> (zhizao_testkit::TestStore, i64, String, String) {
    let db = zhizao_testkit::sqlite().await;
    let t = db.store.create_tenant("plant", "Plant").await.unwrap();
    let (d, password) = db
        .store
        .create_device(
            t.id,
            &NewDevice {
                code: "EDGE".into(),
                name: "Edge node".into(),
                topic_prefix: prefix.into(),
                mapping: None,
            },
        )
        .await
        .unwrap();
    (db, t.id, d.username, password)
}

async fn device(store: &Store, tenant: i64) -> zhizao_core::Device {
    store.list_devices(tenant, 10, 0).await.unwrap().0.remove(0)
}

#[tokio::test]
async fn an_edge_node_on_the_built_in_endpoint() {
    let (db, tenant, user, pass) = registry("spBv1.0/steel/cutting").await;
    let dir = tempfile::tempdir().unwrap();
    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path())).unwrap());
    let gateway = Gateway::new(db.store.clone(), history.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(zhizao_mqtt::serve(listener, gateway.clone()));

    let mut edge = Edge::new(port, Some((&user, &pass)), "steel", "cutting", 3);
    let mut seen = Vec::new();
    // Its own command topics are granted; another node's are not.
    edge.client
        .subscribe("spBv1.0/steel/NCMD/cutting/#", QoS::AtMostOnce)
        .await
        .unwrap();
    edge.client
        .subscribe("spBv1.0/steel/NCMD/drilling/#", QoS::AtMostOnce)
        .await
        .unwrap();
    assert!(
        edge.wait_n(&mut seen, |p| matches!(p, Packet::SubAck(_)), 2)
            .await
    );
    let subacks: Vec<Vec<SubscribeReasonCode>> = seen
        .iter()
        .filter_map(|p| match p {
            Packet::SubAck(s) => Some(s.return_codes.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(subacks.len(), 2, "{subacks:?}");
    assert!(matches!(subacks[0][0], SubscribeReasonCode::Success(_)));
    assert!(matches!(subacks[1][0], SubscribeReasonCode::NotAuthorized));

    let (nbirth, dbirth) = births(3);
    assert_eq!(
        edge.send("NBIRTH", None, nbirth, &mut seen).await,
        PubAckReason::Success
    );
    assert_eq!(
        edge.send("DBIRTH", Some("CUT-01"), dbirth, &mut seen).await,
        PubAckReason::Success
    );
    let data = payload(
        Some(2),
        vec![metric(None, 10, 0, MetricValue::FloatValue(61.5))],
    );
    assert_eq!(
        edge.send("DDATA", Some("CUT-01"), data, &mut seen).await,
        PubAckReason::Success
    );
    let mut got = temps(&history, tenant, "CUT-01");
    got.sort_by(f64::total_cmp);
    assert_eq!(got, vec![60.0, 61.5]);

    // An unknown alias: the known metric is kept, and the edge node is
    // asked for a rebirth on its NCMD topic.
    let data = payload(
        Some(3),
        vec![
            metric(None, 99, 0, MetricValue::FloatValue(1.0)),
            metric(None, 10, 0, MetricValue::FloatValue(62.0)),
        ],
    );
    assert_eq!(
        edge.send("DDATA", Some("CUT-01"), data, &mut seen).await,
        PubAckReason::Success
    );
    assert!(
        edge.wait(&mut seen, |p| is_rebirth(p, "spBv1.0/steel/NCMD/cutting"))
            .await,
        "no rebirth request reached the edge node"
    );
    assert_eq!(temps(&history, tenant, "CUT-01").len(), 3);

    // Broken protobuf: refused, counted; the next good message is stored.
    assert_eq!(
        edge.send("DDATA", Some("CUT-01"), vec![0x0a, 0xff, 0xff], &mut seen)
            .await,
        PubAckReason::PayloadFormatInvalid
    );
    // Outside its prefix.
    assert_eq!(
        edge.send_to(
            "spBv1.0/steel/NDATA/drilling",
            payload(Some(4), vec![]),
            &mut seen
        )
        .await,
        PubAckReason::NotAuthorized
    );
    gateway.save_traffic().await;
    let d = device(&db.store, tenant).await;
    assert_eq!(d.errors, 3, "unknown alias, broken protobuf, foreign topic");
    assert!(
        d.last_error.as_deref().unwrap().contains("outside"),
        "{:?}",
        d.last_error
    );
    let status = gateway.edge_nodes(tenant);
    assert!(status[0].online);
    assert_eq!(status[0].devices, vec![("CUT-01".to_owned(), true)]);

    // The connection drops without DISCONNECT: the NDEATH will ends the
    // node's session, and its device with it.
    drop(edge);
    let mut offline = false;
    for _ in 0..100 {
        let s = gateway.edge_nodes(tenant);
        if !s[0].online && s[0].devices == vec![("CUT-01".to_owned(), false)] {
            offline = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(offline, "{:?}", gateway.edge_nodes(tenant));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_node_through_the_local_mosquitto_in_client_mode() {
    let run = format!(
        "t{}{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let group = format!("grp{run}");
    let (db, tenant, _, _) = registry(&format!("spBv1.0/{group}")).await;
    let dir = tempfile::tempdir().unwrap();
    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path())).unwrap());
    let gateway = Gateway::new(db.store.clone(), history.clone());
    let host_id = format!("host{run}");
    let mut cfg = zhizao_mqtt::client::ClientConfig::new("127.0.0.1", 1883, &host_id);
    cfg.share_group = format!("g{run}");
    cfg.topic_filter = format!("zhizao/v1/{run}/#");
    cfg.session_expiry_s = 60;
    let node_task = tokio::spawn(zhizao_mqtt::client::run(cfg.clone(), gateway.clone()));

    let mut edge = Edge::new(1883, None, &group, "welding", 1);
    let mut seen = Vec::new();
    edge.client
        .subscribe(format!("spBv1.0/{group}/NCMD/welding/#"), QoS::AtMostOnce)
        .await
        .unwrap();
    // The host announces itself with a retained STATE once it has
    // subscribed; an edge node waits for that before its births.
    edge.client
        .subscribe(cfg.state_topic(), QoS::AtMostOnce)
        .await
        .unwrap();
    let state_topic = cfg.state_topic();
    assert!(
        edge.wait(&mut seen, |p| matches!(p, Packet::Publish(m)
            if m.topic == state_topic.as_bytes()
                && String::from_utf8_lossy(&m.payload).contains(r#""online":true"#)))
            .await,
        "no STATE from the host"
    );

    let (nbirth, dbirth) = births(1);
    edge.send("NBIRTH", None, nbirth, &mut seen).await;
    edge.send("DBIRTH", Some("WLD-01"), dbirth, &mut seen).await;
    let data = payload(
        Some(2),
        vec![metric(None, 10, 0, MetricValue::FloatValue(70.0))],
    );
    edge.send("DDATA", Some("WLD-01"), data, &mut seen).await;
    let mut stored = false;
    for _ in 0..200 {
        if temps(&history, tenant, "WLD-01").len() == 2 {
            stored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stored, "{:?}", temps(&history, tenant, "WLD-01"));

    // A gap in seq: the host asks for a rebirth through the broker.
    let data = payload(
        Some(9),
        vec![metric(None, 10, 0, MetricValue::FloatValue(71.0))],
    );
    edge.send("DDATA", Some("WLD-01"), data, &mut seen).await;
    let ncmd = format!("spBv1.0/{group}/NCMD/welding");
    assert!(
        edge.wait(&mut seen, |p| is_rebirth(p, &ncmd)).await,
        "no rebirth request through the broker"
    );

    node_task.abort();
    // Leave no retained STATE behind in the shared broker.
    edge.client
        .publish(cfg.state_topic(), QoS::AtLeastOnce, true, Vec::<u8>::new())
        .await
        .unwrap();
    edge.send_to(
        &format!("spBv1.0/{group}/NDEATH/welding"),
        death(1),
        &mut seen,
    )
    .await;
}
