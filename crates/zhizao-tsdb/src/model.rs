//! Series identity and values.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A stored value. A series keeps the type of its first value; a later
/// value of another type is a type conflict and rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    F64(f64),
    I64(i64),
    Bool(bool),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueType {
    F64,
    I64,
    Bool,
    Str,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::F64 => "float",
            ValueType::I64 => "integer",
            ValueType::Bool => "boolean",
            ValueType::Str => "string",
        }
    }
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::F64(_) => ValueType::F64,
            Value::I64(_) => ValueType::I64,
            Value::Bool(_) => ValueType::Bool,
            Value::Str(_) => ValueType::Str,
        }
    }

    /// Numeric view for aggregates; booleans and strings have none.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::F64(v) => Some(*v),
            Value::I64(v) => Some(*v as f64),
            Value::Bool(_) | Value::Str(_) => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::F64(v) => serde_json::Number::from_f64(*v)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::I64(v) => serde_json::Value::from(*v),
            Value::Bool(v) => serde_json::Value::Bool(*v),
            Value::Str(v) => serde_json::Value::String(v.clone()),
        }
    }
}

/// What identifies a series: tenant, measurement, tag set (sorted by key)
/// and field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    pub tenant: i64,
    pub measurement: String,
    pub tags: Vec<(String, String)>,
    pub field: String,
}

impl SeriesKey {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One value to write. Tags need not be sorted; the store sorts them.
/// Measurement and tags are shared (`Arc`) by the fields of one line, so a
/// ten-field line allocates them once.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub measurement: Arc<str>,
    pub tags: Arc<Vec<(String, String)>>,
    pub field: Arc<str>,
    /// Nanoseconds since the Unix epoch.
    pub ts: i64,
    pub value: Value,
}
