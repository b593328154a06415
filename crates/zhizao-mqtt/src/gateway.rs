//! The platform's side of the endpoint: devices log in with the
//! credentials the registry gave them, may publish only under their topic
//! prefix, and their messages are decoded and written to history before
//! they are acknowledged. Per-device counters are kept in memory and added
//! to the registry every few seconds, so a message costs no database write.
//!
//! Both payload conventions end the same way: JSON on `zhizao/v1/…` and
//! Sparkplug B on `spBv1.0/…` become points with `site`, `line` and
//! `equipment` tags, and what the control-centre screen shows (a machine's
//! state, its good and scrap counts, its temperature) is passed to the live
//! hub as it arrives.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use zhizao_core::{Device, MachineState};
use zhizao_ingest::sparkplug::{self, Command, EdgeNodes, NodeStatus};
use zhizao_ingest::{GaugeReading, Kind, Mapping, decode, decode_reading, parse_topic};
use zhizao_live::{LiveHub, Placement, Report};
use zhizao_store::{DeviceTraffic, Store};
use zhizao_tsdb::{Point, Tsdb, Value};

use crate::{Handler, Outbox, Outgoing, Refusal, Rejection};

/// A logged-in device.
#[derive(Debug)]
pub struct DeviceSession {
    pub device: Device,
    pub mapping: Mapping,
    /// Commands to the device's connection (built-in endpoint only).
    outbox: Option<Outbox>,
}

/// Devices by topic prefix, for client mode.
struct Routes {
    devices: Vec<Device>,
    /// When the registry was last read; `None`: never.
    loaded: Option<std::time::Instant>,
}

/// A device with its payload mapping; `None` (logged) when the stored
/// mapping cannot be read.
fn session_of(device: Device) -> Option<DeviceSession> {
    let mapping = match &device.mapping {
        None => Mapping::default(),
        Some(json) => match serde_json::from_str(json) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(device = device.id, error = %e, "stored mapping unreadable");
                return None;
            }
        },
    };
    Some(DeviceSession {
        device,
        mapping,
        outbox: None,
    })
}

/// What the alarm rules are fed from one message.
enum AlarmInput {
    Sample { field: String, ts: i64, value: f64 },
    State { state: String, ts: i64 },
}

/// A message's numbers and states, by machine, in time order.
fn alarm_inputs(points: &[Point]) -> Vec<(String, Vec<AlarmInput>)> {
    let mut by: Vec<(String, Vec<AlarmInput>)> = Vec::new();
    for p in points {
        let Some(code) = p
            .tags
            .iter()
            .find(|(k, _)| k == "equipment")
            .map(|(_, v)| v)
        else {
            continue;
        };
        let ts = p.ts / 1_000_000;
        let input = match &p.value {
            Value::F64(x) => AlarmInput::Sample {
                field: p.field.to_string(),
                ts,
                value: *x,
            },
            Value::Str(s) if &*p.field == "state" => AlarmInput::State {
                state: s.clone(),
                ts,
            },
            _ => continue,
        };
        match by.iter_mut().find(|(c, _)| c == code) {
            Some((_, v)) => v.push(input),
            None => by.push((code.clone(), vec![input])),
        }
    }
    for (_, v) in &mut by {
        v.sort_by_key(|i| match i {
            AlarmInput::Sample { ts, .. } | AlarmInput::State { ts, .. } => *ts,
        });
    }
    by
}

/// Longest reason kept as a device's last error.
const MAX_REASON_CHARS: usize = 600;

/// A placement looked up (or found missing) at an instant.
type Lookup = (Option<Placement>, std::time::Instant);

