//! Rollups: per series, 1-minute and 1-hour buckets holding count, sum,
//! min, max, first and last, so a trend over a day or a year reads
//! thousands of rows instead of millions.
//!
//! Rollup rows are written beside each segment, from the same points. A
//! bucket whose points are all newer than anything the series already has
//! in segments is a *partial*: partials of one bucket from several flushes
//! cover disjoint points and merge exactly. A flush that rewrites or fills
//! in older time (redelivery, backfill) instead recomputes the bucket from
//! every tier and writes it *full*, which replaces the partials before it.
//! Only numeric series have rollups.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, UInt32Builder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use crate::TsdbError;
use crate::hot::{Column, SeriesData};
use crate::model::{Value, ValueType};
use crate::segment::{self, DataFile, Want, typed};

pub const MINUTE: i64 = 60_000_000_000;
pub const HOUR: i64 = 60 * MINUTE;
/// Rollup widths, finest first.
pub const WIDTHS: [i64; 2] = [MINUTE, HOUR];

/// What a set of points comes to: enough for every aggregate the query
/// API offers, and mergeable with the summary of a disjoint set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub count: i64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub first: Option<(i64, Value)>,
    pub last: Option<(i64, Value)>,
}

impl Summary {
    /// Adds one point; `value` is only built when it becomes first or last.
    pub fn add(&mut self, ts: i64, num: Option<f64>, value: impl FnOnce() -> Value) {
        if let Some(x) = num {
            if self.count == 0 {
                self.min = x;
                self.max = x;
            } else {
                self.min = self.min.min(x);
                self.max = self.max.max(x);
            }
            self.sum += x;
        }
        self.count += 1;
        let first_earlier = self.first.as_ref().is_none_or(|(t, _)| ts < *t);
        // Ties between series go to the later series in key order.
        let last_later = self.last.as_ref().is_none_or(|(t, _)| ts >= *t);
        if first_earlier || last_later {
            let v = value();
            if first_earlier {
                self.first = Some((ts, v.clone()));
            }
            if last_later {
                self.last = Some((ts, v));
            }
        }
    }

    /// Adds the summary of a set of points disjoint from this one's.
    pub fn merge(&mut self, other: &Summary) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if let Some((t, v)) = &other.first
            && self.first.as_ref().is_none_or(|(s, _)| t < s)
        {
            self.first = Some((*t, v.clone()));
        }
        if let Some((t, v)) = &other.last
            && self.last.as_ref().is_none_or(|(s, _)| t >= s)
        {
            self.last = Some((*t, v.clone()));
        }
    }

    /// The summary of `data`'s points in an index range. A series holds its
    /// points in time order, so first and last are the ends of the range
    /// and the numbers fold straight over the column.
    pub fn of(data: &SeriesData, r: std::ops::Range<usize>) -> Summary {
        let r = r.start..r.end.min(data.len());
        if r.is_empty() {
            return Summary::default();
        }
        let end = |j: usize| data.values.get(j).map(|v| (data.ts[j], v));
        let mut s = Summary {
            count: r.len() as i64,
            first: end(r.start),
            last: end(r.end - 1),
            ..Summary::default()
        };
        fn fold(s: &mut Summary, mut xs: impl Iterator<Item = f64>) {
            let Some(x0) = xs.next() else { return };
            let (mut sum, mut min, mut max) = (x0, x0, x0);
            for x in xs {
                sum += x;
                min = min.min(x);
                max = max.max(x);
            }
            (s.sum, s.min, s.max) = (sum, min, max);
        }
        match &data.values {
            Column::F64(v) => fold(&mut s, v[r].iter().copied()),
            Column::I64(v) => fold(&mut s, v[r].iter().map(|x| *x as f64)),
            Column::Bool(_) | Column::Str(_) => {}
        }
        s
    }
}

/// Start of the `width` bucket holding `ts` (epoch-aligned).
pub fn bucket_of(ts: i64, width: i64) -> i64 {
    ts.div_euclid(width) * width
}

