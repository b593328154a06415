//! Which registered devices are connected now, and what their Sparkplug
//! edge nodes last announced. Kept in memory only: after a restart a
//! device is offline until it connects again, which is the truth.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use zhizao_core::{EpochMs, Id};

/// A Sparkplug edge node as its births and deaths left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdgeNodeLive {
    pub group: String,
    pub node: String,
    pub online: bool,
    /// Device ids and whether each is online, sorted by id.
    pub devices: Vec<(String, bool)>,
}

/// One registered device's live state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceLive {
    /// Open connections to this node's MQTT endpoint.
    pub connections: u32,
    /// When a message of the device last came through an external broker.
    pub via_broker_ms: Option<EpochMs>,
    pub edge_nodes: Vec<EdgeNodeLive>,
}

/// A message through a broker within this long counts as online.
pub const BROKER_ONLINE_MS: i64 = 60_000;

impl DeviceLive {
    /// Connected here, or heard from through the broker lately.
    pub fn online(&self, now: EpochMs) -> bool {
        self.connections > 0
            || self
                .via_broker_ms
                .is_some_and(|t| now - t < BROKER_ONLINE_MS)
    }
}

/// Live state of every device, by registry id.
#[derive(Debug, Default)]
pub struct DevicePresence {
    inner: Mutex<HashMap<Id, DeviceLive>>,
}

impl DevicePresence {
    fn with<R>(&self, id: Id, f: impl FnOnce(&mut DeviceLive) -> R) -> R {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(map.entry(id).or_default())
    }

    pub fn connected(&self, id: Id) {
        self.with(id, |d| d.connections += 1);
    }

    pub fn disconnected(&self, id: Id) {
        self.with(id, |d| d.connections = d.connections.saturating_sub(1));
    }

    pub fn heard_via_broker(&self, id: Id, at: EpochMs) {
        self.with(id, |d| d.via_broker_ms = Some(at));
    }

    pub fn set_edge_nodes(&self, id: Id, nodes: Vec<EdgeNodeLive>) {
        self.with(id, |d| d.edge_nodes = nodes);
    }

    /// The device's live state (offline and empty if never seen).
    pub fn get(&self, id: Id) -> DeviceLive {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_count_and_the_broker_route_ages() {
        let p = DevicePresence::default();
        assert!(!p.get(1).online(0));
        p.connected(1);
        p.connected(1);
        p.disconnected(1);
        assert!(p.get(1).online(0));
        p.disconnected(1);
        p.disconnected(1);
        assert_eq!(p.get(1).connections, 0);
        p.heard_via_broker(2, 1_000);
        assert!(p.get(2).online(1_000 + BROKER_ONLINE_MS - 1));
        assert!(!p.get(2).online(1_000 + BROKER_ONLINE_MS));
    }
}
