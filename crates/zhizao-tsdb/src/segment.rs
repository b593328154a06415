//! Immutable, compressed segments: Apache Parquet files, so any Parquet
//! tool can read a plant's history.
//!
//! One file per flushed write-ahead-log generation, or per run of them
//! merged by compaction; rows sorted by series id then time. Columns: `series` (u32, dictionary/RLE), `ts` (i64 ns,
//! delta-encoded), and one nullable value column per type: `f64`
//! (byte-stream-split, suits slowly varying signals), `i64` (delta, suits
//! counters), `bool`, `str`; all zstd-compressed. The footer holds an index
//! of each series' rows (loaded on open, so a query reads only its rows)
//! and each series' newest point (so "last value" needs no read at all).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt32Builder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, PageIndexPolicy};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use crate::TsdbError;
use crate::hot::{Column, SeriesData};
use crate::model::{Value, ValueType};

/// Where one series' rows are in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesRows {
    pub start: usize,
    pub len: usize,
    pub min_ts: i64,
    pub max_ts: i64,
}

#[derive(Debug)]
pub struct Segment {
    /// The write-ahead-log generations whose data this holds: `lo..=hi`
    /// (one flush, or several merged by compaction).
    pub lo: u64,
    pub hi: u64,
    pub file: DataFile,
    pub rows: usize,
    pub bytes: u64,
    pub index: HashMap<u32, SeriesRows>,
    /// The newest point of each series here (None: an older file without
    /// it in the footer).
    pub last: Option<HashMap<u32, (i64, Value)>>,
}

/// An immutable data file (segment or rollups). Once retired — replaced
/// by a merge, or expired — it is deleted when the last reader lets go.
#[derive(Debug)]
pub struct DataFile {
    pub path: PathBuf,
    retired: AtomicBool,
}

impl DataFile {
    pub fn new(path: PathBuf) -> DataFile {
        DataFile {
            path,
            retired: AtomicBool::new(false),
        }
    }

    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }
}

impl Drop for DataFile {
    fn drop(&mut self) {
        if self.retired.load(Ordering::Acquire) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Selects row spans (start, len), sorted and disjoint, skipping the rest.
pub(crate) fn row_selection(spans: impl IntoIterator<Item = (usize, usize)>) -> RowSelection {
    let mut selectors = Vec::new();
    let mut at = 0;
    for (start, len) in spans {
        if start > at {
            selectors.push(RowSelector::skip(start - at));
        }
        selectors.push(RowSelector::select(len));
        at = start + len;
    }
    RowSelection::from(selectors)
}

pub const KIND: &str = "seg";
const INDEX_KEY: &str = "zhizao.index";
const LAST_KEY: &str = "zhizao.last";

/// Packs footer metadata: postcard, zstd, base64 (footer values are text).
pub(crate) fn pack<T: Serialize>(v: &T) -> Result<String, TsdbError> {
    use base64::Engine;
    let bytes = postcard::to_stdvec(v).map_err(|e| TsdbError::Encode(e.to_string()))?;
    let z = zstd::bulk::compress(&bytes, 3).map_err(|e| TsdbError::Encode(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(z))
}

pub(crate) fn unpack<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    use base64::Engine;
    const MAX: usize = 1 << 30;
    let z = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| e.to_string())?;
    let bytes = zstd::bulk::decompress(&z, MAX).map_err(|e| e.to_string())?;
    postcard::from_bytes(&bytes).map_err(|e| e.to_string())
}

/// `{kind}-{lo}-{hi}.parquet`.
pub fn file_name(kind: &str, lo: u64, hi: u64) -> String {
    format!("{kind}-{lo:08}-{hi:08}.parquet")
}

/// The kind and generation range of a data file's name; also takes the
/// older one-generation form `seg-{g}.parquet`.
pub fn parse_name(name: &str) -> Option<(&str, u64, u64)> {
    let stem = name.strip_suffix(".parquet")?;
    let (kind, rest) = stem.split_once('-')?;
    match rest.split_once('-') {
        Some((lo, hi)) => Some((kind, lo.parse().ok()?, hi.parse().ok()?)),
        None => {
            let g = rest.parse().ok()?;
            Some((kind, g, g))
        }
    }
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("series", DataType::UInt32, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("f64", DataType::Float64, true),
        Field::new("i64", DataType::Int64, true),
        Field::new("bool", DataType::Boolean, true),
        Field::new("str", DataType::Utf8, true),
    ]))
}

