//! The live path under load: machines report their state over MQTT every
//! second, and screens watch the live WebSocket. Each state message flips
//! the machine's state, so every message is a change that must reach every
//! screen. Latency runs from the gateway stamping the message (its `ts`)
//! to a screen's socket receiving it: MQTT, decoding, the durable history
//! write, the hub, the broadcast and the WebSocket, all in this process
//! over loopback. The screens are WebSocket clients, not browsers.
//!
//! As in the server, the hub persists state changes every 2 s and the
//! line KPI push runs every second; its rounds are timed, and after the
//! run, rounds that read every machine's shift whole (as before the push
//! kept them) are timed for comparison.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde::Serialize;
use zhizao_api::AppState;
use zhizao_live::LiveHub;
use zhizao_store::{NewArea, NewDevice, NewEquipment, NewLine, NewSite};
use zhizao_tsdb::{Tsdb, TsdbConfig};

use crate::BenchError;

#[derive(Debug, Clone, Serialize)]
pub struct LiveReport {
    pub machines: usize,
    pub screens: usize,
    pub seconds: u64,
    /// State changes the screens received, all together.
    pub received: u64,
    /// Per screen, the share of the changes sent that it received.
    pub delivered_share: f64,
    /// Gateway stamp → screen socket, ms: (p50, p99, max).
    pub latency_ms: (f64, f64, f64),
    /// Live KPI push rounds during the run, ms: (count, p50, max).
    pub push_round_ms: (usize, f64, f64),
    /// The same figures read whole for every machine, ms: (count, p50, max).
    pub whole_read_ms: (usize, f64, f64),
}

/// (count, p50, max) of durations in ms.
fn summary(mut v: Vec<f64>) -> (usize, f64, f64) {
    v.sort_by(f64::total_cmp);
    let p50 = v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0.0);
    (v.len(), p50, v.last().copied().unwrap_or(0.0))
}

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Live(e.to_string())
}

const LINES: usize = 10;

