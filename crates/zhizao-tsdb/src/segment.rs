//! Immutable, compressed segments: Apache Parquet files, so any Parquet
//! tool can read a plant's history.
//!
//! One file per flushed write-ahead-log generation, rows sorted by series
//! id then time. Columns: `series` (u32, dictionary/RLE), `ts` (i64 ns,
//! delta-encoded), and one nullable value column per type: `f64`
//! (byte-stream-split, suits slowly varying signals), `i64` (delta, suits
//! counters), `bool`, `str`; all zstd-compressed. An in-memory index maps
//! each series to its rows, so a query reads only those rows.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt32Builder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::TsdbError;
use crate::hot::{Column, SeriesData};
use crate::model::{Value, ValueType};

/// Where one series' rows are in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRows {
    pub start: usize,
    pub len: usize,
    pub min_ts: i64,
    pub max_ts: i64,
}

#[derive(Debug)]
pub struct Segment {
    /// The write-ahead-log generation whose data this holds (and all older).
    pub generation: u64,
    pub path: PathBuf,
    pub rows: usize,
    pub bytes: u64,
    pub index: HashMap<u32, SeriesRows>,
}

pub fn file_name(generation: u64) -> String {
    format!("seg-{generation:08}.parquet")
}

pub fn generation_of(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".parquet")?
        .parse()
        .ok()
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
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_column_dictionary_enabled(col("ts"), false)
        .set_column_encoding(col("ts"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(col("f64"), false)
        .set_column_encoding(col("f64"), Encoding::BYTE_STREAM_SPLIT)
        .set_column_dictionary_enabled(col("i64"), false)
        .set_column_encoding(col("i64"), Encoding::DELTA_BINARY_PACKED)
        .build())
}

/// Writes `series` (id, data), sorted by id, as segment `generation` in
/// `dir`: to a temporary file, synced, then renamed into place.
pub fn write(
    dir: &Path,
    generation: u64,
    series: &[(u32, &SeriesData)],
) -> Result<Segment, TsdbError> {
    let path = dir.join(file_name(generation));
    let tmp = dir.join(format!("{}.tmp", file_name(generation)));
    let io = |p: &Path, e| TsdbError::io(p, e);
    let seg_err = |e: parquet::errors::ParquetError| TsdbError::Segment(e.to_string());

    let rows: usize = series.iter().map(|(_, d)| d.len()).sum();
    let mut ids = UInt32Builder::with_capacity(rows);
    let mut ts = Int64Builder::with_capacity(rows);
    let mut f = Float64Builder::new();
    let mut i = Int64Builder::new();
    let mut b = BooleanBuilder::new();
    let mut s = StringBuilder::new();
    let mut index = HashMap::new();
    let mut at = 0;
    for (id, data) in series {
        if data.is_empty() {
            continue;
        }
        index.insert(
            *id,
            SeriesRows {
                start: at,
                len: data.len(),
                min_ts: data.ts[0],
                max_ts: data.ts[data.len() - 1],
            },
        );
        at += data.len();
        for (k, t) in data.ts.iter().enumerate() {
            ids.append_value(*id);
            ts.append_value(*t);
            match &data.values {
                Column::F64(v) => f.append_value(v[k]),
                _ => f.append_null(),
            }
            match &data.values {
                Column::I64(v) => i.append_value(v[k]),
                _ => i.append_null(),
            }
            match &data.values {
                Column::Bool(v) => b.append_value(v[k]),
                _ => b.append_null(),
            }
            match &data.values {
                Column::Str(v) => s.append_value(&v[k]),
                _ => s.append_null(),
            }
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
    let batch =
        RecordBatch::try_new(schema(), columns).map_err(|e| TsdbError::Segment(e.to_string()))?;
    let file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
    let mut writer = ArrowWriter::try_new(file, schema(), Some(properties()?)).map_err(seg_err)?;
    writer.write(&batch).map_err(seg_err)?;
    let file = writer.into_inner().map_err(seg_err)?;
    file.sync_all().map_err(|e| io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    sync_dir(dir)?;
    let bytes = std::fs::metadata(&path).map_err(|e| io(&path, e))?.len();
    Ok(Segment {
        generation,
        path,
        rows,
        bytes,
        index,
    })
}

/// Makes a rename or delete in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), TsdbError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TsdbError::io(dir, e))
}

/// Opens an existing segment, rebuilding its index from the `series` and
/// `ts` columns.
pub fn open(path: &Path, generation: u64) -> Result<Segment, TsdbError> {
    let seg_err =
        |e: parquet::errors::ParquetError| TsdbError::Segment(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(|e| TsdbError::io(path, e))?;
    let bytes = file.metadata().map_err(|e| TsdbError::io(path, e))?.len();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(seg_err)?;
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
        generation,
        path: path.to_owned(),
        rows: row,
        bytes,
        index,
    })
}

fn typed<'a, T: 'static>(
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

/// What to read for one series.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    pub id: u32,
    pub value_type: ValueType,
    pub start: i64,
    pub end: i64,
}

impl Segment {
    /// Reads the points of the wanted series within their ranges.
    pub fn read(&self, wanted: &[Want]) -> Result<HashMap<u32, SeriesData>, TsdbError> {
        let seg_err = |e: parquet::errors::ParquetError| {
            TsdbError::Segment(format!("{}: {e}", self.path.display()))
        };
        let mut ranges: Vec<(SeriesRows, Want)> = wanted
            .iter()
            .filter_map(|w| {
                let r = *self.index.get(&w.id)?;
                (r.max_ts >= w.start && r.min_ts < w.end).then_some((r, *w))
            })
            .collect();
        let mut out = HashMap::new();
        if ranges.is_empty() {
            return Ok(out);
        }
        ranges.sort_by_key(|(r, _)| r.start);
        let mut selectors = Vec::new();
        let mut at = 0;
        for (r, _) in &ranges {
            if r.start > at {
                selectors.push(RowSelector::skip(r.start - at));
            }
            selectors.push(RowSelector::select(r.len));
            at = r.start + r.len;
        }
        let file = File::open(&self.path).map_err(|e| TsdbError::io(&self.path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(seg_err)?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), [1, 2, 3, 4, 5]);
        let reader = builder
            .with_projection(mask)
            .with_row_selection(RowSelection::from(selectors))
            .build()
            .map_err(seg_err)?;
        let mut current = 0;
        let mut left = ranges[0].0.len;
        for batch in reader {
            let batch =
                batch.map_err(|e| TsdbError::Segment(format!("{}: {e}", self.path.display())))?;
            let p = &self.path;
            let ts = typed::<Int64Array>(&batch, 0, p)?;
            let fc = typed::<Float64Array>(&batch, 1, p)?;
            let ic = typed::<Int64Array>(&batch, 2, p)?;
            let bc = typed::<BooleanArray>(&batch, 3, p)?;
            let sc = typed::<StringArray>(&batch, 4, p)?;
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
                if t < want.start || t >= want.end {
                    continue;
                }
                let value = match want.value_type {
                    ValueType::F64 if !fc.is_null(k) => Value::F64(fc.value(k)),
                    ValueType::I64 if !ic.is_null(k) => Value::I64(ic.value(k)),
                    ValueType::Bool if !bc.is_null(k) => Value::Bool(bc.value(k)),
                    ValueType::Str if !sc.is_null(k) => Value::Str(sc.value(k).to_owned()),
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