/// Devices in, history out.
/// Where gauge readings go: the quality module, wired in by the binary
/// (this crate knows no characteristics).
pub trait MeasurementSink: Send + Sync {
    /// Records a reading taken at `equipment`; returns once it is stored,
    /// or why it was refused.
    fn record<'a>(
        &'a self,
        tenant: i64,
        equipment: &'a str,
        reading: GaugeReading,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

pub struct Gateway {
    store: Store,
    /// Gauge readings (`…/measurement` topics) are handed here.
    measurements: OnceLock<Arc<dyn MeasurementSink>>,
    history: Arc<Tsdb>,
    traffic: Mutex<HashMap<i64, DeviceTraffic>>,
    /// State messages of registered equipment also go to the live hub, so
    /// the control-centre screen shows them at once.
    hub: Option<Arc<LiveHub>>,
    /// (tenant, equipment code) → where it is, and when that was looked
    /// up; filled on demand. An unknown code is looked up again after a
    /// minute, so equipment added later is found.
    placements: Mutex<HashMap<(i64, String), Lookup>>,
    routes: Mutex<Routes>,
    /// Sparkplug sessions per tenant.
    edge_nodes: Mutex<HashMap<i64, EdgeNodes>>,
    /// (tenant, equipment code) → its last cumulative good and scrap
    /// counts, to turn counters into the screen's increments.
    counts: Mutex<HashMap<(i64, String), (f64, f64)>>,
    /// (tenant, equipment code) → its equipment type, found with its
    /// placement.
    types: Mutex<HashMap<(i64, String), String>>,
    /// (tenant, equipment code) → its latest numbers and when they rose,
    /// for state rules.
    signals: Mutex<HashMap<(i64, String), zhizao_kpi::state_rules::Signals>>,
}

impl Gateway {
    pub fn new(store: Store, history: Arc<Tsdb>) -> Arc<Gateway> {
        Self::with_hub(store, history, None)
    }

    pub fn with_hub(store: Store, history: Arc<Tsdb>, hub: Option<Arc<LiveHub>>) -> Arc<Gateway> {
        Arc::new(Gateway {
            store,
            measurements: OnceLock::new(),
            history,
            traffic: Mutex::new(HashMap::new()),
            hub,
            placements: Mutex::new(HashMap::new()),
            routes: Mutex::new(Routes {
                devices: Vec::new(),
                loaded: None,
            }),
            edge_nodes: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
            types: Mutex::new(HashMap::new()),
            signals: Mutex::new(HashMap::new()),
        })
    }

    /// Takes gauge readings from now on (once; later calls are ignored).
    pub fn set_measurement_sink(&self, sink: Arc<dyn MeasurementSink>) {
        let _ = self.measurements.set(sink);
    }

    /// The Sparkplug edge nodes a tenant's devices have announced, with
    /// their devices, and whether each is online.
    pub fn edge_nodes(&self, tenant: i64) -> Vec<NodeStatus> {
        self.edge_nodes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant)
            .map(EdgeNodes::status)
            .unwrap_or_default()
    }

