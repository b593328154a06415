//! A write as the store takes it: lines, each one series set (measurement
//! and tags) and one timestamp, their values in one flat list. Line protocol
//! is parsed straight into this shape with a few growing buffers and no
//! allocation per line or value, and the writer looks each line's set up
//! once. [`Point`]s from other callers are folded into it.
//!
//! The same module holds the two byte encodings the write path shares: the
//! canonical key of a series set, and the packed form of accepted values in
//! the write-ahead log.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use crate::model::{Point, Value};

/// Appends the canonical bytes of a series set: measurement, then tags in
/// the given order, each length-prefixed. Callers pass tags sorted by key
/// with no repeated key.
pub(crate) fn push_set<'a>(
    buf: &mut Vec<u8>,
    measurement: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    push_str(buf, measurement);
    for (k, v) in tags {
        push_str(buf, k);
        push_str(buf, v);
    }
}

pub(crate) fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// Measurement and tags back from canonical bytes; `None` if they are not.
pub(crate) fn decode_set(mut b: &[u8]) -> Option<(String, Vec<(String, String)>)> {
    fn take(b: &mut &[u8]) -> Option<String> {
        let len = u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize;
        let s = std::str::from_utf8(b.get(4..4 + len)?).ok()?.to_owned();
        *b = &b[4 + len..];
        Some(s)
    }
    let measurement = take(&mut b)?;
    let mut tags = Vec::new();
    while !b.is_empty() {
        let k = take(&mut b)?;
        let v = take(&mut b)?;
        tags.push((k, v));
    }
    Some((measurement, tags))
}

/// Tags sorted by key, then value; the first of a repeated key kept.
pub(crate) fn sorted_tags(tags: &[(String, String)]) -> Vec<(String, String)> {
    let mut t = tags.to_vec();
    t.sort();
    t.dedup_by(|a, b| a.0 == b.0);
    t
}

/// One line: a series set, a timestamp and a run of values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BatchLine {
    /// Byte range of the set's canonical key in `keys`.
    pub key: Range<u32>,
    pub ts: i64,
    /// Index range in `values`.
    pub values: Range<u32>,
    /// 1-based line number in the body it came from (0: not from a body).
    pub number: u32,
}

/// Lines and values of one write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    pub(crate) keys: Vec<u8>,
    pub(crate) lines: Vec<BatchLine>,
    /// Field name (index into `names`) and value.
    pub(crate) values: Vec<(u32, Value)>,
    pub(crate) names: Vec<Arc<str>>,
    name_index: HashMap<Arc<str>, u32>,
}

