//! Production planning as plain data and pure functions: materials with
//! their lot-sizing rules and lead times, multi-level bills of material,
//! demand and open supply in time buckets; material requirements planning
//! (MRP) over them, rough-cut capacity with what-if changes, and order
//! promising. No I/O: the platform loads the plant's data, calls
//! [`Plan::regenerate`] or [`Plan::change_demand`], [`rough_cut`] and
//! [`promise`], and stores what comes out.
//!
//! Time is a row of buckets (weeks on the plant calendar, say); bucket 0
//! is the current one. Quantities are in each item's stock unit.

pub mod book;
mod capacity;
pub mod file;
mod model;
mod mrp;
mod promise;
pub mod report;

pub use capacity::{CapacityLoad, Operation, WhatIf, WorkCentre, rough_cut};
pub use promise::{Promise, Shortage, promise, promise_with};

pub use model::{
    BomLine, Demand, DemandId, Item, ItemId, ItemKind, LotRule, PlanError, PlanInput, Receipt,
};
pub use mrp::{Exception, ExceptionKind, Peg, PegSource, Plan, PlannedOrder};
