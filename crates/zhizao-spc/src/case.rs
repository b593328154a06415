//! The analysis interface shared by `zhizao spc analyze` and
//! `POST /api/v1/spc/analyze`: a case (`chart`, `params`, `data`) or a
//! document with a `cases` list in, one JSON object keyed by case id out,
//! each carrying its results under the names the reference cases use.
//!
//! Parameter names follow the reference file; common spellings of the same
//! thing (`lambda`/`lambda_`, `r_bar`/`rbar`) are accepted. Every refusal
//! names the field at fault, e.g. `cases[2].data[3][1]`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::attributes::{AttributeData, AttributeKind, AttributeOptions, attribute_chart};
use crate::capability::{Spec, anderson_darling, capability};
use crate::constants::{c4, d2};
use crate::cusum::{CusumOptions, Side, tabular_cusum};
use crate::error::{Result, SpcError};
use crate::ewma::{EwmaLimits, EwmaOptions, ewma};
use crate::limits::{Limits, Phase, mean, range, sample_sd};
use crate::rules::{RuleSet, check_rules, evaluate, points_needed};
use crate::variables::{
    IndividualsChart, Overrides, Spread, Standard, SubgroupChart, check_subgroups,
    individuals_chart, subgroup_chart, xbar_s_varying,
};

/// The chart types a case may name.
pub const CHARTS: [&str; 11] = [
    "xbar_r",
    "xbar_s",
    "imr",
    "p",
    "np",
    "c",
    "u",
    "ewma",
    "cusum",
    "capability",
    "rules",
];

/// Analyses one case or a document of cases; the result maps each case's
/// id (or `case-N` for a case without one) to its results.
pub fn analyze(document: &Value) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let cases: Vec<(String, &Value)> = match document {
        Value::Object(map) if map.contains_key("cases") => match &map["cases"] {
            Value::Array(list) => list
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("cases[{i}]"), c))
                .collect(),
            other => {
                return Err(SpcError::new(
                    "cases",
                    format!("expected a list of cases, found {}", kind(other)),
                ));
            }
        },
        Value::Object(_) => vec![(String::new(), document)],
        Value::Array(list) => list
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("[{i}]"), c))
            .collect(),
        other => {
            return Err(SpcError::new(
                "",
                format!(
                    "expected a case object or a document with `cases`, found {}",
                    kind(other)
                ),
            ));
        }
    };
    if cases.is_empty() {
        return Err(SpcError::new("cases", "the list is empty"));
    }
    for (n, (path, case)) in cases.iter().enumerate() {
        let (id, result) = analyze_case(case, n).map_err(|e| e.within(path))?;
        if out.contains_key(&id) {
            return Err(
                SpcError::new("id", format!("`{id}` is used by an earlier case")).within(path),
            );
        }
        out.insert(id, result);
    }
    Ok(out)
}

/// Analyses one case object; returns its id and its results.
pub fn analyze_case(case: &Value, position: usize) -> Result<(String, Value)> {
    let obj = case.as_object().ok_or_else(|| {
        SpcError::new("", format!("expected a case object, found {}", kind(case)))
    })?;
    let id = match obj.get("id") {
        None | Some(Value::Null) => format!("case-{}", position + 1),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(SpcError::new(
                "id",
                format!("expected a non-empty string, found {}", kind(other)),
            ));
        }
    };
    let chart = match obj.get("chart") {
        Some(Value::String(s)) => s.trim().to_ascii_lowercase().replace(['-', ' '], "_"),
        Some(other) => {
            return Err(SpcError::new(
                "chart",
                format!("expected a string, found {}", kind(other)),
            ));
        }
        None => {
            return Err(SpcError::new(
                "chart",
                format!("missing; one of {}", CHARTS.join(", ")),
            ));
        }
    };
    let params = match obj.get("params") {
        None | Some(Value::Null) => Params { map: None },
        Some(Value::Object(m)) => Params { map: Some(m) },
        Some(other) => {
            return Err(SpcError::new(
                "params",
                format!("expected an object, found {}", kind(other)),
            ));
        }
    };
    let data = obj.get("data").unwrap_or(&Value::Null);
    let result = match chart.as_str() {
        "xbar_r" => subgroups_case(&params, data, Spread::Range)?,
        "xbar_s" => subgroups_case(&params, data, Spread::StdDev)?,
        "imr" | "i_mr" | "individuals" => individuals_case(&params, data)?,
        "p" => attribute_case(&params, data, AttributeKind::P)?,
        "np" => attribute_case(&params, data, AttributeKind::Np)?,
        "c" => attribute_case(&params, data, AttributeKind::C)?,
        "u" => attribute_case(&params, data, AttributeKind::U)?,
        "ewma" => ewma_case(&params, data)?,
        "cusum" => cusum_case(&params, data)?,
        "capability" => capability_case(&params, data)?,
        "rules" => rules_case(&params, data)?,
        other => {
            return Err(SpcError::new(
                "chart",
                format!("`{other}` is not a chart; one of {}", CHARTS.join(", ")),
            ));
        }
    };
    Ok((id, result))
}

// ---------------------------------------------------------------- params

