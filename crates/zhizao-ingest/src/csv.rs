//! CSV import of historical data: one row per time, a time column, some
//! tag columns, and every other column a field. A bad row is reported by
//! row and column with the reason; the good rows are kept.
//!
//! Cells: a number becomes a float, `true`/`false` a boolean, anything
//! else a string; an empty cell is no value.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zhizao_tsdb::{Point, Value};

/// How the columns of a file map to history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    pub measurement: String,
    /// The column holding each row's time.
    pub time_column: String,
    /// Unit of numeric times; RFC 3339 text is always accepted.
    #[serde(default)]
    pub time_unit: crate::TsUnit,
    /// Columns whose values become tags (e.g. `equipment`).
    #[serde(default)]
    pub tag_columns: Vec<String>,
    /// Tags set on every row (e.g. `site=S1`).
    #[serde(default)]
    pub fixed_tags: BTreeMap<String, String>,
}

/// A rejected row: 1-based row number counting the header as row 1, the
/// column (if one is to blame) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub row: u64,
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "row {}, column `{c}`: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

/// The points of a CSV text, the rejected rows, and rows read.
#[derive(Debug, Default)]
pub struct CsvBatch {
    /// (row, points of that row)
    pub rows: Vec<(u64, Vec<Point>)>,
    pub errors: Vec<RowError>,
    pub rows_read: u64,
}

/// Parses a whole CSV text (with its header). `first_row` numbers the
/// header (1 for a whole file; more for a later chunk of one).
pub fn parse_csv(text: &str, m: &CsvMapping, first_row: u64) -> Result<CsvBatch, RowError> {
    let header_err = |message: String| RowError {
        row: first_row,
        column: None,
        message,
    };
    if m.measurement.is_empty() {
        return Err(header_err("the mapping's measurement is empty".into()));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| header_err(format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let find = |name: &str| header.iter().position(|h| h == name);
    let time_at = find(&m.time_column).ok_or_else(|| {
        header_err(format!(
            "no time column `{}` in the header ({})",
            m.time_column,
            header.join(", ")
        ))
    })?;
    let mut tag_at = Vec::new();
    for t in &m.tag_columns {
        tag_at.push((
            t.clone(),
            find(t).ok_or_else(|| header_err(format!("no tag column `{t}` in the header")))?,
        ));
    }
    let fields: Vec<(usize, Arc<str>)> = header
        .iter()
        .enumerate()
        .filter(|(i, h)| *i != time_at && !tag_at.iter().any(|(_, j)| j == i) && !h.is_empty())
        .map(|(i, h)| (i, Arc::from(h.as_str())))
        .collect();
    if fields.is_empty() {
        return Err(header_err(
            "no field columns: every column is the time or a tag".into(),
        ));
    }
    let measurement: Arc<str> = Arc::from(m.measurement.as_str());
    let mut out = CsvBatch::default();
    for (k, record) in reader.records().enumerate() {
        let row = first_row + 1 + k as u64;
        out.rows_read += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(RowError {
                    row,
                    column: None,
                    message: format!("unreadable: {e}"),
                });
                continue;
            }
        };
        let fail = |column: &str, message: String| RowError {
            row,
            column: Some(column.to_owned()),
            message,
        };
        if record.len() > header.len() {
            out.errors.push(RowError {
                row,
                column: None,
                message: format!("{} cells, the header has {}", record.len(), header.len()),
            });
            continue;
        }
        let cell = |i: usize| record.get(i).map(str::trim).unwrap_or("");
        let ts = match parse_time(cell(time_at), m.time_unit) {
            Ok(t) => t,
            Err(e) => {
                out.errors.push(fail(&m.time_column, e));
                continue;
            }
        };
        let mut tags: Vec<(String, String)> = m
            .fixed_tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut bad = None;
        for (name, i) in &tag_at {
            let v = cell(*i);
            if v.is_empty() {
                bad = Some(fail(name, "a tag must not be empty".into()));
                break;
            }
            tags.push((name.clone(), v.to_owned()));
        }
        if let Some(e) = bad {
            out.errors.push(e);
            continue;
        }
        let tags = Arc::new(tags);
        let mut points = Vec::new();
        for (i, name) in &fields {
            let v = cell(*i);
            if v.is_empty() {
                continue;
            }
            let value = match v {
                "true" | "TRUE" | "True" => Value::Bool(true),
                "false" | "FALSE" | "False" => Value::Bool(false),
                _ => match v.parse::<f64>() {
                    Ok(x) if x.is_finite() => Value::F64(x),
                    Ok(_) => {
                        bad = Some(fail(name, format!("`{v}` is not a finite number")));
                        break;
                    }
                    Err(_) => Value::Str(v.to_owned()),
                },
            };
            points.push(Point {
                measurement: measurement.clone(),
                tags: tags.clone(),
                field: name.clone(),
                ts,
                value,
            });
        }
        match bad {
            Some(e) => out.errors.push(e),
            None if points.is_empty() => out.errors.push(RowError {
                row,
                column: None,
                message: "no values in any field column".into(),
            }),
            None => out.rows.push((row, points)),
        }
    }
    Ok(out)
}