/// Rounds `ts` up to a bucket boundary (saturating).
pub fn ceil_to(ts: i64, width: i64) -> i64 {
    let b = bucket_of(ts, width);
    if b == ts { b } else { b.saturating_add(width) }
}

/// The buckets of one series' points, in time order.
pub fn summarize(data: &SeriesData, width: i64) -> Vec<(i64, Summary)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let b = bucket_of(data.ts[i], width);
        let end = b.saturating_add(width);
        let j = i + data.ts[i..].partition_point(|&t| t < end);
        out.push((b, Summary::of(data, i..j)));
        i = j;
    }
    out
}

/// Buckets of one series folded across files: bucket → (full, summary).
pub type Folded = std::collections::BTreeMap<i64, (bool, Summary)>;

/// Rows read for one series: (bucket, full, summary), in bucket order.
pub type ReadRows = Vec<(i64, bool, Summary)>;

/// One stored rollup row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub width: i64,
    pub series: u32,
    pub bucket: i64,
    /// Replaces whatever older rows say about this bucket.
    pub full: bool,
    pub summary: Summary,
}

/// Where one (width, series) pair's rows are in a rollup file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub len: usize,
    pub min_bucket: i64,
    pub max_bucket: i64,
}

/// An immutable rollup file covering log generations `lo..=hi`.
#[derive(Debug)]
pub struct RollupFile {
    pub lo: u64,
    pub hi: u64,
    pub file: DataFile,
    pub rows: usize,
    pub bytes: u64,
    pub index: HashMap<(i64, u32), Span>,
}

pub const KIND: &str = "rol";
const INDEX_KEY: &str = "zhizao.rollup_index";

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("width", DataType::Int64, false),
        Field::new("series", DataType::UInt32, false),
        Field::new("bucket", DataType::Int64, false),
        Field::new("full", DataType::Boolean, false),
        Field::new("count", DataType::Int64, false),
        Field::new("sum", DataType::Float64, false),
        Field::new("min", DataType::Float64, false),
        Field::new("max", DataType::Float64, false),
        Field::new("first_ts", DataType::Int64, false),
        Field::new("first_f64", DataType::Float64, true),
        Field::new("first_i64", DataType::Int64, true),
        Field::new("last_ts", DataType::Int64, false),
        Field::new("last_f64", DataType::Float64, true),
        Field::new("last_i64", DataType::Int64, true),
    ]))
}

fn properties(index: &[((i64, u32), Span)]) -> Result<WriterProperties, TsdbError> {
    let zstd = ZstdLevel::try_new(3).map_err(|e| TsdbError::Segment(e.to_string()))?;
    let index = segment::pack(&index)?;
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_key_value_metadata(Some(vec![KeyValue::new(INDEX_KEY.to_owned(), index)]));
    for c in ["bucket", "first_ts", "last_ts", "count"] {
        b = b
            .set_column_dictionary_enabled(ColumnPath::from(c), false)
            .set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED);
    }
    for c in ["sum", "min", "max", "first_f64", "last_f64"] {
        b = b
            .set_column_dictionary_enabled(ColumnPath::from(c), false)
            .set_column_encoding(ColumnPath::from(c), Encoding::BYTE_STREAM_SPLIT);
    }
    Ok(b.build())
}