struct Params<'a> {
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Params<'a> {
    /// The first of `names` present and not null.
    fn find(&self, names: &[&str]) -> Option<(&'a str, &'a Value)> {
        let map = self.map?;
        names.iter().find_map(|n| {
            map.get_key_value(*n)
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.as_str(), v))
        })
    }

    fn number(&self, names: &[&str]) -> Result<Option<f64>> {
        match self.find(names) {
            None => Ok(None),
            Some((name, v)) => number_at(v, &format!("params.{name}")).map(Some),
        }
    }

    /// A number, or `None` when the key holds a description (a string).
    fn number_or_note(&self, names: &[&str]) -> Result<Option<f64>> {
        match self.find(names) {
            // A number written as a string is a mistake, not a note.
            Some((_, Value::String(t))) if t.trim().parse::<f64>().is_err() => Ok(None),
            _ => self.number(names),
        }
    }

    fn text(&self, names: &[&str]) -> Result<Option<&'a str>> {
        match self.find(names) {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s)),
            Some((name, other)) => Err(SpcError::new(
                format!("params.{name}"),
                format!("expected a string, found {}", kind(other)),
            )),
        }
    }

    fn flag(&self, names: &[&str]) -> Result<Option<bool>> {
        match self.find(names) {
            None => Ok(None),
            Some((_, Value::Bool(b))) => Ok(Some(*b)),
            Some((name, other)) => Err(SpcError::new(
                format!("params.{name}"),
                format!("expected true or false, found {}", kind(other)),
            )),
        }
    }

    fn whole_list(&self, names: &[&str]) -> Result<Option<(String, Vec<u64>)>> {
        let Some((name, v)) = self.find(names) else {
            return Ok(None);
        };
        let field = format!("params.{name}");
        let list = v
            .as_array()
            .ok_or_else(|| SpcError::new(&field, format!("expected a list, found {}", kind(v))))?;
        let mut out = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let n = number_at(item, &format!("{field}[{i}]"))?;
            if n < 0.0 || n.fract() != 0.0 {
                return Err(SpcError::new(
                    format!("{field}[{i}]"),
                    format!("{n}: expected a whole number"),
                ));
            }
            out.push(n as u64);
        }
        Ok(Some((field, out)))
    }

    fn object(&self, name: &str) -> Option<&'a Map<String, Value>> {
        self.map?.get(name)?.as_object()
    }

    fn sigma_multiplier(&self) -> Result<f64> {
        Ok(self.number(&["sigma_multiplier"])?.unwrap_or(3.0))
    }

    /// Number of the first sample: `first_sample` (default 1), or one more
    /// than `sample_offset`.
    /// The first sample's number when the case continues a phase-I data
    /// set of `phase_one` samples: the next number unless given.
    fn first_after(&self, phase_one: Option<usize>) -> Result<u64> {
        match phase_one {
            Some(n) if self.first_sample()? == 1 && !self.numbering_given() => Ok(n as u64 + 1),
            _ => self.first_sample(),
        }
    }

    fn numbering_given(&self) -> bool {
        self.find(&[
            "first_sample",
            "first_sample_number",
            "start_sample",
            "start_index",
            "first_subgroup",
            "sample_numbers",
            "subgroup_numbers",
            "sample_offset",
        ])
        .is_some()
    }

    fn first_sample(&self) -> Result<u64> {
        let first = match self.number(&[
            "first_sample",
            "first_sample_number",
            "start_sample",
            "start_index",
            "first_subgroup",
        ])? {
            Some(f) => f,
            None => match self.find(&["sample_numbers", "subgroup_numbers"]) {
                Some((name, Value::Array(list))) if !list.is_empty() => {
                    number_at(&list[0], &format!("params.{name}[0]"))?
                }
                _ => self.number(&["sample_offset"])?.map_or(1.0, |o| o + 1.0),
            },
        };
        if first < 0.0 || first.fract() != 0.0 {
            return Err(SpcError::new(
                "params.first_sample",
                format!("{first}: expected a whole number"),
            ));
        }
        Ok(first as u64)
    }

    /// Phase-I options: samples excluded (by number) and revision; a
    /// `phase1_samples` count or `[first, last]` range limits the estimate
    /// to those samples and judges the rest against it.
    fn phase(&self, samples: usize) -> Result<Phase> {
        self.phase_numbered(samples, self.first_sample()?)
    }

    /// As [`Params::phase`], for samples numbered from `first`.
    fn phase_numbered(&self, samples: usize, first: u64) -> Result<Phase> {
        let mut exclude = Vec::new();
        if let Some((field, numbers)) =
            self.whole_list(&["exclude_from_limits", "exclude", "excluded_samples"])?
        {
            for (i, n) in numbers.into_iter().enumerate() {
                let index = n
                    .checked_sub(first)
                    .map(|v| v as usize)
                    .filter(|&v| v < samples);
                match index {
                    Some(v) => exclude.push(v),
                    None => {
                        return Err(SpcError::new(
                            format!("{field}[{i}]"),
                            format!(
                                "sample {n} does not exist; samples are numbered {first}–{}",
                                first + samples as u64 - 1
                            ),
                        ));
                    }
                }
            }
        }
        if let Some((name, v)) = self.find(&[
            "phase1_samples",
            "phase_1_samples",
            "limit_samples",
            "phase1_subgroups",
            "trial_samples",
            "trial",
        ]) {
            let field = format!("params.{name}");
            // A count of samples from the first, `[first, last]`, or every
            // sample number of a run.
            let (lo, hi) = match v {
                // One flag per sample: true where it belongs to phase I.
                Value::Array(list) if list.first().is_some_and(Value::is_boolean) => {
                    if list.len() != samples {
                        return Err(SpcError::new(
                            &field,
                            format!(
                                "{} flags for {samples} samples; give one per sample",
                                list.len()
                            ),
                        ));
                    }
                    for (i, flag) in list.iter().enumerate() {
                        match flag {
                            Value::Bool(true) => {}
                            Value::Bool(false) => exclude.push(i),
                            other => {
                                return Err(SpcError::new(
                                    format!("{field}[{i}]"),
                                    format!("expected true or false, found {}", kind(other)),
                                ));
                            }
                        }
                    }
                    (first as f64, first as f64 + samples as f64 - 1.0)
                }
                Value::Array(list) if !list.is_empty() => {
                    let numbers = numbers_at(v, &field)?;
                    let lo = numbers.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    if list.len() > 2 && (hi - lo + 1.0) as usize != list.len() {
                        return Err(SpcError::new(
                            &field,
                            "give the phase-I samples as a count, [first, last], or every number of one run",
                        ));
                    }
                    (lo, hi)
                }
                _ => (first as f64, first as f64 + number_at(v, &field)? - 1.0),
            };
            let last = first as f64 + samples as f64 - 1.0;
            if lo > hi || lo < first as f64 || hi > last {
                return Err(SpcError::new(
                    &field,
                    format!("{lo}–{hi} is not a range of the samples {first}–{last}"),
                ));
            }
            for i in 0..samples {
                let number = (first + i as u64) as f64;
                if number < lo || number > hi {
                    exclude.push(i);
                }
            }
        }
        exclude.sort_unstable();
        exclude.dedup();
        if !exclude.is_empty() && exclude.len() >= samples {
            return Err(SpcError::new(
                "params.exclude_from_limits",
                "every sample is excluded; nothing is left to estimate the limits from",
            ));
        }
        Ok(Phase {
            exclude,
            revise: self.flag(&["revise", "revise_limits"])?.unwrap_or(false),
        })
    }

    /// Constants given as table values (`params.constants`).
    fn overrides(&self) -> Result<Overrides> {
        let Some(map) = self.object("constants") else {
            return Ok(Overrides::default());
        };
        let mut out = Vec::new();
        for (k, v) in map {
            out.push((k.clone(), number_at(v, &format!("params.constants.{k}"))?));
        }
        Ok(Overrides(out))
    }

    /// Frozen phase-I limits for a chart's two panels, wherever the case
    /// puts them: `limits.xbar.{center,ucl,lcl}`, `xbar_limits`, `xbar_ucl` …
    fn frozen(
        &self,
        location: &[&str],
        spread: &[&str],
    ) -> Result<(Option<Limits>, Option<Limits>)> {
        let Some(map) = self.map else {
            return Ok((None, None));
        };
        let mut containers: Vec<(String, &Map<String, Value>)> = vec![("params".into(), map)];
        for c in [
            "limits",
            "control_limits",
            "phase1_limits",
            "phase_1_limits",
            "phase_i_limits",
            "frozen_limits",
            "trial_limits",
            "phase1",
            "phase_1",
        ] {
            if let Some(m) = map.get(c).and_then(Value::as_object) {
                containers.push((format!("params.{c}"), m));
            }
        }
        let mut found = (None, None);
        for (path, container) in &containers {
            for (slot, names) in [(0, location), (1, spread)] {
                let current = if slot == 0 { &found.0 } else { &found.1 };
                if current.is_some() {
                    continue;
                }
                let mut hit = None;
                for name in names {
                    for key in [name.to_string(), format!("{name}_limits")] {
                        if let Some(m) = container.get(&key).and_then(Value::as_object) {
                            hit = limits_in(m, "", &format!("{path}.{key}"))?;
                        }
                        if hit.is_some() {
                            break;
                        }
                    }
                    if hit.is_none() {
                        hit = limits_in(container, &format!("{name}_"), path)?;
                    }
                    if hit.is_some() {
                        break;
                    }
                }
                // Bare center/ucl/lcl are the location chart's.
                if hit.is_none() && slot == 0 {
                    hit = limits_in(container, "", path)?;
                }
                if slot == 0 {
                    found.0 = hit;
                } else {
                    found.1 = hit;
                }
            }
        }
        Ok(found)
    }
}

