//! The built-in MQTT endpoint under load: N devices publish QoS 1 JSON
//! telemetry (10 values a message) to an endpoint running in this process
//! over loopback, each waiting for PUBACKs with a window of messages in
//! flight. A PUBACK means the points are durable, so points/s here is
//! points stored. Latency is publish-sent to PUBACK-received per message.
//! The clients (rumqttc) share the machine's cores with the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde::Serialize;
use zhizao_mqtt::gateway::Gateway;
use zhizao_store::{NewDevice, Store};
use zhizao_tsdb::{Tsdb, TsdbConfig};

use crate::BenchError;

#[derive(Debug, Clone, Serialize)]
pub struct MqttReport {
    pub devices: usize,
    pub messages: u64,
    pub points: u64,
    pub seconds: f64,
    pub points_per_s: f64,
    /// Per-message publish→PUBACK latency, ms: (p50, p99, max).
    pub latency_ms: (f64, f64, f64),
    /// Messages per second each device was held to (None: as fast as it could).
    pub rate_per_device: Option<f64>,
}

const VALUES: usize = 10;

fn payload(ts_ms: i64, k: u64) -> String {
    let mut v = String::from("{");
    for i in 0..VALUES {
        if i > 0 {
            v.push(',');
        }
        v.push_str(&format!("\"v{i}\":{}.{}", 20 + i, k % 10));
    }
    format!(r#"{{"ts":{ts_ms},"values":{v}}}}}"#)
}

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Mqtt(e.to_string())
}

/// Runs one load: `devices` clients, `messages` each, at most `rate`
/// messages/s per device (None: unthrottled).
pub async fn run(
    devices: usize,
    messages: u64,
    rate: Option<f64>,
) -> Result<MqttReport, BenchError> {
    let dir = tempfile::tempdir().map_err(err)?;
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("z.db").display()))
        .await
        .map_err(err)?;
    store.migrate().await.map_err(err)?;
    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path().join("tsdb")))?);
    let tenant = store.create_tenant("bench", "Bench").await.map_err(err)?;
    let mut creds = Vec::new();
    for d in 0..devices {
        let (dev, pass) = store
            .create_device(
                tenant.id,
                &NewDevice {
                    code: format!("D{d:04}"),
                    name: format!("D{d:04}"),
                    topic_prefix: format!("zhizao/v1/B/L{d:04}"),
                    mapping: None,
                },
            )
            .await
            .map_err(err)?;
        creds.push((d, dev.username, pass));
    }
    let gateway = Gateway::new(store.clone(), history.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let port = listener.local_addr().map_err(err)?.port();
    let server = tokio::spawn(zhizao_mqtt::serve(listener, gateway));
    let base_ms = zhizao_tsdb::now_ns() / 1_000_000 - 3_600_000;
    // Every device connects first; the clock starts when all are in, so
    // the figures are for steady publishing, not a log-in storm.
    let ready = Arc::new(tokio::sync::Barrier::new(devices + 1));
    let mut tasks = Vec::new();
    for (d, user, pass) in creds {
        let ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            let mut opts = MqttOptions::new(format!("bench-{d}"), "127.0.0.1", port);
            opts.set_credentials(user, pass);
            opts.set_keep_alive(Duration::from_secs(30));
            opts.set_inflight(32);
            let (client, mut events) = AsyncClient::new(opts, 64);
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => break,
                    Ok(_) => {}
                    Err(e) => {
                        ready.wait().await;
                        return Err(e.to_string());
                    }
                }
            }
            ready.wait().await;
            let topic = format!("zhizao/v1/B/L{d:04}/M1/telemetry");
            let sender = tokio::spawn(async move {
                let t0 = Instant::now();
                for k in 0..messages {
                    if let Some(r) = rate {
                        let due = t0 + Duration::from_secs_f64(k as f64 / r);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let body = payload(base_ms + k as i64, k);
                    if client
                        .publish(&topic, QoS::AtLeastOnce, false, body)
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                client
            });
            let mut sent_at = vec![None; 65536];
            let mut latencies = Vec::with_capacity(messages as usize);
            while (latencies.len() as u64) < messages {
                match events.poll().await {
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        sent_at[pkid as usize] = Some(Instant::now());
                    }
                    Ok(Event::Incoming(Packet::PubAck(a))) => {
                        if let Some(t) = sent_at[a.pkid as usize].take() {
                            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            if let Ok(c) = sender.await {
                let _ = c.disconnect().await;
            }
            Ok(latencies)
        }));
    }
    ready.wait().await;
    let start = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(err)?.map_err(BenchError::Mqtt)?);
    }
    let seconds = start.elapsed().as_secs_f64();
    server.abort();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let msgs = all.len() as u64;
    Ok(MqttReport {
        devices,
        messages: msgs,
        points: msgs * VALUES as u64,
        seconds,
        points_per_s: (msgs * VALUES as u64) as f64 / seconds,
        latency_ms: (pct(0.5), pct(0.99), all.last().copied().unwrap_or(0.0)),
        rate_per_device: rate,
    })
}
