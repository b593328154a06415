//! The in-memory tier: one typed, time-sorted column pair per series.
//! Appends in time order are O(1); an out-of-order or repeated timestamp is
//! placed by binary search, and a repeated timestamp replaces the value
//! (last write wins), which makes redelivery idempotent.

use crate::model::{Value, ValueType};

#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

impl Column {
    pub fn new(t: ValueType) -> Column {
        Column::with_capacity(t, 0)
    }

    pub fn with_capacity(t: ValueType, n: usize) -> Column {
        match t {
            ValueType::F64 => Column::F64(Vec::with_capacity(n)),
            ValueType::I64 => Column::I64(Vec::with_capacity(n)),
            ValueType::Bool => Column::Bool(Vec::with_capacity(n)),
            ValueType::Str => Column::Str(Vec::with_capacity(n)),
        }
    }

    pub fn get(&self, i: usize) -> Option<Value> {
        Some(match self {
            Column::F64(v) => Value::F64(*v.get(i)?),
            Column::I64(v) => Value::I64(*v.get(i)?),
            Column::Bool(v) => Value::Bool(*v.get(i)?),
            Column::Str(v) => Value::Str(v.get(i)?.clone()),
        })
    }

    /// Numeric value at `i` without allocating.
    pub fn f64_at(&self, i: usize) -> Option<f64> {
        match self {
            Column::F64(v) => v.get(i).copied(),
            Column::I64(v) => v.get(i).map(|x| *x as f64),
            Column::Bool(_) | Column::Str(_) => None,
        }
    }

    /// Sets or inserts; the caller has checked the type.
    fn put(&mut self, i: usize, insert: bool, value: Value) {
        macro_rules! put {
            ($vec:expr, $v:expr) => {
                if insert {
                    $vec.insert(i, $v)
                } else {
                    $vec[i] = $v
                }
            };
        }
        match (self, value) {
            (Column::F64(c), Value::F64(v)) => put!(c, v),
            (Column::I64(c), Value::I64(v)) => put!(c, v),
            (Column::Bool(c), Value::Bool(v)) => put!(c, v),
            (Column::Str(c), Value::Str(v)) => put!(c, v),
            // Unreachable by the caller's type check; dropping is safer than panicking.
            _ => {}
        }
    }
}

/// The points of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    pub value_type: ValueType,
    pub ts: Vec<i64>,
    pub values: Column,
}

impl SeriesData {
    pub fn new(value_type: ValueType) -> Self {
        Self::with_capacity(value_type, 0)
    }

