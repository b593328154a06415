//! Charts for measured values: X̄-R and X̄-S for subgroups, I-MR for
//! individual values. Phase I estimates the limits from the data (with
//! exclusion and revision); phase II monitors against a known standard or
//! frozen limits.

use crate::constants::ChartFactors;
use crate::error::{Result, SpcError};
use crate::limits::{Limits, Phase, beyond_indices, mean, phase_one, range, sample_sd};

/// The spread statistic of a subgroup chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// X̄-R: subgroup ranges, σ̂ = R̄/d2.
    Range,
    /// X̄-S: subgroup standard deviations, σ̂ = s̄/c4.
    StdDev,
}

/// Where a chart's limits come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Standard {
    /// Phase I: estimated from the data.
    Estimated(Phase),
    /// Phase II with a known process mean and sigma.
    Known { mean: f64, sigma: f64 },
    /// Phase II with the centre line of each chart frozen from phase I
    /// (X̄ and R̄, s̄ or MR̄); limits follow from the chart factors.
    Centres { location: f64, spread: f64 },
}

/// Table values to use instead of the computed constants, as a textbook
/// example does (`A2`, `D3`, `D4`, `A3`, `B3`, `B4`, `d2`, `c4`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides(pub Vec<(String, f64)>);

impl Overrides {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// An X̄-R or X̄-S chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SubgroupChart {
    pub spread_kind: Spread,
    pub subgroup_size: usize,
    pub location: Limits,
    pub spread: Limits,
    pub means: Vec<f64>,
    pub spreads: Vec<f64>,
    /// σ̂ within subgroups (R̄/d2 or s̄/c4), or the known sigma.
    pub sigma: f64,
    pub location_beyond: Vec<usize>,
    pub spread_beyond: Vec<usize>,
    /// Samples left out of the estimate (given or by revision).
    pub excluded: Vec<usize>,
}

/// Checks subgroups are non-empty, of one size of at least two, and finite.
pub fn check_subgroups(subgroups: &[Vec<f64>], chart: &str) -> Result<usize> {
    let first = subgroups
        .first()
        .ok_or_else(|| SpcError::new("data", "no subgroups; the chart needs at least one"))?;
    let n = first.len();
    if n < 2 {
        return Err(SpcError::new(
            "data[0]",
            format!(
                "a subgroup of {n} value(s); an {chart} chart needs subgroups of at least 2 (use imr for individual values)"
            ),
        ));
    }
    for (i, g) in subgroups.iter().enumerate() {
        if g.len() != n {
            return Err(SpcError::new(
                format!("data[{i}]"),
                format!(
                    "this subgroup has {} values but the first has {n}; an {chart} chart needs subgroups of equal size",
                    g.len()
                ),
            ));
        }
        if let Some(j) = g.iter().position(|v| !v.is_finite()) {
            return Err(SpcError::new(
                format!("data[{i}][{j}]"),
                "not a finite number",
            ));
        }
    }
    Ok(n)
}

