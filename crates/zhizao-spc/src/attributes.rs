//! Charts for counted data: p (fraction nonconforming), np (number
//! nonconforming), c (nonconformities per unit) and u (nonconformities per
//! inspection unit). p and u take a sample size per sample, so their limits
//! vary from sample to sample.

use crate::error::{Result, SpcError};
use crate::limits::{Limits, Phase, phase_one};
use crate::variables::check_multiplier;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    P,
    Np,
    C,
    U,
}

/// Options shared by the attribute charts.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeOptions {
    pub sigma_multiplier: f64,
    /// Report an LCL below this as this (usually 0); `None` keeps it as computed.
    pub lcl_floor: Option<f64>,
    /// Phase I when `None`; otherwise the known centre line (p̄, n·p̄, c̄, ū).
    pub center: Option<f64>,
    pub phase: Phase,
}

impl Default for AttributeOptions {
    fn default() -> Self {
        Self {
            sigma_multiplier: 3.0,
            lcl_floor: None,
            center: None,
            phase: Phase::default(),
        }
    }
}

/// An attribute chart: one plotted value and one pair of limits per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeChart {
    pub kind: AttributeKind,
    pub center: f64,
    pub values: Vec<f64>,
    pub limits: Vec<Limits>,
    pub beyond: Vec<usize>,
    pub excluded: Vec<usize>,
}

impl AttributeChart {
    /// Whether every sample has the same limits.
    pub fn constant_limits(&self) -> bool {
        self.limits.windows(2).all(|w| w[0] == w[1])
    }
}

/// Input of an attribute chart. `counts` are nonconforming units (p, np) or
/// nonconformities (c, u); `sizes` are the sample sizes (p, u) — for np the
/// one sample size, for c unused.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeData<'a> {
    pub counts: &'a [f64],
    pub sizes: Option<&'a [f64]>,
    pub sample_size: Option<f64>,
}

