//! `zhizao spc analyze`: control charts, run rules and capability for a
//! case file. Reading the file and printing only; the statistics are in
//! `zhizao-spc`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Subcommand, Debug)]
pub enum SpcCommand {
    /// Analyse one case (`chart`, `params`, `data`) or a file with a
    /// `cases` list, as in spc-cases.json.
    Analyze(AnalyzeArgs),
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// The case file (JSON); `-` reads standard input.
    file: PathBuf,
    /// Print `{case id: results}` as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn run(command: &SpcCommand) -> Result<()> {
    match command {
        SpcCommand::Analyze(args) => analyze(args),
    }
}

fn analyze(args: &AnalyzeArgs) -> Result<()> {
    let text = if args.file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?
    };
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{}: not valid JSON: {e}", args.file.display()))?;
    let results = zhizao_spc::analyze(&doc).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    for (id, result) in &results {
        println!("{id}");
        if let Value::Object(map) = result {
            for (key, value) in map {
                println!("  {key:<36} {}", summary(value));
            }
        }
    }
    Ok(())
}

/// One line for a result: numbers to 6 significant places, limits as
/// `LCL … CL … UCL`, long lists by their length.
fn summary(value: &Value) -> String {
    match value {
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| n.to_string(), |v| format!("{v:.6}")),
        Value::Object(m) if m.contains_key("ucl") => format!(
            "LCL {}  CL {}  UCL {}",
            summary(&m["lcl"]),
            summary(m.get("center").unwrap_or(&Value::Null)),
            summary(&m["ucl"])
        ),
        Value::Array(list) if list.len() > 12 && list.iter().all(Value::is_number) => {
            format!("{} values", list.len())
        }
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}