/// `machines` machines on ten lines, one gateway a line, every machine
/// reporting once a second for `seconds`, watched by `screens` screens.
pub async fn run(machines: usize, screens: usize, seconds: u64) -> Result<LiveReport, BenchError> {
    let dir = tempfile::tempdir().map_err(err)?;
    let (store, tenant) = crate::fresh_registry(dir.path()).await?;
    store
        .create_user(
            tenant.id,
            "screen",
            "screen-pass-1",
            zhizao_core::Role::Viewer,
        )
        .await
        .map_err(err)?;
    let site = store
        .create_site(
            tenant.id,
            NewSite {
                code: "S".into(),
                name: "S".into(),
                timezone: Some("Asia/Shanghai".into()),
            },
        )
        .await
        .map_err(err)?;
    let area = store
        .create_area(
            tenant.id,
            NewArea {
                site_id: site.id,
                code: "A".into(),
                name: "A".into(),
            },
        )
        .await
        .map_err(err)?;
    let per_line = machines.div_ceil(LINES);
    let mut gateways = Vec::new();
    for l in 0..LINES {
        let line = store
            .create_line(
                tenant.id,
                NewLine {
                    area_id: area.id,
                    code: format!("L{l}"),
                    name: format!("L{l}"),
                },
            )
            .await
            .map_err(err)?;
        let codes: Vec<String> = (0..per_line)
            .map(|m| l * per_line + m)
            .filter(|i| *i < machines)
            .map(|i| format!("M{i:04}"))
            .collect();
        for code in &codes {
            store
                .create_equipment(
                    tenant.id,
                    NewEquipment {
                        line_id: line.id,
                        code: code.clone(),
                        name: code.clone(),
                        equipment_type: "cnc".into(),
                        work_cell: None,
                        attributes: Default::default(),
                    },
                )
                .await
                .map_err(err)?;
        }
        let (device, password) = store
            .create_device(
                tenant.id,
                &NewDevice {
                    code: format!("GW{l}"),
                    name: format!("GW{l}"),
                    topic_prefix: format!("zhizao/v1/S/L{l}"),
                    mapping: None,
                },
            )
            .await
            .map_err(err)?;
        gateways.push((l, device.username, password, codes));
    }
    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path().join("tsdb")))?);
    let hub = Arc::new(LiveHub::default());
    let gateway =
        zhizao_mqtt::gateway::Gateway::with_hub(store.clone(), history.clone(), Some(hub.clone()));
    let mqtt = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let mqtt_port = mqtt.local_addr().map_err(err)?.port();
    let mqtt_task = tokio::spawn(zhizao_mqtt::serve(mqtt, gateway));
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let http_addr = http.local_addr().map_err(err)?;
    let state = AppState::new(store.clone(), hub.clone(), history, 1 << 20);
    let api = tokio::spawn(zhizao_api::serve(
        http,
        state.clone(),
        std::future::pending(),
    ));
    let persister = tokio::spawn(
        hub.clone()
            .persist_loop(store.clone(), Duration::from_secs(2)),
    );
    let push_state = state.clone();
    let published = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let push_done = published.clone();
    let pushing = tokio::spawn(async move {
        let mut pusher = zhizao_api::kpi::LineKpiPusher::default();
        let mut rounds = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if push_done.load(std::sync::atomic::Ordering::Relaxed) {
                return rounds;
            }
            let started = std::time::Instant::now();
            pusher.round(&push_state).await;
            rounds.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    });

    let login = format!("http://{http_addr}/api/v1/auth/login");
    let token: String = tokio::task::spawn_blocking(move || -> Result<String, BenchError> {
        let mut res = ureq::post(&login)
            .header("content-type", "application/json")
            .send(r#"{"username":"screen","password":"screen-pass-1"}"#)
            .map_err(err)?;
        let body: serde_json::Value =
            serde_json::from_str(&res.body_mut().read_to_string().map_err(err)?).map_err(err)?;
        body["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| err("no token in the login answer"))
    })
    .await
    .map_err(err)??;

    // The screens, each collecting (receive time − stamp) of state
    // messages until the run is over.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds + 6);
    let measuring_from = Arc::new(std::sync::atomic::AtomicI64::new(i64::MAX));
    let mut watchers = Vec::new();
    for _ in 0..screens {
        let url = format!("ws://{http_addr}/api/v1/live?scope=all&token={token}");
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.map_err(err)?;
        let from = measuring_from.clone();
        watchers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, socket.next()).await {
                let now = zhizao_live::now_ms();
                let Ok(text) = msg.into_text() else { continue };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                if v["type"] == "state"
                    && let Some(ts) = v["ts"].as_i64()
                    && ts >= from.load(std::sync::atomic::Ordering::Relaxed)
                {
                    latencies.push((now - ts) as f64);
                }
            }
            latencies
        }));
    }

    // The gateways: every machine's state once a second, flipping.
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut publishers = Vec::new();
    let total_s = seconds + 3;
    for (l, user, password, codes) in gateways {
        let sent = sent.clone();
        let from = measuring_from.clone();
        publishers.push(tokio::spawn(async move {
            let mut opts = MqttOptions::new(format!("gw-{l}"), "127.0.0.1", mqtt_port);
            opts.set_credentials(user, password);
            opts.set_keep_alive(Duration::from_secs(30));
            opts.set_inflight(100);
            let (client, mut events) = AsyncClient::new(opts, 1024);
            let poller = tokio::spawn(async move {
                loop {
                    if let Err(e) = events.poll().await {
                        tracing::warn!(error = %e, "bench gateway");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            });
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            for second in 0..total_s {
                tick.tick().await;
                // Spread the machines over the second, as real ones are.
                let step = Duration::from_millis(1000 / codes.len().max(1) as u64);
                for code in &codes {
                    let state = if second % 2 == 0 { "running" } else { "idle" };
                    let stamp = zhizao_live::now_ms();
                    if stamp >= from.load(std::sync::atomic::Ordering::Relaxed) {
                        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    let body = format!(r#"{{"ts":{stamp},"state":"{state}"}}"#);
                    let topic = format!("zhizao/v1/S/L{l}/{code}/state");
                    if client
                        .publish(topic, QoS::AtLeastOnce, false, body)
                        .await
                        .is_err()
                    {
                        break;
                    }
                    tokio::time::sleep(step).await;
                }
            }
            poller.abort();
        }));
    }
    // The first three seconds are the warm-up (log-ins, first states).
    tokio::time::sleep(Duration::from_secs(3)).await;
    measuring_from.store(zhizao_live::now_ms(), std::sync::atomic::Ordering::Relaxed);
    for p in publishers {
        p.await.map_err(err)?;
    }
    published.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut all = Vec::new();
    for w in watchers {
        all.extend(w.await.map_err(err)?);
    }
    let push_rounds = pushing.await.map_err(err)?;
    let mut whole = Vec::new();
    for _ in 0..5 {
        let started = std::time::Instant::now();
        zhizao_api::kpi::whole_line_kpis(&state, tenant.id)
            .await
            .map_err(|e| err(e.message))?;
        whole.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    persister.abort();
    api.abort();
    mqtt_task.abort();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    Ok(LiveReport {
        machines,
        screens,
        seconds,
        received: all.len() as u64,
        delivered_share: all.len() as f64 / (sent * screens as u64).max(1) as f64,
        latency_ms: (pct(0.5), pct(0.99), all.last().copied().unwrap_or(0.0)),
        push_round_ms: summary(push_rounds),
        whole_read_ms: summary(whole),
    })
}
