//! Tabular CUSUM: C⁺ᵢ = max(0, xᵢ − (μ0 + K) + C⁺ᵢ₋₁),
//! C⁻ᵢ = max(0, (μ0 − K) − xᵢ + C⁻ᵢ₋₁), a signal when either exceeds H.
//! The run lengths N⁺/N⁻ date the shift and estimate the new mean.

use serde::Serialize;

use crate::error::{Result, SpcError};

#[derive(Debug, Clone, PartialEq)]
pub struct CusumOptions {
    pub target: f64,
    /// Reference value K in data units.
    pub k: f64,
    /// Decision interval H in data units.
    pub h: f64,
    /// Start both sums again from zero after a signal.
    pub reset_after_signal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Upper,
    Lower,
}

/// The first signal and what it says about the shift.
#[derive(Debug, Clone, PartialEq)]
pub struct CusumSignal {
    /// 0-based sample at which the sum first exceeds H.
    pub index: usize,
    pub side: Side,
    /// Consecutive nonzero sums up to and including the signal.
    pub run_length: usize,
    /// The shift began after this many samples.
    pub shift_after: usize,
    /// μ0 + K + C⁺/N⁺ (upper) or μ0 − K − C⁻/N⁻ (lower).
    pub new_mean: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cusum {
    pub c_plus: Vec<f64>,
    pub c_minus: Vec<f64>,
    pub n_plus: Vec<usize>,
    pub n_minus: Vec<usize>,
    pub beyond: Vec<usize>,
    pub first_signal: Option<CusumSignal>,
}

pub fn tabular_cusum(data: &[f64], o: &CusumOptions) -> Result<Cusum> {
    if !(o.k.is_finite() && o.k >= 0.0) {
        return Err(SpcError::new(
            "params.K",
            format!("{}: must be 0 or more", o.k),
        ));
    }
    if !(o.h.is_finite() && o.h > 0.0) {
        return Err(SpcError::new(
            "params.H",
            format!("{}: must be positive", o.h),
        ));
    }
    if data.is_empty() {
        return Err(SpcError::new(
            "data",
            "no values; the chart needs at least one",
        ));
    }
    if let Some(j) = data.iter().position(|v| !v.is_finite()) {
        return Err(SpcError::new(format!("data[{j}]"), "not a finite number"));
    }
    let mut out = Cusum {
        c_plus: Vec::with_capacity(data.len()),
        c_minus: Vec::with_capacity(data.len()),
        n_plus: Vec::with_capacity(data.len()),
        n_minus: Vec::with_capacity(data.len()),
        beyond: vec![],
        first_signal: None,
    };
    let (mut cp, mut cm, mut np, mut nm) = (0.0f64, 0.0f64, 0usize, 0usize);
    for (i, &x) in data.iter().enumerate() {
        cp = (x - (o.target + o.k) + cp).max(0.0);
        cm = ((o.target - o.k) - x + cm).max(0.0);
        np = if cp > 0.0 { np + 1 } else { 0 };
        nm = if cm > 0.0 { nm + 1 } else { 0 };
        out.c_plus.push(cp);
        out.c_minus.push(cm);
        out.n_plus.push(np);
        out.n_minus.push(nm);
        let upper = cp > o.h;
        let lower = cm > o.h;
        if upper || lower {
            out.beyond.push(i);
            if out.first_signal.is_none() {
                // Both at once cannot happen (they need opposite deviations);
                // the upper side is reported if it ever does.
                let (side, run, new_mean) = if upper {
                    (Side::Upper, np, o.target + o.k + cp / np as f64)
                } else {
                    (Side::Lower, nm, o.target - o.k - cm / nm as f64)
                };
                out.first_signal = Some(CusumSignal {
                    index: i,
                    side,
                    run_length: run,
                    shift_after: i + 1 - run,
                    new_mean,
                });
            }
            if o.reset_after_signal {
                (cp, cm, np, nm) = (0.0, 0.0, 0, 0);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_dated_and_sized() {
        let mut data = vec![10.0; 10];
        data.extend([12.0; 10]);
        let c = tabular_cusum(
            &data,
            &CusumOptions {
                target: 10.0,
                k: 0.5,
                h: 4.0,
                reset_after_signal: false,
            },
        )
        .unwrap();
        let s = c.first_signal.unwrap();
        // 1.5 a sample: 4.5 > 4 at the third shifted sample.
        assert_eq!(s.index, 12);
        assert_eq!(s.shift_after, 10);
        assert!((s.new_mean - 12.0).abs() < 1e-12);
    }
}