/// Builds an X̄-R or X̄-S chart at `k` sigma.
pub fn subgroup_chart(
    subgroups: &[Vec<f64>],
    spread_kind: Spread,
    k: f64,
    standard: &Standard,
    overrides: &Overrides,
) -> Result<SubgroupChart> {
    let chart = match spread_kind {
        Spread::Range => "X̄-R",
        Spread::StdDev => "X̄-S",
    };
    let n = check_subgroups(subgroups, chart)?;
    check_multiplier(k)?;
    let computed = ChartFactors::compute(n, k);
    let pick = |name: &str, value: f64| overrides.get(name).unwrap_or(value);
    let (a, lower, upper, divisor, d3_or_s) = match spread_kind {
        Spread::Range => (
            pick("A2", computed.a2),
            pick("D3", computed.d3_lower),
            pick("D4", computed.d4_upper),
            pick("d2", computed.d2),
            pick("d3", computed.d3),
        ),
        Spread::StdDev => (
            pick("A3", computed.a3),
            pick("B3", computed.b3),
            pick("B4", computed.b4),
            pick("c4", computed.c4),
            (1.0 - pick("c4", computed.c4).powi(2)).max(0.0).sqrt(),
        ),
    };
    let means: Vec<f64> = subgroups.iter().map(|g| mean(g.iter().copied())).collect();
    let spreads: Vec<f64> = subgroups
        .iter()
        .map(|g| match spread_kind {
            Spread::Range => range(g),
            Spread::StdDev => sample_sd(g),
        })
        .collect();
    let from_centres = |x: f64, s: f64| {
        (
            Limits {
                center: x,
                ucl: x + a * s,
                lcl: x - a * s,
            },
            Limits {
                center: s,
                ucl: upper * s,
                lcl: lower * s,
            },
            s / divisor,
        )
    };
    let ((location, spread, sigma), excluded) = match standard {
        Standard::Estimated(phase) => phase_one(subgroups.len(), phase, |included| {
            let pick_in = |v: &[f64]| {
                mean(
                    v.iter()
                        .zip(included)
                        .filter(|(_, keep)| **keep)
                        .map(|(x, _)| *x),
                )
            };
            let (loc, spr, sigma) = from_centres(pick_in(&means), pick_in(&spreads));
            let beyond = (0..means.len())
                .map(|i| loc.beyond(means[i]) || spr.beyond(spreads[i]))
                .collect();
            ((loc, spr, sigma), beyond)
        }),
        Standard::Centres { location, spread } => (from_centres(*location, *spread), vec![]),
        Standard::Known { mean, sigma } => {
            check_sigma(*sigma, "params.sigma")?;
            let half = k * sigma / (n as f64).sqrt();
            // Spread chart with a known sigma: centre d2·σ (c4·σ), limits
            // at ±k of the statistic's own standard deviation.
            let centre = divisor * sigma;
            let sd = d3_or_s * sigma;
            (
                (
                    Limits {
                        center: *mean,
                        ucl: mean + half,
                        lcl: mean - half,
                    },
                    Limits {
                        center: centre,
                        ucl: centre + k * sd,
                        lcl: (centre - k * sd).max(0.0),
                    },
                    *sigma,
                ),
                vec![],
            )
        }
    };
    Ok(SubgroupChart {
        spread_kind,
        subgroup_size: n,
        location_beyond: beyond_indices(&means, |_| location),
        spread_beyond: beyond_indices(&spreads, |_| spread),
        location,
        spread,
        means,
        spreads,
        sigma,
        excluded,
    })
}

impl SubgroupChart {
    /// Phase II with frozen limits: replaces the given limits and judges
    /// every subgroup against them.
    pub fn freeze(&mut self, location: Option<Limits>, spread: Option<Limits>) {
        if let Some(l) = location {
            self.location = l;
        }
        if let Some(s) = spread {
            self.spread = s;
        }
        self.location_beyond = beyond_indices(&self.means, |_| self.location);
        self.spread_beyond = beyond_indices(&self.spreads, |_| self.spread);
        self.excluded.clear();
    }
}

/// An X̄-S chart whose subgroups differ in size: pooled s̄, and limits
/// per subgroup from the factors for its own size.
#[derive(Debug, Clone, PartialEq)]
pub struct VaryingSubgroupChart {
    /// Per subgroup; the centre is X̄̄ weighted by size (or the standard).
    pub location: Vec<Limits>,
    /// Per subgroup; in phase I the centre is the pooled
    /// √(Σ(nᵢ − 1)sᵢ² / Σ(nᵢ − 1)).
    pub spread: Vec<Limits>,
    pub means: Vec<f64>,
    pub sds: Vec<f64>,
    pub sizes: Vec<usize>,
    pub location_beyond: Vec<usize>,
    pub spread_beyond: Vec<usize>,
    pub excluded: Vec<usize>,
}

