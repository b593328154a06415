//! Queries over stored series: raw points with a cursor, or aggregates per
//! group of series, over the whole range or in `every`-sized buckets
//! aligned to the Unix epoch, with a fill policy for empty buckets.
//!
//! Without `group_by`, all matching series of a field form one group (as
//! InfluxQL does); with it, one group per distinct value of those tags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hot::SeriesData;
use crate::model::{SeriesKey, Value};
use crate::rollup::Summary;

/// Most buckets one query may produce, per group.
pub const MAX_BUCKETS: i64 = 100_000;
/// Default and largest page of raw points.
pub const DEFAULT_RAW_LIMIT: usize = 10_000;
pub const MAX_RAW_LIMIT: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Count,
    Sum,
    Mean,
    Min,
    Max,
    First,
    Last,
}

impl Aggregate {
    fn numeric_only(self) -> bool {
        matches!(
            self,
            Aggregate::Sum | Aggregate::Mean | Aggregate::Min | Aggregate::Max
        )
    }

    fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Mean => "mean",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::First => "first",
            Aggregate::Last => "last",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// Empty buckets are left out.
    #[default]
    None,
    /// Empty buckets appear with a null value.
    Null,
    /// Empty buckets repeat the previous bucket's value.
    Previous,
}

/// A validated query. Times are nanoseconds; the range is `[start, end)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    pub measurement: String,
    /// Field names; empty or `*` means all fields.
    pub fields: Vec<String>,
    /// Tag equality filters, all of which must match.
    pub filter: Vec<(String, String)>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub aggregate: Option<Aggregate>,
    /// Bucket width in ns (needs `aggregate`).
    pub every: Option<i64>,
    pub group_by: Vec<String>,
    pub fill: Fill,
    /// Raw queries: points per page. Aggregates: points per series.
    pub limit: Option<usize>,
    /// Raw queries: where the previous page ended.
    pub cursor: Option<String>,
    /// Keep only points whose numeric value passes these bounds (e.g. a
    /// count of temperatures above a threshold). Non-numeric points never pass.
    pub value: Option<ValueFilter>,
}

/// Bounds on a point's numeric value; all given bounds must hold.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueFilter {
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
}

impl ValueFilter {
    pub fn accepts(&self, v: Option<f64>) -> bool {
        let Some(x) = v else { return false };
        self.gt.is_none_or(|b| x > b)
            && self.gte.is_none_or(|b| x >= b)
            && self.lt.is_none_or(|b| x < b)
            && self.lte.is_none_or(|b| x <= b)
    }
}

