//! The platform's side of the endpoint: devices log in with the
//! credentials the registry gave them, may publish only under their topic
//! prefix, and their messages are decoded and written to history before
//! they are acknowledged. Per-device counters are kept in memory and added
//! to the registry every few seconds, so a message costs no database write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use zhizao_core::Device;
use zhizao_ingest::{Mapping, decode, parse_topic};
use zhizao_store::{DeviceTraffic, Store};
use zhizao_tsdb::Tsdb;

use crate::{Handler, Refusal, Rejection};

/// A logged-in device.
#[derive(Debug)]
pub struct DeviceSession {
    pub device: Device,
    pub mapping: Mapping,
}

/// Devices in, history out.
pub struct Gateway {
    store: Store,
    history: Arc<Tsdb>,
    traffic: Mutex<HashMap<i64, DeviceTraffic>>,
}

impl Gateway {
    pub fn new(store: Store, history: Arc<Tsdb>) -> Arc<Gateway> {
        Arc::new(Gateway {
            store,
            history,
            traffic: Mutex::new(HashMap::new()),
        })
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
        let mapping = match &device.mapping {
            None => Mapping::default(),
            Some(json) => serde_json::from_str(json).map_err(|e| {
                tracing::error!(device = device.id, error = %e, "stored mapping unreadable");
                Refusal::Unavailable
            })?,
        };
        self.count(device.id, |t| t.last_seen = Some(zhizao_store::now_ms()));
        Ok(DeviceSession { device, mapping })
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
        let points = parse_topic(topic)
            .and_then(|t| decode(&t, &payload, &session.mapping, now_ns()))
            .map_err(|e| {
                let reason = format!("{topic}: {e}");
                self.reject(id, reason.clone());
                Rejection::Invalid(reason)
            })?;
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
