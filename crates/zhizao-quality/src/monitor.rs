//! The live control chart of one characteristic: its latest subgroups put
//! through the same analysis as `POST /spc/analyze` (one code path for
//! both), then laid out point by point for a chart and an alarm.
//!
//! Without frozen limits the chart shows trial limits from the subgroups
//! shown; with them (phase II) every point is judged against them.

use serde::Serialize;
use serde_json::{Map, Value, json};
use zhizao_spc::{Limits, RuleSet, SpcError};

use crate::plan::{Characteristic, ChartKind};

/// One sample of a characteristic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subgroup {
    /// Sample number within the characteristic, from 1.
    pub number: i64,
    /// The measured values; for a counted characteristic one count.
    pub values: Vec<f64>,
    /// Counted characteristics: units (p, np) or inspection units (u)
    /// inspected.
    pub sample_size: Option<f64>,
    pub taken_at: i64,
}

/// A plotted point with the limits that apply to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartPoint {
    pub number: i64,
    pub taken_at: i64,
    pub value: f64,
    /// The spread panel's value (range, s, moving range), when there is one.
    pub spread: Option<f64>,
    pub limits: Option<Limits>,
    pub beyond: bool,
    /// Run rules signalled at this point.
    pub rules: Vec<u8>,
}

/// A characteristic's chart, ready to draw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartView {
    pub chart: ChartKind,
    /// `frozen` (phase II), `trial` (from the points shown), or `none`
    /// (too few points yet).
    pub limits_kind: &'static str,
    pub points: Vec<ChartPoint>,
    /// Limits of the spread panel (R, s or MR).
    pub spread_limits: Option<Limits>,
    pub rule_set: RuleSet,
    /// Capability from the points shown, for measured characteristics
    /// with a specification (null when it cannot be computed).
    pub capability: Option<Value>,
}

impl ChartView {
    /// Rules signalled at the newest point.
    pub fn latest_rules(&self) -> &[u8] {
        self.points.last().map_or(&[], |p| p.rules.as_slice())
    }

    /// Whether the newest point is beyond its limits or signals a rule.
    pub fn latest_out_of_control(&self) -> bool {
        self.points
            .last()
            .is_some_and(|p| p.beyond || !p.rules.is_empty())
    }
}

