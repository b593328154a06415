//! The platform's side of the endpoint: devices log in with the
//! credentials the registry gave them, may publish only under their topic
//! prefix, and their messages are decoded and written to history before
//! they are acknowledged. Per-device counters are kept in memory and added
//! to the registry every few seconds, so a message costs no database write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use zhizao_core::{Device, MachineState};
use zhizao_ingest::{Kind, Mapping, decode, parse_topic};
use zhizao_live::{LiveHub, Placement, Report};
use zhizao_store::{DeviceTraffic, Store};
use zhizao_tsdb::Tsdb;

use crate::{Handler, Refusal, Rejection};

/// A logged-in device.
#[derive(Debug)]
pub struct DeviceSession {
    pub device: Device,
    pub mapping: Mapping,
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
    Some(DeviceSession { device, mapping })
}

/// A placement looked up (or found missing) at an instant.
type Lookup = (Option<Placement>, std::time::Instant);

/// Devices in, history out.
pub struct Gateway {
    store: Store,
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
}

impl Gateway {
    pub fn new(store: Store, history: Arc<Tsdb>) -> Arc<Gateway> {
        Self::with_hub(store, history, None)
    }

    pub fn with_hub(store: Store, history: Arc<Tsdb>, hub: Option<Arc<LiveHub>>) -> Arc<Gateway> {
        Arc::new(Gateway {
            store,
            history,
            traffic: Mutex::new(HashMap::new()),
            hub,
            placements: Mutex::new(HashMap::new()),
            routes: Mutex::new(Routes {
                devices: Vec::new(),
                loaded: None,
            }),
        })
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

    fn reject(&self, device: i64, reason: String) {
        tracing::debug!(device, %reason, "message rejected");
        self.count(device, |t| {
            t.messages += 1;
            t.errors += 1;
            t.last_seen = Some(zhizao_store::now_ms());
            t.last_error = Some((reason, zhizao_store::now_ms()));
        });
    }

    /// Stores a message that came through an external broker: the device
    /// is the one whose prefix the topic lies under.
    pub async fn deliver(&self, topic: &str, payload: Bytes) -> Result<(), Rejection> {
        let Some(session) = self.device_for_topic(topic).await else {
            tracing::debug!(%topic, "no registered device owns this topic");
            return Err(Rejection::NotAuthorized(format!(
                "no registered device owns topic `{topic}`"
            )));
        };
        self.publish(&session, topic, payload).await
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
        let session = session_of(device).ok_or(Refusal::Unavailable)?;
        self.count(id, |t| t.last_seen = Some(zhizao_store::now_ms()));
        Ok(session)
    }

    async fn publish(
        &self,
        session: &DeviceSession,
        topic: &str,
        payload: Bytes,
    ) -> Result<(), Rejection> {
        let id = session.device.id;
        if !session.device.may_publish(topic) {
            let reason = format!(
                "topic `{topic}` is outside the device's prefix `{}`",
                session.device.topic_prefix
            );
            self.reject(id, reason.clone());
            return Err(Rejection::NotAuthorized(reason));
        }
        let parsed = parse_topic(topic);
        let points = parsed
            .clone()
            .and_then(|t| decode(&t, &payload, &session.mapping, now_ns()))
            .map_err(|e| {
                let reason = format!("{topic}: {e}");
                self.reject(id, reason.clone());
                Rejection::Invalid(reason)
            })?;
        let live_state = match (&parsed, points.first()) {
            (Ok(t), Some(p)) if t.kind == Kind::State => match &p.value {
                zhizao_tsdb::Value::Str(s) => s
                    .parse::<MachineState>()
                    .ok()
                    .map(|state| (t.equipment.clone(), state, p.ts / 1_000_000)),
                _ => None,
            },
            _ => None,
        };
        let n = points.len() as i64;
        let outcome = self
            .history
            .write(session.device.tenant_id, points)
            .await
            .map_err(|e| Rejection::Unavailable(e.to_string()))?;
        if let Some((_, why)) = outcome.rejected.first() {
            let reason = format!("{topic}: {why}");
            self.reject(id, reason.clone());
            return Err(Rejection::Invalid(reason));
        }
        self.count(id, |t| {
            t.messages += 1;
            t.points += n;
            t.last_seen = Some(zhizao_store::now_ms());
        });
        if let (Some(hub), Some((code, state, ts_ms))) = (&self.hub, live_state)
            && let Some(at) = self.placement(session.device.tenant_id, &code).await
        {
            hub.report(at, ts_ms, Report::State { code, state });
        }
        Ok(())
    }

    async fn protocol_error(&self, session: &DeviceSession, reason: String) {
        self.reject(session.device.id, format!("connection closed: {reason}"));
    }

    async fn disconnected(&self, session: &DeviceSession, _clean: bool) {
        self.count(session.device.id, |t| {
            t.last_seen = Some(zhizao_store::now_ms());
        });
    }
}
