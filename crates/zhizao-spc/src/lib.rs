//! Statistical process control as pure functions: Shewhart charts for
//! measurements (X̄-R, X̄-S, I-MR) and counts (p, np, c, u), EWMA and tabular
//! CUSUM, the Nelson and Western Electric run rules, and process
//! capability with a normality test. No I/O; the quality module feeds it
//! measurements and the API and CLI feed it cases.
//!
//! Constants (d2, d3, c4 and the chart factors) are computed from their
//! definitions so any subgroup size works; a case may still give table
//! values to reproduce a textbook to the digit.

mod attributes;
mod capability;
pub mod case;
mod constants;
mod cusum;
mod error;
mod ewma;
mod limits;
mod rules;
mod variables;

pub use attributes::{
    AttributeChart, AttributeData, AttributeKind, AttributeOptions, attribute_chart,
};
pub use capability::{Capability, Interval, Normality, Spec, anderson_darling, capability};
pub use case::analyze;
pub use constants::{ChartFactors, c4, d2, d3, normal_cdf};
pub use cusum::{Cusum, CusumOptions, CusumSignal, Side, tabular_cusum};
pub use error::{Result, SpcError};
pub use ewma::{EwmaChart, EwmaLimits, EwmaOptions, ewma};
pub use limits::{Limits, Phase};
pub use rules::{RuleSet, RuleSignal, check_rules, evaluate, points_needed};
pub use variables::{
    IndividualsChart, Overrides, Spread, Standard, SubgroupChart, VaryingSubgroupChart,
    individuals_chart, subgroup_chart, xbar_s_varying,
};
