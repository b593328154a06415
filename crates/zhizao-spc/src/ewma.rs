//! EWMA chart: zᵢ = λxᵢ + (1 − λ)zᵢ₋₁, with exact (time-varying) limits
//! μ0 ± Lσ√(λ/(2−λ)·(1 − (1−λ)²ⁱ)) and their steady-state limit.

use crate::error::{Result, SpcError};
use crate::limits::Limits;
use crate::variables::check_sigma;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EwmaLimits {
    Exact,
    SteadyState,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EwmaOptions {
    pub lambda: f64,
    pub l: f64,
    pub target: f64,
    pub sigma: f64,
    /// z₀; the target when not given.
    pub start: Option<f64>,
    /// Which limits decide that a point is out of control.
    pub limits: EwmaLimits,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EwmaChart {
    pub values: Vec<f64>,
    pub steady: Limits,
    pub exact: Vec<Limits>,
    pub beyond: Vec<usize>,
}

pub fn ewma(data: &[f64], o: &EwmaOptions) -> Result<EwmaChart> {
    if !(o.lambda > 0.0 && o.lambda <= 1.0) {
        return Err(SpcError::new(
            "params.lambda",
            format!("{}: λ must be in (0, 1]", o.lambda),
        ));
    }
    if !(o.l.is_finite() && o.l > 0.0) {
        return Err(SpcError::new(
            "params.L",
            format!("{}: must be positive", o.l),
        ));
    }
    check_sigma(o.sigma, "params.sigma")?;
    if data.is_empty() {
        return Err(SpcError::new(
            "data",
            "no values; the chart needs at least one",
        ));
    }
    if let Some(j) = data.iter().position(|v| !v.is_finite()) {
        return Err(SpcError::new(format!("data[{j}]"), "not a finite number"));
    }
    let mut z = o.start.unwrap_or(o.target);
    let values: Vec<f64> = data
        .iter()
        .map(|x| {
            z = o.lambda * x + (1.0 - o.lambda) * z;
            z
        })
        .collect();
    let ratio = o.lambda / (2.0 - o.lambda);
    let half = o.l * o.sigma * ratio.sqrt();
    let steady = Limits {
        center: o.target,
        ucl: o.target + half,
        lcl: o.target - half,
    };
    let exact: Vec<Limits> = (1..=data.len())
        .map(|i| {
            let decay = (1.0 - o.lambda).powi(2 * i as i32);
            let half = o.l * o.sigma * (ratio * (1.0 - decay)).sqrt();
            Limits {
                center: o.target,
                ucl: o.target + half,
                lcl: o.target - half,
            }
        })
        .collect();
    let beyond = values
        .iter()
        .enumerate()
        .filter(|(i, v)| match o.limits {
            EwmaLimits::Exact => exact[*i].beyond(**v),
            EwmaLimits::SteadyState => steady.beyond(**v),
        })
        .map(|(i, _)| i)
        .collect();
    Ok(EwmaChart {
        values,
        steady,
        exact,
        beyond,
    })
}
