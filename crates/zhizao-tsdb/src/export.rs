//! Export of query results as CSV or Parquet, so a range of history can be
//! taken to a spreadsheet or any Parquet tool.
//!
//! Long format, one row per point: time, one column per tag key (the union
//! over the exported series, empty where a series lacks it), field, and the
//! value (Parquet: one typed column per value type, as in segments).

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::TsdbError;
use crate::model::Value;
use crate::query::QueryResult;

fn tag_keys(r: &QueryResult) -> Vec<String> {
    let keys: BTreeSet<&String> = r.series.iter().flat_map(|s| s.tags.keys()).collect();
    keys.into_iter().cloned().collect()
}

/// RFC 4180 quoting where needed.
fn csv_cell(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// RFC 3339 with nanoseconds, UTC.
fn rfc3339_ns(ts: i64) -> String {
    let secs = ts.div_euclid(1_000_000_000);
    let nanos = ts.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = zhizao_core::civil::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// CSV with a header row: `time,<tag keys…>,field,value`.
pub fn to_csv(r: &QueryResult) -> String {
    let keys = tag_keys(r);
    let mut out = String::from("time");
    for k in &keys {
        out.push(',');
        csv_cell(&mut out, k);
    }
    out.push_str(",field,value\n");
    for s in &r.series {
        let mut prefix = String::new();
        for k in &keys {
            prefix.push(',');
            csv_cell(&mut prefix, s.tags.get(k).map_or("", String::as_str));
        }
        prefix.push(',');
        csv_cell(&mut prefix, &s.field);
        prefix.push(',');
        for (ts, v) in &s.points {
            out.push_str(&rfc3339_ns(*ts));
            out.push_str(&prefix);
            match v {
                None => {}
                Some(Value::F64(x)) => out.push_str(&x.to_string()),
                Some(Value::I64(x)) => out.push_str(&x.to_string()),
                Some(Value::Bool(x)) => out.push_str(if *x { "true" } else { "false" }),
                Some(Value::Str(x)) => csv_cell(&mut out, x),
            }
            out.push('\n');
        }
    }
    out
}

/// Parquet (zstd): `time` (timestamp ns, UTC), one string column per tag
/// key, `field`, and nullable `value_f64`, `value_i64`, `value_bool`,
/// `value_str`.
pub fn to_parquet(r: &QueryResult) -> Result<Vec<u8>, TsdbError> {
    let err = |e: &dyn std::fmt::Display| TsdbError::Segment(format!("export: {e}"));
    let keys = tag_keys(r);
    let mut fields = vec![Field::new(
        "time",
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        false,
    )];
    fields.extend(
        keys.iter()
            .map(|k| Field::new(format!("tag_{k}"), DataType::Utf8, true)),
    );
    fields.push(Field::new("field", DataType::Utf8, false));
    fields.push(Field::new("value_f64", DataType::Float64, true));
    fields.push(Field::new("value_i64", DataType::Int64, true));
    fields.push(Field::new("value_bool", DataType::Boolean, true));
    fields.push(Field::new("value_str", DataType::Utf8, true));
    let schema = Arc::new(Schema::new(fields));

    let mut time = TimestampNanosecondBuilder::new().with_timezone("UTC");
    let mut tags: Vec<StringBuilder> = keys.iter().map(|_| StringBuilder::new()).collect();
    let mut field = StringBuilder::new();
    let (mut f, mut i, mut b, mut s) = (
        Float64Builder::new(),
        Int64Builder::new(),
        BooleanBuilder::new(),
        StringBuilder::new(),
    );
    for series in &r.series {
        for (ts, v) in &series.points {
            time.append_value(*ts);
            for (k, col) in keys.iter().zip(tags.iter_mut()) {
                col.append_option(series.tags.get(k));
            }
            field.append_value(&series.field);
            match v {
                Some(Value::F64(x)) => f.append_value(*x),
                _ => f.append_null(),
            }
            match v {
                Some(Value::I64(x)) => i.append_value(*x),
                _ => i.append_null(),
            }
            match v {
                Some(Value::Bool(x)) => b.append_value(*x),
                _ => b.append_null(),
            }
            match v {
                Some(Value::Str(x)) => s.append_value(x),
                _ => s.append_null(),
            }
        }
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(time.finish())];
    columns.extend(tags.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef));
    columns.push(Arc::new(field.finish()));
    columns.push(Arc::new(f.finish()));
    columns.push(Arc::new(i.finish()));
    columns.push(Arc::new(b.finish()));
    columns.push(Arc::new(s.finish()));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| err(&e))?;
    let zstd = ZstdLevel::try_new(3).map_err(|e| err(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).map_err(|e| err(&e))?;
    writer.write(&batch).map_err(|e| err(&e))?;
    writer.close().map_err(|e| err(&e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::query::SeriesResult;

    fn result() -> QueryResult {
        let mut a = BTreeMap::new();
        a.insert("equipment".to_owned(), "CUT-01".to_owned());
        let mut b = BTreeMap::new();
        b.insert("line".to_owned(), "L,1".to_owned());
        QueryResult {
            series: vec![
                SeriesResult {
                    tags: a,
                    field: "temp".into(),
                    points: vec![(0, Some(Value::F64(61.5))), (1_500_000_000, None)],
                },
                SeriesResult {
                    tags: b,
                    field: "mode".into(),
                    points: vec![(86_400_000_000_000, Some(Value::Str("say \"hi\"".into())))],
                },
            ],
            next_cursor: None,
        }
    }

    #[test]
    fn csv_has_the_union_of_tags_and_quotes_where_needed() {
        let csv = to_csv(&result());
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "time,equipment,line,field,value");
        assert_eq!(lines[1], "1970-01-01T00:00:00.000000000Z,CUT-01,,temp,61.5");
        assert_eq!(lines[2], "1970-01-01T00:00:01.500000000Z,CUT-01,,temp,");
        assert_eq!(
            lines[3],
            "1970-01-02T00:00:00.000000000Z,,\"L,1\",mode,\"say \"\"hi\"\"\""
        );
    }

    #[test]
    fn parquet_round_trips_through_a_reader() {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let bytes = to_parquet(&result()).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 3);
        let names: Vec<String> = batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            [
                "time",
                "tag_equipment",
                "tag_line",
                "field",
                "value_f64",
                "value_i64",
                "value_bool",
                "value_str"
            ]
        );
    }
}