/// `{prefix}ucl`, `{prefix}lcl` and `{prefix}center` in `map`, if the two
/// limits are there; a missing centre is the midpoint.
fn limits_in(map: &Map<String, Value>, prefix: &str, path: &str) -> Result<Option<Limits>> {
    // `xbar_ucl` or `ucl_xbar`.
    let suffix = prefix.strip_suffix('_').map(|p| format!("_{p}"));
    let get = |names: &[&str]| -> Result<Option<f64>> {
        for n in names {
            let mut keys = vec![format!("{prefix}{n}")];
            if let Some(s) = &suffix {
                keys.push(format!("{n}{s}"));
            }
            for key in keys {
                if let Some(v) = map.get(&key).filter(|v| !v.is_null()) {
                    return number_at(v, &format!("{path}.{key}")).map(Some);
                }
            }
        }
        Ok(None)
    };
    let (Some(ucl), Some(lcl)) = (get(&["ucl", "UCL"])?, get(&["lcl", "LCL"])?) else {
        return Ok(None);
    };
    let center = get(&["center", "centre", "cl", "CL"])?.unwrap_or((ucl + lcl) / 2.0);
    if ucl < lcl {
        return Err(SpcError::new(
            format!("{path}.{prefix}ucl"),
            format!("UCL {ucl} is below LCL {lcl}"),
        ));
    }
    Ok(Some(Limits { center, ucl, lcl }))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn number_at(v: &Value, field: &str) -> Result<f64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| SpcError::new(field, "not a finite number")),
        Value::String(s) => Err(SpcError::new(
            field,
            format!("expected a number, found the string {s:?}"),
        )),
        other => Err(SpcError::new(
            field,
            format!("expected a number, found {}", kind(other)),
        )),
    }
}

/// A list of numbers at `field`.
fn numbers_at(v: &Value, field: &str) -> Result<Vec<f64>> {
    let list = v.as_array().ok_or_else(|| {
        SpcError::new(
            field,
            format!("expected a list of numbers, found {}", kind(v)),
        )
    })?;
    list.iter()
        .enumerate()
        .map(|(i, x)| number_at(x, &format!("{field}[{i}]")))
        .collect()
}

/// `data` itself, or the list under one of `names` when `data` is an object.
fn unwrap_data<'a>(data: &'a Value, names: &[&str]) -> (&'a Value, String) {
    if let Value::Object(m) = data {
        for n in names {
            if let Some(v) = m.get(*n) {
                return (v, format!("data.{n}"));
            }
        }
    }
    (data, "data".to_owned())
}

fn values_of(data: &Value) -> Result<Vec<f64>> {
    let (v, field) = unwrap_data(data, &["values", "individuals", "measurements"]);
    if v.is_null() {
        return Err(SpcError::new(
            "data",
            "missing: give the values in time order",
        ));
    }
    let values = numbers_at(v, &field)?;
    if values.is_empty() {
        return Err(SpcError::new(field, "empty: give at least one value"));
    }
    Ok(values)
}

fn subgroups_of(data: &Value) -> Result<Vec<Vec<f64>>> {
    let (v, field) = unwrap_data(data, &["subgroups", "samples"]);
    let list = v.as_array().ok_or_else(|| {
        SpcError::new(
            &field,
            format!("expected a list of subgroups, found {}", kind(v)),
        )
    })?;
    if list.is_empty() {
        return Err(SpcError::new(field, "empty: give at least one subgroup"));
    }
    list.iter()
        .enumerate()
        .map(|(i, g)| numbers_at(g, &format!("{field}[{i}]")))
        .collect()
}

/// 1-based sample numbers (shifted by `first_sample`) of 0-based indices.
fn numbered(indices: &[usize], first: u64) -> Vec<u64> {
    indices.iter().map(|&i| first + i as u64).collect()
}

