//! Process capability: Cp, Cpk, Cpu, Cpl with the within-subgroup sigma,
//! Pp, Ppk, Ppu, Ppl with the overall sigma, Cpm with a target, the
//! normal-theory fractions outside the specification, confidence intervals
//! and an Anderson–Darling test of normality.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::constants::normal_cdf;
use crate::error::{Result, SpcError};
use crate::limits::{mean, sample_sd};

/// Specification limits; at least one of `lsl` and `usl`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub lsl: Option<f64>,
    pub usl: Option<f64>,
    pub target: Option<f64>,
}

impl Spec {
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("lsl", self.lsl),
            ("usl", self.usl),
            ("target", self.target),
        ] {
            if let Some(v) = v
                && !v.is_finite()
            {
                return Err(SpcError::new(
                    format!("params.{name}"),
                    "not a finite number",
                ));
            }
        }
        match (self.lsl, self.usl) {
            (None, None) => Err(SpcError::new(
                "params",
                "no specification limit; give lsl, usl or both",
            )),
            (Some(l), Some(u)) if l >= u => Err(SpcError::new(
                "params.lsl",
                format!("lsl {l} is not below usl {u}; the limits are reversed or equal"),
            )),
            _ => Ok(()),
        }
    }
}

/// Anderson–Darling test of normality (mean and sigma estimated).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Normality {
    pub n: usize,
    pub a_squared: f64,
    /// A² × (1 + 0.75/n + 2.25/n²), the statistic the p-value uses.
    pub a_squared_adjusted: f64,
    /// D'Agostino and Stephens (1986) approximation.
    pub p_value: f64,
}

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Capability {
    pub mean: f64,
    pub sigma_within: f64,
    pub sigma_overall: f64,
    pub cp: Option<f64>,
    pub cpu: Option<f64>,
    pub cpl: Option<f64>,
    pub cpk: f64,
    pub cpm: Option<f64>,
    pub pp: Option<f64>,
    pub ppu: Option<f64>,
    pub ppl: Option<f64>,
    pub ppk: f64,
    pub fraction_below_lsl: Option<f64>,
    pub fraction_above_usl: Option<f64>,
    /// Number of values behind the estimates, when known.
    pub n: Option<usize>,
    pub confidence: f64,
    pub cp_interval: Option<Interval>,
    pub cpk_interval: Option<Interval>,
    pub pp_interval: Option<Interval>,
    pub ppk_interval: Option<Interval>,
}

/// Indices from a mean, the two sigmas and the specification. `n` (the
/// number of values) enables the confidence intervals at `confidence`.
pub fn capability(
    mean: f64,
    sigma_within: f64,
    sigma_overall: f64,
    spec: &Spec,
    n: Option<usize>,
    confidence: f64,
) -> Result<Capability> {
    spec.check()?;
    if !mean.is_finite() {
        return Err(SpcError::new("params.mean", "not a finite number"));
    }
    for (field, s) in [
        ("sigma_within", sigma_within),
        ("sigma_overall", sigma_overall),
    ] {
        if !(s.is_finite() && s > 0.0) {
            return Err(SpcError::new(
                field,
                format!("{s}: the process sigma must be positive (are all values equal?)"),
            ));
        }
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(SpcError::new(
            "params.confidence",
            format!("{confidence}: must be between 0 and 1"),
        ));
    }
    let indices = |sigma: f64| {
        let upper = spec.usl.map(|u| (u - mean) / (3.0 * sigma));
        let lower = spec.lsl.map(|l| (mean - l) / (3.0 * sigma));
        let both = match (spec.lsl, spec.usl) {
            (Some(l), Some(u)) => Some((u - l) / (6.0 * sigma)),
            _ => None,
        };
        let k = match (upper, lower) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => f64::NAN,
        };
        (both, upper, lower, k)
    };
    let (cp, cpu, cpl, cpk) = indices(sigma_within);
    let (pp, ppu, ppl, ppk) = indices(sigma_overall);
    let cpm = match (spec.lsl, spec.usl, spec.target) {
        (Some(l), Some(u), Some(t)) => {
            Some((u - l) / (6.0 * (sigma_overall.powi(2) + (mean - t).powi(2)).sqrt()))
        }
        _ => None,
    };
    let alpha = 1.0 - confidence;
    let ratio_interval = |index: Option<f64>, n: usize| -> Option<Interval> {
        let index = index?;
        let df = (n - 1) as f64;
        let chi = ChiSquared::new(df).ok()?;
        Some(Interval {
            lower: index * (chi.inverse_cdf(alpha / 2.0) / df).sqrt(),
            upper: index * (chi.inverse_cdf(1.0 - alpha / 2.0) / df).sqrt(),
        })
    };
    // Bissell's normal approximation for Cpk and Ppk.
    let k_interval = |index: f64, n: usize| -> Option<Interval> {
        let z = Normal::standard().inverse_cdf(1.0 - alpha / 2.0);
        let nf = n as f64;
        let half = z * (1.0 / (9.0 * nf) + index * index / (2.0 * (nf - 1.0))).sqrt();
        Some(Interval {
            lower: index - half,
            upper: index + half,
        })
    };
    let usable = n.filter(|&n| n >= 2);
    Ok(Capability {
        mean,
        sigma_within,
        sigma_overall,
        cp,
        cpu,
        cpl,
        cpk,
        cpm,
        pp,
        ppu,
        ppl,
        ppk,
        fraction_below_lsl: spec.lsl.map(|l| normal_cdf((l - mean) / sigma_within)),
        fraction_above_usl: spec.usl.map(|u| normal_cdf((mean - u) / sigma_within)),
        n,
        confidence,
        cp_interval: usable.and_then(|n| ratio_interval(cp, n)),
        cpk_interval: usable.and_then(|n| k_interval(cpk, n)),
        pp_interval: usable.and_then(|n| ratio_interval(pp, n)),
        ppk_interval: usable.and_then(|n| k_interval(ppk, n)),
    })
}

