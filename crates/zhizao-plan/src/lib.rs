//! Production planning as plain data and pure functions: materials with
//! their lot-sizing rules and lead times, multi-level bills of material,
//! demand and open supply in time buckets, and material requirements
//! planning (MRP) over them. No I/O: the platform loads the plant's data,
//! calls [`Plan::regenerate`] or [`Plan::change_demand`], and stores what
//! comes out.
//!
//! Time is a row of buckets (weeks on the plant calendar, say); bucket 0
//! is the current one. Quantities are in each item's stock unit.

mod model;
mod mrp;

pub use model::{
    BomLine, Demand, DemandId, Item, ItemId, ItemKind, LotRule, PlanError, PlanInput, Receipt,
};
pub use mrp::{Exception, ExceptionKind, Peg, PegSource, Plan, PlannedOrder};