impl WriteBatch {
    /// An empty batch sized for a body of `bytes` bytes of line protocol.
    pub fn with_body_capacity(bytes: usize) -> Self {
        Self {
            keys: Vec::with_capacity(bytes / 3),
            lines: Vec::with_capacity(bytes / 150),
            values: Vec::with_capacity(bytes / 15),
            ..Self::default()
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Lines with at least one value.
    pub fn lines(&self) -> usize {
        self.lines.len()
    }

    /// Where each value came from, to keep when the batch goes to the store.
    pub fn line_index(&self) -> LineIndex {
        LineIndex(
            self.lines
                .iter()
                .map(|l| (l.values.end, l.number))
                .collect(),
        )
    }

    pub(crate) fn key(&self, line: &BatchLine) -> &[u8] {
        &self.keys[line.key.start as usize..line.key.end as usize]
    }

    /// Index of a field name, added on first sight. `hint` is where the
    /// name is likely to be: the k-th field of a line is usually the k-th
    /// name seen.
    pub(crate) fn name(&mut self, name: &str, hint: usize) -> u32 {
        if let Some(n) = self.names.get(hint)
            && &**n == name
        {
            return hint as u32;
        }
        if let Some(&i) = self.name_index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        let n: Arc<str> = Arc::from(name);
        self.names.push(n.clone());
        self.name_index.insert(n, i);
        i
    }

    /// Where the buffers end now; [`WriteBatch::rollback`] returns to it.
    pub(crate) fn mark(&self) -> (usize, usize, usize) {
        (self.keys.len(), self.lines.len(), self.values.len())
    }

    pub(crate) fn rollback(&mut self, mark: (usize, usize, usize)) {
        self.keys.truncate(mark.0);
        self.lines.truncate(mark.1);
        self.values.truncate(mark.2);
    }

    /// Ends a line whose key was appended from `key_start` and whose values
    /// from `values_start`. A repeat of the previous line's set drops the
    /// copy of the key.
    pub(crate) fn end_line(&mut self, key_start: usize, values_start: usize, ts: i64, number: u32) {
        let mut key = key_start as u32..self.keys.len() as u32;
        if let Some(prev) = self.lines.last() {
            let p = prev.key.start as usize..prev.key.end as usize;
            if self.keys[p.clone()] == self.keys[key_start..] {
                self.keys.truncate(key_start);
                key = prev.key.clone();
            }
        }
        self.lines.push(BatchLine {
            key,
            ts,
            values: values_start as u32..self.values.len() as u32,
            number,
        });
    }

    /// Folds points into a batch, keeping their order: value `i` of the
    /// batch is point `i`. Points in a row with the same measurement, tags
    /// and timestamp share a line.
    pub fn from_points(points: Vec<Point>) -> WriteBatch {
        let mut b = WriteBatch::default();
        // Measurement, tags and timestamp of the line being filled.
        type LineOf = (Arc<str>, Arc<Vec<(String, String)>>, i64);
        let mut prev: Option<LineOf> = None;
        for p in points {
            let same = prev.as_ref().is_some_and(|(m, t, ts)| {
                *ts == p.ts
                    && (Arc::ptr_eq(m, &p.measurement) || *m == p.measurement)
                    && (Arc::ptr_eq(t, &p.tags) || *t == p.tags)
            });
            if !same {
                let key_start = b.keys.len();
                if p.tags.windows(2).all(|w| w[0].0 < w[1].0) {
                    push_set(
                        &mut b.keys,
                        &p.measurement,
                        p.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    );
                } else {
                    let sorted = sorted_tags(&p.tags);
                    push_set(
                        &mut b.keys,
                        &p.measurement,
                        sorted.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    );
                }
                let values_start = b.values.len();
                b.end_line(key_start, values_start, p.ts, 0);
                prev = Some((p.measurement.clone(), p.tags.clone(), p.ts));
            }
            let hint = b
                .lines
                .last()
                .map_or(0, |l| b.values.len() - l.values.start as usize);
            let name = b.name(&p.field, hint);
            b.values.push((name, p.value));
            if let Some(l) = b.lines.last_mut() {
                l.values.end += 1;
            }
        }
        b
    }

    /// The values as points (tags sorted), for tests and callers that want
    /// them one by one.
    pub fn points(&self) -> Vec<Point> {
        let mut out = Vec::with_capacity(self.values.len());
        for line in &self.lines {
            let (measurement, tags) = decode_set(self.key(line)).unwrap_or_default();
            let (measurement, tags): (Arc<str>, _) = (Arc::from(measurement), Arc::new(tags));
            for (name, value) in &self.values[line.values.start as usize..line.values.end as usize]
            {
                out.push(Point {
                    measurement: measurement.clone(),
                    tags: tags.clone(),
                    field: self.names[*name as usize].clone(),
                    ts: line.ts,
                    value: value.clone(),
                });
            }
        }
        out
    }
}

/// The body line of each value of a batch: (end of the line's values, line
/// number) per line.
#[derive(Debug, Clone, Default)]
pub struct LineIndex(Vec<(u32, u32)>);

impl LineIndex {
    /// The body line (1-based) value `value` came from; 0 if none.
    pub fn line_of(&self, value: usize) -> usize {
        let i = self.0.partition_point(|l| (l.0 as usize) <= value);
        self.0.get(i).map_or(0, |l| l.1 as usize)
    }
}

/// Accepted values in the write-ahead log, packed line by line:
/// timestamp delta and value count, then per value the series-id delta, a
/// type byte and the value. About ten bytes per float against twenty as
/// generic records, written without a serializer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Packed {
    pub(crate) bytes: Vec<u8>,
    prev_ts: i64,
    prev_id: i64,
}

const F64: u8 = 0;
const I64: u8 = 1;
const FALSE: u8 = 2;
const TRUE: u8 = 3;
const STR: u8 = 4;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn get_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

impl Packed {
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends a line of `(series id, value)`; the values are counted
    /// first, so the iterator is walked twice.
    pub(crate) fn push_line<'a>(
        &mut self,
        ts: i64,
        values: impl Iterator<Item = (u32, &'a Value)> + Clone,
    ) {
        let n = values.clone().count();
        if n == 0 {
            return;
        }
        put_varint(&mut self.bytes, zigzag(ts.wrapping_sub(self.prev_ts)));
        self.prev_ts = ts;
        put_varint(&mut self.bytes, n as u64);
        for (id, value) in values {
            put_varint(
                &mut self.bytes,
                zigzag(i64::from(id).wrapping_sub(self.prev_id)),
            );
            self.prev_id = i64::from(id);
            match value {
                Value::F64(x) => {
                    self.bytes.push(F64);
                    self.bytes.extend_from_slice(&x.to_le_bytes());
                }
                Value::I64(x) => {
                    self.bytes.push(I64);
                    put_varint(&mut self.bytes, zigzag(*x));
                }
                Value::Bool(x) => self.bytes.push(if *x { TRUE } else { FALSE }),
                Value::Str(s) => {
                    self.bytes.push(STR);
                    put_varint(&mut self.bytes, s.len() as u64);
                    self.bytes.extend_from_slice(s.as_bytes());
                }
            }
        }
    }

