//! Control-chart constants computed from their definitions, so every
//! subgroup size works, not only the rows of a printed table.
//!
//! `d2(n)` and `d3(n)` are the mean and standard deviation of the range of
//! `n` independent standard normal values; `c4(n)` is the mean of the sample
//! standard deviation divided by σ. The chart factors (A2, D3, D4, A3, B3,
//! B4) follow from them for any multiple `k` of sigma.

use std::collections::BTreeMap;
use std::sync::Mutex;

use statrs::function::erf::erfc;
use statrs::function::gamma::ln_gamma;

/// Standard normal distribution function Φ.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

// Integration grid for the range moments: the integrands are negligible
// beyond ±9 and smooth, so a fine uniform grid gives about 1e-9.
const GRID_HALF_WIDTH: f64 = 9.0;
const GRID_STEP: f64 = 0.01;

fn grid() -> (Vec<f64>, f64) {
    let count = (2.0 * GRID_HALF_WIDTH / GRID_STEP).round() as usize + 1;
    let cdf = (0..count)
        .map(|i| normal_cdf(-GRID_HALF_WIDTH + i as f64 * GRID_STEP))
        .collect();
    (cdf, GRID_STEP)
}

/// Mean range of `n` standard normal values: ∫ 1 − Φⁿ − (1 − Φ)ⁿ dx.
pub fn d2(n: usize) -> f64 {
    let (cdf, h) = grid();
    let n = n as i32;
    // Trapezoid rule; the integrand vanishes at both ends of the grid.
    cdf.iter()
        .map(|&f| 1.0 - f.powi(n) - (1.0 - f).powi(n))
        .sum::<f64>()
        * h
}

/// Standard deviation of the range of `n` standard normal values.
///
/// E[W²] = 2 ∫∫_{x<y} 1 − Φ(y)ⁿ − (1 − Φ(x))ⁿ + (Φ(y) − Φ(x))ⁿ dx dy,
/// integrated over x and the gap t = y − x ≥ 0 on the same grid.
pub fn d3(n: usize) -> f64 {
    static KNOWN: Mutex<BTreeMap<usize, f64>> = Mutex::new(BTreeMap::new());
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *known.entry(n).or_insert_with(|| range_sd(n))
}

fn range_sd(n: usize) -> f64 {
    let (cdf, h) = grid();
    let m = cdf.len();
    let n_i = n as i32;
    let mut second_moment = 0.0;
    for gap in 0..m {
        let mut inner = 0.0;
        for i in 0..m - gap {
            let fx = cdf[i];
            let fy = cdf[i + gap];
            inner += 1.0 - fy.powi(n_i) - (1.0 - fx).powi(n_i) + (fy - fx).powi(n_i);
        }
        // The gap integral starts at t = 0, where the integrand is not zero.
        let weight = if gap == 0 { 0.5 } else { 1.0 };
        second_moment += weight * inner * h;
    }
    second_moment *= 2.0 * h;
    let mean = d2(n);
    (second_moment - mean * mean).max(0.0).sqrt()
}

/// Mean of the sample standard deviation of `n` normal values, over σ.
pub fn c4(n: usize) -> f64 {
    let n = n as f64;
    (2.0 / (n - 1.0)).sqrt() * (ln_gamma(n / 2.0) - ln_gamma((n - 1.0) / 2.0)).exp()
}

/// The factors of the X̄-R and X̄-S charts for subgroups of `n` at `k` sigma.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartFactors {
    pub d2: f64,
    pub d3: f64,
    pub c4: f64,
    pub a2: f64,
    pub d3_lower: f64,
    pub d4_upper: f64,
    pub a3: f64,
    pub b3: f64,
    pub b4: f64,
}

impl ChartFactors {
    pub fn compute(n: usize, k: f64) -> Self {
        let d2 = d2(n);
        let d3 = d3(n);
        let c4 = c4(n);
        let root_n = (n as f64).sqrt();
        let s_spread = k * (1.0 - c4 * c4).max(0.0).sqrt() / c4;
        Self {
            d2,
            d3,
            c4,
            a2: k / (d2 * root_n),
            d3_lower: (1.0 - k * d3 / d2).max(0.0),
            d4_upper: 1.0 + k * d3 / d2,
            a3: k / (c4 * root_n),
            b3: (1.0 - s_spread).max(0.0),
            b4: 1.0 + s_spread,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn range_constants_match_the_printed_tables() {
        // (n, d2, d3) as printed to 3 dp in the usual tables.
        for (n, t2, t3) in [
            (2, 1.128, 0.853),
            (3, 1.693, 0.888),
            (4, 2.059, 0.880),
            (5, 2.326, 0.864),
            (7, 2.704, 0.833),
            (10, 3.078, 0.797),
            (15, 3.472, 0.756),
            (25, 3.931, 0.708),
        ] {
            assert!(near(d2(n), t2, 5e-4), "d2({n}) = {}", d2(n));
            assert!(near(d3(n), t3, 5e-4), "d3({n}) = {}", d3(n));
        }
        assert!(near(d2(2), 2.0 / std::f64::consts::PI.sqrt(), 1e-9));
    }

    #[test]
    fn chart_factors_match_the_printed_tables() {
        // Tables print 3 dp, some rounded and some cut (D4(5) = 2.1145 is
        // printed 2.114), so allow 1e-3.
        let f = ChartFactors::compute(5, 3.0);
        assert!(near(f.a2, 0.577, 5e-4));
        assert_eq!(f.d3_lower, 0.0);
        assert!(near(f.d4_upper, 2.114, 1e-3));
        assert!(near(f.c4, 0.9400, 5e-5));
        assert!(near(f.a3, 1.427, 5e-4));
        assert_eq!(f.b3, 0.0);
        assert!(near(f.b4, 2.089, 5e-4));
        let f = ChartFactors::compute(10, 3.0);
        assert!(near(f.d3_lower, 0.223, 5e-4));
        assert!(near(f.d4_upper, 1.777, 5e-4));
        assert!(near(f.b3, 0.284, 5e-4));
        assert!(near(f.b4, 1.716, 5e-4));
        assert!(near(f.c4, 0.9727, 5e-5));
    }
}
