//! A device (or gateway) registered to send shop-floor data: its identity,
//! the topic prefix it may publish under, and what its traffic came to.
//! Credentials are not here; only the store sees their hash.

use serde::{Deserialize, Serialize};

use crate::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: i64,
    pub tenant_id: i64,
    pub code: String,
    pub name: String,
    /// Every topic the device publishes must start with this.
    pub topic_prefix: String,
    /// MQTT user name (globally unique; derived from tenant and code).
    pub username: String,
    /// JSON of a payload mapping for non-default shapes, if any.
    pub mapping: Option<String>,
    pub created_at: i64,
    pub last_seen: Option<i64>,
    pub messages: i64,
    pub points: i64,
    pub errors: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

impl Device {
    /// Whether `topic` lies under the device's prefix (at a level boundary).
    pub fn may_publish(&self, topic: &str) -> bool {
        topic_under(&self.topic_prefix, &acl_topic(topic))
    }

    /// Whether the device may subscribe to `filter`: only to what lies
    /// under its own prefix (an edge node's commands, say).
    pub fn may_subscribe(&self, filter: &str) -> bool {
        self.may_publish(filter)
    }
}

/// The topic as the prefix ACL sees it. Sparkplug B puts the message type
/// between group and edge node (`spBv1.0/{group}/{type}/{node}/…`), so the
/// type level is left out: the prefix `spBv1.0/G/N` covers every message
/// of edge node N in group G, and `spBv1.0/G` the whole group.
pub fn acl_topic(topic: &str) -> std::borrow::Cow<'_, str> {
    let mut levels = topic.splitn(4, '/');
    match (levels.next(), levels.next(), levels.next(), levels.next()) {
        (Some("spBv1.0"), Some(group), Some(_), Some(rest)) if group != "STATE" => {
            format!("spBv1.0/{group}/{rest}").into()
        }
        _ => topic.into(),
    }
}

/// `topic` equals `prefix` or continues it after a `/`.
pub fn topic_under(prefix: &str, topic: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    topic == prefix
        || topic
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A topic prefix: 1–200 characters, levels separated by `/`, no empty
/// level, no wildcard, no leading `$` (reserved by MQTT).
pub fn validate_topic_prefix(prefix: &str) -> Result<(), FieldError> {
    let bad = |m: &str| Err(FieldError::new("topic_prefix", m));
    let p = prefix.trim_end_matches('/');
    if p.is_empty() || p.len() > 200 {
        return bad("must be 1 to 200 characters");
    }
    if p.contains(['+', '#', '\0']) {
        return bad("must not contain the wildcards + or #");
    }
    if p.starts_with('$') {
        return bad("must not start with $ (reserved for the broker)");
    }
    if p.split('/').any(str::is_empty) {
        return bad("must not have an empty level (// or a leading /)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_at_level_boundaries() {
        assert!(topic_under(
            "zhizao/v1/S1/L1/M1",
            "zhizao/v1/S1/L1/M1/telemetry"
        ));
        assert!(topic_under(
            "zhizao/v1/S1/L1/M1/",
            "zhizao/v1/S1/L1/M1/telemetry"
        ));
        assert!(!topic_under(
            "zhizao/v1/S1/L1/M1",
            "zhizao/v1/S1/L1/M10/telemetry"
        ));
        assert!(!topic_under("zhizao/v1/S1/L1/M1", "zhizao/v1/S1/L1"));
        // Sparkplug: the message type level is not part of the match.
        let d = |prefix: &str| Device {
            id: 1,
            tenant_id: 1,
            code: "gw".into(),
            name: String::new(),
            topic_prefix: prefix.into(),
            username: "1.gw".into(),
            mapping: None,
            created_at: 0,
            last_seen: None,
            messages: 0,
            points: 0,
            errors: 0,
            last_error: None,
            last_error_at: None,
        };
        let node = d("spBv1.0/steel/cutting");
        assert!(node.may_publish("spBv1.0/steel/NBIRTH/cutting"));
        assert!(node.may_publish("spBv1.0/steel/DDATA/cutting/CUT-01"));
        assert!(!node.may_publish("spBv1.0/steel/DDATA/drilling/DR-01"));
        assert!(!node.may_publish("spBv1.0/STATE/cutting"));
        assert!(node.may_subscribe("spBv1.0/steel/NCMD/cutting/#"));
        assert!(!node.may_subscribe("spBv1.0/+/NCMD/cutting/#"));
        assert!(!node.may_subscribe("spBv1.0/#"));
        let group = d("spBv1.0/steel");
        assert!(group.may_publish("spBv1.0/steel/NDATA/drilling"));
        assert!(!group.may_publish("spBv1.0/steelworks/NDATA/drilling"));
        assert!(validate_topic_prefix("zhizao/v1/S1").is_ok());
        for bad in ["", "/x", "a//b", "a/+/b", "$SYS/x", "a/#"] {
            assert!(validate_topic_prefix(bad).is_err(), "{bad}");
        }
    }
}
