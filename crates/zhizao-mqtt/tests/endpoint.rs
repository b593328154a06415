//! The built-in endpoint with real MQTT clients (rumqttc, 3.1.1 and 5):
//! log-in with registry credentials, QoS 1 acknowledged after the points
//! are in history, the topic ACL, bad payloads counted per device.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use zhizao_mqtt::gateway::Gateway;
use zhizao_store::{NewDevice, Store};
use zhizao_tsdb::{Aggregate, Query, Tsdb, TsdbConfig};

struct Plant {
    store: Store,
    history: Arc<Tsdb>,
    gateway: Arc<Gateway>,
    hub: Arc<zhizao_live::LiveHub>,
    port: u16,
    _db: zhizao_testkit::TestStore,
    _dir: tempfile::TempDir,
}

async fn plant() -> Plant {
    let db = zhizao_testkit::sqlite().await;
    let store = db.store.clone();
    let dir = tempfile::tempdir().unwrap();
    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path())).unwrap());
    let hub = Arc::new(zhizao_live::LiveHub::default());
    let gateway = Gateway::with_hub(store.clone(), history.clone(), Some(hub.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(zhizao_mqtt::serve(listener, gateway.clone()));
    Plant {
        store,
        history,
        gateway,
        hub,
        port,
        _db: db,
        _dir: dir,
    }
}

async fn register(p: &Plant, code: &str, prefix: &str) -> (i64, i64, String, String) {
    let tenant = match p.store.tenant_by_code("plant").await.unwrap() {
        Some(t) => t,
        None => p.store.create_tenant("plant", "Plant").await.unwrap(),
    };
    let (d, password) = p
        .store
        .create_device(
            tenant.id,
            &NewDevice {
                code: code.into(),
                name: code.into(),
                topic_prefix: prefix.into(),
                mapping: None,
            },
        )
        .await
        .unwrap();
    (tenant.id, d.id, d.username, password)
}

fn count(history: &Tsdb, tenant: i64, equipment: &str) -> i64 {
    let q = Query {
        measurement: "telemetry".into(),
        filter: vec![("equipment".into(), equipment.into())],
        aggregate: Some(Aggregate::Count),
        ..Query::default()
    };
    history
        .query(tenant, &q)
        .unwrap()
        .series
        .iter()
        .map(|s| s.points[0].1.as_ref().unwrap().as_f64().unwrap() as i64)
        .sum()
}

/// Publishes with QoS 1 over MQTT 3.1.1 and waits for each PUBACK.
async fn publish_v3(
    port: u16,
    user: &str,
    pass: &str,
    msgs: &[(&str, String)],
) -> Result<usize, String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(format!("c-{user}"), "127.0.0.1", port);
    opts.set_credentials(user, pass);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(opts, 10);
    // Publish from another task: the request queue only drains while the
    // event loop is polled below.
    let sender = client.clone();
    let owned: Vec<(String, String)> = msgs
        .iter()
        .map(|(t, b)| (t.to_string(), b.clone()))
        .collect();
    tokio::spawn(async move {
        for (topic, body) in owned {
            if sender
                .publish(topic, QoS::AtLeastOnce, false, body.into_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut acked = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while acked < msgs.len() {
        let ev = tokio::time::timeout_at(deadline, events.poll())
            .await
            .map_err(|_| "timed out".to_string())?;
        match ev {
            Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(Event::Incoming(Packet::ConnAck(c)))
                if c.code != rumqttc::ConnectReturnCode::Success =>
            {
                return Err(format!("refused: {:?}", c.code));
            }
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    client.disconnect().await.ok();
    Ok(acked)
}

fn telemetry(temp: f64, ts: i64) -> String {
    format!(r#"{{"ts":{ts},"values":{{"spindle_temp":{temp},"count_good":7}}}}"#)
}

#[tokio::test]
async fn qos1_messages_are_in_history_when_acknowledged() {
    let p = plant().await;
    let (tenant, id, user, pass) = register(&p, "GW-01", "zhizao/v1/S1/L1").await;
    let now = zhizao_tsdb::now_ns() / 1_000_000;
    let msgs: Vec<(&str, String)> = (0..20)
        .map(|i| {
            (
                "zhizao/v1/S1/L1/CUT-01/telemetry",
                telemetry(60.0 + i as f64, now + i),
            )
        })
        .collect();
    assert_eq!(publish_v3(p.port, &user, &pass, &msgs).await.unwrap(), 20);
    // Acknowledged means durable and queryable: no waiting needed.
    assert_eq!(count(&p.history, tenant, "CUT-01"), 40);
    // The same messages again (a redelivery): nothing doubles.
    publish_v3(p.port, &user, &pass, &msgs).await.unwrap();
    assert_eq!(count(&p.history, tenant, "CUT-01"), 40);
    p.gateway.save_traffic().await;
    let d = p.store.get_device(tenant, id).await.unwrap();
    assert_eq!((d.messages, d.points, d.errors), (40, 80, 0));
    assert!(d.last_seen.is_some());
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let p = plant().await;
    let (_, _, user, _) = register(&p, "GW-02", "zhizao/v1/S2").await;
    let msgs = [("zhizao/v1/S2/L1/M1/telemetry", telemetry(1.0, 1))];
    let err = publish_v3(p.port, &user, "not-the-password", &msgs)
        .await
        .unwrap_err();
    assert!(
        err.contains("BadUserNamePassword") || err.contains("refused"),
        "{err}"
    );
    let err = publish_v3(p.port, "nobody", "x", &msgs).await.unwrap_err();
    assert!(!err.is_empty());
}

#[tokio::test]
async fn bad_messages_are_counted_and_others_are_not_disturbed() {
    let p = plant().await;
    let (tenant, id, user, pass) = register(&p, "GW-03", "zhizao/v1/S3/L1").await;
    let (_, other_id, other_user, other_pass) = register(&p, "GW-04", "zhizao/v1/S3/L2").await;
    let now = zhizao_tsdb::now_ns() / 1_000_000;
    let bad: Vec<(&str, String)> = vec![
        // Outside the prefix (another line's topic).
        ("zhizao/v1/S3/L2/M9/telemetry", telemetry(1.0, now)),
        ("zhizao/v1/S3/L1/M1/telemetry", "{not json".into()),
        (
            "zhizao/v1/S3/L1/M1/telemetry",
            r#"{"values":{"t":[1,2]}}"#.into(),
        ),
        ("zhizao/v1/S3/L1/M1/alarm", telemetry(1.0, now)),
        ("zhizao/v1/S3/L1/M1/telemetry", telemetry(2.0, now)),
    ];
    // MQTT 3.1.1 cannot refuse a PUBACK: every message is acknowledged.
    assert_eq!(publish_v3(p.port, &user, &pass, &bad).await.unwrap(), 5);
    let good = [("zhizao/v1/S3/L2/M9/telemetry", telemetry(3.0, now))];
    publish_v3(p.port, &other_user, &other_pass, &good)
        .await
        .unwrap();
    assert_eq!(count(&p.history, tenant, "M1"), 2, "only the good message");
    assert_eq!(
        count(&p.history, tenant, "M9"),
        2,
        "only from the device owning L2"
    );
    p.gateway.save_traffic().await;
    let d = p.store.get_device(tenant, id).await.unwrap();
    assert_eq!((d.messages, d.errors), (5, 4));
    let last = d.last_error.unwrap();
    assert!(last.contains("alarm"), "{last}");
    let o = p.store.get_device(tenant, other_id).await.unwrap();
    assert_eq!((o.messages, o.errors), (1, 0));
    // What was refused is kept with what was sent, newest first.
    let refused = p.hub.devices.refusals(id);
    let topics: Vec<&str> = refused.iter().map(|r| r.topic.as_str()).collect();
    assert_eq!(
        topics,
        [
            "zhizao/v1/S3/L1/M1/alarm",
            "zhizao/v1/S3/L1/M1/telemetry",
            "zhizao/v1/S3/L1/M1/telemetry",
            "zhizao/v1/S3/L2/M9/telemetry"
        ]
    );
    assert_eq!(refused[2].payload, "{not json");
    assert!(refused[2].reason.contains("not JSON"), "{:?}", refused[2]);
    assert!(refused[3].reason.contains("outside"), "{:?}", refused[3]);
    assert!(p.hub.devices.refusals(other_id).is_empty());
}

#[tokio::test]
async fn mqtt5_refusals_carry_reason_codes() {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason};
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};
    let p = plant().await;
    let (tenant, _, user, pass) = register(&p, "GW-05", "zhizao/v1/S5").await;
    let mut opts = MqttOptions::new("v5-client", "127.0.0.1", p.port);
    opts.set_credentials(user, pass);
    let (client, mut events) = AsyncClient::new(opts, 10);
    let now = zhizao_tsdb::now_ns() / 1_000_000;
    client
        .publish(
            "zhizao/v1/S5/L1/M1/telemetry",
            QoS::AtLeastOnce,
            false,
            telemetry(5.0, now),
        )
        .await
        .unwrap();
    client
        .publish(
            "zhizao/v1/S6/L1/M1/telemetry",
            QoS::AtLeastOnce,
            false,
            telemetry(5.0, now),
        )
        .await
        .unwrap();
    client
        .publish(
            "zhizao/v1/S5/L1/M1/telemetry",
            QoS::AtLeastOnce,
            false,
            "oops",
        )
        .await
        .unwrap();
    let mut reasons = Vec::new();
    while reasons.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), events.poll())
            .await
            .unwrap()
        {
            Ok(Event::Incoming(Packet::PubAck(a))) => reasons.push(a.reason),
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        reasons,
        vec![
            PubAckReason::Success,
            PubAckReason::NotAuthorized,
            PubAckReason::PayloadFormatInvalid
        ]
    );
    assert_eq!(count(&p.history, tenant, "M1"), 2);
}

#[tokio::test]
async fn an_oversized_message_closes_only_that_connection_and_is_counted() {
    use rumqttc::{AsyncClient, Event, MqttOptions, QoS};
    let p = plant().await;
    let (tenant, id, user, pass) = register(&p, "GW-06", "zhizao/v1/S6").await;
    let (_, _, other_user, other_pass) = register(&p, "GW-07", "zhizao/v1/S7").await;
    let mut opts = MqttOptions::new("big", "127.0.0.1", p.port);
    opts.set_credentials(user, pass);
    opts.set_max_packet_size(20 << 20, 20 << 20);
    let (client, mut events) = AsyncClient::new(opts, 10);
    let huge = vec![b'x'; 10 << 20];
    client
        .publish(
            "zhizao/v1/S6/L1/M1/telemetry",
            QoS::AtLeastOnce,
            false,
            huge,
        )
        .await
        .unwrap();
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.poll())
            .await
            .unwrap()
        {
            Ok(Event::Incoming(rumqttc::Packet::PubAck(_))) => break false,
            Ok(_) => {}
            Err(_) => break true,
        }
    };
    assert!(
        closed,
        "a 10 MB payload is not acknowledged; the connection closes"
    );
    // Another device goes on as before.
    let now = zhizao_tsdb::now_ns() / 1_000_000;
    let msgs = [("zhizao/v1/S7/L1/M2/telemetry", telemetry(7.0, now))];
    publish_v3(p.port, &other_user, &other_pass, &msgs)
        .await
        .unwrap();
    assert_eq!(count(&p.history, tenant, "M2"), 2);
    p.gateway.save_traffic().await;
    let d = p.store.get_device(tenant, id).await.unwrap();
    assert_eq!(d.errors, 1);
    assert!(
        d.last_error.unwrap().contains("connection closed"),
        "counted with its reason"
    );
}

#[tokio::test]
async fn state_messages_of_registered_equipment_reach_the_live_screen() {
    use zhizao_store::{NewArea, NewEquipment, NewLine, NewSite};
    let db = zhizao_testkit::sqlite().await;
    let store = db.store.clone();
    let dir = tempfile::tempdir().unwrap();
    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path())).unwrap());
    let hub = Arc::new(zhizao_live::LiveHub::default());
    let gateway = Gateway::with_hub(store.clone(), history.clone(), Some(hub.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(zhizao_mqtt::serve(listener, gateway));
    let tenant = store.create_tenant("plant", "Plant").await.unwrap();
    let site = store
        .create_site(
            tenant.id,
            NewSite {
                code: "S1".into(),
                name: "S1".into(),
                timezone: None,
            },
        )
        .await
        .unwrap();
    let area = store
        .create_area(
            tenant.id,
            NewArea {
                site_id: site.id,
                code: "A1".into(),
                name: "A1".into(),
            },
        )
        .await
        .unwrap();
    let line = store
        .create_line(
            tenant.id,
            NewLine {
                area_id: area.id,
                code: "L1".into(),
                name: "L1".into(),
            },
        )
        .await
        .unwrap();
    let machine = store
        .create_equipment(
            tenant.id,
            NewEquipment {
                line_id: line.id,
                code: "CUT-01".into(),
                name: "cutter".into(),
                equipment_type: "cnc_cutter".into(),
                work_cell: None,
                attributes: Default::default(),
            },
        )
        .await
        .unwrap();
    let (d, pass) = store
        .create_device(
            tenant.id,
            &NewDevice {
                code: "GW".into(),
                name: "GW".into(),
                topic_prefix: "zhizao/v1/S1".into(),
                mapping: None,
            },
        )
        .await
        .unwrap();
    let msgs = [
        (
            "zhizao/v1/S1/L1/CUT-01/state",
            r#"{"state":"down"}"#.to_owned(),
        ),
        // Not in the registry: stored in history, not on the screen.
        (
            "zhizao/v1/S1/L1/GHOST/state",
            r#"{"state":"idle"}"#.to_owned(),
        ),
    ];
    publish_v3(port, &d.username, &pass, &msgs).await.unwrap();
    let live = hub.machines(tenant.id);
    assert_eq!(
        live.get(&machine.id).map(|m| m.state),
        Some(zhizao_core::MachineState::Down)
    );
    assert_eq!(live.len(), 1);
    let q = Query {
        measurement: "machine_state".into(),
        ..Query::default()
    };
    assert_eq!(history.query(tenant.id, &q).unwrap().series.len(), 2);
}

/// A sink standing in for quality: keeps the readings, refuses one code.
#[derive(Default)]
struct Gauges(std::sync::Mutex<Vec<(i64, String, zhizao_ingest::GaugeReading)>>);

impl zhizao_mqtt::gateway::MeasurementSink for Gauges {
    fn record<'a>(
        &'a self,
        tenant: i64,
        equipment: &'a str,
        reading: zhizao_ingest::GaugeReading,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            if reading.characteristic == "NOPE" {
                return Err("characteristic: `NOPE` is not in the inspection plan".into());
            }
            self.0
                .lock()
                .unwrap()
                .push((tenant, equipment.to_owned(), reading));
            Ok(())
        })
    }
}