    /// Where an equipment code sits in a tenant's plant; `None` when the
    /// registry has no such equipment (its data is still stored).
    async fn placement(&self, tenant: i64, code: &str) -> Option<Placement> {
        let key = (tenant, code.to_owned());
        if let Some((p, at)) = self
            .placements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            && (p.is_some() || at.elapsed() < Duration::from_secs(60))
        {
            return *p;
        }
        let layout = match self.store.layout(tenant).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(tenant, error = %e, "plant layout unavailable");
                return None;
            }
        };
        let found = layout
            .equipment
            .iter()
            .find(|e| e.code == code)
            .and_then(|e| {
                let site = layout.site_of_line(e.line_id)?;
                self.types
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(
                        (tenant, code.to_owned()),
                        e.equipment_type.as_str().to_owned(),
                    );
                Some(Placement {
                    tenant_id: tenant,
                    site_id: site.id,
                    line_id: e.line_id,
                    equipment_id: e.id,
                })
            });
        self.placements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (found, std::time::Instant::now()));
        found
    }

    fn count(&self, device: i64, f: impl FnOnce(&mut DeviceTraffic)) {
        let mut t = self.traffic.lock().unwrap_or_else(PoisonError::into_inner);
        f(t.entry(device).or_default());
    }

    /// Counts a refused message and keeps why, with what was sent.
    fn reject(&self, device: i64, mut reason: String, topic: &str, payload: &[u8]) {
        if reason.chars().count() > MAX_REASON_CHARS {
            reason = reason.chars().take(MAX_REASON_CHARS).collect::<String>() + "…";
        }
        tracing::debug!(device, %reason, "message rejected");
        if let Some(hub) = &self.hub {
            hub.devices.refused(
                device,
                zhizao_live::devices::Refused::new(
                    zhizao_store::now_ms(),
                    topic,
                    reason.clone(),
                    payload,
                ),
            );
        }
        self.count(device, |t| {
            t.messages += 1;
            t.errors += 1;
            t.last_seen = Some(zhizao_store::now_ms());
            t.last_error = Some((reason, zhizao_store::now_ms()));
        });
    }

    /// Stores a message that came through an external broker: the device
    /// is the one whose prefix the topic lies under. Commands to send back
    /// (Sparkplug rebirth requests) are added to `commands`.
    pub async fn deliver(
        &self,
        topic: &str,
        payload: Bytes,
        commands: &mut Vec<Command>,
    ) -> Result<(), Rejection> {
        let Some(session) = self.device_for_topic(topic).await else {
            tracing::debug!(%topic, "no registered device owns this topic");
            return Err(Rejection::NotAuthorized(format!(
                "no registered device owns topic `{topic}`"
            )));
        };
        if let Some(hub) = &self.hub {
            hub.devices
                .heard_via_broker(session.device.id, zhizao_store::now_ms());
        }
        self.ingest(&session, topic, payload, commands).await
    }

    /// Checks, decodes and stores one message; returns once it is durable.
    async fn ingest(
        &self,
        session: &DeviceSession,
        topic: &str,
        payload: Bytes,
        commands: &mut Vec<Command>,
    ) -> Result<(), Rejection> {
        let id = session.device.id;
        let tenant = session.device.tenant_id;
        if !session.device.may_publish(topic) {
            let reason = format!(
                "topic `{topic}` is outside the device's prefix `{}`",
                session.device.topic_prefix
            );
            self.reject(id, reason.clone(), topic, &payload);
            return Err(Rejection::NotAuthorized(reason));
        }
        let invalid = |e: String| {
            self.reject(id, e.clone(), topic, &payload);
            Rejection::Invalid(e)
        };
        if !sparkplug::is_sparkplug(topic)
            && let Ok(t) = parse_topic(topic)
            && t.kind == Kind::Measurement
        {
            // A gauge's reading: acknowledged once quality has stored it.
            let reading = decode_reading(&payload).map_err(|e| invalid(format!("{topic}: {e}")))?;
            let Some(sink) = self.measurements.get() else {
                return Err(invalid(format!(
                    "{topic}: this node takes no gauge readings"
                )));
            };
            sink.record(tenant, &t.equipment, reading)
                .await
                .map_err(|e| invalid(format!("{topic}: {e}")))?;
            self.count(id, |tr| {
                tr.messages += 1;
                tr.points += 1;
                tr.last_seen = Some(zhizao_store::now_ms());
            });
            return Ok(());
        }
        let (points, problems, offline) = if sparkplug::is_sparkplug(topic) {
            let received = self
                .edge_nodes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(tenant)
                .or_default()
                .receive(topic, &payload, zhizao_store::now_ms())
                .map_err(|e| invalid(format!("{topic}: {e}")))?;
            commands.extend(received.commands);
            if !received.presence.is_empty() {
                self.publish_edge_nodes(&session.device);
            }
            let offline: Vec<String> = received
                .presence
                .into_iter()
                .filter(|p| !p.online)
                .filter_map(|p| p.device)
                .collect();
            (received.points, received.problems, offline)
        } else {
            let points = parse_topic(topic)
                .and_then(|t| decode(&t, &payload, &session.mapping, now_ns()))
                .map_err(|e| invalid(format!("{topic}: {e}")))?;
            (points, Vec::new(), Vec::new())
        };
        if points.is_empty() && !problems.is_empty() {
            return Err(invalid(problems.join("; ")));
        }
        let reports = self.screen_reports(tenant, &points, &offline);
        let watched = alarm_inputs(&points);
        let n = points.len() as i64;
        if !points.is_empty() {
            let outcome = self
                .history
                .write(tenant, points)
                .await
                .map_err(|e| Rejection::Unavailable(e.to_string()))?;
            if let Some((_, why)) = outcome.rejected.first() {
                return Err(invalid(format!("{topic}: {why}")));
            }
        }
        if problems.is_empty() {
            self.count(id, |t| {
                t.messages += 1;
                t.points += n;
                t.last_seen = Some(zhizao_store::now_ms());
            });
        } else {
            // Stored in part: counted as an error, with what was refused.
            self.reject(id, problems.join("; "), topic, &payload);
            self.count(id, |t| t.points += n);
        }
        if let Some(hub) = &self.hub {
            for (code, ts_ms, report) in reports {
                if let Some(at) = self.placement(tenant, &code).await {
                    hub.report(at, ts_ms, report);
                }
            }
            // The alarm rules see every number and state the machine sent;
            // the state rules turn the numbers of machines that report no
            // state into one.
            let rules = hub.state_rules(tenant);
            let mut events = Vec::new();
            for (code, inputs) in watched {
                let at = self.placement(tenant, &code).await;
                if let (Some(rules), Some(at)) = (&rules, at)
                    && let Some((state, ts)) = self.derived_state(rules, tenant, &code, &inputs)
                {
                    hub.report(
                        at,
                        ts,
                        Report::State {
                            code: code.clone(),
                            state,
                        },
                    );
                    events.extend(
                        hub.alarms
                            .state(tenant, Some(at), &code, state.as_str(), ts),
                    );
                }
                for input in inputs {
                    events.extend(match input {
                        AlarmInput::Sample { field, ts, value } => {
                            hub.alarms.sample(tenant, at, &code, &field, ts, value)
                        }
                        AlarmInput::State { state, ts } => {
                            hub.alarms.state(tenant, at, &code, &state, ts)
                        }
                    });
                }
            }
            if !events.is_empty() {
                hub.alarm_events(tenant, events);
            }
        }
        Ok(())
    }

    /// Shows the device's edge nodes (those under its prefix) on the hub.
    fn publish_edge_nodes(&self, device: &Device) {
        let Some(hub) = &self.hub else { return };
        let nodes = self
            .edge_nodes(device.tenant_id)
            .into_iter()
            .filter(|n| device.may_publish(&format!("spBv1.0/{}/NDATA/{}", n.group, n.node)))
            .map(|n| zhizao_live::devices::EdgeNodeLive {
                group: n.group,
                node: n.node,
                online: n.online,
                devices: n.devices,
            })
            .collect();
        hub.devices.set_edge_nodes(device.id, nodes);
    }

    /// The state a machine's latest numbers mean under the tenant's rules
    /// for its equipment type, at the newest sample's time.
    fn derived_state(
        &self,
        rules: &zhizao_kpi::state_rules::StateRules,
        tenant: i64,
        code: &str,
        inputs: &[AlarmInput],
    ) -> Option<(MachineState, i64)> {
        let kind = self
            .types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(tenant, code.to_owned()))
            .cloned()?;
        if !rules.covers(&kind) {
            return None;
        }
        let mut latest = None;
        let mut signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
        let machine = signals.entry((tenant, code.to_owned())).or_default();
        for i in inputs {
            if let AlarmInput::Sample { field, ts, value } = i {
                machine.record(field, *ts, *value);
                latest = Some(latest.map_or(*ts, |t: i64| t.max(*ts)));
            }
        }
        Some((rules.derive(&kind, machine)?, latest?))
    }

    /// What the screen shows of a message: state changes, and counters as
    /// increments since the equipment's previous message. Equipment gone
    /// offline (a Sparkplug death) shows as offline.
    fn screen_reports(
        &self,
        tenant: i64,
        points: &[Point],
        offline: &[String],
    ) -> Vec<(String, i64, Report)> {
        let mut out = Vec::new();
        let now = zhizao_store::now_ms();
        for code in offline {
            out.push((
                code.clone(),
                now,
                Report::State {
                    code: code.clone(),
                    state: MachineState::Offline,
                },
            ));
        }
        // (code, ts) → good, scrap, temperature
        let mut counters: Vec<(&str, i64, [Option<f64>; 3])> = Vec::new();
        for p in points {
            let Some(code) = p
                .tags
                .iter()
                .find(|(k, _)| k == "equipment")
                .map(|(_, v)| v.as_str())
            else {
                continue;
            };
            let ts_ms = p.ts / 1_000_000;
            match (&*p.field, &p.value) {
                ("state", Value::Str(s)) => {
                    if let Ok(state) = s.parse::<MachineState>() {
                        out.push((
                            code.to_owned(),
                            ts_ms,
                            Report::State {
                                code: code.to_owned(),
                                state,
                            },
                        ));
                    }
                }
                (field @ ("count_good" | "count_scrap" | "temperature"), Value::F64(x)) => {
                    let slot = match counters.iter().position(|(c, _, _)| *c == code) {
                        Some(i) => i,
                        None => {
                            counters.push((code, ts_ms, [None; 3]));
                            counters.len() - 1
                        }
                    };
                    let i = match field {
                        "count_good" => 0,
                        "count_scrap" => 1,
                        _ => 2,
                    };
                    counters[slot].2[i] = Some(*x);
                }
                _ => {}
            }
        }
        if counters.is_empty() {
            return out;
        }
        let mut last = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for (code, ts_ms, [good, scrap, temperature]) in counters {
            let before = last.get(&(tenant, code.to_owned())).copied();
            let delta = |now: Option<f64>, then: Option<f64>| match (now, then) {
                // A counter that went down was reset: it counts from zero.
                (Some(n), Some(t)) if n >= t => (n - t) as i64,
                (Some(n), Some(_)) => n as i64,
                // The first count seen is the baseline.
                _ => 0,
            };
            let good_delta = delta(good, before.map(|b| b.0));
            let scrap_delta = delta(scrap, before.map(|b| b.1));
            let b = before.unwrap_or((0.0, 0.0));
            last.insert(
                (tenant, code.to_owned()),
                (good.unwrap_or(b.0), scrap.unwrap_or(b.1)),
            );
            out.push((
                code.to_owned(),
                ts_ms,
                Report::Counters {
                    good_delta,
                    scrap_delta,
                    temperature,
                },
            ));
        }
        out
    }

    /// The registered device whose prefix `topic` lies under (the longest
    /// prefix, if several nest). The registry is read again at most every
    /// 5 s when a topic has no owner, so a new device is found quickly.
    async fn device_for_topic(&self, topic: &str) -> Option<DeviceSession> {
        let find = |routes: &Routes| {
            routes
                .devices
                .iter()
                .filter(|d| d.may_publish(topic))
                .max_by_key(|d| d.topic_prefix.len())
                .cloned()
        };
        let reload = {
            let r = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            let age = r.loaded.map_or(Duration::MAX, |t| t.elapsed());
            match find(&r) {
                Some(d) if age < Duration::from_secs(60) => return session_of(d),
                Some(_) => true,
                None => age >= Duration::from_secs(5),
            }
        };
        if reload {
            match self.store.all_devices().await {
                Ok(devices) => {
                    let mut r = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
                    r.devices = devices;
                    r.loaded = Some(std::time::Instant::now());
                }
                Err(e) => tracing::warn!(error = %e, "device registry unavailable"),
            }
        }
        let r = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        find(&r).and_then(session_of)
    }

    /// Adds the counters gathered since the last call to the registry.
    pub async fn save_traffic(&self) {
        let batch =
            std::mem::take(&mut *self.traffic.lock().unwrap_or_else(PoisonError::into_inner));
        for (id, t) in batch {
            if let Err(e) = self.store.add_device_traffic(id, &t).await {
                tracing::warn!(device = id, error = %e, "device counters not saved");
            }
        }
    }

    /// Re-derives the states of machines whose rules look at how lately
    /// a signal rose: time alone turns a press that stopped counting idle,
    /// even when it sends nothing (Sparkplug sends only changes). A change
    /// is stamped `now_ms` and recorded like any other.
    pub async fn tick_state_rules(&self, now_ms: i64) {
        let Some(hub) = &self.hub else { return };
        let quiet: Vec<(i64, String)> = self
            .signals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, m)| m.has_risen() && m.newest_ms().is_some_and(|t| t < now_ms))
            .map(|(k, _)| k.clone())
            .collect();
        let mut events: HashMap<i64, Vec<_>> = HashMap::new();
        for (tenant, code) in quiet {
            let Some(rules) = hub.state_rules(tenant) else {
                continue;
            };
            let Some(at) = self.placement(tenant, &code).await else {
                continue;
            };
            let Some(kind) = self
                .types
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&(tenant, code.clone()))
                .cloned()
            else {
                continue;
            };
            let state = {
                let mut signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(m) = signals.get_mut(&(tenant, code.clone())) else {
                    continue;
                };
                if !m.advance_to(now_ms) {
                    continue;
                }
                rules.derive(&kind, m)
            };
            if let Some(state) = state
                && hub
                    .report(
                        at,
                        now_ms,
                        Report::State {
                            code: code.clone(),
                            state,
                        },
                    )
                    .is_some()
            {
                events.entry(tenant).or_default().extend(hub.alarms.state(
                    tenant,
                    Some(at),
                    &code,
                    state.as_str(),
                    now_ms,
                ));
            }
        }
        for (tenant, e) in events {
            if !e.is_empty() {
                hub.alarm_events(tenant, e);
            }
        }
    }

    /// Runs [`Gateway::tick_state_rules`] every `every` until dropped.
    pub async fn state_rules_loop(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            self.tick_state_rules(zhizao_store::now_ms()).await;
        }
    }

    /// Saves counters every `every` until dropped.
    pub async fn save_loop(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            self.save_traffic().await;
        }
    }
}

