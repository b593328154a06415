//! Run rules: the eight Nelson tests and the four Western Electric rules,
//! each switchable. A rule is signalled at every point that completes a
//! qualifying window; the window's points are the pattern shown on a chart.
//!
//! Zones are strict: beyond 3σ means |z| > 3, zone C means |z| < 1; a trend
//! or an alternation is broken by two equal consecutive values.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SpcError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSet {
    /// Nelson (1984), tests 1–8.
    Nelson,
    /// Western Electric (1956), rules 1–4 (the fourth is 8 on one side).
    WesternElectric,
}

impl RuleSet {
    pub fn rule_count(self) -> u8 {
        match self {
            RuleSet::Nelson => 8,
            RuleSet::WesternElectric => 4,
        }
    }

    /// All rules of the set.
    pub fn all(self) -> Vec<u8> {
        (1..=self.rule_count()).collect()
    }
}

/// What a rule looks for, independent of its number in a rule set.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pattern {
    /// One point beyond 3σ.
    Beyond3,
    /// `n` in a row on one side of the centre line.
    OneSide(usize),
    /// `n` in a row steadily rising or falling.
    Trend(usize),
    /// `n` in a row alternating up and down.
    Alternating(usize),
    /// `m` of `n` in a row beyond `zone` σ on one side.
    MofN { m: usize, n: usize, zone: f64 },
    /// `n` in a row within 1σ.
    Hugging(usize),
    /// `n` in a row beyond 1σ on either side.
    Mixture(usize),
}

impl Pattern {
    fn window(self) -> usize {
        match self {
            Pattern::Beyond3 => 1,
            Pattern::OneSide(n)
            | Pattern::Trend(n)
            | Pattern::Alternating(n)
            | Pattern::Hugging(n)
            | Pattern::Mixture(n)
            | Pattern::MofN { n, .. } => n,
        }
    }

    /// Whether the window `values[..]`/`z[..]` qualifies.
    fn matches(self, values: &[f64], z: &[f64]) -> bool {
        match self {
            Pattern::Beyond3 => z[0].abs() > 3.0,
            Pattern::OneSide(_) => z.iter().all(|&v| v > 0.0) || z.iter().all(|&v| v < 0.0),
            Pattern::Trend(_) => {
                values.windows(2).all(|w| w[1] > w[0]) || values.windows(2).all(|w| w[1] < w[0])
            }
            Pattern::Alternating(_) => {
                let steps: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
                steps.iter().all(|&d| d != 0.0)
                    && steps.windows(2).all(|s| (s[0] > 0.0) != (s[1] > 0.0))
            }
            Pattern::MofN { m, zone, .. } => {
                z.iter().filter(|&&v| v > zone).count() >= m
                    || z.iter().filter(|&&v| v < -zone).count() >= m
            }
            Pattern::Hugging(_) => z.iter().all(|&v| v.abs() < 1.0),
            Pattern::Mixture(_) => z.iter().all(|&v| v.abs() > 1.0),
        }
    }
}

fn pattern(set: RuleSet, rule: u8) -> Option<Pattern> {
    Some(match (set, rule) {
        (_, 1) => Pattern::Beyond3,
        (RuleSet::Nelson, 2) => Pattern::OneSide(9),
        (RuleSet::Nelson, 3) => Pattern::Trend(6),
        (RuleSet::Nelson, 4) => Pattern::Alternating(14),
        (RuleSet::Nelson, 5) | (RuleSet::WesternElectric, 2) => Pattern::MofN {
            m: 2,
            n: 3,
            zone: 2.0,
        },
        (RuleSet::Nelson, 6) | (RuleSet::WesternElectric, 3) => Pattern::MofN {
            m: 4,
            n: 5,
            zone: 1.0,
        },
        (RuleSet::Nelson, 7) => Pattern::Hugging(15),
        (RuleSet::Nelson, 8) => Pattern::Mixture(8),
        (RuleSet::WesternElectric, 4) => Pattern::OneSide(8),
        _ => return None,
    })
}

/// How many points in a row a rule needs before it can signal.
pub fn points_needed(set: RuleSet, rule: u8) -> Option<usize> {
    pattern(set, rule).map(Pattern::window)
}

/// One rule's signals on a series (0-based points).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSignal {
    pub rule: u8,
    /// Points completing a qualifying window.
    pub points: Vec<usize>,
    /// Every point inside some qualifying window.
    pub pattern: Vec<usize>,
}

/// Checks the rule numbers against the set; `field` names them in errors.
pub fn check_rules(set: RuleSet, rules: &[u8], field: &str) -> Result<()> {
    for (i, &r) in rules.iter().enumerate() {
        if pattern(set, r).is_none() {
            return Err(SpcError::new(
                format!("{field}[{i}]"),
                format!(
                    "{r}: no such rule; the {} set has rules 1–{}",
                    match set {
                        RuleSet::Nelson => "Nelson",
                        RuleSet::WesternElectric => "Western Electric",
                    },
                    set.rule_count()
                ),
            ));
        }
    }
    Ok(())
}

/// Evaluates the enabled rules. `values` are the plotted values (for trends
/// and alternation); `z` the same points in sigmas from the centre line.
/// Rules that never signal are left out of the result.
pub fn evaluate(set: RuleSet, rules: &[u8], values: &[f64], z: &[f64]) -> Vec<RuleSignal> {
    let mut sorted: Vec<u8> = rules.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let len = values.len().min(z.len());
    let mut out = Vec::new();
    for rule in sorted {
        let Some(p) = pattern(set, rule) else {
            continue;
        };
        let w = p.window();
        let mut points = Vec::new();
        let mut in_pattern = BTreeSet::new();
        for end in (w.max(1) - 1)..len {
            let start = end + 1 - w;
            if p.matches(&values[start..=end], &z[start..=end]) {
                points.push(end);
                in_pattern.extend(start..=end);
            }
        }
        if !points.is_empty() {
            out.push(RuleSignal {
                rule,
                points,
                pattern: in_pattern.into_iter().collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(values: &[f64]) -> Vec<u8> {
        evaluate(RuleSet::Nelson, &RuleSet::Nelson.all(), values, values)
            .iter()
            .map(|s| s.rule)
            .collect()
    }

    #[test]
    fn the_western_electric_run_is_eight() {
        let z = [0.5, 0.2, 0.3, 0.4, 0.6, 0.1, 0.7, 0.2];
        let we = evaluate(RuleSet::WesternElectric, &[4], &z, &z);
        assert_eq!(we[0].points, vec![7]);
        assert!(evaluate(RuleSet::Nelson, &[2], &z, &z).is_empty());
    }

    #[test]
    fn equal_neighbours_break_a_trend() {
        assert_eq!(fired(&[-0.5, -0.3, 0.0, 0.2, 0.4, 0.6]), vec![3]);
        assert!(!fired(&[-0.5, -0.3, 0.0, 0.0, 0.4, 0.6]).contains(&3));
    }
}
