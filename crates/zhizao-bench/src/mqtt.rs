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
use zhizao_store::NewDevice;
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
    let (store, tenant) = crate::fresh_registry(dir.path()).await?;
    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path().join("tsdb")))?);
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

/// Who takes the messages off the external broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Consumer {
    /// A plain QoS 1 subscriber that only counts: the broker's own
    /// publish→subscribe rate.
    Plain,
    /// A Zhizao node in client mode, acknowledging after durable.
    Zhizao,
}

#[derive(Debug, Clone, Serialize)]
pub struct BrokerReport {
    pub consumer: Consumer,
    pub devices: usize,
    pub messages: u64,
    pub points: u64,
    pub seconds: f64,
    pub messages_per_s: f64,
    pub points_per_s: f64,
    /// Publish (queued by the device) → received (plain) or durable
    /// (Zhizao), ms: (p50, p99, max).
    pub latency_ms: (f64, f64, f64),
    pub rate_per_device: Option<f64>,
}

/// Send times by device and message number, µs since the clock started,
/// and arrival latencies.
struct Clock {
    start: Instant,
    base_ms: i64,
    sent: Vec<Vec<std::sync::atomic::AtomicU64>>,
    arrived: std::sync::Mutex<Vec<f64>>,
    last_us: std::sync::atomic::AtomicU64,
}