#[tokio::test]
async fn gauge_readings_go_to_quality_and_bad_ones_are_named() {
    let p = plant().await;
    let (tenant, id, user, pass) = register(&p, "GAUGE-1", "zhizao/v1/S1/L-TRN").await;
    // Before quality takes readings, they are refused, not lost silently.
    let topic = "zhizao/v1/S1/L-TRN/TRN-01/measurement";
    let reading = r#"{"characteristic":"BORE-D","values":[25.001,25.0,24.999,25.002,25.001],"lot":"LCAS-001"}"#;
    publish_v3(p.port, &user, &pass, &[(topic, reading.into())])
        .await
        .unwrap();
    assert!(
        p.hub.devices.refusals(id)[0]
            .reason
            .contains("no gauge readings")
    );
    let gauges = Arc::new(Gauges::default());
    p.gateway.set_measurement_sink(gauges.clone());
    let msgs = vec![
        (topic, reading.to_string()),
        (
            topic,
            r#"{"characteristic":"BORE-D","values":[25.0,"x"]}"#.to_string(),
        ),
        (
            topic,
            r#"{"characteristic":"NOPE","values":[1.0]}"#.to_string(),
        ),
    ];
    assert_eq!(publish_v3(p.port, &user, &pass, &msgs).await.unwrap(), 3);
    let got = gauges.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1.as_str()), (tenant, "TRN-01"));
    assert_eq!(got[0].2.lot.as_deref(), Some("LCAS-001"));
    let refused = p.hub.devices.refusals(id);
    assert!(refused[0].reason.contains("NOPE"), "{:?}", refused[0]);
    assert!(refused[1].reason.contains("values[1]"), "{:?}", refused[1]);
    // Readings are not history points.
    assert_eq!(count(&p.history, tenant, "TRN-01"), 0);
}