fn union(a: &[usize], b: &[usize]) -> Vec<usize> {
    a.iter()
        .chain(b)
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A two-panel chart's points beyond the limits: both panels together
/// (`out_of_control_points`), each panel's own (`{panel}_out_of_control_points`),
/// and the samples left out of the estimate.
fn insert_two_panel_points(
    out: &mut Map<String, Value>,
    (location, location_beyond): (&str, &[usize]),
    (spread, spread_beyond): (&str, &[usize]),
    excluded: &[usize],
    first: u64,
) {
    out.insert(
        "out_of_control_points".into(),
        json!(numbered(&union(location_beyond, spread_beyond), first)),
    );
    out.insert(
        format!("{location}_out_of_control_points"),
        json!(numbered(location_beyond, first)),
    );
    out.insert(
        format!("{spread}_out_of_control_points"),
        json!(numbered(spread_beyond, first)),
    );
    out.insert("excluded_samples".into(), json!(numbered(excluded, first)));
}

fn limits_json(l: &Limits) -> Value {
    json!({"center": l.center, "ucl": l.ucl, "lcl": l.lcl})
}

/// Sigma estimated from individual values by the average moving range of 2.
fn sigma_from_moving_range(values: &[f64], field: &str) -> Result<f64> {
    if values.len() < 2 {
        return Err(SpcError::new(
            field,
            "give sigma: one value is not enough to estimate it from moving ranges",
        ));
    }
    let mr = mean(values.windows(2).map(range));
    if mr <= 0.0 {
        return Err(SpcError::new(
            field,
            "give sigma: the values do not vary, so it cannot be estimated",
        ));
    }
    Ok(mr / d2(2))
}

// ---------------------------------------------------------------- rules on charts

/// Run rules requested on a chart (`rule_set`, `rules_enabled`).
struct RuleRequest {
    set: RuleSet,
    rules: Vec<u8>,
}

fn rule_request(params: &Params<'_>, required: bool) -> Result<Option<RuleRequest>> {
    let named = params.text(&["rule_set", "rules"])?;
    let enabled = params.whole_list(&["rules_enabled", "tests", "enabled_rules"])?;
    if named.is_none() && enabled.is_none() && !required {
        return Ok(None);
    }
    let set = match named.map(|s| s.trim().to_ascii_lowercase().replace(['-', ' '], "_")) {
        None => RuleSet::Nelson,
        Some(s) if s.starts_with("nelson") => RuleSet::Nelson,
        Some(s) if s.starts_with("western") || matches!(s.as_str(), "we" | "weco") => {
            RuleSet::WesternElectric
        }
        Some(s) => {
            return Err(SpcError::new(
                "params.rule_set",
                format!("`{s}` is not a rule set; nelson or western_electric"),
            ));
        }
    };
    let rules = match enabled {
        None => set.all(),
        Some((field, list)) => {
            let rules: Vec<u8> = list
                .iter()
                .map(|&r| u8::try_from(r).unwrap_or(u8::MAX))
                .collect();
            check_rules(set, &rules, &field)?;
            rules
        }
    };
    Ok(Some(RuleRequest { set, rules }))
}

/// Adds `signals` and `pattern_points` for the rules to `out`; returns the
/// points signalled (0-based).
fn add_rule_signals(
    out: &mut Map<String, Value>,
    request: &RuleRequest,
    values: &[f64],
    z: &[f64],
    first: u64,
) -> Vec<usize> {
    let signals = evaluate(request.set, &request.rules, values, z);
    let mut by_rule = Map::new();
    let mut points = BTreeSet::new();
    let mut pattern = BTreeSet::new();
    for s in &signals {
        by_rule.insert(s.rule.to_string(), json!(numbered(&s.points, first)));
        points.extend(s.points.iter().copied());
        pattern.extend(s.pattern.iter().copied());
    }
    // Rules that signalled after the first one to signal (ties: lower number).
    let leader = signals
        .iter()
        .min_by_key(|s| (s.points.first().copied().unwrap_or(usize::MAX), s.rule))
        .map(|s| s.rule);
    let others: Vec<u8> = signals
        .iter()
        .map(|s| s.rule)
        .filter(|r| Some(*r) != leader)
        .collect();
    let not_evaluated: Vec<u8> = request
        .rules
        .iter()
        .copied()
        .filter(|&r| points_needed(request.set, r).is_some_and(|w| w > values.len()))
        .collect();
    out.insert("signals".into(), Value::Object(by_rule));
    out.insert("other_rules_signalled".into(), json!(others));
    out.insert(
        "pattern_points".into(),
        json!(numbered(&pattern.into_iter().collect::<Vec<_>>(), first)),
    );
    out.insert(
        "rule_set".into(),
        json!(match request.set {
            RuleSet::Nelson => "nelson",
            RuleSet::WesternElectric => "western_electric",
        }),
    );
    if !not_evaluated.is_empty() {
        out.insert("rules_not_evaluated".into(), json!(not_evaluated));
    }
    points.into_iter().collect()
}

// ---------------------------------------------------------------- charts

/// Where a case may give separate phase-I data to estimate limits from.
const PHASE_ONE_DATA: &[&str] = &[
    "phase1_data",
    "phase_1_data",
    "trial_data",
    "calibration_data",
];

/// An error about `data…` in phase-I data given under `params.{name}`.
fn relabel(e: SpcError, name: &str) -> SpcError {
    let field = match e.field.strip_prefix("data") {
        Some(rest) => format!("params.{name}{rest}"),
        None => e.field,
    };
    SpcError::new(field, e.problem)
}

fn standard_for(params: &Params<'_>, samples: usize, spread_names: &[&str]) -> Result<Standard> {
    let location = params.number(&[
        "xbar_bar",
        "xbarbar",
        "x_double_bar",
        "grand_mean",
        "center",
        "centre",
        "mu",
        "mu0",
        "mean",
        "target",
    ])?;
    let sigma = params.number_or_note(&["sigma", "sigma0", "process_sigma"])?;
    let spread = params.number(spread_names)?;
    Ok(match (location, sigma, spread) {
        (Some(mean), Some(sigma), _) => Standard::Known { mean, sigma },
        (Some(location), None, Some(spread)) => Standard::Centres { location, spread },
        _ => Standard::Estimated(params.phase(samples)?),
    })
}

fn subgroups_case(params: &Params<'_>, data: &Value, spread_kind: Spread) -> Result<Value> {
    let groups = subgroups_of(data)?;
    let varying = groups.iter().any(|g| g.len() != groups[0].len());
    if varying && spread_kind == Spread::StdDev {
        return varying_xbar_s_case(params, &groups);
    }
    let chart_name = if spread_kind == Spread::Range {
        "X̄-R"
    } else {
        "X̄-S"
    };
    let n = check_subgroups(&groups, chart_name)?;
    if let Some(expected) = params.number(&["subgroup_size", "n"])?
        && expected != n as f64
    {
        return Err(SpcError::new(
            "params.subgroup_size",
            format!("{expected}, but the subgroups in data have {n} values"),
        ));
    }
    let (spread_key, spread_names): (&str, &[&str]) = match spread_kind {
        Spread::Range => ("r", &["r_bar", "rbar", "R_bar", "mean_range"]),
        Spread::StdDev => ("s", &["s_bar", "sbar", "S_bar"]),
    };
    let k = params.sigma_multiplier()?;
    let overrides = params.overrides()?;
    let mut phase_one = None;
    let standard = match params.find(PHASE_ONE_DATA) {
        Some((name, v)) => {
            let trial = subgroups_of(v)
                .and_then(|g| {
                    let phase = params.phase_numbered(g.len(), 1)?;
                    subgroup_chart(&g, spread_kind, k, &Standard::Estimated(phase), &overrides)
                })
                .map_err(|e| relabel(e, name))?;
            phase_one = Some(trial.means.len());
            Standard::Centres {
                location: trial.location.center,
                spread: trial.spread.center,
            }
        }
        None => standard_for(params, groups.len(), spread_names)?,
    };
    let mut chart = subgroup_chart(&groups, spread_kind, k, &standard, &overrides)?;
    let spread_aliases: &[&str] = match spread_kind {
        Spread::Range => &["r", "range", "R"],
        Spread::StdDev => &["s", "sd", "stdev", "S"],
    };
    let (loc, spr) = params.frozen(&["xbar", "x_bar", "x", "mean", "location"], spread_aliases)?;
    if loc.is_some() || spr.is_some() {
        chart.freeze(loc, spr);
    }
    let first = params.first_after(phase_one)?;
    Ok(Value::Object(subgroup_json(
        params, &chart, spread_key, first, k,
    )?))
}

fn subgroup_json(
    params: &Params<'_>,
    chart: &SubgroupChart,
    spread_key: &str,
    first: u64,
    k: f64,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    out.insert("xbar".into(), limits_json(&chart.location));
    out.insert(spread_key.into(), limits_json(&chart.spread));
    out.insert("subgroup_means".into(), json!(chart.means));
    match chart.spread_kind {
        Spread::Range => {
            out.insert("subgroup_ranges".into(), json!(chart.spreads));
            out.insert("sigma_hat_rbar_over_d2".into(), json!(chart.sigma));
        }
        Spread::StdDev => {
            out.insert("subgroup_sd".into(), json!(chart.spreads));
            out.insert("sigma_hat_sbar_over_c4".into(), json!(chart.sigma));
        }
    }
    out.insert("subgroup_size".into(), json!(chart.subgroup_size));
    insert_two_panel_points(
        &mut out,
        ("xbar", &chart.location_beyond),
        (spread_key, &chart.spread_beyond),
        &chart.excluded,
        first,
    );
    if let Some(request) = rule_request(params, false)? {
        let z: Vec<f64> = chart
            .means
            .iter()
            .map(|&m| chart.location.z(m, k))
            .collect();
        add_rule_signals(&mut out, &request, &chart.means, &z, first);
    }
    Ok(out)
}

/// X̄-S with subgroups of different sizes: limits per subgroup, given as
/// lists in `xbar` and `s`.
fn varying_xbar_s_case(params: &Params<'_>, groups: &[Vec<f64>]) -> Result<Value> {
    let k = params.sigma_multiplier()?;
    let standard = standard_for(params, groups.len(), &["s_bar", "sbar", "S_bar"])?;
    let chart = xbar_s_varying(groups, k, &standard)?;
    let first = params.first_sample()?;
    // A list where the values differ from subgroup to subgroup.
    let series = |v: Vec<f64>| {
        if v.windows(2).all(|w| w[0] == w[1]) {
            json!(v.first())
        } else {
            json!(v)
        }
    };
    let panel = |limits: &[Limits]| {
        json!({
            "center": series(limits.iter().map(|l| l.center).collect()),
            "ucl": limits.iter().map(|l| l.ucl).collect::<Vec<_>>(),
            "lcl": limits.iter().map(|l| l.lcl).collect::<Vec<_>>(),
        })
    };
    let mut out = Map::new();
    out.insert("xbar".into(), panel(&chart.location));
    out.insert("s".into(), panel(&chart.spread));
    out.insert("subgroup_means".into(), json!(chart.means));
    out.insert("subgroup_sd".into(), json!(chart.sds));
    out.insert("subgroup_sizes".into(), json!(chart.sizes));
    insert_two_panel_points(
        &mut out,
        ("xbar", &chart.location_beyond),
        ("s", &chart.spread_beyond),
        &chart.excluded,
        first,
    );
    if let Some(request) = rule_request(params, false)? {
        let z: Vec<f64> = chart
            .means
            .iter()
            .zip(&chart.location)
            .map(|(m, l)| l.z(*m, k))
            .collect();
        add_rule_signals(&mut out, &request, &chart.means, &z, first);
    }
    Ok(Value::Object(out))
}

fn individuals_case(params: &Params<'_>, data: &Value) -> Result<Value> {
    let values = values_of(data)?;
    let span = params
        .number(&["moving_range_span", "span"])?
        .unwrap_or(2.0);
    if span < 2.0 || span.fract() != 0.0 || span > values.len() as f64 {
        return Err(SpcError::new(
            "params.moving_range_span",
            format!(
                "{span}: a whole number from 2 to the number of values ({})",
                values.len()
            ),
        ));
    }
    let k = params.sigma_multiplier()?;
    let overrides = params.overrides()?;
    let mut phase_one = None;
    let standard = match params.find(PHASE_ONE_DATA) {
        Some((name, v)) => {
            let trial = values_of(v)
                .and_then(|x| {
                    let phase = params.phase_numbered(x.len(), 1)?;
                    individuals_chart(
                        &x,
                        span as usize,
                        k,
                        &Standard::Estimated(phase),
                        &overrides,
                    )
                })
                .map_err(|e| relabel(e, name))?;
            phase_one = Some(trial.values.len());
            Standard::Centres {
                location: trial.individuals.center,
                spread: trial.moving_range.center,
            }
        }
        None => standard_for(
            params,
            values.len(),
            &["mr_bar", "mrbar", "MR_bar", "mean_moving_range"],
        )?,
    };
    let mut chart = individuals_chart(&values, span as usize, k, &standard, &overrides)?;
    let (loc, spr) = params.frozen(
        &["individuals", "x", "i", "location"],
        &["moving_range", "mr", "MR"],
    )?;
    if loc.is_some() || spr.is_some() {
        chart.freeze(loc, spr);
    }
    let first = params.first_after(phase_one)?;
    Ok(Value::Object(individuals_json(params, &chart, first, k)?))
}

fn individuals_json(
    params: &Params<'_>,
    chart: &IndividualsChart,
    first: u64,
    k: f64,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    out.insert("individuals".into(), limits_json(&chart.individuals));
    out.insert(
        "moving_range".into(),
        json!({
            "center": chart.moving_range.center,
            "ucl": chart.moving_range.ucl,
            "lcl": chart.moving_range.lcl,
            "values": chart.moving_ranges,
        }),
    );
    out.insert("sigma_hat_mrbar_over_d2".into(), json!(chart.sigma));
    insert_two_panel_points(
        &mut out,
        ("individuals", &chart.individuals_beyond),
        ("moving_range", &chart.moving_range_beyond),
        &chart.excluded,
        first,
    );
    if let Some(request) = rule_request(params, false)? {
        let z: Vec<f64> = chart
            .values
            .iter()
            .map(|&v| chart.individuals.z(v, k))
            .collect();
        add_rule_signals(&mut out, &request, &chart.values, &z, first);
    }
    Ok(out)
}

fn attribute_case(params: &Params<'_>, data: &Value, kind_: AttributeKind) -> Result<Value> {
    let (count_names, size_names): (&[&str], &[&str]) = match kind_ {
        AttributeKind::P | AttributeKind::Np => (
            &["nonconforming", "defectives", "counts"],
            &["sample_sizes", "sizes", "n"],
        ),
        AttributeKind::C | AttributeKind::U => (
            &["counts", "nonconformities", "defects"],
            &["sizes", "sample_sizes", "units", "n"],
        ),
    };
    let obj = match data {
        Value::Object(m) => m,
        Value::Null => {
            return Err(SpcError::new(
                "data",
                "missing: give the counts of each sample",
            ));
        }
        other => {
            return Err(SpcError::new(
                "data",
                format!(
                    "expected an object with {}, found {}",
                    count_names[0],
                    kind(other)
                ),
            ));
        }
    };
    let (count_key, count_value) = count_names
        .iter()
        .find_map(|n| obj.get(*n).map(|v| (*n, v)))
        .ok_or_else(|| SpcError::new(format!("data.{}", count_names[0]), "missing"))?;
    let counts = numbers_at(count_value, &format!("data.{count_key}"))?;
    let sizes = match size_names.iter().find_map(|n| obj.get(*n).map(|v| (*n, v))) {
        Some((name, v @ Value::Array(_))) => Some(numbers_at(v, &format!("data.{name}"))?),
        Some((name, v)) => Some(vec![number_at(v, &format!("data.{name}"))?; counts.len()]),
        None => None,
    };
    let sample_size = params.number(&["sample_size", "n"])?;
    // An np chart may take its one sample size from the data.
    let sample_size = match (kind_, sample_size, &sizes) {
        (AttributeKind::Np, None, Some(s)) if !s.is_empty() => {
            if let Some(i) = s.iter().position(|v| *v != s[0]) {
                return Err(SpcError::new(
                    format!("data.sample_sizes[{i}]"),
                    "an np chart needs one sample size for all samples; use a p chart for varying sizes",
                ));
            }
            Some(s[0])
        }
        _ => sample_size,
    };
    let center_names: &[&str] = match kind_ {
        AttributeKind::P => &["p_bar", "pbar", "p0", "center", "centre", "standard"],
        AttributeKind::Np => &["np_bar", "npbar", "center", "centre"],
        AttributeKind::C => &["c_bar", "cbar", "c0", "center", "centre", "standard"],
        AttributeKind::U => &["u_bar", "ubar", "u0", "center", "centre", "standard"],
    };
    let mut center = params.number(center_names)?;
    if kind_ == AttributeKind::Np
        && center.is_none()
        && let (Some(p), Some(n)) = (params.number(&["p_bar", "pbar", "p0"])?, sample_size)
    {
        center = Some(p * n);
    }
    let options = AttributeOptions {
        sigma_multiplier: params.sigma_multiplier()?,
        lcl_floor: params.number(&["lcl_floor"])?,
        center,
        phase: params.phase(counts.len())?,
    };
    let mut chart = attribute_chart(
        kind_,
        &AttributeData {
            counts: &counts,
            sizes: sizes.as_deref(),
            sample_size,
        },
        &options,
    )
    .map_err(|e| {
        // The library names `data.counts`; say the key the case used.
        let field = e
            .field
            .replacen("data.nonconforming", &format!("data.{count_key}"), 1);
        let field = if matches!(kind_, AttributeKind::C | AttributeKind::U) {
            field.replacen("data.counts", &format!("data.{count_key}"), 1)
        } else {
            field
        };
        SpcError::new(field, e.problem)
    })?;
    // Frozen limits: `ucl`/`lcl` (and `center`) in params or in a
    // `limits` object, bare or under the chart's name.
    let own: &[&str] = match kind_ {
        AttributeKind::P => &["p"],
        AttributeKind::Np => &["np"],
        AttributeKind::C => &["c"],
        AttributeKind::U => &["u"],
    };
    if let (Some(mut frozen), _) = params.frozen(own, &[])? {
        if let Some(c) = center {
            frozen.center = c;
        }
        chart.center = frozen.center;
        for l in &mut chart.limits {
            *l = frozen;
        }
        chart.beyond = (0..chart.values.len())
            .filter(|&i| chart.limits[i].beyond(chart.values[i]))
            .collect();
        chart.excluded.clear();
    }
    let first = params.first_sample()?;
    let mut out = Map::new();
    out.insert("center".into(), json!(chart.center));
    if chart.constant_limits() {
        out.insert("ucl".into(), json!(chart.limits[0].ucl));
        out.insert("lcl".into(), json!(chart.limits[0].lcl));
    } else {
        out.insert(
            "ucl".into(),
            json!(chart.limits.iter().map(|l| l.ucl).collect::<Vec<_>>()),
        );
        out.insert(
            "lcl".into(),
            json!(chart.limits.iter().map(|l| l.lcl).collect::<Vec<_>>()),
        );
    }
    let values_key = match kind_ {
        AttributeKind::P => "fractions",
        AttributeKind::Np | AttributeKind::C => "values",
        AttributeKind::U => "u",
    };
    out.insert(values_key.into(), json!(chart.values));
    out.insert(
        "out_of_control_points".into(),
        json!(numbered(&chart.beyond, first)),
    );
    out.insert(
        "excluded_samples".into(),
        json!(numbered(&chart.excluded, first)),
    );
    if let Some(request) = rule_request(params, false)? {
        let k = options.sigma_multiplier;
        let z: Vec<f64> = chart
            .values
            .iter()
            .zip(&chart.limits)
            .map(|(v, l)| {
                // Against the unfloored spread, so a floored LCL does not
                // stretch the lower zones.
                let half = l.ucl - l.center;
                if half > 0.0 {
                    k * (v - l.center) / half
                } else {
                    0.0
                }
            })
            .collect();
        add_rule_signals(&mut out, &request, &chart.values, &z, first);
    }
    Ok(Value::Object(out))
}

fn ewma_case(params: &Params<'_>, data: &Value) -> Result<Value> {
    let values = values_of(data)?;
    let lambda = params
        .number(&["lambda_", "lambda", "λ"])?
        .ok_or_else(|| SpcError::new("params.lambda", "missing: the EWMA weight λ, e.g. 0.2"))?;
    let l = params
        .number(&["L", "l", "sigma_multiplier"])?
        .unwrap_or(3.0);
    let target = match params.number(&["target", "mu0", "center", "centre", "mean"])? {
        Some(t) => t,
        None => mean(values.iter().copied()),
    };
    let sigma = match params.number_or_note(&["sigma", "sigma0"])? {
        Some(s) => s,
        None => sigma_from_moving_range(&values, "params.sigma")?,
    };
    let limits = ewma_limits(params)?;
    let chart = ewma(
        &values,
        &EwmaOptions {
            lambda,
            l,
            target,
            sigma,
            start: params.number(&["start_value", "z0", "start"])?,
            limits,
        },
    )?;
    let first = params.first_sample()?;
    Ok(json!({
        "ewma": chart.values,
        "center": chart.steady.center,
        "ucl": chart.steady.ucl,
        "lcl": chart.steady.lcl,
        "ucl_time_varying": chart.exact.iter().map(|l| l.ucl).collect::<Vec<_>>(),
        "lcl_time_varying": chart.exact.iter().map(|l| l.lcl).collect::<Vec<_>>(),
        "limits_used": match limits { EwmaLimits::Exact => "exact", EwmaLimits::SteadyState => "steady_state" },
        "sigma": sigma,
        "out_of_control_points": numbered(&chart.beyond, first),
    }))
}

/// Exact or steady-state limits: `steady_state`/`exact_limits` flags, or
/// whichever of the two kinds a `limits`/`limit_type` text names first.
fn ewma_limits(params: &Params<'_>) -> Result<EwmaLimits> {
    if let Some(b) = params.flag(&["steady_state", "steady_state_limits"])? {
        return Ok(if b {
            EwmaLimits::SteadyState
        } else {
            EwmaLimits::Exact
        });
    }
    if let Some(b) = params.flag(&["exact_limits", "time_varying_limits"])? {
        return Ok(if b {
            EwmaLimits::Exact
        } else {
            EwmaLimits::SteadyState
        });
    }
    let Some(text) = params.text(&["limits", "limit_type", "limits_kind"])? else {
        return Ok(EwmaLimits::Exact);
    };
    let text = text.to_ascii_lowercase();
    let first = |words: &[&str]| words.iter().filter_map(|w| text.find(w)).min();
    Ok(
        match (
            first(&["steady", "asymptot"]),
            first(&["exact", "time-varying", "time varying", "time_varying"]),
        ) {
            (Some(s), Some(e)) if s < e => EwmaLimits::SteadyState,
            (Some(_), None) => EwmaLimits::SteadyState,
            _ => EwmaLimits::Exact,
        },
    )
}

fn cusum_case(params: &Params<'_>, data: &Value) -> Result<Value> {
    let values = values_of(data)?;
    let target = match params.number(&["target", "mu0", "center", "centre", "mean"])? {
        Some(t) => t,
        None => mean(values.iter().copied()),
    };
    let sigma = match params.number_or_note(&["sigma", "sigma0"])? {
        Some(s) => s,
        None => sigma_from_moving_range(&values, "params.sigma")?,
    };
    let k = match params.number(&["K"])? {
        Some(k) => k,
        None => params.number(&["k_sigma", "k"])?.unwrap_or(0.5) * sigma,
    };
    let h = match params.number(&["H"])? {
        Some(h) => h,
        None => params.number(&["h_sigma", "h"])?.unwrap_or(5.0) * sigma,
    };
    let reset = params
        .flag(&["reset_after_signal", "reset"])?
        .unwrap_or(false);
    let c = tabular_cusum(
        &values,
        &CusumOptions {
            target,
            k,
            h,
            reset_after_signal: reset,
        },
    )?;
    let first = params.first_sample()?;
    let mut out = Map::new();
    out.insert("c_plus".into(), json!(c.c_plus));
    out.insert("c_minus".into(), json!(c.c_minus));
    out.insert("n_plus".into(), json!(c.n_plus));
    out.insert("n_minus".into(), json!(c.n_minus));
    out.insert(
        "out_of_control_points".into(),
        json!(numbered(&c.beyond, first)),
    );
    out.insert("K".into(), json!(k));
    out.insert("H".into(), json!(h));
    match &c.first_signal {
        Some(s) => {
            out.insert("first_signal".into(), json!(first + s.index as u64));
            out.insert("first_signal_side".into(), json!(s.side));
            let key = match s.side {
                Side::Upper => "n_plus_at_first_signal",
                Side::Lower => "n_minus_at_first_signal",
            };
            out.insert(key.into(), json!(s.run_length));
            out.insert(
                "estimated_shift_start_after_period".into(),
                json!(first - 1 + s.shift_after as u64),
            );
            out.insert("estimated_new_mean".into(), json!(s.new_mean));
        }
        None => {
            out.insert("first_signal".into(), Value::Null);
        }
    }
    Ok(Value::Object(out))
}

fn capability_case(params: &Params<'_>, data: &Value) -> Result<Value> {
    let spec = Spec {
        lsl: params.number(&["lsl", "LSL"])?,
        usl: params.number(&["usl", "USL"])?,
        target: params.number(&["target", "nominal"])?,
    };
    spec.check()?;
    let confidence = params
        .number(&["confidence", "confidence_level"])?
        .unwrap_or(0.95);
    let method = params
        .text(&["sigma_within"])
        .ok()
        .flatten()
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let by_sd = method.contains("c4")
        || method.contains("s-bar")
        || method.contains("sbar")
        || method.contains("s_bar");
    let (mean_v, within, overall, all, n) = match data {
        Value::Null => {
            let m = params.number(&["mean", "mu", "xbar"])?.ok_or_else(|| {
                SpcError::new("params.mean", "missing: give data, or the mean and sigma")
            })?;
            let within = params
                .number_or_note(&["sigma", "sigma_within", "sd", "std_dev"])?
                .ok_or_else(|| {
                    SpcError::new("params.sigma", "missing: give data, or the mean and sigma")
                })?;
            let overall = params.number_or_note(&["sigma_overall"])?.unwrap_or(within);
            let n = params
                .number(&["n", "count", "sample_size"])?
                .map(|v| v as usize);
            (m, within, overall, None, n)
        }
        Value::Array(list) if list.first().is_some_and(Value::is_array) => {
            let groups = subgroups_of(data)?;
            let size = check_subgroups(&groups, "capability")?;
            let all: Vec<f64> = groups.iter().flatten().copied().collect();
            let within = if by_sd {
                mean(groups.iter().map(|g| sample_sd(g))) / c4(size)
            } else {
                mean(groups.iter().map(|g| range(g))) / d2(size)
            };
            let overall = sample_sd(&all);
            (
                mean(all.iter().copied()),
                within,
                overall,
                Some(all.clone()),
                Some(all.len()),
            )
        }
        _ => {
            let values = values_of(data)?;
            let within = sigma_from_moving_range(&values, "data")?;
            let overall = sample_sd(&values);
            (
                mean(values.iter().copied()),
                within,
                overall,
                Some(values.clone()),
                Some(values.len()),
            )
        }
    };
    let c = capability(mean_v, within, overall, &spec, n, confidence).map_err(|e| {
        match e.field.as_str() {
            "sigma_within" | "sigma_overall" if all.is_some() => SpcError::new("data", e.problem),
            "sigma_within" | "sigma_overall" => {
                SpcError::new(format!("params.{}", e.field), e.problem)
            }
            _ => e,
        }
    })?;
    let mut out = Map::new();
    out.insert("mean".into(), json!(c.mean));
    out.insert("sigma_within".into(), json!(c.sigma_within));
    out.insert("sigma_overall".into(), json!(c.sigma_overall));
    for (k, v) in [
        ("cp", c.cp),
        ("cpu", c.cpu),
        ("cpl", c.cpl),
        ("cpk", Some(c.cpk)),
        ("pp", c.pp),
        ("ppu", c.ppu),
        ("ppl", c.ppl),
        ("ppk", Some(c.ppk)),
        ("cpm", c.cpm),
    ] {
        out.insert(k.into(), json!(v));
    }
    if let Some(f) = c.fraction_below_lsl {
        out.insert("fraction_below_lsl_normal".into(), json!(f));
    }
    if let Some(f) = c.fraction_above_usl {
        out.insert("fraction_above_usl_normal".into(), json!(f));
    }
    let outside = c.fraction_below_lsl.unwrap_or(0.0) + c.fraction_above_usl.unwrap_or(0.0);
    out.insert("expected_ppm_outside".into(), json!(outside * 1e6));
    if let Some(n) = c.n {
        out.insert("n".into(), json!(n));
    }
    let mut intervals = BTreeMap::new();
    for (k, v) in [
        ("cp", c.cp_interval),
        ("cpk", c.cpk_interval),
        ("pp", c.pp_interval),
        ("ppk", c.ppk_interval),
    ] {
        if let Some(i) = v {
            intervals.insert(k, i);
        }
    }
    if !intervals.is_empty() {
        out.insert("confidence".into(), json!(c.confidence));
        out.insert("confidence_intervals".into(), json!(intervals));
    }
    if let Some(values) = &all
        && let Some(normality) = anderson_darling(values)
    {
        out.insert("normality".into(), json!(normality));
    }
    Ok(Value::Object(out))
}

fn rules_case(params: &Params<'_>, data: &Value) -> Result<Value> {
    let values = values_of(data)?;
    let center = match params.number(&["center", "centre", "mean", "mu0", "target"])? {
        Some(c) => c,
        None => mean(values.iter().copied()),
    };
    let sigma = match params.number_or_note(&["sigma", "sigma0"])? {
        Some(s) if s > 0.0 => s,
        Some(s) => {
            return Err(SpcError::new(
                "params.sigma",
                format!("{s}: sigma must be positive"),
            ));
        }
        None => sigma_from_moving_range(&values, "params.sigma")?,
    };
    let request = rule_request(params, true)?
        .ok_or_else(|| SpcError::new("params.rules_enabled", "missing"))?;
    if request.rules.is_empty() {
        return Err(SpcError::new(
            "params.rules_enabled",
            "empty: enable at least one rule",
        ));
    }
    let shortest = request
        .rules
        .iter()
        .filter_map(|&r| points_needed(request.set, r))
        .min()
        .unwrap_or(1);
    if values.len() < shortest {
        let field = if request.rules.len() == 1 {
            "params.rules_enabled[0]"
        } else {
            "data"
        };
        return Err(SpcError::new(
            field,
            format!(
                "{} value(s), but the enabled rules need at least {shortest} points in a row",
                values.len()
            ),
        ));
    }
    let z: Vec<f64> = values.iter().map(|v| (v - center) / sigma).collect();
    let first = params.first_sample()?;
    let mut out = Map::new();
    let points = add_rule_signals(&mut out, &request, &values, &z, first);
    out.insert(
        "out_of_control_points".into(),
        json!(numbered(&points, first)),
    );
    out.insert("center".into(), json!(center));
    out.insert("sigma".into(), json!(sigma));
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_among_the_values_is_named() {
        let case = json!({"cases": [
            {"id": "a", "chart": "imr", "data": [1.0, 2.0, 3.0]},
            {"id": "b", "chart": "xbar_r", "data": [[1.0, 2.0], [1.5, "x"]]}
        ]});
        let e = analyze(&case).unwrap_err();
        assert_eq!(e.field, "cases[1].data[1][1]");
        assert!(e.problem.contains("\"x\""), "{e}");
    }

    #[test]
    fn unknown_chart_lists_the_known_ones() {
        let e = analyze(&json!({"chart": "pareto", "data": []})).unwrap_err();
        assert_eq!(e.field, "chart");
        assert!(e.problem.contains("xbar_r"));
    }

    #[test]
    fn excluded_samples_leave_the_estimate_but_stay_on_the_chart() {
        let case = json!({"chart": "c", "params": {"exclude_from_limits": [3]},
            "data": {"counts": [4, 5, 40, 6, 5]}});
        let out = analyze(&case).unwrap();
        let r = &out["case-1"];
        assert_eq!(r["center"], json!(5.0));
        assert_eq!(r["out_of_control_points"], json!([3]));
        assert_eq!(r["excluded_samples"], json!([3]));
    }

    #[test]
    fn attribute_limits_may_sit_in_a_limits_object() {
        let case = json!({"chart": "p", "params": {"limits": {"center": 0.2, "ucl": 0.35, "lcl": 0.05}},
            "data": {"nonconforming": [5, 20, 2], "sample_sizes": [50, 50, 50]}});
        let r = &analyze(&case).unwrap()["case-1"];
        assert_eq!(r["center"], json!(0.2));
        assert_eq!(r["out_of_control_points"], json!([2, 3]));
        let reversed = json!({"chart": "c", "params": {"ucl": 1.0, "lcl": 5.0},
            "data": {"counts": [1, 2]}});
        assert!(analyze(&reversed).unwrap_err().problem.contains("below"));
    }

    #[test]
    fn the_first_kind_of_ewma_limits_named_wins() {
        let base = |limits: &str| {
            json!({"chart": "ewma", "params": {"lambda": 0.5, "target": 0.0, "sigma": 1.0, "limits": limits},
                "data": [2.0, 0.0]})
        };
        let exact = analyze(&base("exact (time-varying); steady-state also given")).unwrap();
        assert_eq!(exact["case-1"]["limits_used"], json!("exact"));
        let steady = analyze(&base("steady-state, not exact")).unwrap();
        assert_eq!(steady["case-1"]["limits_used"], json!("steady_state"));
    }

    #[test]
    fn a_number_in_a_string_is_refused_not_taken_as_a_note() {
        let case =
            json!({"chart": "rules", "params": {"center": 0, "sigma": "1.0"}, "data": [0.1, 0.2]});
        assert_eq!(analyze(&case).unwrap_err().field, "params.sigma");
    }

    #[test]
    fn separate_phase_one_data_set_the_limits_and_the_numbering() {
        let case = json!({"chart": "imr", "params": {"phase1_data": [10.0, 11.0, 10.0, 11.0, 10.0]},
            "data": [10.5, 14.0]});
        let r = &analyze(&case).unwrap()["case-1"];
        // x̄ 10.4, MR̄ 1.0: UCL 10.4 + 3/1.128…
        assert!((r["individuals"]["center"].as_f64().unwrap() - 10.4).abs() < 1e-12);
        assert_eq!(r["out_of_control_points"], json!([7]));
        let bad =
            json!({"chart": "imr", "params": {"phase1_data": [10.0, "x"]}, "data": [1.0, 2.0]});
        assert_eq!(analyze(&bad).unwrap_err().field, "params.phase1_data[1]");
    }

    #[test]
    fn phase_two_limits_are_read_from_the_params() {
        let case = json!({"chart": "xbar_r", "params": {"limits": {
            "xbar": {"center": 10.0, "ucl": 11.0, "lcl": 9.0},
            "r": {"center": 1.0, "ucl": 2.0, "lcl": 0.0}}},
            "data": [[10.0, 10.2], [11.5, 11.7], [9.9, 10.0]]});
        let r = &analyze(&case).unwrap()["case-1"];
        assert_eq!(r["xbar"]["ucl"], json!(11.0));
        assert_eq!(r["out_of_control_points"], json!([2]));
    }
}