impl Clock {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Records the arrival of the message on `topic` with `payload`.
    fn arrive(&self, topic: &str, payload: &[u8]) {
        let now = self.now_us();
        let device = topic
            .split('/')
            .nth(3)
            .and_then(|l| l.strip_prefix('L'))
            .and_then(|d| d.parse::<usize>().ok());
        let k = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v["ts"].as_i64())
            .map(|ts| ts - self.base_ms);
        if let (Some(d), Some(k)) = (device, k)
            && let Some(sent) = self.sent.get(d).and_then(|s| s.get(k as usize))
        {
            let at = sent.load(std::sync::atomic::Ordering::Relaxed);
            self.arrived
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(now.saturating_sub(at) as f64 / 1000.0);
            self.last_us
                .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn count(&self) -> usize {
        self.arrived
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

/// The gateway, timed: a message counts as arrived when it is durable.
struct Timed {
    gateway: Arc<Gateway>,
    clock: Arc<Clock>,
}

impl zhizao_mqtt::client::Deliver for Timed {
    async fn deliver(
        &self,
        topic: &str,
        payload: bytes::Bytes,
        commands: &mut Vec<zhizao_ingest::sparkplug::Command>,
    ) -> Result<(), zhizao_mqtt::Rejection> {
        let p = payload.clone();
        let r = self.gateway.deliver(topic, payload, commands).await;
        if r.is_ok() {
            self.clock.arrive(topic, &p);
        }
        r
    }
}

/// Devices publish QoS 1 JSON to an external broker; `consumer` takes the
/// messages off it. Each run uses its own topic root, so runs do not mix.
pub async fn run_broker(
    broker: (String, u16),
    consumer: Consumer,
    devices: usize,
    messages: u64,
    rate: Option<f64>,
) -> Result<BrokerReport, BenchError> {
    let run_id = format!(
        "B{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(err)?
            .as_millis()
    );
    let dir = tempfile::tempdir().map_err(err)?;
    let base_ms = zhizao_tsdb::now_ns() / 1_000_000 - 3_600_000;
    let clock = Arc::new(Clock {
        start: Instant::now(),
        base_ms,
        sent: (0..devices)
            .map(|_| {
                (0..messages)
                    .map(|_| std::sync::atomic::AtomicU64::new(0))
                    .collect()
            })
            .collect(),
        arrived: std::sync::Mutex::new(Vec::with_capacity(devices * messages as usize)),
        last_us: std::sync::atomic::AtomicU64::new(0),
    });
    // The consumer first, subscribed before anything is published.
    let consumer_task = match consumer {
        Consumer::Plain => {
            let mut opts = MqttOptions::new(format!("plain-{run_id}"), &broker.0, broker.1);
            opts.set_keep_alive(Duration::from_secs(30));
            opts.set_max_packet_size(1 << 20, 1 << 20);
            let (client, mut events) = AsyncClient::new(opts, 64);
            client
                .subscribe(format!("zhizao/v1/{run_id}/#"), QoS::AtLeastOnce)
                .await
                .map_err(err)?;
            let clock = clock.clone();
            let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
            let mut subscribed_tx = Some(subscribed_tx);
            let task = tokio::spawn(async move {
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            if let Some(tx) = subscribed_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            clock.arrive(&p.topic, &p.payload);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "plain subscriber");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
            subscribed.await.map_err(err)?;
            task
        }
        Consumer::Zhizao => {
            let (store, tenant) = crate::fresh_registry(dir.path()).await?;
            store
                .create_device(
                    tenant.id,
                    &NewDevice {
                        code: "GW".into(),
                        name: "GW".into(),
                        topic_prefix: format!("zhizao/v1/{run_id}"),
                        mapping: None,
                    },
                )
                .await
                .map_err(err)?;
            let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path().join("tsdb")))?);
            let gateway = Gateway::new(store, history);
            let mut cfg = zhizao_mqtt::client::ClientConfig::new(
                &broker.0,
                broker.1,
                &format!("zhizao-{run_id}"),
            );
            cfg.share_group = format!("g{run_id}");
            cfg.topic_filter = format!("zhizao/v1/{run_id}/#");
            cfg.sparkplug = false;
            cfg.session_expiry_s = 60;
            let task = tokio::spawn(zhizao_mqtt::client::run(
                cfg,
                Arc::new(Timed {
                    gateway,
                    clock: clock.clone(),
                }),
            ));
            // The node subscribes on connecting; give it that moment.
            tokio::time::sleep(Duration::from_millis(500)).await;
            task
        }
    };

    let ready = Arc::new(tokio::sync::Barrier::new(devices + 1));
    let mut publishers = Vec::new();
    for d in 0..devices {
        let ready = ready.clone();
        let clock = clock.clone();
        let broker = broker.clone();
        let topic = format!("zhizao/v1/{run_id}/L{d:04}/M1/telemetry");
        let id = format!("pub-{run_id}-{d}");
        publishers.push(tokio::spawn(async move {
            let mut opts = MqttOptions::new(id, &broker.0, broker.1);
            opts.set_keep_alive(Duration::from_secs(30));
            opts.set_inflight(32);
            let (client, mut events) = AsyncClient::new(opts, 64);
            let poller = tokio::spawn(async move {
                let mut acked = 0u64;
                while acked < messages {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                        Ok(_) => {}
                        Err(e) => return Err(e.to_string()),
                    }
                }
                Ok(())
            });
            ready.wait().await;
            let t0 = Instant::now();
            for k in 0..messages {
                if let Some(r) = rate {
                    let due = t0 + Duration::from_secs_f64(k as f64 / r);
                    tokio::time::sleep_until(due.into()).await;
                }
                clock.sent[d][k as usize]
                    .store(clock.now_us(), std::sync::atomic::Ordering::Relaxed);
                let body = payload(clock.base_ms + k as i64, k);
                if client
                    .publish(&topic, QoS::AtLeastOnce, false, body)
                    .await
                    .is_err()
                {
                    break;
                }
            }
            let r = poller.await.map_err(|e| e.to_string())?;
            let _ = client.disconnect().await;
            r
        }));
    }
    ready.wait().await;
    let start_us = clock.now_us();
    for p in publishers {
        p.await.map_err(err)?.map_err(BenchError::Mqtt)?;
    }
    // Wait for the consumer to take everything (or to stop making progress).
    let total = devices * messages as usize;
    let mut seen = 0;
    let mut idle = Instant::now();
    while clock.count() < total && idle.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if clock.count() > seen {
            seen = clock.count();
            idle = Instant::now();
        }
    }
    consumer_task.abort();
    let mut all = clock
        .arrived
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    all.sort_by(f64::total_cmp);
    if all.len() < total {
        return Err(BenchError::Mqtt(format!(
            "{consumer:?}: only {} of {total} messages arrived",
            all.len()
        )));
    }
    let seconds =
        (clock.last_us.load(std::sync::atomic::Ordering::Relaxed) - start_us) as f64 / 1e6;
    let pct = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let msgs = all.len() as u64;
    Ok(BrokerReport {
        consumer,
        devices,
        messages: msgs,
        points: msgs * VALUES as u64,
        seconds,
        messages_per_s: msgs as f64 / seconds,
        points_per_s: (msgs * VALUES as u64) as f64 / seconds,
        latency_ms: (pct(0.5), pct(0.99), all.last().copied().unwrap_or(0.0)),
        rate_per_device: rate,
    })
}
