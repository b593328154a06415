//! `zhizao schedule`: solve and check job-shop benchmark instances. Reading
//! files and printing only; the scheduling is in `zhizao-schedule`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use zhizao_schedule::{Format, Instance, Solution, SolveOptions, check, parse, solve};

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Find a short schedule (makespan) for an instance file.
    Solve(SolveArgs),
    /// Check a solution (JSON, as `solve --json` prints it) against an
    /// instance.
    Check(CheckArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Jssp,
    Fjsp,
    /// The whole plant model (calendars, setups, due dates, links, fixed
    /// operations, objective) as JSON.
    Json,
}

#[derive(Args, Debug)]
pub struct SolveArgs {
    file: PathBuf,
    /// `jssp` (pairs of 0-based machine and duration), `fjsp`
    /// (Brandimarte) or `json` (the plant model); by the file's extension
    /// when absent (`.fjs` is fjsp, `.json` is json).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Seconds to search.
    #[arg(long, default_value_t = 10.0)]
    time_limit: f64,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Tabu iterations per thread: with it the answer depends only on
    /// seed and threads (the time limit still applies).
    #[arg(long)]
    iterations: Option<u64>,
    /// Print the solution as JSON: makespan and every operation's job,
    /// operation, machine, start and end (0-based).
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    file: PathBuf,
    solution: PathBuf,
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
}

fn read(file: &Path, format: Option<FormatArg>) -> Result<Instance> {
    let format = match format {
        Some(FormatArg::Jssp) => Format::Jssp,
        Some(FormatArg::Fjsp) => Format::Fjsp,
        Some(FormatArg::Json) => Format::Json,
        None if file.extension().is_some_and(|e| e == "fjs") => Format::Fjsp,
        None if file.extension().is_some_and(|e| e == "json") => Format::Json,
        None => Format::Jssp,
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    parse(&text, format).with_context(|| format!("{}", file.display()))
}

pub fn run(command: &ScheduleCommand) -> Result<()> {
    match command {
        ScheduleCommand::Solve(a) => {
            let inst = read(&a.file, a.format)?;
            if !(a.time_limit.is_finite() && a.time_limit >= 0.0) {
                bail!("--time-limit must be a number of seconds ≥ 0");
            }
            let options = SolveOptions {
                time_limit: Duration::from_secs_f64(a.time_limit),
                max_iterations: a.iterations,
                threads: a.threads.max(1),
                seed: a.seed,
            };
            let started = Instant::now();
            let s = solve(&inst, &options, &AtomicBool::new(false));
            if a.json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!(
                    "{}: {} jobs, {} machines, {} operations: makespan {} in {:.1} s",
                    a.file.display(),
                    inst.jobs.len(),
                    inst.machines,
                    inst.operation_count(),
                    s.makespan,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
        ScheduleCommand::Check(a) => {
            let inst = read(&a.file, a.format)?;
            let text = std::fs::read_to_string(&a.solution)
                .with_context(|| format!("reading {}", a.solution.display()))?;
            let s: Solution = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a solution", a.solution.display()))?;
            let costs = check(&inst, &s)
                .with_context(|| format!("{} is not a valid schedule", a.solution.display()))?;
            println!(
                "valid: makespan {}, weighted tardiness {}, setup time {}",
                s.makespan, costs.weighted_tardiness, costs.setup_time
            );
            Ok(())
        }
    }
}