/// Writes rows sorted by (width, series, bucket) as the rollup file for
/// generations `lo..=hi`: to a temporary file, synced, renamed into place.
pub fn write(dir: &Path, lo: u64, hi: u64, rows: &[Row]) -> Result<RollupFile, TsdbError> {
    let path = dir.join(segment::file_name(KIND, lo, hi));
    let tmp = path.with_extension("parquet.tmp");
    let seg_err = |e: parquet::errors::ParquetError| TsdbError::Segment(e.to_string());
    let n = rows.len();
    let mut width = Int64Builder::with_capacity(n);
    let mut series = UInt32Builder::with_capacity(n);
    let mut bucket = Int64Builder::with_capacity(n);
    let mut full = BooleanBuilder::with_capacity(n);
    let mut count = Int64Builder::with_capacity(n);
    let (mut sum, mut min, mut max) = (
        Float64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
    );
    let (mut first_ts, mut first_f, mut first_i) = (
        Int64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
    );
    let (mut last_ts, mut last_f, mut last_i) = (
        Int64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
    );
    let mut index: Vec<((i64, u32), Span)> = Vec::new();
    for (k, r) in rows.iter().enumerate() {
        let s = &r.summary;
        let (Some((ft, fv)), Some((lt, lv))) = (&s.first, &s.last) else {
            return Err(TsdbError::Segment("an empty rollup row".into()));
        };
        match index.last_mut() {
            Some(((w, id), span)) if *w == r.width && *id == r.series => {
                span.len += 1;
                span.max_bucket = r.bucket;
            }
            _ => index.push((
                (r.width, r.series),
                Span {
                    start: k,
                    len: 1,
                    min_bucket: r.bucket,
                    max_bucket: r.bucket,
                },
            )),
        }
        width.append_value(r.width);
        series.append_value(r.series);
        bucket.append_value(r.bucket);
        full.append_value(r.full);
        count.append_value(s.count);
        sum.append_value(s.sum);
        min.append_value(s.min);
        max.append_value(s.max);
        first_ts.append_value(*ft);
        last_ts.append_value(*lt);
        for (v, f, i) in [
            (fv, &mut first_f, &mut first_i),
            (lv, &mut last_f, &mut last_i),
        ] {
            match v {
                Value::F64(x) => {
                    f.append_value(*x);
                    i.append_null();
                }
                Value::I64(x) => {
                    f.append_null();
                    i.append_value(*x);
                }
                _ => {
                    return Err(TsdbError::Segment(
                        "a rollup of a non-numeric series".into(),
                    ));
                }
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(width.finish()),
        Arc::new(series.finish()),
        Arc::new(bucket.finish()),
        Arc::new(full.finish()),
        Arc::new(count.finish()),
        Arc::new(sum.finish()),
        Arc::new(min.finish()),
        Arc::new(max.finish()),
        Arc::new(first_ts.finish()),
        Arc::new(first_f.finish()),
        Arc::new(first_i.finish()),
        Arc::new(last_ts.finish()),
        Arc::new(last_f.finish()),
        Arc::new(last_i.finish()),
    ];
    let batch =
        RecordBatch::try_new(schema(), columns).map_err(|e| TsdbError::Segment(e.to_string()))?;
    let file = File::create(&tmp).map_err(|e| TsdbError::io(&tmp, e))?;
    let mut writer =
        ArrowWriter::try_new(file, schema(), Some(properties(&index)?)).map_err(seg_err)?;
    writer.write(&batch).map_err(seg_err)?;
    let file = writer.into_inner().map_err(seg_err)?;
    file.sync_all().map_err(|e| TsdbError::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(|e| TsdbError::io(&path, e))?;
    segment::sync_dir(dir)?;
    let bytes = std::fs::metadata(&path)
        .map_err(|e| TsdbError::io(&path, e))?
        .len();
    Ok(RollupFile {
        lo,
        hi,
        file: DataFile::new(path),
        rows: n,
        bytes,
        index: index.into_iter().collect(),
    })
}

/// Opens a rollup file from its footer's index.
pub fn open(path: &Path, lo: u64, hi: u64) -> Result<RollupFile, TsdbError> {
    let err = |m: String| TsdbError::Segment(format!("{}: {m}", path.display()));
    let file = File::open(path).map_err(|e| TsdbError::io(path, e))?;
    let bytes = file.metadata().map_err(|e| TsdbError::io(path, e))?.len();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(e.to_string()))?;
    let meta = builder.metadata().file_metadata();
    let rows = usize::try_from(meta.num_rows()).map_err(|e| err(e.to_string()))?;
    let json = meta
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == INDEX_KEY))
        .and_then(|k| k.value.clone())
        .ok_or_else(|| err("no rollup index in the footer".into()))?;
    let index: Vec<((i64, u32), Span)> = segment::unpack(&json).map_err(err)?;
    Ok(RollupFile {
        lo,
        hi,
        file: DataFile::new(path.to_owned()),
        rows,
        bytes,
        index: index.into_iter().collect(),
    })
}

