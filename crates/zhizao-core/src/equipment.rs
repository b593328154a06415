//! ISA-95 role-based equipment hierarchy:
//! enterprise → site → area → line → work cell → equipment.
//!
//! Work cells are kept as a label on the equipment rather than a level of
//! their own in the store: the reference plants group machines into cells
//! only for display, and a label keeps moves between cells a single update.

use serde::{Deserialize, Serialize};

use crate::{EpochMs, Id};

/// The company that owns one or more sites; one per tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enterprise {
    pub tenant_id: Id,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub id: Id,
    pub tenant_id: Id,
    pub code: String,
    pub name: String,
    /// IANA time-zone name, e.g. `Asia/Shanghai`; shifts and "today" are
    /// computed in it.
    pub timezone: String,
    pub created_at: EpochMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Area {
    pub id: Id,
    pub tenant_id: Id,
    pub site_id: Id,
    pub code: String,
    pub name: String,
    pub created_at: EpochMs,
}

/// A production line (ISA-95 "production line" / "process cell").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub id: Id,
    pub tenant_id: Id,
    pub area_id: Id,
    pub code: String,
    pub name: String,
    pub created_at: EpochMs,
}

/// A label grouping equipment within a line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkCell(pub String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Equipment {
    pub id: Id,
    pub tenant_id: Id,
    pub line_id: Id,
    pub code: String,
    pub name: String,
    pub equipment_type: EquipmentType,
    pub work_cell: Option<String>,
    /// Free-form attributes (rated power, controller model, …).
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: EpochMs,
}

/// The kind of machine. Free text so plants can add their own kinds; the
/// simulator and later the state rules key off these values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EquipmentType(pub String);

impl EquipmentType {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for EquipmentType {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}