fn properties() -> Result<WriterProperties, TsdbError> {
    let zstd = ZstdLevel::try_new(3).map_err(|e| TsdbError::Segment(e.to_string()))?;
    let col = |name: &str| ColumnPath::from(name);
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_max_row_group_row_count(Some(1 << 20))
        // Small pages, so a read of one field skips the others' pages.
        .set_data_page_row_count_limit(16 * 1024)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_column_dictionary_enabled(col("ts"), false)
        .set_column_encoding(col("ts"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(col("f64"), false)
        .set_column_encoding(col("f64"), Encoding::BYTE_STREAM_SPLIT)
        .set_column_dictionary_enabled(col("i64"), false)
        .set_column_encoding(col("i64"), Encoding::DELTA_BINARY_PACKED)
        .build())
}

/// Writes a segment in pieces (compaction streams series through it):
/// to a temporary file that `finish` syncs and renames into place.
pub struct SegmentWriter {
    dir: PathBuf,
    lo: u64,
    hi: u64,
    path: PathBuf,
    tmp: PathBuf,
    writer: ArrowWriter<File>,
    index: Vec<(u32, SeriesRows)>,
    last: Vec<(u32, i64, Value)>,
    rows: usize,
}

impl SegmentWriter {
    pub fn create(dir: &Path, lo: u64, hi: u64) -> Result<SegmentWriter, TsdbError> {
        let path = dir.join(file_name(KIND, lo, hi));
        let tmp = path.with_extension("parquet.tmp");
        let file = File::create(&tmp).map_err(|e| TsdbError::io(&tmp, e))?;
        let writer = ArrowWriter::try_new(file, schema(), Some(properties()?))
            .map_err(|e| TsdbError::Segment(e.to_string()))?;
        Ok(SegmentWriter {
            dir: dir.to_owned(),
            lo,
            hi,
            path,
            tmp,
            writer,
            index: Vec::new(),
            last: Vec::new(),
            rows: 0,
        })
    }

    /// Appends series (id, data); ids must rise across calls.
    pub fn append(&mut self, series: &[(u32, &SeriesData)]) -> Result<(), TsdbError> {
        // Handed to the Parquet writer in record batches of about CHUNK
        // rows: it buffers encoded pages up to a row group anyway, and small
        // batches reuse the same memory instead of building the whole
        // flush as Arrow arrays first.
        const CHUNK: usize = 64 * 1024;
        let mut from = 0;
        let mut rows = 0;
        for (k, (_, d)) in series.iter().enumerate() {
            rows += d.len();
            if rows >= CHUNK {
                self.append_batch(&series[from..=k])?;
                from = k + 1;
                rows = 0;
            }
        }
        self.append_batch(&series[from..])
    }

    fn append_batch(&mut self, series: &[(u32, &SeriesData)]) -> Result<(), TsdbError> {
        let rows: usize = series.iter().map(|(_, d)| d.len()).sum();
        if rows == 0 {
            return Ok(());
        }
        let mut ids = UInt32Builder::with_capacity(rows);
        let mut ts = Int64Builder::with_capacity(rows);
        let mut f = Float64Builder::new();
        let mut i = Int64Builder::new();
        let mut b = BooleanBuilder::new();
        let mut s = StringBuilder::new();
        for (id, data) in series {
            let n = data.len();
            if n == 0 {
                continue;
            }
            self.index.push((
                *id,
                SeriesRows {
                    start: self.rows,
                    len: n,
                    min_ts: data.ts[0],
                    max_ts: data.ts[n - 1],
                },
            ));
            if let Some(v) = data.values.get(n - 1) {
                self.last.push((*id, data.ts[n - 1], v));
            }
            self.rows += n;
            ids.append_value_n(*id, n);
            ts.append_slice(&data.ts);
            match &data.values {
                Column::F64(v) => f.append_slice(v),
                _ => f.append_nulls(n),
            }
            match &data.values {
                Column::I64(v) => i.append_slice(v),
                _ => i.append_nulls(n),
            }
            match &data.values {
                Column::Bool(v) => v.iter().for_each(|x| b.append_value(*x)),
                _ => b.append_nulls(n),
            }
            match &data.values {
                Column::Str(v) => v.iter().for_each(|x| s.append_value(x)),
                _ => (0..n).for_each(|_| s.append_null()),
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids.finish()),
            Arc::new(ts.finish()),
            Arc::new(f.finish()),
            Arc::new(i.finish()),
            Arc::new(b.finish()),
            Arc::new(s.finish()),
        ];
        let batch = RecordBatch::try_new(schema(), columns)
            .map_err(|e| TsdbError::Segment(e.to_string()))?;
        self.writer
            .write(&batch)
            .map_err(|e| TsdbError::Segment(e.to_string()))
    }

    pub fn finish(mut self) -> Result<Segment, TsdbError> {
        let seg_err = |e: parquet::errors::ParquetError| TsdbError::Segment(e.to_string());
        let index = pack(&self.index)?;
        let last = pack(&self.last)?;
        self.writer
            .append_key_value_metadata(KeyValue::new(INDEX_KEY.to_owned(), index));
        self.writer
            .append_key_value_metadata(KeyValue::new(LAST_KEY.to_owned(), last));
        let file = self.writer.into_inner().map_err(seg_err)?;
        file.sync_all().map_err(|e| TsdbError::io(&self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| TsdbError::io(&self.path, e))?;
        sync_dir(&self.dir)?;
        let bytes = std::fs::metadata(&self.path)
            .map_err(|e| TsdbError::io(&self.path, e))?
            .len();
        Ok(Segment {
            lo: self.lo,
            hi: self.hi,
            file: DataFile::new(self.path),
            rows: self.rows,
            bytes,
            index: self.index.into_iter().collect(),
            last: Some(
                self.last
                    .into_iter()
                    .map(|(id, t, v)| (id, (t, v)))
                    .collect(),
            ),
        })
    }
}

/// Writes `series` (id, data), sorted by id, as the segment of generation
/// `generation`.
pub fn write(
    dir: &Path,
    generation: u64,
    series: &[(u32, &SeriesData)],
) -> Result<Segment, TsdbError> {
    let mut w = SegmentWriter::create(dir, generation, generation)?;
    w.append(series)?;
    w.finish()
}

/// Makes a rename or delete in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), TsdbError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TsdbError::io(dir, e))
}

/// Opens an existing segment from its footer's index, or, for a file
/// without one, by scanning the `series` and `ts` columns.
pub fn open(path: &Path, lo: u64, hi: u64) -> Result<Segment, TsdbError> {
    let seg_err =
        |e: parquet::errors::ParquetError| TsdbError::Segment(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(|e| TsdbError::io(path, e))?;
    let bytes = file.metadata().map_err(|e| TsdbError::io(path, e))?.len();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(seg_err)?;
    let kv = |key: &str| {
        builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|k| k.key == key))
            .and_then(|k| k.value.clone())
    };
    let bad = |e: String| TsdbError::Segment(format!("{}: footer: {e}", path.display()));
    if let (Some(index), Some(last)) = (kv(INDEX_KEY), kv(LAST_KEY)) {
        let index: Vec<(u32, SeriesRows)> = unpack(&index).map_err(bad)?;
        let last: Vec<(u32, i64, Value)> = unpack(&last).map_err(bad)?;
        return Ok(Segment {
            lo,
            hi,
            file: DataFile::new(path.to_owned()),
            rows: index.iter().map(|(_, r)| r.len).sum(),
            bytes,
            index: index.into_iter().collect(),
            last: Some(last.into_iter().map(|(id, t, v)| (id, (t, v))).collect()),
        });
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), [0, 1]);
    let reader = builder.with_projection(mask).build().map_err(seg_err)?;
    let mut index: HashMap<u32, SeriesRows> = HashMap::new();
    let mut row = 0;
    for batch in reader {
        let batch = batch.map_err(|e| TsdbError::Segment(format!("{}: {e}", path.display())))?;
        let (ids, ts) = (
            typed::<UInt32Array>(&batch, 0, path)?,
            typed::<Int64Array>(&batch, 1, path)?,
        );
        for k in 0..batch.num_rows() {
            let (id, t) = (ids.value(k), ts.value(k));
            let e = index.entry(id).or_insert(SeriesRows {
                start: row,
                len: 0,
                min_ts: t,
                max_ts: t,
            });
            e.len += 1;
            e.min_ts = e.min_ts.min(t);
            e.max_ts = e.max_ts.max(t);
            row += 1;
        }
    }
    Ok(Segment {
        lo,
        hi,
        file: DataFile::new(path.to_owned()),
        rows: row,
        bytes,
        index,
        last: None,
    })
}

