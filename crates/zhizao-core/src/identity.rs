//! Tenants, users and roles. Every stored row belongs to exactly one tenant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{EpochMs, Id};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: Id,
    pub code: String,
    pub name: String,
    pub created_at: EpochMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub tenant_id: Id,
    pub username: String,
    pub role: Role,
    pub created_at: EpochMs,
}

/// What a user may do. Ordered loosely by reach; checks name the roles they
/// accept rather than comparing ranks, because quality and maintenance staff
/// write different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Planner,
    Quality,
    Maintenance,
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Planner,
        Role::Quality,
        Role::Maintenance,
        Role::Operator,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Planner => "planner",
            Role::Quality => "quality",
            Role::Maintenance => "maintenance",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// May change the plant's master data (equipment hierarchy, users).
    pub fn can_edit_master_data(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown role `{0}` (expected one of admin, planner, quality, maintenance, operator, viewer)"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trips_through_text() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!("boss".parse::<Role>(), Err(UnknownRole("boss".into())));
    }

    #[test]
    fn only_admin_edits_master_data() {
        let editors: Vec<_> = Role::ALL
            .into_iter()
            .filter(|r| r.can_edit_master_data())
            .collect();
        assert_eq!(editors, vec![Role::Admin]);
    }
}