/// X̄-S limits for subgroups of different sizes (each at least 2).
pub fn xbar_s_varying(
    subgroups: &[Vec<f64>],
    k: f64,
    standard: &Standard,
) -> Result<VaryingSubgroupChart> {
    check_multiplier(k)?;
    if subgroups.is_empty() {
        return Err(SpcError::new(
            "data",
            "no subgroups; the chart needs at least one",
        ));
    }
    for (i, g) in subgroups.iter().enumerate() {
        if g.len() < 2 {
            return Err(SpcError::new(
                format!("data[{i}]"),
                format!(
                    "a subgroup of {} value(s); an X̄-S chart needs at least 2 in each",
                    g.len()
                ),
            ));
        }
        if let Some(j) = g.iter().position(|v| !v.is_finite()) {
            return Err(SpcError::new(
                format!("data[{i}][{j}]"),
                "not a finite number",
            ));
        }
    }
    let sizes: Vec<usize> = subgroups.iter().map(Vec::len).collect();
    let means: Vec<f64> = subgroups.iter().map(|g| mean(g.iter().copied())).collect();
    let sds: Vec<f64> = subgroups.iter().map(|g| sample_sd(g)).collect();
    let mut factors = std::collections::BTreeMap::new();
    for &n in &sizes {
        factors
            .entry(n)
            .or_insert_with(|| ChartFactors::compute(n, k));
    }
    let limits_for = |x: f64, s: f64| -> (Vec<Limits>, Vec<Limits>) {
        sizes
            .iter()
            .map(|n| {
                let f = &factors[n];
                (
                    Limits {
                        center: x,
                        ucl: x + f.a3 * s,
                        lcl: x - f.a3 * s,
                    },
                    Limits {
                        center: s,
                        ucl: f.b4 * s,
                        lcl: f.b3 * s,
                    },
                )
            })
            .unzip()
    };
    let phase = match standard {
        Standard::Estimated(phase) => phase,
        Standard::Centres { location, spread } => {
            let (location, spread) = limits_for(*location, *spread);
            return Ok(varying(location, spread, means, sds, sizes, vec![]));
        }
        Standard::Known { mean, sigma } => {
            check_sigma(*sigma, "params.sigma")?;
            // Centre c4(n)·σ for the s chart, limits at ±k of its spread.
            let (location, spread) = sizes
                .iter()
                .map(|n| {
                    let f = &factors[n];
                    let half = k * sigma / (*n as f64).sqrt();
                    let centre = f.c4 * sigma;
                    let sd = (1.0 - f.c4 * f.c4).max(0.0).sqrt() * sigma;
                    (
                        Limits {
                            center: *mean,
                            ucl: mean + half,
                            lcl: mean - half,
                        },
                        Limits {
                            center: centre,
                            ucl: centre + k * sd,
                            lcl: (centre - k * sd).max(0.0),
                        },
                    )
                })
                .unzip();
            return Ok(varying(location, spread, means, sds, sizes, vec![]));
        }
    };
    let ((grand_mean, pooled_sd), excluded) = phase_one(subgroups.len(), phase, |included| {
        let (mut sum, mut count, mut ss, mut df) = (0.0, 0.0, 0.0, 0.0);
        for i in (0..sizes.len()).filter(|&i| included[i]) {
            let n = sizes[i] as f64;
            sum += n * means[i];
            count += n;
            ss += (n - 1.0) * sds[i] * sds[i];
            df += n - 1.0;
        }
        let x = if count > 0.0 { sum / count } else { 0.0 };
        let s = if df > 0.0 { (ss / df).sqrt() } else { 0.0 };
        let (loc, spr) = limits_for(x, s);
        let beyond = (0..sizes.len())
            .map(|i| loc[i].beyond(means[i]) || spr[i].beyond(sds[i]))
            .collect();
        ((x, s), beyond)
    });
    let (location, spread) = limits_for(grand_mean, pooled_sd);
    Ok(varying(location, spread, means, sds, sizes, excluded))
}

fn varying(
    location: Vec<Limits>,
    spread: Vec<Limits>,
    means: Vec<f64>,
    sds: Vec<f64>,
    sizes: Vec<usize>,
    excluded: Vec<usize>,
) -> VaryingSubgroupChart {
    VaryingSubgroupChart {
        location_beyond: beyond_indices(&means, |i| location[i]),
        spread_beyond: beyond_indices(&sds, |i| spread[i]),
        location,
        spread,
        means,
        sds,
        sizes,
        excluded,
    }
}

