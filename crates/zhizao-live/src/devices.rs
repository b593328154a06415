//! Which registered devices are connected now, what their Sparkplug edge
//! nodes last announced, and the last messages each had refused (with the
//! start of the payload, so a technician sees what the device really sent).
//! Kept in memory only: after a restart a device is offline until it
//! connects again, which is the truth.

use std::collections::{HashMap, VecDeque};
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

/// A refused message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    pub at: EpochMs,
    /// Empty when the connection itself broke a rule.
    pub topic: String,
    pub reason: String,
    /// The start of the payload: text as it is, other bytes in hex.
    pub payload: String,
    pub payload_bytes: usize,
}

/// Refused messages kept per device, newest first.
pub const REFUSED_KEPT: usize = 20;
/// How much of a refused payload is kept.
const EXCERPT_CHARS: usize = 400;
const EXCERPT_HEX_BYTES: usize = 96;

impl Refused {
    pub fn new(at: EpochMs, topic: &str, reason: String, payload: &[u8]) -> Refused {
        let excerpt = match std::str::from_utf8(payload) {
            Ok(text) if text.chars().count() > EXCERPT_CHARS => {
                text.chars().take(EXCERPT_CHARS).collect::<String>() + "…"
            }
            Ok(text) => text.to_owned(),
            Err(_) => {
                let mut hex: String = payload
                    .iter()
                    .take(EXCERPT_HEX_BYTES)
                    .map(|b| format!("{b:02x} "))
                    .collect();
                hex.pop();
                if payload.len() > EXCERPT_HEX_BYTES {
                    hex.push('…');
                }
                hex
            }
        };
        Refused {
            at,
            topic: topic.to_owned(),
            reason,
            payload: excerpt,
            payload_bytes: payload.len(),
        }
    }
}

/// Live state of every device, by registry id.
#[derive(Debug, Default)]
pub struct DevicePresence {
    inner: Mutex<HashMap<Id, DeviceLive>>,
    refused: Mutex<HashMap<Id, VecDeque<Refused>>>,
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

    pub fn refused(&self, id: Id, r: Refused) {
        let mut map = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        let list = map.entry(id).or_default();
        list.push_front(r);
        list.truncate(REFUSED_KEPT);
    }

    /// The device's last refused messages, newest first.
    pub fn refusals(&self, id: Id) -> Vec<Refused> {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
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

    #[test]
    fn refusals_keep_the_newest_with_an_excerpt() {
        let p = DevicePresence::default();
        for i in 0..(REFUSED_KEPT + 5) {
            p.refused(7, Refused::new(i as i64, "t", format!("r{i}"), b"{\"x\":"));
        }
        let r = p.refusals(7);
        assert_eq!(r.len(), REFUSED_KEPT);
        assert_eq!(r[0].reason, format!("r{}", REFUSED_KEPT + 4));
        assert_eq!(r[0].payload, "{\"x\":");
        let bin = Refused::new(0, "t", "bad".into(), &[0x0a, 0xff, 0x00]);
        assert_eq!(bin.payload, "0a ff 00");
        let long = Refused::new(0, "t", "bad".into(), "数".repeat(1000).as_bytes());
        assert_eq!(long.payload.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(long.payload_bytes, 3000);
        assert!(p.refusals(8).is_empty());
    }
}