/// Applies a query's value filter to one series.
fn filtered(data: &SeriesData, f: Option<ValueFilter>) -> std::borrow::Cow<'_, SeriesData> {
    let Some(f) = f else {
        return std::borrow::Cow::Borrowed(data);
    };
    let mut out = SeriesData::new(data.value_type);
    for i in 0..data.len() {
        if f.accepts(data.values.f64_at(i))
            && let Some(v) = data.values.get(i)
        {
            out.upsert(data.ts[i], v);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct QueryError {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> QueryError {
    QueryError {
        field,
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesResult {
    pub tags: BTreeMap<String, String>,
    pub field: String,
    /// (timestamp ns, value); `None` for a null-filled bucket.
    pub points: Vec<(i64, Option<Value>)>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct QueryResult {
    pub series: Vec<SeriesResult>,
    /// Raw queries: pass back to get the next page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    tags: Vec<(String, String)>,
    field: String,
    ts: i64,
}

fn wants_field(q: &Query, field: &str) -> bool {
    q.fields.is_empty() || q.fields.iter().any(|f| f == "*" || f == field)
}

/// Whether a series is one the query asks for.
pub fn matches(q: &Query, tenant: i64, key: &SeriesKey) -> bool {
    key.tenant == tenant
        && key.measurement == q.measurement
        && wants_field(q, &key.field)
        && q.filter.iter().all(|(k, v)| key.tag(k) == Some(v.as_str()))
}

/// Runs a query over the series it selected (each merged across tiers).
pub fn run(series: &[Selected], q: &Query) -> Result<QueryResult, QueryError> {
    if q.measurement.is_empty() {
        return Err(invalid("measurement", "must not be empty"));
    }
    let start = q.start.unwrap_or(i64::MIN);
    let end = q.end.unwrap_or(i64::MAX);
    if start >= end {
        return Err(invalid("end", "must be after start"));
    }
    let owned: Vec<Selected>;
    let series = if q.value.is_some() {
        owned = series
            .iter()
            .map(|s| Selected {
                key: s.key.clone(),
                raw: filtered(&s.raw, q.value).into_owned(),
                summaries: s.summaries.clone(),
            })
            .filter(|s| !s.raw.is_empty() || !s.summaries.is_empty())
            .collect();
        &owned[..]
    } else {
        series
    };
    let mut selected: Vec<usize> = (0..series.len()).collect();
    selected.sort_by(|a, b| series[*a].key.cmp(&series[*b].key));
    match q.aggregate {
        None => {
            if q.every.is_some() {
                return Err(invalid("every", "needs an aggregate"));
            }
            raw(series, &selected, q, start, end)
        }
        Some(agg) => aggregate(series, &selected, q, agg, start, end),
    }
}

fn raw(
    state: &[Selected],
    selected: &[usize],
    q: &Query,
    start: i64,
    end: i64,
) -> Result<QueryResult, QueryError> {
    let limit = q.limit.unwrap_or(DEFAULT_RAW_LIMIT);
    if limit == 0 || limit > MAX_RAW_LIMIT {
        return Err(invalid(
            "limit",
            format!("must be between 1 and {MAX_RAW_LIMIT}"),
        ));
    }
    let after: Option<Cursor> = match &q.cursor {
        None => None,
        Some(c) => Some(
            serde_json::from_str(c)
                .map_err(|_| invalid("cursor", "is not a cursor this server returned"))?,
        ),
    };
    let mut left = limit;
    let mut more = false;
    let mut out = QueryResult::default();
    for &i in selected {
        let (key, data) = (&state[i].key, &state[i].raw);
        let mut lo = start;
        if let Some(c) = &after {
            match (&key.tags, &key.field).cmp(&(&c.tags, &c.field)) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => lo = lo.max(c.ts.saturating_add(1)),
                std::cmp::Ordering::Greater => {}
            }
        }
        let range = data.range(lo, end);
        if range.is_empty() {
            continue;
        }
        if left == 0 {
            more = true;
            break;
        }
        let take = range.len().min(left);
        more = take < range.len();
        left -= take;
        out.series.push(SeriesResult {
            tags: key.tags.iter().cloned().collect(),
            field: key.field.clone(),
            points: (range.start..range.start + take)
                .map(|j| (data.ts[j], data.values.get(j)))
                .collect(),
        });
        if more {
            break;
        }
    }
    if more && let Some(last) = out.series.last() {
        out.next_cursor = serde_json::to_string(&Cursor {
            tags: last
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            field: last.field.clone(),
            ts: last.points.last().map_or(start, |p| p.0),
        })
        .ok();
    }
    Ok(out)
}

/// A group of series: the values of the `group_by` tags, and the field.
type GroupKey = (Vec<(String, String)>, String);

/// One selected series: its raw points in the range and, for the parts of
/// the range that rollups answer, bucket summaries (bucket start, summary)
/// that do not overlap the raw points.
#[derive(Debug, Clone)]
pub struct Selected {
    pub key: SeriesKey,
    pub raw: SeriesData,
    pub summaries: Vec<(i64, Summary)>,
}

impl Selected {
    pub fn raw(key: SeriesKey, raw: SeriesData) -> Selected {
        Selected {
            key,
            raw,
            summaries: Vec::new(),
        }
    }
}

trait Outcome {
    fn result(&self, agg: Aggregate, bucket_ts: i64) -> Option<(i64, Value)>;
}

impl Outcome for Summary {
    /// The aggregate's (timestamp, value); selectors keep their point's time.
    fn result(&self, agg: Aggregate, bucket_ts: i64) -> Option<(i64, Value)> {
        if self.count == 0 {
            return None;
        }
        Some(match agg {
            Aggregate::Count => (bucket_ts, Value::I64(self.count)),
            Aggregate::Sum => (bucket_ts, Value::F64(self.sum)),
            Aggregate::Mean => (bucket_ts, Value::F64(self.sum / self.count as f64)),
            Aggregate::Min => (bucket_ts, Value::F64(self.min)),
            Aggregate::Max => (bucket_ts, Value::F64(self.max)),
            Aggregate::First => self.first.clone()?,
            Aggregate::Last => self.last.clone()?,
        })
    }
}

fn aggregate(
    state: &[Selected],
    selected: &[usize],
    q: &Query,
    agg: Aggregate,
    start: i64,
    end: i64,
) -> Result<QueryResult, QueryError> {
    // With a wildcard, numeric aggregates skip fields that hold no numbers
    // (as InfluxQL's `mean(*)` does); a field named explicitly is an error.
    let numeric = |i: &usize| {
        !matches!(
            state[*i].raw.value_type,
            crate::ValueType::Bool | crate::ValueType::Str
        )
    };
    let wildcard = q.fields.is_empty() || q.fields.iter().any(|f| f == "*");
    let kept: Vec<usize>;
    let selected = if agg.numeric_only() && wildcard {
        kept = selected.iter().copied().filter(numeric).collect();
        &kept[..]
    } else {
        selected
    };
    if let Some(&i) = selected.iter().find(|&&i| {
        agg.numeric_only()
            && matches!(
                state[i].raw.value_type,
                crate::ValueType::Bool | crate::ValueType::Str
            )
    }) {
        let key = &state[i].key;
        return Err(invalid(
            "aggregate",
            format!(
                "{} needs numbers but field `{}` holds {} values",
                agg.name(),
                key.field,
                state[i].raw.value_type.name()
            ),
        ));
    }
    // Bucket layout.
    let buckets = match q.every {
        None => None,
        Some(every) if every <= 0 => return Err(invalid("every", "must be positive")),
        Some(every) => {
            let (Some(s), Some(e)) = (q.start, q.end) else {
                return Err(invalid("every", "needs both start and end"));
            };
            let first = s.div_euclid(every) * every;
            let n = (e - first + every - 1).div_euclid(every);
            if n > MAX_BUCKETS {
                return Err(invalid(
                    "every",
                    format!("gives {n} buckets; at most {MAX_BUCKETS} are allowed"),
                ));
            }
            Some((first, every, n as usize))
        }
    };
    // Group series: (group tag values, field) → series indices.
    let mut groups: BTreeMap<GroupKey, Vec<usize>> = BTreeMap::new();
    for &i in selected {
        let key = &state[i].key;
        let gtags = q
            .group_by
            .iter()
            .map(|t| (t.clone(), key.tag(t).unwrap_or("").to_owned()))
            .collect();
        groups
            .entry((gtags, key.field.clone()))
            .or_default()
            .push(i);
    }
    let mut out = QueryResult::default();
    for ((gtags, field), members) in groups {
        let nb = buckets.map_or(1, |b| b.2);
        let mut accs = vec![Summary::default(); nb];
        for &i in &members {
            let place = |ts: i64| match buckets {
                None => 0,
                Some((first, every, _)) => ((ts - first) / every) as usize,
            };
            for (bucket, s) in &state[i].summaries {
                if let Some(acc) = accs.get_mut(place(*bucket)) {
                    acc.merge(s);
                }
            }
            let data = &state[i].raw;
            for j in data.range(start, end) {
                let ts = data.ts[j];
                if let Some(acc) = accs.get_mut(place(ts)) {
                    acc.add(ts, data.values.f64_at(j), || {
                        data.values.get(j).unwrap_or(Value::Bool(false))
                    });
                }
            }
        }
        // A series with no point in the range is left out, filled or not.
        if accs.iter().all(|a| a.count == 0) {
            continue;
        }
        let mut points = Vec::new();
        let mut previous: Option<Value> = None;
        for (b, acc) in accs.iter().enumerate() {
            let bucket_ts = match buckets {
                None => q.start.unwrap_or(0),
                Some((first, every, _)) => first + b as i64 * every,
            };
            match acc.result(agg, bucket_ts) {
                Some((ts, v)) => {
                    let ts = if buckets.is_some() { bucket_ts } else { ts };
                    previous = Some(v.clone());
                    points.push((ts, Some(v)));
                }
                None if buckets.is_some() => match q.fill {
                    Fill::None => {}
                    Fill::Null => points.push((bucket_ts, None)),
                    Fill::Previous => points.push((bucket_ts, previous.clone())),
                },
                None => {}
            }
        }
        if let Some(limit) = q.limit {
            points.truncate(limit);
        }
        out.series.push(SeriesResult {
            tags: gtags.into_iter().collect(),
            field,
            points,
        });
    }
    Ok(out)
}