/// An individuals and moving-range chart.
#[derive(Debug, Clone, PartialEq)]
pub struct IndividualsChart {
    pub values: Vec<f64>,
    pub individuals: Limits,
    pub moving_range: Limits,
    /// Moving range ending at each sample from the `span`-th on.
    pub moving_ranges: Vec<f64>,
    pub span: usize,
    pub sigma: f64,
    pub individuals_beyond: Vec<usize>,
    /// Samples (0-based) whose moving range ending there is beyond.
    pub moving_range_beyond: Vec<usize>,
    pub excluded: Vec<usize>,
}

/// Builds an I-MR chart; `span` is the number of points in a moving range.
pub fn individuals_chart(
    values: &[f64],
    span: usize,
    k: f64,
    standard: &Standard,
    overrides: &Overrides,
) -> Result<IndividualsChart> {
    check_multiplier(k)?;
    if span < 2 {
        return Err(SpcError::new(
            "params.moving_range_span",
            format!("{span}: a moving range spans at least 2 points"),
        ));
    }
    if let Some(j) = values.iter().position(|v| !v.is_finite()) {
        return Err(SpcError::new(format!("data[{j}]"), "not a finite number"));
    }
    if values.len() < span {
        return Err(SpcError::new(
            "data",
            format!(
                "{} value(s); an I-MR chart needs at least {span} for one moving range",
                values.len()
            ),
        ));
    }
    let computed = ChartFactors::compute(span, k);
    let d2 = overrides.get("d2").unwrap_or(computed.d2);
    let lower = overrides.get("D3").unwrap_or(computed.d3_lower);
    let upper = overrides.get("D4").unwrap_or(computed.d4_upper);
    let d3 = overrides.get("d3").unwrap_or(computed.d3);
    let moving_ranges: Vec<f64> = (span - 1..values.len())
        .map(|i| range(&values[i + 1 - span..=i]))
        .collect();
    let from_centres = |x: f64, mr: f64| {
        let sigma = mr / d2;
        (
            Limits {
                center: x,
                ucl: x + k * sigma,
                lcl: x - k * sigma,
            },
            Limits {
                center: mr,
                ucl: upper * mr,
                lcl: lower * mr,
            },
            sigma,
        )
    };
    let ((individuals, moving_range, sigma), excluded) = match standard {
        Standard::Estimated(phase) => phase_one(values.len(), phase, |included| {
            let x = mean(
                values
                    .iter()
                    .zip(included)
                    .filter(|(_, keep)| **keep)
                    .map(|(v, _)| *v),
            );
            // A moving range counts only when every point in it is included.
            let mr = mean(
                moving_ranges
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| included[*j..*j + span].iter().all(|keep| *keep))
                    .map(|(_, v)| *v),
            );
            let (ind, mrl, sigma) = from_centres(x, mr);
            let beyond = (0..values.len())
                .map(|i| {
                    ind.beyond(values[i])
                        || (i + 1 >= span && mrl.beyond(moving_ranges[i + 1 - span]))
                })
                .collect();
            ((ind, mrl, sigma), beyond)
        }),
        Standard::Centres { location, spread } => (from_centres(*location, *spread), vec![]),
        Standard::Known { mean, sigma } => {
            check_sigma(*sigma, "params.sigma")?;
            let centre = d2 * sigma;
            (
                (
                    Limits {
                        center: *mean,
                        ucl: mean + k * sigma,
                        lcl: mean - k * sigma,
                    },
                    Limits {
                        center: centre,
                        ucl: centre + k * d3 * sigma,
                        lcl: (centre - k * d3 * sigma).max(0.0),
                    },
                    *sigma,
                ),
                vec![],
            )
        }
    };
    Ok(IndividualsChart {
        values: values.to_vec(),
        individuals_beyond: beyond_indices(values, |_| individuals),
        moving_range_beyond: beyond_indices(&moving_ranges, |_| moving_range)
            .into_iter()
            .map(|j| j + span - 1)
            .collect(),
        individuals,
        moving_range,
        moving_ranges,
        span,
        sigma,
        excluded,
    })
}