pub fn attribute_chart(
    kind: AttributeKind,
    data: &AttributeData<'_>,
    options: &AttributeOptions,
) -> Result<AttributeChart> {
    check_multiplier(options.sigma_multiplier)?;
    let count_field = match kind {
        AttributeKind::P | AttributeKind::Np => "data.nonconforming",
        AttributeKind::C | AttributeKind::U => "data.counts",
    };
    let counts = data.counts;
    if counts.is_empty() {
        return Err(SpcError::new(
            count_field,
            "no samples; the chart needs at least one",
        ));
    }
    for (i, &c) in counts.iter().enumerate() {
        if !(c.is_finite() && c >= 0.0 && c.fract() == 0.0) {
            return Err(SpcError::new(
                format!("{count_field}[{i}]"),
                format!("{c}: a count must be a whole number, 0 or more"),
            ));
        }
    }
    // Denominators: the sample size of each sample (p, u), or 1.
    let denominators: Vec<f64> = match kind {
        AttributeKind::P | AttributeKind::U => {
            let field = if kind == AttributeKind::P {
                "data.sample_sizes"
            } else {
                "data.sizes"
            };
            let sizes = match (data.sizes, data.sample_size) {
                (Some(s), _) => s.to_vec(),
                (None, Some(n)) => vec![n; counts.len()],
                (None, None) => {
                    return Err(SpcError::new(
                        field,
                        "missing: give a size for every sample",
                    ));
                }
            };
            if sizes.len() != counts.len() {
                return Err(SpcError::new(
                    field,
                    format!(
                        "{} sizes for {} samples; give one per sample",
                        sizes.len(),
                        counts.len()
                    ),
                ));
            }
            for (i, &n) in sizes.iter().enumerate() {
                let whole = kind == AttributeKind::U || n.fract() == 0.0;
                if !(n.is_finite() && n > 0.0 && whole) {
                    return Err(SpcError::new(
                        format!("{field}[{i}]"),
                        format!(
                            "{n}: a sample size must be positive{}",
                            if kind == AttributeKind::P {
                                " and whole"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
                if kind == AttributeKind::P && counts[i] > n {
                    return Err(SpcError::new(
                        format!("data.nonconforming[{i}]"),
                        format!("{} nonconforming in a sample of {n}", counts[i]),
                    ));
                }
            }
            sizes
        }
        AttributeKind::Np => {
            let n = data.sample_size.ok_or_else(|| {
                SpcError::new(
                    "params.sample_size",
                    "missing: an np chart needs the sample size",
                )
            })?;
            if !(n.is_finite() && n > 0.0 && n.fract() == 0.0) {
                return Err(SpcError::new(
                    "params.sample_size",
                    format!("{n}: must be a positive whole number"),
                ));
            }
            if let Some(i) = counts.iter().position(|&c| c > n) {
                return Err(SpcError::new(
                    format!("data.nonconforming[{i}]"),
                    format!("{} nonconforming in a sample of {n}", counts[i]),
                ));
            }
            vec![1.0; counts.len()]
        }
        AttributeKind::C => vec![1.0; counts.len()],
    };
    let values: Vec<f64> = counts
        .iter()
        .zip(&denominators)
        .map(|(c, n)| c / n)
        .collect();
    let np_size = data.sample_size.unwrap_or(1.0);
    let k = options.sigma_multiplier;
    let limits_for = |center: f64| -> Vec<Limits> {
        denominators
            .iter()
            .map(|&n| {
                let sd = match kind {
                    AttributeKind::P => (center * (1.0 - center) / n).max(0.0).sqrt(),
                    AttributeKind::Np => (center * (1.0 - center / np_size)).max(0.0).sqrt(),
                    AttributeKind::C => center.max(0.0).sqrt(),
                    AttributeKind::U => (center / n).max(0.0).sqrt(),
                };
                let lcl = center - k * sd;
                Limits {
                    center,
                    ucl: center + k * sd,
                    lcl: options.lcl_floor.map_or(lcl, |floor| lcl.max(floor)),
                }
            })
            .collect()
    };
    let (center, excluded) = match options.center {
        Some(c) => {
            let valid = c.is_finite()
                && c >= 0.0
                && match kind {
                    AttributeKind::P => c <= 1.0,
                    AttributeKind::Np => c <= np_size,
                    _ => true,
                };
            if !valid {
                return Err(SpcError::new(
                    "params.center",
                    format!("{c}: not a possible centre line for this chart"),
                ));
            }
            (c, vec![])
        }
        None => phase_one(counts.len(), &options.phase, |included| {
            let (num, den) = counts
                .iter()
                .zip(&denominators)
                .zip(included)
                .filter(|(_, keep)| **keep)
                .fold((0.0, 0.0), |(a, b), ((c, n), _)| (a + c, b + n));
            let center = if den > 0.0 { num / den } else { 0.0 };
            let limits = limits_for(center);
            let beyond = values
                .iter()
                .zip(&limits)
                .map(|(v, l)| l.beyond(*v))
                .collect();
            (center, beyond)
        }),
    };
    let limits = limits_for(center);
    let beyond = values
        .iter()
        .zip(&limits)
        .enumerate()
        .filter(|(_, (v, l))| l.beyond(**v))
        .map(|(i, _)| i)
        .collect();
    Ok(AttributeChart {
        kind,
        center,
        values,
        limits,
        beyond,
        excluded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_chart_limits_vary_with_the_size() {
        let counts = [4.0, 6.0, 2.0];
        let sizes = [2.0, 4.0, 1.0];
        let chart = attribute_chart(
            AttributeKind::U,
            &AttributeData {
                counts: &counts,
                sizes: Some(&sizes),
                sample_size: None,
            },
            &AttributeOptions::default(),
        )
        .unwrap();
        assert!((chart.center - 12.0 / 7.0).abs() < 1e-12);
        assert!(!chart.constant_limits());
        assert!(
            (chart.limits[1].ucl - (12.0 / 7.0 + 3.0 * (12.0 / 7.0 / 4.0f64).sqrt())).abs() < 1e-12
        );
    }

    #[test]
    fn more_nonconforming_than_inspected_is_refused() {
        let e = attribute_chart(
            AttributeKind::Np,
            &AttributeData {
                counts: &[1.0, 7.0],
                sizes: None,
                sample_size: Some(5.0),
            },
            &AttributeOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.field, "data.nonconforming[1]");
    }
}
