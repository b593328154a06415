//! Job-shop scheduling as plain data and pure functions: a (flexible) job
//! shop read from the standard benchmark formats, schedules built by a
//! dispatching rule and improved by tabu search over critical blocks, and
//! an independent checker. No I/O: callers read files and print results.
//!
//! The model is the benchmarks' for now: jobs are chains of operations,
//! each eligible on one or more machines with its own duration; the
//! objective is the makespan. Calendars, setups and due dates come with
//! the platform's scheduling.

mod check;
mod model;
mod parse;
mod search;

pub use check::{CheckError, check};
pub use model::{Instance, Operation, ScheduledOp, Solution};
pub use parse::{Format, ParseError, parse};
pub use search::{SolveOptions, solve};
