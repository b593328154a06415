//! The factory's vocabulary as plain data: tenants, the ISA-95 equipment
//! hierarchy, shifts and calendars, users and roles, machine states.
//!
//! No I/O and no async here, so every other crate (and every test) can use
//! these types without dragging in a runtime or a database.

pub mod calendar;
pub mod civil;
pub mod device;
pub mod equipment;
pub mod identity;
pub mod state;
pub mod validate;

pub use calendar::{Calendar, Shift, ShiftPattern};
pub use device::Device;
pub use equipment::{Area, Enterprise, Equipment, EquipmentType, Line, Site, WorkCell};
pub use identity::{Role, Tenant, User};
pub use state::MachineState;
pub use validate::{FieldError, validate_code, validate_name};

/// Database identifier of any stored entity.
pub type Id = i64;

/// Milliseconds since the Unix epoch, UTC. The one time unit the platform
/// exchanges between crates; conversion to local plant time happens at the edges.
pub type EpochMs = i64;