/// A column by name, if projected, of the expected type.
fn named<'a, T: 'static>(
    batch: &'a RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Option<&'a T>, TsdbError> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => c.as_any().downcast_ref::<T>().map(Some).ok_or_else(|| {
            TsdbError::Segment(format!(
                "{}: column {name} has an unexpected type",
                path.display()
            ))
        }),
    }
}

pub(crate) fn typed<'a, T: 'static>(
    batch: &'a RecordBatch,
    col: usize,
    path: &Path,
) -> Result<&'a T, TsdbError> {
    batch
        .column(col)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| {
            TsdbError::Segment(format!(
                "{}: column {col} has an unexpected type",
                path.display()
            ))
        })
}

/// What to read for one series: its points within any of `ranges`
/// (sorted, disjoint, each `[start, end)`).
#[derive(Debug, Clone)]
pub struct Want {
    pub id: u32,
    pub value_type: ValueType,
    pub ranges: Vec<(i64, i64)>,
}

impl Want {
    pub fn whole(id: u32, value_type: ValueType, start: i64, end: i64) -> Want {
        Want {
            id,
            value_type,
            ranges: vec![(start, end)],
        }
    }

    pub fn contains(&self, t: i64) -> bool {
        let k = self.ranges.partition_point(|r| r.1 <= t);
        self.ranges.get(k).is_some_and(|r| r.0 <= t)
    }

