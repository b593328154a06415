//! Quality control as plain data: inspection characteristics (what to
//! measure on which item and operation, how often, against which
//! specification, on which chart), the live control chart of a
//! characteristic's measurements, nonconformance reports as a state
//! machine, and traceability records of lots and serial numbers. The statistics are `zhizao-spc`'s; the
//! store keeps characteristics and measurements, the API serves them.

pub mod kpi;
pub mod monitor;
pub mod ncr;
pub mod plan;
pub mod trace;

pub use monitor::{ChartPoint, ChartView, Subgroup, chart_view};
pub use ncr::{Actor, Ncr, NcrAction, NcrError, NcrStatus, NewNcr};
pub use plan::{Characteristic, ChartKind, FrozenLimits, RuleChoice, Sampling, Stage};
pub use trace::{Direction, TraceInput, TraceRecord, TraceUnit, UnitKind};