impl IndividualsChart {
    /// Phase II with frozen limits, as [`SubgroupChart::freeze`].
    pub fn freeze(&mut self, individuals: Option<Limits>, moving_range: Option<Limits>) {
        if let Some(l) = individuals {
            self.individuals = l;
        }
        if let Some(m) = moving_range {
            self.moving_range = m;
        }
        self.individuals_beyond = beyond_indices(&self.values, |_| self.individuals);
        let offset = self.span - 1;
        self.moving_range_beyond = beyond_indices(&self.moving_ranges, |_| self.moving_range)
            .into_iter()
            .map(|j| j + offset)
            .collect();
        self.excluded.clear();
    }
}

pub(crate) fn check_multiplier(k: f64) -> Result<()> {
    if k.is_finite() && k > 0.0 {
        Ok(())
    } else {
        Err(SpcError::new(
            "params.sigma_multiplier",
            format!("{k}: must be a positive number of sigmas"),
        ))
    }
}

pub(crate) fn check_sigma(sigma: f64, field: &str) -> Result<()> {
    if sigma.is_finite() && sigma > 0.0 {
        Ok(())
    } else {
        Err(SpcError::new(
            field,
            format!("{sigma}: sigma must be positive"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimated() -> Standard {
        Standard::Estimated(Phase::default())
    }

    #[test]
    fn xbar_r_limits_follow_the_textbook_formula() {
        let groups = vec![
            vec![1.0, 2.0, 3.0],
            vec![2.0, 2.0, 5.0],
            vec![0.0, 1.0, 2.0],
        ];
        let c = subgroup_chart(
            &groups,
            Spread::Range,
            3.0,
            &estimated(),
            &Overrides::default(),
        )
        .unwrap();
        let f = ChartFactors::compute(3, 3.0);
        let rbar = (2.0 + 3.0 + 2.0) / 3.0;
        let xbarbar = (2.0 + 3.0 + 1.0) / 3.0;
        assert!((c.location.ucl - (xbarbar + f.a2 * rbar)).abs() < 1e-12);
        assert!((c.spread.ucl - f.d4_upper * rbar).abs() < 1e-12);
        assert!((c.sigma - rbar / f.d2).abs() < 1e-12);
    }

    #[test]
    fn unequal_subgroups_are_refused_by_place() {
        let groups = vec![vec![1.0, 2.0, 3.0], vec![2.0, 2.0]];
        let e = subgroup_chart(
            &groups,
            Spread::Range,
            3.0,
            &estimated(),
            &Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(e.field, "data[1]");
        assert!(e.problem.contains("equal size"), "{e}");
    }

    #[test]
    fn known_standard_sets_the_centres() {
        let groups = vec![vec![10.0, 11.0, 9.0, 10.0]; 3];
        let c = subgroup_chart(
            &groups,
            Spread::Range,
            3.0,
            &Standard::Known {
                mean: 10.0,
                sigma: 1.0,
            },
            &Overrides::default(),
        )
        .unwrap();
        assert!((c.location.ucl - 11.5).abs() < 1e-12);
        // D2 for n = 4 is 4.698 in the tables.
        assert!((c.spread.ucl - 4.698).abs() < 1e-3);
    }

    #[test]
    fn varying_sizes_pool_the_standard_deviations() {
        let groups = vec![
            vec![1.0, 2.0, 3.0],
            vec![2.0, 4.0],
            vec![1.0, 1.5, 2.0, 2.5],
        ];
        let c = xbar_s_varying(&groups, 3.0, &Standard::Estimated(Phase::default())).unwrap();
        let ss = 2.0 * 1.0 + 1.0 * 2.0 + 3.0 * sample_sd(&groups[2]).powi(2);
        let pooled = c.spread[0].center;
        assert!((pooled - (ss / 6.0).sqrt()).abs() < 1e-12);
        let grand = c.location[0].center;
        assert!((grand - 19.0 / 9.0).abs() < 1e-12);
        let f2 = ChartFactors::compute(2, 3.0);
        assert!((c.location[1].ucl - (grand + f2.a3 * pooled)).abs() < 1e-12);
    }

    #[test]
    fn moving_ranges_name_the_later_point() {
        let values = [1.0, 1.2, 0.9, 1.1, 9.0, 1.0];
        let c = individuals_chart(&values, 2, 3.0, &estimated(), &Overrides::default()).unwrap();
        assert_eq!(c.moving_ranges.len(), 5);
        assert!(c.moving_range_beyond.iter().all(|&i| i >= 1));
    }
}