fn parse_time(s: &str, unit: crate::TsUnit) -> Result<i64, String> {
    if s.is_empty() {
        return Err("no time".into());
    }
    if let Ok(n) = s.parse::<i64>() {
        return n
            .checked_mul(unit.factor())
            .ok_or_else(|| format!("`{s}` is out of range"));
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos()).ok())
        .ok_or_else(|| format!("`{s}` is neither an epoch number nor an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> CsvMapping {
        CsvMapping {
            measurement: "telemetry".into(),
            time_column: "time".into(),
            time_unit: crate::TsUnit::Ms,
            tag_columns: vec!["equipment".into()],
            fixed_tags: [("site".to_owned(), "S1".to_owned())].into(),
        }
    }

    #[test]
    fn rows_become_points_and_bad_rows_are_named() {
        let text = "time,equipment,temp,mode,ok\n\
                    1700000000000,CUT-01,61.5,auto,true\n\
                    2023-11-14T22:13:21Z,CUT-02,,manual,\n\
                    yesterday,CUT-01,1,a,true\n\
                    1700000002000,,1,a,true\n\
                    1700000003000,CUT-01,inf,a,true\n\
                    1700000004000,CUT-01,,,\n\
                    1700000005000,CUT-01,1,a,true,extra\n";
        let b = parse_csv(text, &mapping(), 1).unwrap();
        assert_eq!(b.rows_read, 7);
        assert_eq!(b.rows.len(), 2);
        assert_eq!(b.rows[0].0, 2);
        assert_eq!(b.rows[0].1.len(), 3);
        assert_eq!(b.rows[1].1.len(), 1, "empty cells are no value");
        assert_eq!(b.rows[1].1[0].ts, 1_700_000_001_000_000_000);
        assert_eq!(
            *b.rows[0].1[0].tags,
            vec![
                ("site".into(), "S1".into()),
                ("equipment".into(), "CUT-01".into())
            ]
        );
        let got: Vec<(u64, Option<&str>)> = b
            .errors
            .iter()
            .map(|e| (e.row, e.column.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (4, Some("time")),
                (5, Some("equipment")),
                (6, Some("temp")),
                (7, None),
                (8, None)
            ]
        );
        assert!(
            b.errors[0].to_string().starts_with("row 4, column `time`:"),
            "{}",
            b.errors[0]
        );
    }

    #[test]
    fn header_problems_stop_the_file() {
        let e = parse_csv("when,temp\n1,2\n", &mapping(), 1).unwrap_err();
        assert!(e.message.contains("time"), "{e}");
        let e = parse_csv("time,equipment\n1,a\n", &mapping(), 1).unwrap_err();
        assert!(e.message.contains("no field columns"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_parsed_or_refused_without_panicking(text in "\\PC{0,300}") {
            if let Ok(b) = parse_csv(&text, &mapping(), 1) {
                proptest::prop_assert_eq!(b.rows.len() as u64 + b.errors.len() as u64, b.rows_read);
            }
        }
    }
}
