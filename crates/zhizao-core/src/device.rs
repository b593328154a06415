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
        topic_under(&self.topic_prefix, topic)
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
        assert!(validate_topic_prefix("zhizao/v1/S1").is_ok());
        for bad in ["", "/x", "a//b", "a/+/b", "$SYS/x", "a/#"] {
            assert!(validate_topic_prefix(bad).is_err(), "{bad}");
        }
    }
}