    /// Room for `n` points before the columns grow.
    pub fn with_capacity(value_type: ValueType, n: usize) -> Self {
        Self {
            value_type,
            ts: Vec::with_capacity(n),
            values: Column::with_capacity(value_type, n),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Inserts or replaces the value at `ts`. Returns whether a new point
    /// was added (false when an existing one was replaced).
    pub fn upsert(&mut self, ts: i64, value: Value) -> bool {
        if value.value_type() != self.value_type {
            return false;
        }
        match self.ts.last() {
            Some(&last) if ts > last => {
                self.ts.push(ts);
                let n = self.ts.len() - 1;
                self.values.put(n, true, value);
                true
            }
            None => {
                self.ts.push(ts);
                self.values.put(0, true, value);
                true
            }
            _ => {
                // A late point (a batch overtaken by the next one) usually
                // belongs near the end: search the cached tail first.
                let lo = self.ts.len().saturating_sub(32);
                let i = if self.ts[lo] <= ts {
                    lo + self.ts[lo..].partition_point(|&t| t < ts)
                } else {
                    self.ts.partition_point(|&t| t < ts)
                };
                if self.ts.get(i) == Some(&ts) {
                    self.values.put(i, false, value);
                    false
                } else {
                    self.ts.insert(i, ts);
                    self.values.put(i, true, value);
                    true
                }
            }
        }
    }

    /// A copy of the points in an index range.
    pub fn slice(&self, r: std::ops::Range<usize>) -> SeriesData {
        let values = match &self.values {
            Column::F64(v) => Column::F64(v[r.clone()].to_vec()),
            Column::I64(v) => Column::I64(v[r.clone()].to_vec()),
            Column::Bool(v) => Column::Bool(v[r.clone()].to_vec()),
            Column::Str(v) => Column::Str(v[r.clone()].to_vec()),
        };
        SeriesData {
            value_type: self.value_type,
            ts: self.ts[r].to_vec(),
            values,
        }
    }

    /// Merges tiers given oldest first; on equal timestamps the later tier
    /// wins, as a later write would.
    pub fn merge(value_type: ValueType, mut parts: Vec<SeriesData>) -> SeriesData {
        parts.retain(|p| !p.is_empty() && p.value_type == value_type);
        if parts.len() <= 1 {
            return parts.pop().unwrap_or_else(|| SeriesData::new(value_type));
        }
        // Tiers of in-order data follow one another: concatenate.
        let disjoint = parts
            .windows(2)
            .all(|w| w[0].ts[w[0].len() - 1] < w[1].ts[0]);
        if disjoint {
            let mut it = parts.into_iter();
            let Some(mut out) = it.next() else {
                return SeriesData::new(value_type);
            };
            for p in it {
                out.append(p);
            }
            return out;
        }
        let mut out = SeriesData::new(value_type);
        for part in parts {
            for i in 0..part.len() {
                if let Some(v) = part.values.get(i) {
                    out.upsert(part.ts[i], v);
                }
            }
        }
        out
    }

    /// Appends points that are all later than this series' last; the
    /// caller has checked both.
    fn append(&mut self, mut later: SeriesData) {
        let same_type = match (&mut self.values, later.values) {
            (Column::F64(a), Column::F64(mut b)) => {
                a.append(&mut b);
                true
            }
            (Column::I64(a), Column::I64(mut b)) => {
                a.append(&mut b);
                true
            }
            (Column::Bool(a), Column::Bool(mut b)) => {
                a.append(&mut b);
                true
            }
            (Column::Str(a), Column::Str(mut b)) => {
                a.append(&mut b);
                true
            }
            _ => false,
        };
        if same_type {
            self.ts.append(&mut later.ts);
        }
    }

    /// Index range of points with `start <= ts < end`.
    pub fn range(&self, start: i64, end: i64) -> std::ops::Range<usize> {
        let lo = self.ts.partition_point(|&t| t < start);
        let hi = self.ts.partition_point(|&t| t < end);
        lo..hi.max(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_keeps_time_order_and_last_write() {
        let mut s = SeriesData::new(ValueType::F64);
        assert!(s.upsert(10, Value::F64(1.0)));
        assert!(s.upsert(30, Value::F64(3.0)));
        assert!(s.upsert(20, Value::F64(2.0)));
        assert!(!s.upsert(20, Value::F64(2.5)));
        assert!(!s.upsert(5, Value::I64(1)), "type mismatch is ignored here");
        assert_eq!(s.ts, vec![10, 20, 30]);
        assert_eq!(s.values, Column::F64(vec![1.0, 2.5, 3.0]));
        assert_eq!(s.range(11, 31), 1..3);
        assert_eq!(s.range(40, 50), 3..3);
        let older = s.slice(0..2);
        let mut newer = SeriesData::new(ValueType::F64);
        newer.upsert(20, Value::F64(9.0));
        newer.upsert(40, Value::F64(4.0));
        let merged = SeriesData::merge(ValueType::F64, vec![older, newer]);
        assert_eq!(merged.ts, vec![10, 20, 40]);
        assert_eq!(merged.values, Column::F64(vec![1.0, 9.0, 4.0]));
    }

    proptest::proptest! {
        /// Any order of writes, near the end or far back, keeps the points
        /// sorted with the last write of each timestamp.
        #[test]
        fn upserts_match_a_sorted_map(writes in proptest::collection::vec((0i64..200, -1e6f64..1e6), 0..400)) {
            let mut s = SeriesData::new(ValueType::F64);
            let mut model = std::collections::BTreeMap::new();
            for (ts, v) in writes {
                let added = s.upsert(ts, Value::F64(v));
                proptest::prop_assert_eq!(added, model.insert(ts, v).is_none());
            }
            proptest::prop_assert_eq!(s.ts, model.keys().copied().collect::<Vec<_>>());
            proptest::prop_assert_eq!(s.values, Column::F64(model.values().copied().collect()));
        }
    }
}