/// Builds the chart of `subgroups` (oldest first) for `c`.
pub fn chart_view(c: &Characteristic, subgroups: &[Subgroup]) -> Result<ChartView, SpcError> {
    let first = subgroups.first().map_or(1, |s| s.number);
    let enough = match c.chart {
        ChartKind::Imr => subgroups.len() >= 2,
        _ => !subgroups.is_empty(),
    };
    let mut view = ChartView {
        chart: c.chart,
        limits_kind: "none",
        points: subgroups
            .iter()
            .map(|s| ChartPoint {
                number: s.number,
                taken_at: s.taken_at,
                value: plotted(c.chart, s),
                spread: None,
                limits: None,
                beyond: false,
                rules: Vec::new(),
            })
            .collect(),
        spread_limits: None,
        rule_set: c.rules.set,
        capability: None,
    };
    if !enough {
        return Ok(view);
    }
    let case = case_for(c, subgroups, first);
    let (_, result) = zhizao_spc::case::analyze_case(&case, 0)?;
    view.limits_kind = if c.limits.is_some() {
        "frozen"
    } else {
        "trial"
    };
    let numbers = |key: &str| -> Vec<i64> {
        result[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default()
    };
    let beyond: Vec<i64> = numbers(if c.chart.is_variable() {
        if c.chart == ChartKind::Imr {
            "individuals_out_of_control_points"
        } else {
            "xbar_out_of_control_points"
        }
    } else {
        "out_of_control_points"
    });
    let location_key = match c.chart {
        ChartKind::XbarR | ChartKind::XbarS => Some("xbar"),
        ChartKind::Imr => Some("individuals"),
        _ => None,
    };
    let spread_key = match c.chart {
        ChartKind::XbarR => Some(("r", "subgroup_ranges")),
        ChartKind::XbarS => Some(("s", "subgroup_sd")),
        ChartKind::Imr => Some(("moving_range", "")),
        _ => None,
    };
    let spread_values: Vec<Option<f64>> = match spread_key {
        Some((_, "")) => {
            // Moving ranges start at the second point.
            let mr = floats(&result["moving_range"]["values"]);
            std::iter::once(None)
                .chain(mr.into_iter().map(Some))
                .collect()
        }
        Some((_, key)) => floats(&result[key]).into_iter().map(Some).collect(),
        None => Vec::new(),
    };
    for (i, p) in view.points.iter_mut().enumerate() {
        p.limits = match location_key {
            Some(k) => limits_of(&result[k], i),
            None => limits_of(&result, i),
        };
        p.spread = spread_values.get(i).copied().flatten();
        p.beyond = beyond.contains(&p.number);
    }
    if let Some((k, _)) = spread_key {
        view.spread_limits = limits_of(&result[k], 0);
    }
    if let Some(Value::Object(signals)) = result.get("signals") {
        for (rule, points) in signals {
            let Ok(rule) = rule.parse::<u8>() else {
                continue;
            };
            for n in points
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
            {
                if let Some(p) = view.points.iter_mut().find(|p| p.number == n) {
                    p.rules.push(rule);
                }
            }
        }
    }
    if c.chart.is_variable() && (c.lsl.is_some() || c.usl.is_some()) {
        view.capability = capability(c, subgroups);
    }
    Ok(view)
}

fn plotted(chart: ChartKind, s: &Subgroup) -> f64 {
    let count = s.values.first().copied().unwrap_or(0.0);
    match chart {
        ChartKind::XbarR | ChartKind::XbarS => {
            s.values.iter().sum::<f64>() / s.values.len().max(1) as f64
        }
        ChartKind::Imr | ChartKind::Np | ChartKind::C => count,
        ChartKind::P | ChartKind::U => match s.sample_size {
            Some(n) if n > 0.0 => count / n,
            _ => count,
        },
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// The limits in `panel`, which are numbers or (varying) lists.
fn limits_of(panel: &Value, i: usize) -> Option<Limits> {
    let at = |key: &str| match &panel[key] {
        Value::Array(list) => list.get(i).and_then(Value::as_f64),
        v => v.as_f64(),
    };
    Some(Limits {
        center: at("center")?,
        ucl: at("ucl")?,
        lcl: at("lcl")?,
    })
}

/// The SPC case of a characteristic's subgroups.
fn case_for(c: &Characteristic, subgroups: &[Subgroup], first: i64) -> Value {
    let mut params = Map::new();
    params.insert("first_sample".into(), json!(first));
    params.insert("rule_set".into(), json!(c.rules.set));
    params.insert("rules_enabled".into(), json!(c.rules.enabled));
    if !c.chart.is_variable() {
        params.insert("lcl_floor".into(), json!(0.0));
    }
    if let Some(l) = &c.limits {
        match c.chart {
            ChartKind::XbarR | ChartKind::XbarS | ChartKind::Imr => {
                let (loc, spr) = match c.chart {
                    ChartKind::XbarR => ("xbar", "r"),
                    ChartKind::XbarS => ("xbar", "s"),
                    _ => ("individuals", "moving_range"),
                };
                let mut limits = Map::new();
                limits.insert(loc.into(), json!(l.location));
                if let Some(s) = l.spread {
                    limits.insert(spr.into(), json!(s));
                }
                params.insert("limits".into(), Value::Object(limits));
            }
            _ => {
                params.insert("center".into(), json!(l.location.center));
                params.insert("ucl".into(), json!(l.location.ucl));
                params.insert("lcl".into(), json!(l.location.lcl));
            }
        }
    }
    let count = |s: &Subgroup| s.values.first().copied().unwrap_or(0.0);
    let size = |s: &Subgroup| s.sample_size.unwrap_or(c.subgroup_size as f64);
    let data = match c.chart {
        ChartKind::XbarR | ChartKind::XbarS => {
            json!(subgroups.iter().map(|s| &s.values).collect::<Vec<_>>())
        }
        ChartKind::Imr => json!(subgroups.iter().map(count).collect::<Vec<_>>()),
        ChartKind::P => json!({
            "nonconforming": subgroups.iter().map(count).collect::<Vec<_>>(),
            "sample_sizes": subgroups.iter().map(size).collect::<Vec<_>>(),
        }),
        ChartKind::Np => {
            params.insert("sample_size".into(), json!(c.subgroup_size));
            json!({"nonconforming": subgroups.iter().map(count).collect::<Vec<_>>()})
        }
        ChartKind::C => json!({"counts": subgroups.iter().map(count).collect::<Vec<_>>()}),
        ChartKind::U => json!({
            "counts": subgroups.iter().map(count).collect::<Vec<_>>(),
            "sizes": subgroups.iter().map(size).collect::<Vec<_>>(),
        }),
    };
    json!({"chart": c.chart.case_name(), "params": params, "data": data})
}

fn capability(c: &Characteristic, subgroups: &[Subgroup]) -> Option<Value> {
    let data = if c.chart == ChartKind::Imr {
        json!(
            subgroups
                .iter()
                .filter_map(|s| s.values.first())
                .collect::<Vec<_>>()
        )
    } else {
        json!(subgroups.iter().map(|s| &s.values).collect::<Vec<_>>())
    };
    let case = json!({"chart": "capability",
        "params": {"lsl": c.lsl, "usl": c.usl, "target": c.target}, "data": data});
    // Too few or identical values give no capability; that is not an error.
    zhizao_spc::case::analyze_case(&case, 0)
        .ok()
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{RuleChoice, Sampling, Stage};

    fn bore() -> Characteristic {
        Characteristic {
            code: "BORE-D".into(),
            name: "bore".into(),
            item: "PB-100".into(),
            operation_seq: Some(20),
            stage: Stage::Ipqc,
            chart: ChartKind::XbarR,
            subgroup_size: 3,
            unit: "mm".into(),
            lsl: Some(24.9),
            usl: Some(25.1),
            target: Some(25.0),
            sampling: Sampling::EveryMinutes(30),
            gauge: String::new(),
            equipment: "L-TRN-1".into(),
            rules: RuleChoice::default(),
            limits: None,
        }
    }

    fn group(number: i64, centre: f64) -> Subgroup {
        Subgroup {
            number,
            values: vec![centre - 0.01, centre, centre + 0.012],
            sample_size: None,
            taken_at: number * 60_000,
        }
    }

    #[test]
    fn a_drift_trips_a_rule_on_frozen_limits() {
        let mut c = bore();
        c.limits = Some(crate::plan::FrozenLimits {
            location: Limits {
                center: 25.0,
                ucl: 25.03,
                lcl: 24.97,
            },
            spread: None,
        });
        // Six rising subgroup means: Nelson test 3 at the sixth.
        let groups: Vec<Subgroup> = (1..=6).map(|i| group(i, 25.0 + i as f64 * 0.002)).collect();
        let view = chart_view(&c, &groups).unwrap();
        assert_eq!(view.limits_kind, "frozen");
        assert!(view.latest_rules().contains(&3), "{:?}", view.points);
        assert!(view.points[..5].iter().all(|p| p.rules.is_empty()));
        assert!(view.capability.is_some());
    }

    #[test]
    fn one_point_of_an_individuals_chart_has_no_limits_yet() {
        let mut c = bore();
        c.chart = ChartKind::Imr;
        c.subgroup_size = 1;
        let view = chart_view(
            &c,
            &[Subgroup {
                number: 1,
                values: vec![25.0],
                sample_size: None,
                taken_at: 0,
            }],
        )
        .unwrap();
        assert_eq!(view.limits_kind, "none");
        assert_eq!(view.points.len(), 1);
    }
}
