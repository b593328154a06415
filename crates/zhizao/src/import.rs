//! `zhizao import csv`: sends a CSV file to a running server's
//! `/api/v1/import/csv` in chunks, with a progress bar, and reports the
//! rejected rows by row and column. Chunks are re-written with the csv
//! crate, so quoted cells with line breaks stay whole.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

#[derive(Args, Debug)]
pub struct CsvImportArgs {
    /// The CSV file (with a header row).
    pub file: PathBuf,
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "ZHIZAO_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API token (`POST /api/v1/auth/tokens`) or a login token.
    #[arg(long, env = "ZHIZAO_TOKEN", hide_env_values = true)]
    pub token: String,
    #[arg(long, default_value = "telemetry")]
    pub measurement: String,
    /// Column holding each row's time (epoch or RFC 3339).
    #[arg(long, default_value = "time")]
    pub time_column: String,
    /// Unit of numeric times: s, ms, us or ns.
    #[arg(long, default_value = "ms")]
    pub time_unit: String,
    /// Columns that become tags, comma separated (e.g. equipment,line).
    #[arg(long, default_value = "")]
    pub tag_columns: String,
    /// Tags for every row, `key:value,…` (e.g. site:S1).
    #[arg(long, default_value = "")]
    pub tags: String,
    /// Rows per request.
    #[arg(long, default_value_t = 20_000)]
    pub chunk_rows: usize,
    /// Write every rejected row (row, column, message) to this CSV file.
    #[arg(long)]
    pub errors: Option<PathBuf>,
}

struct Totals {
    rows: u64,
    accepted: u64,
    rejected: u64,
    points: u64,
    errors: Vec<(u64, String, String)>,
}

pub fn run(a: &CsvImportArgs) -> Result<()> {
    let file =
        std::fs::File::open(&a.file).with_context(|| format!("opening {}", a.file.display()))?;
    let size = file.metadata()?.len();
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let header = reader
        .headers()
        .with_context(|| format!("{}: reading the header", a.file.display()))?
        .clone();
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {elapsed} ({eta} left) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut totals = Totals {
        rows: 0,
        accepted: 0,
        rejected: 0,
        points: 0,
        errors: Vec::new(),
    };
    let mut records = reader.records();
    let mut done = 0u64;
    loop {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header)?;
        let mut n = 0;
        let mut position = 0;
        for r in records.by_ref().take(a.chunk_rows) {
            match r {
                Ok(rec) => {
                    position = rec.position().map_or(position, |p| p.byte());
                    w.write_record(&rec)?;
                }
                // Unreadable here (e.g. bad UTF-8): count it, go on.
                Err(e) => totals
                    .errors
                    .push((done + n as u64 + 2, String::new(), e.to_string())),
            }
            n += 1;
        }
        if n == 0 {
            break;
        }
        let body = w.into_inner().context("building a chunk")?;
        let url = format!(
            "{}/api/v1/import/csv?measurement={}&time_column={}&time_unit={}&tag_columns={}&tags={}&first_row={}",
            a.url.trim_end_matches('/'),
            enc(&a.measurement),
            enc(&a.time_column),
            enc(&a.time_unit),
            enc(&a.tag_columns),
            enc(&a.tags),
            done + 1
        );
        let mut res = agent
            .post(&url)
            .header("authorization", &format!("Bearer {}", a.token))
            .header("content-type", "text/csv")
            .send(&body[..])
            .with_context(|| {
                format!(
                    "sending rows {}–{} to {}",
                    done + 2,
                    done + 1 + n as u64,
                    a.url
                )
            })?;
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap_or_default();
        if status != 200 {
            bar.abandon();
            bail!(
                "the server refused rows {}–{}: {status} {text}",
                done + 2,
                done + 1 + n as u64
            );
        }
        let r: Value = serde_json::from_str(&text).context("reading the server's report")?;
        let num = |k: &str| r[k].as_u64().unwrap_or(0);
        totals.rows += num("rows");
        totals.accepted += num("accepted_rows");
        totals.rejected += num("rejected_rows");
        totals.points += num("points");
        for e in r["errors"].as_array().into_iter().flatten() {
            totals.errors.push((
                e["row"].as_u64().unwrap_or(0),
                e["column"].as_str().unwrap_or("").to_owned(),
                e["message"].as_str().unwrap_or("").to_owned(),
            ));
        }
        done += n as u64;
        bar.set_position(position.min(size));
        bar.set_message(format!(
            "{} rows, {} rejected",
            totals.rows, totals.rejected
        ));
    }
    bar.finish();
    println!(
        "{} rows read: {} stored ({} values), {} rejected",
        totals.rows, totals.accepted, totals.points, totals.rejected
    );
    for (row, col, msg) in totals.errors.iter().take(20) {
        if col.is_empty() {
            println!("  row {row}: {msg}");
        } else {
            println!("  row {row}, column `{col}`: {msg}");
        }
    }
    if totals.errors.len() > 20 {
        println!("  … and {} more", totals.errors.len() - 20);
    }
    if let Some(path) = &a.errors {
        let mut w = csv::Writer::from_path(path)?;
        w.write_record(["row", "column", "message"])?;
        for (row, col, msg) in &totals.errors {
            w.write_record([row.to_string().as_str(), col, msg])?;
        }
        w.flush()?;
        println!("rejected rows written to {}", path.display());
    }
    Ok(())
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