impl RollupFile {
    /// Reads the rows of the wanted series at `width`, per series in
    /// bucket order.
    pub fn read(&self, width: i64, wanted: &[Want]) -> Result<HashMap<u32, ReadRows>, TsdbError> {
        let mut out: HashMap<u32, ReadRows> = HashMap::new();
        let mut spans: Vec<(Span, &Want)> = wanted
            .iter()
            .filter_map(|w| {
                let s = *self.index.get(&(width, w.id))?;
                w.overlaps(s.min_bucket, s.max_bucket).then_some((s, w))
            })
            .collect();
        if spans.is_empty() {
            return Ok(out);
        }
        spans.sort_by_key(|(s, _)| s.start);
        self.scan(
            spans.iter().map(|(s, _)| (s.start, s.len)).collect(),
            |k, row| {
                let (_, want) = spans[k];
                if want.contains(row.bucket) {
                    let summary = row.summary_as(want.value_type);
                    out.entry(want.id)
                        .or_default()
                        .push((row.bucket, row.full, summary));
                }
            },
        )?;
        Ok(out)
    }

    /// Every row, in file order (for compaction).
    pub fn read_all(&self, types: &[ValueType]) -> Result<Vec<Row>, TsdbError> {
        let mut out = Vec::with_capacity(self.rows);
        self.scan(vec![(0, self.rows)], |_, row| {
            let t = types
                .get(row.series as usize)
                .copied()
                .unwrap_or(ValueType::F64);
            out.push(Row {
                width: row.width,
                series: row.series,
                bucket: row.bucket,
                full: row.full,
                summary: row.summary_as(t),
            });
        })?;
        Ok(out)
    }

