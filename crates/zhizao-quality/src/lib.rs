//! Quality control as plain data: inspection characteristics (what to
//! measure on which item and operation, how often, against which
//! specification, on which chart) and the live control chart of a
//! characteristic's measurements. The statistics are `zhizao-spc`'s; the
//! store keeps characteristics and measurements, the API serves them.

pub mod monitor;
pub mod plan;

pub use monitor::{ChartPoint, ChartView, Subgroup, chart_view};
pub use plan::{Characteristic, ChartKind, FrozenLimits, RuleChoice, Sampling, Stage};