fn now_ns() -> i64 {
    zhizao_tsdb::now_ns()
}

impl Handler for Gateway {
    type Session = DeviceSession;

    async fn connect(
        &self,
        _client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
        outbox: Outbox,
    ) -> Result<DeviceSession, Refusal> {
        let (Some(user), Some(pass)) = (username, password) else {
            return Err(Refusal::BadCredentials);
        };
        let pass = std::str::from_utf8(pass).map_err(|_| Refusal::BadCredentials)?;
        let device = match self.store.verify_device(user, pass).await {
            Ok(Some(d)) => d,
            Ok(None) => return Err(Refusal::BadCredentials),
            Err(e) => {
                tracing::error!(error = %e, "device login check failed");
                return Err(Refusal::Unavailable);
            }
        };
        let id = device.id;
        let mut session = session_of(device).ok_or(Refusal::Unavailable)?;
        session.outbox = Some(outbox);
        self.count(id, |t| t.last_seen = Some(zhizao_store::now_ms()));
        if let Some(hub) = &self.hub {
            hub.devices.connected(id);
        }
        Ok(session)
    }

    /// A device may subscribe under its own prefix (a Sparkplug edge node
    /// to its NCMD and DCMD topics). Sparkplug STATE topics are granted
    /// too and answered at once: the platform is the edge node's primary
    /// host and is online.
    async fn subscribe(&self, session: &DeviceSession, filter: &str) -> Option<Vec<Outgoing>> {
        if let Some(host) = filter.strip_prefix("spBv1.0/STATE/") {
            let host = if host.contains(['+', '#']) {
                "zhizao"
            } else {
                host
            };
            let payload = format!(
                r#"{{"online":true,"timestamp":{}}}"#,
                zhizao_store::now_ms()
            );
            return Some(vec![Outgoing {
                topic: format!("spBv1.0/STATE/{host}"),
                payload: Bytes::from(payload),
            }]);
        }
        session.device.may_subscribe(filter).then(Vec::new)
    }

    async fn publish(
        &self,
        session: &DeviceSession,
        topic: &str,
        payload: Bytes,
    ) -> Result<(), Rejection> {
        let mut commands = Vec::new();
        let outcome = self.ingest(session, topic, payload, &mut commands).await;
        if let Some(outbox) = &session.outbox {
            for c in commands {
                // QoS 0: a full outbox drops it, and the rebirth is asked
                // again on the next message that needs it.
                let _ = outbox.try_send(Outgoing {
                    topic: c.topic,
                    payload: Bytes::from(c.payload),
                });
            }
        }
        outcome
    }

    async fn protocol_error(&self, session: &DeviceSession, reason: String) {
        self.reject(
            session.device.id,
            format!("connection closed: {reason}"),
            "",
            &[],
        );
    }

    async fn disconnected(&self, session: &DeviceSession, _clean: bool) {
        if let Some(hub) = &self.hub {
            hub.devices.disconnected(session.device.id);
        }
        self.count(session.device.id, |t| {
            t.last_seen = Some(zhizao_store::now_ms());
        });
    }
}