    pub(crate) fn overlaps(&self, min_ts: i64, max_ts: i64) -> bool {
        self.ranges.iter().any(|r| max_ts >= r.0 && min_ts < r.1)
    }
}

impl Segment {
    /// Reads the points of the wanted series within their ranges.
    pub fn read(&self, wanted: &[Want]) -> Result<HashMap<u32, SeriesData>, TsdbError> {
        let seg_err = |e: parquet::errors::ParquetError| {
            TsdbError::Segment(format!("{}: {e}", self.file.path.display()))
        };
        let mut ranges: Vec<(SeriesRows, &Want)> = wanted
            .iter()
            .filter_map(|w| {
                let r = *self.index.get(&w.id)?;
                w.overlaps(r.min_ts, r.max_ts).then_some((r, w))
            })
            .collect();
        let mut out = HashMap::new();
        if ranges.is_empty() {
            return Ok(out);
        }
        ranges.sort_by_key(|(r, _)| r.start);
        let path = &self.file.path;
        let file = File::open(path).map_err(|e| TsdbError::io(path, e))?;
        // The page index lets a selection skip whole pages unread.
        let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
        let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
            .map_err(seg_err)?;
        // Only the time column and the value columns of the wanted types.
        let mut roots = vec![1];
        for (t, col) in [
            (ValueType::F64, 2),
            (ValueType::I64, 3),
            (ValueType::Bool, 4),
            (ValueType::Str, 5),
        ] {
            if ranges.iter().any(|(_, w)| w.value_type == t) {
                roots.push(col);
            }
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_projection(mask)
            .with_row_selection(row_selection(ranges.iter().map(|(r, _)| (r.start, r.len))))
            .build()
            .map_err(seg_err)?;
        let mut current = 0;
        let mut left = ranges[0].0.len;
        for batch in reader {
            let batch =
                batch.map_err(|e| TsdbError::Segment(format!("{}: {e}", path.display())))?;
            let p = path;
            let ts = named::<Int64Array>(&batch, "ts", p)?
                .ok_or_else(|| TsdbError::Segment(format!("{}: no ts column", p.display())))?;
            let fc = named::<Float64Array>(&batch, "f64", p)?;
            let ic = named::<Int64Array>(&batch, "i64", p)?;
            let bc = named::<BooleanArray>(&batch, "bool", p)?;
            let sc = named::<StringArray>(&batch, "str", p)?;
            for k in 0..batch.num_rows() {
                while left == 0 {
                    current += 1;
                    left = ranges.get(current).map_or(usize::MAX, |r| r.0.len);
                }
                left -= 1;
                let Some((_, want)) = ranges.get(current) else {
                    break;
                };
                let t = ts.value(k);
                if !want.contains(t) {
                    continue;
                }
                let value = match (want.value_type, fc, ic, bc, sc) {
                    (ValueType::F64, Some(c), ..) if !c.is_null(k) => Value::F64(c.value(k)),
                    (ValueType::I64, _, Some(c), ..) if !c.is_null(k) => Value::I64(c.value(k)),
                    (ValueType::Bool, _, _, Some(c), _) if !c.is_null(k) => Value::Bool(c.value(k)),
                    (ValueType::Str, .., Some(c)) if !c.is_null(k) => {
                        Value::Str(c.value(k).to_owned())
                    }
                    _ => continue,
                };
                out.entry(want.id)
                    .or_insert_with(|| SeriesData::new(want.value_type))
                    .upsert(t, value);
            }
        }
        Ok(out)
    }
}