    /// Calls `f` with each `(series id, timestamp, value)`; `None` if the
    /// bytes end early or hold an unknown type (the log's checksum makes
    /// that a bug, not a torn write).
    pub fn for_each(&self, mut f: impl FnMut(u32, i64, Value)) -> Option<()> {
        let b = &self.bytes;
        let mut pos = 0;
        let (mut ts, mut id) = (0i64, 0i64);
        while pos < b.len() {
            ts = ts.wrapping_add(unzigzag(get_varint(b, &mut pos)?));
            let n = get_varint(b, &mut pos)?;
            for _ in 0..n {
                id = id.wrapping_add(unzigzag(get_varint(b, &mut pos)?));
                let kind = *b.get(pos)?;
                pos += 1;
                let value = match kind {
                    F64 => {
                        let x = f64::from_le_bytes(b.get(pos..pos + 8)?.try_into().ok()?);
                        pos += 8;
                        Value::F64(x)
                    }
                    I64 => Value::I64(unzigzag(get_varint(b, &mut pos)?)),
                    FALSE => Value::Bool(false),
                    TRUE => Value::Bool(true),
                    STR => {
                        let len = usize::try_from(get_varint(b, &mut pos)?).ok()?;
                        let s = std::str::from_utf8(b.get(pos..pos.checked_add(len)?)?).ok()?;
                        pos += len;
                        Value::Str(s.to_owned())
                    }
                    _ => return None,
                };
                f(u32::try_from(id).ok()?, ts, value);
            }
        }
        Some(())
    }
}

impl serde::Serialize for Packed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.bytes)
    }
}

impl<'de> serde::Deserialize<'de> for Packed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("packed values")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        Ok(Packed {
            bytes: d.deserialize_bytes(Bytes)?,
            ..Packed::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(m: &str, tags: &[(&str, &str)], field: &str, ts: i64, value: Value) -> Point {
        Point {
            measurement: Arc::from(m),
            tags: Arc::new(
                tags.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            field: Arc::from(field),
            ts,
            value,
        }
    }

    #[test]
    fn points_fold_into_lines_in_order() {
        let a = [("line", "L1"), ("device", "m1")];
        let points = vec![
            point("t", &a, "x", 1, Value::F64(1.0)),
            point("t", &a, "y", 1, Value::I64(2)),
            point("t", &a, "x", 2, Value::F64(3.0)),
            point("t", &[("device", "m2")], "x", 2, Value::Bool(true)),
        ];
        let b = WriteBatch::from_points(points.clone());
        assert_eq!(b.len(), 4);
        assert_eq!(b.lines(), 3);
        assert_eq!(b.names.len(), 2);
        // Tags come back sorted; the rest is unchanged and in order.
        let back = b.points();
        assert_eq!(back.len(), 4);
        for (p, q) in points.iter().zip(&back) {
            assert_eq!((&p.field, p.ts, &p.value), (&q.field, q.ts, &q.value));
            assert_eq!(sorted_tags(&p.tags), *q.tags);
        }
        // The second line repeats the first one's set and shares its key.
        assert_eq!(b.lines[0].key, b.lines[1].key);
        assert_eq!(
            decode_set(b.key(&b.lines[0])),
            Some((
                "t".into(),
                vec![("device".into(), "m1".into()), ("line".into(), "L1".into())]
            ))
        );
    }

    #[test]
    fn packed_values_round_trip() {
        let mut p = Packed::default();
        let values = [
            (7u32, Value::F64(-1.5)),
            (3, Value::I64(i64::MIN)),
            (4, Value::Bool(true)),
            (9, Value::Str("温度 ok".into())),
        ];
        p.push_line(
            1_700_000_000_000_000_000,
            values.iter().map(|(i, v)| (*i, v)),
        );
        p.push_line(-5, values[..2].iter().map(|(i, v)| (*i, v)));
        p.push_line(9, std::iter::empty::<(u32, &Value)>());
        let mut seen = Vec::new();
        p.for_each(|id, ts, v| seen.push((id, ts, v))).unwrap();
        assert_eq!(seen.len(), 6);
        assert_eq!(
            seen[3],
            (9, 1_700_000_000_000_000_000, Value::Str("温度 ok".into()))
        );
        assert_eq!(seen[5], (3, -5, Value::I64(i64::MIN)));
        let bytes = postcard::to_stdvec(&p).unwrap();
        let q: Packed = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(q.bytes, p.bytes);
        // A cut anywhere inside is noticed, never misread.
        for cut in 1..p.bytes.len() {
            let short = Packed {
                bytes: p.bytes[..cut].to_vec(),
                ..Packed::default()
            };
            let mut n = 0;
            let whole = short.for_each(|_, _, _| n += 1).is_some();
            assert!(!whole || n < 6, "cut at {cut}");
        }
    }
}
