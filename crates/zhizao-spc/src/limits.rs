//! Control limits and the phase-I loop shared by every Shewhart chart:
//! estimate from the samples not excluded, find the ones beyond the
//! limits, and (when revising) exclude them and estimate again.

use serde::{Deserialize, Serialize};

/// A centre line with its upper and lower control limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub center: f64,
    pub ucl: f64,
    pub lcl: f64,
}

impl Limits {
    /// Whether a plotted value is beyond the limits (strictly).
    pub fn beyond(&self, value: f64) -> bool {
        value > self.ucl || value < self.lcl
    }

    /// Distance from the centre line in sigmas of the plotted statistic,
    /// taking `k` as the multiple of sigma the limits are drawn at. An
    /// asymmetric chart (an R chart, a floored LCL) uses the side the value
    /// lies on.
    pub fn z(&self, value: f64, k: f64) -> f64 {
        let half = if value >= self.center {
            self.ucl - self.center
        } else {
            self.center - self.lcl
        };
        if half > 0.0 {
            k * (value - self.center) / half
        } else if value == self.center {
            0.0
        } else {
            f64::INFINITY.copysign(value - self.center)
        }
    }
}

/// How limits are obtained.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Phase {
    /// Samples (0-based) left out of the estimate, e.g. assignable causes.
    pub exclude: Vec<usize>,
    /// Phase I revision: leave out every sample beyond the limits and
    /// estimate again until no included sample is beyond them.
    pub revise: bool,
}

/// Runs the phase-I loop. `estimate` computes the limits from the included
/// samples and returns, for each sample, whether it is beyond them; the
/// loop returns the last estimate and the samples it left out (sorted).
pub fn phase_one<T>(
    samples: usize,
    phase: &Phase,
    mut estimate: impl FnMut(&[bool]) -> (T, Vec<bool>),
) -> (T, Vec<usize>) {
    let mut included = vec![true; samples];
    for &i in &phase.exclude {
        if i < samples {
            included[i] = false;
        }
    }
    loop {
        let (result, beyond) = estimate(&included);
        let newly: Vec<usize> = (0..samples)
            .filter(|&i| included[i] && beyond.get(i).copied().unwrap_or(false))
            .collect();
        // Stop before leaving nothing to estimate from.
        let remaining = included.iter().filter(|&&keep| keep).count();
        if !phase.revise || newly.is_empty() || newly.len() >= remaining {
            let excluded = (0..samples).filter(|&i| !included[i]).collect();
            return (result, excluded);
        }
        for i in newly {
            included[i] = false;
        }
    }
}

/// Indices (0-based) whose value is beyond its limits.
pub fn beyond_indices(values: &[f64], limits: impl Fn(usize) -> Limits) -> Vec<usize> {
    values
        .iter()
        .enumerate()
        .filter(|&(i, &v)| limits(i).beyond(v))
        .map(|(i, _)| i)
        .collect()
}

pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Sample standard deviation (divisor n − 1); zero for fewer than two.
pub fn sample_sd(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values.iter().copied());
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

pub fn range(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    if values.is_empty() { 0.0 } else { max - min }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_drops_points_until_none_is_beyond() {
        // Values 0..9 plus two outliers; the limits are mean ± 5.
        let values = [1.0, 2.0, 3.0, 2.0, 1.0, 30.0, 2.0, 3.0, 12.0, 2.0];
        let phase = Phase {
            exclude: vec![],
            revise: true,
        };
        let (center, excluded) = phase_one(values.len(), &phase, |included| {
            let c = mean(values.iter().zip(included).filter(|p| *p.1).map(|p| *p.0));
            (c, values.iter().map(|v| (v - c).abs() > 5.0).collect())
        });
        // First pass: mean 5.8 puts 30 and 12 beyond; second: mean 2.0.
        assert_eq!(excluded, vec![5, 8]);
        assert_eq!(center, 2.0);
    }

    #[test]
    fn z_uses_the_side_of_the_value() {
        let l = Limits {
            center: 1.0,
            ucl: 4.0,
            lcl: 0.0,
        };
        assert_eq!(l.z(4.0, 3.0), 3.0);
        assert_eq!(l.z(0.5, 3.0), -1.5);
    }
}