/// Anderson–Darling normality test of a sample of at least 3 values.
pub fn anderson_darling(values: &[f64]) -> Option<Normality> {
    let n = values.len();
    if n < 3 {
        return None;
    }
    let m = mean(values.iter().copied());
    let s = sample_sd(values);
    if s <= 0.0 {
        return None;
    }
    let mut z: Vec<f64> = values.iter().map(|v| (v - m) / s).collect();
    z.sort_by(f64::total_cmp);
    let nf = n as f64;
    let sum: f64 = (0..n)
        .map(|i| {
            let lower = normal_cdf(z[i]).max(f64::MIN_POSITIVE).ln();
            // ln(1 − Φ(z)) as ln Φ(−z), exact in the far tail.
            let upper = normal_cdf(-z[n - 1 - i]).max(f64::MIN_POSITIVE).ln();
            (2.0 * i as f64 + 1.0) * (lower + upper)
        })
        .sum();
    let a2 = -nf - sum / nf;
    let adj = a2 * (1.0 + 0.75 / nf + 2.25 / (nf * nf));
    let p = if adj >= 0.6 {
        (1.2937 - 5.709 * adj + 0.0186 * adj * adj).exp()
    } else if adj >= 0.34 {
        (0.9177 - 4.279 * adj - 1.38 * adj * adj).exp()
    } else if adj >= 0.2 {
        1.0 - (-8.318 + 42.796 * adj - 59.938 * adj * adj).exp()
    } else {
        1.0 - (-13.436 + 101.14 * adj - 223.73 * adj * adj).exp()
    };
    Some(Normality {
        n,
        a_squared: a2,
        a_squared_adjusted: adj,
        p_value: p.clamp(0.0, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(lsl: Option<f64>, usl: Option<f64>) -> Spec {
        Spec {
            lsl,
            usl,
            target: None,
        }
    }

    #[test]
    fn reversed_limits_are_refused() {
        let e = capability(1.0, 0.1, 0.1, &spec(Some(2.0), Some(1.0)), None, 0.95).unwrap_err();
        assert_eq!(e.field, "params.lsl");
    }

    #[test]
    fn centred_process_has_cp_equal_to_cpk() {
        let c = capability(10.0, 0.5, 0.5, &spec(Some(7.0), Some(13.0)), Some(50), 0.95).unwrap();
        assert_eq!(c.cp, Some(2.0));
        assert!((c.cpk - 2.0).abs() < 1e-12);
        let i = c.cp_interval.unwrap();
        assert!(i.lower < 2.0 && 2.0 < i.upper);
    }

    #[test]
    fn normal_quantiles_pass_and_a_skewed_sample_fails() {
        // Evenly spaced normal quantiles look normal.
        let normal = Normal::standard();
        let q: Vec<f64> = (1..=50)
            .map(|i| normal.inverse_cdf(i as f64 / 51.0))
            .collect();
        assert!(anderson_darling(&q).unwrap().p_value > 0.5);
        // Squares of them are far from normal.
        let sq: Vec<f64> = q.iter().map(|v| v * v * v * v).collect();
        assert!(anderson_darling(&sq).unwrap().p_value < 0.01);
    }
}
