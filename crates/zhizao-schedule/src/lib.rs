//! Scheduling as plain data and pure functions: a (flexible) job shop
//! read from the standard benchmark formats or from JSON, schedules built
//! by dispatching rules and improved by search, an independent checker,
//! and explanations of late jobs. No I/O: callers read files and print
//! results.
//!
//! A plain job shop (chains of operations, always-working machines,
//! makespan) gets a tabu search over critical blocks; a plant's shop, with
//! precedence graphs, calendars, setups, due dates, fixed operations and
//! other objectives, gets a late-acceptance search over a decoder that
//! knows all of them. A previous schedule can be repaired in one pass.

mod calendar;
mod check;
mod explain;
mod general;
mod model;
mod parse;
mod reach;
mod search;
mod validate;

pub use check::{CheckError, check};
pub use explain::{LateJob, late_jobs};
pub use general::repair;
pub use model::{
    Costs, Instance, Job, Link, MachineCalendar, Objective, OpRef, Operation, Placement,
    ScheduledOp, Solution, Term,
};
pub use parse::{Format, ParseError, parse};
pub use reach::reached;
pub use search::{SolveOptions, solve};
pub use validate::{MAX_TIME, ModelError};