    /// Reads the given row ranges (sorted, disjoint); calls `each` with the
    /// range's index and the row.
    fn scan(
        &self,
        ranges: Vec<(usize, usize)>,
        mut each: impl FnMut(usize, RawRow),
    ) -> Result<(), TsdbError> {
        let err = |e: parquet::errors::ParquetError| {
            TsdbError::Segment(format!("{}: {e}", self.file.path.display()))
        };
        let path = &self.file.path;
        let file = File::open(path).map_err(|e| TsdbError::io(path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(err)?
            .with_row_selection(segment::row_selection(ranges.iter().copied()))
            .build()
            .map_err(err)?;
        let mut current = 0;
        let mut left = ranges.first().map_or(0, |r| r.1);
        let p = path;
        for batch in reader {
            let batch = batch.map_err(|e| TsdbError::Segment(format!("{}: {e}", p.display())))?;
            let width = typed::<Int64Array>(&batch, 0, p)?;
            let series = typed::<UInt32Array>(&batch, 1, p)?;
            let bucket = typed::<Int64Array>(&batch, 2, p)?;
            let full = typed::<BooleanArray>(&batch, 3, p)?;
            let count = typed::<Int64Array>(&batch, 4, p)?;
            let sum = typed::<Float64Array>(&batch, 5, p)?;
            let min = typed::<Float64Array>(&batch, 6, p)?;
            let max = typed::<Float64Array>(&batch, 7, p)?;
            let first_ts = typed::<Int64Array>(&batch, 8, p)?;
            let first_f = typed::<Float64Array>(&batch, 9, p)?;
            let first_i = typed::<Int64Array>(&batch, 10, p)?;
            let last_ts = typed::<Int64Array>(&batch, 11, p)?;
            let last_f = typed::<Float64Array>(&batch, 12, p)?;
            let last_i = typed::<Int64Array>(&batch, 13, p)?;
            for k in 0..batch.num_rows() {
                while left == 0 {
                    current += 1;
                    left = ranges.get(current).map_or(usize::MAX, |r| r.1);
                }
                left -= 1;
                let pick = |f: &Float64Array, i: &Int64Array| {
                    if f.is_null(k) {
                        NumValue::I64(i.value(k))
                    } else {
                        NumValue::F64(f.value(k))
                    }
                };
                each(
                    current,
                    RawRow {
                        width: width.value(k),
                        series: series.value(k),
                        bucket: bucket.value(k),
                        full: full.value(k),
                        count: count.value(k),
                        sum: sum.value(k),
                        min: min.value(k),
                        max: max.value(k),
                        first: (first_ts.value(k), pick(first_f, first_i)),
                        last: (last_ts.value(k), pick(last_f, last_i)),
                    },
                );
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum NumValue {
    F64(f64),
    I64(i64),
}

impl NumValue {
    fn as_value(self, t: ValueType) -> Value {
        match (self, t) {
            (NumValue::I64(x), ValueType::I64) => Value::I64(x),
            (NumValue::F64(x), _) => Value::F64(x),
            (NumValue::I64(x), _) => Value::F64(x as f64),
        }
    }
}

struct RawRow {
    width: i64,
    series: u32,
    bucket: i64,
    full: bool,
    count: i64,
    sum: f64,
    min: f64,
    max: f64,
    first: (i64, NumValue),
    last: (i64, NumValue),
}

impl RawRow {
    fn summary_as(&self, t: ValueType) -> Summary {
        Summary {
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            first: Some((self.first.0, self.first.1.as_value(t))),
            last: Some((self.last.0, self.last.1.as_value(t))),
        }
    }
}

/// Folds rows of one (width, series) from older to newer files into one
/// summary per bucket: a full row replaces what came before it.
pub fn fold(into: &mut Folded, bucket: i64, full: bool, s: Summary) {
    match into.get_mut(&bucket) {
        Some(e) if !full => e.1.merge(&s),
        Some(e) => *e = (true, s),
        None => {
            into.insert(bucket, (full, s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_merge_like_the_union() {
        let mut d = SeriesData::new(ValueType::F64);
        for (t, v) in [(5, 3.0), (61, -1.0), (62, 7.5), (130, 2.0)] {
            d.upsert(t * 1_000_000_000, Value::F64(v));
        }
        let b = summarize(&d, MINUTE);
        assert_eq!(b.len(), 3);
        assert_eq!(b[1].0, MINUTE);
        assert_eq!(b[1].1.count, 2);
        assert_eq!(b[1].1.min, -1.0);
        assert_eq!(b[1].1.max, 7.5);
        let mut all = Summary::default();
        for (_, s) in &b {
            all.merge(s);
        }
        assert_eq!(all, Summary::of(&d, 0..d.len()));
        assert_eq!(ceil_to(61, 60), 120);
        assert_eq!(ceil_to(120, 60), 120);
        assert_eq!(bucket_of(-1, 60), -60);
    }

    #[test]
    fn rollup_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = SeriesData::new(ValueType::I64);
        for t in 0..200 {
            d.upsert(t * 1_000_000_000, Value::I64(t * 10));
        }
        let mut rows = Vec::new();
        for w in WIDTHS {
            for (bucket, summary) in summarize(&d, w) {
                rows.push(Row {
                    width: w,
                    series: 3,
                    bucket,
                    full: bucket == 0,
                    summary,
                });
            }
        }
        let f = write(dir.path(), 4, 6, &rows).unwrap();
        let f2 = open(&f.file.path, 4, 6).unwrap();
        assert_eq!(f.index, f2.index);
        let want = Want {
            id: 3,
            value_type: ValueType::I64,
            ranges: vec![(MINUTE, i64::MAX)],
        };
        let got = f2.read(MINUTE, &[want]).unwrap();
        let got = &got[&3];
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, MINUTE);
        assert!(!got[0].1);
        assert_eq!(got[0].2.first, Some((MINUTE, Value::I64(600))));
        assert_eq!(got[2].2.count, 20);
        let all = f2
            .read_all(&[ValueType::F64; 4].map(|_| ValueType::I64))
            .unwrap();
        assert_eq!(all, rows);
    }
}
