//! `zhizao`: the command line and the wiring of the platform's parts.
//! Nothing else lives here; each capability is a library crate.

mod import;
mod notify;
mod plan;
mod schedule;
mod spc;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use zhizao_config::{Overrides, Settings};
use zhizao_live::LiveHub;
use zhizao_store::{LoginOutcome, Store};
use zhizao_tsdb::{Tsdb, TsdbConfig};

// Ingest allocates many short-lived buffers on several threads; glibc's
// per-thread arenas let the resident size grow well past the live data.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "zhizao",
    version,
    about = "智造云 Zhizao — smart-manufacturing platform"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Settings shared by every command; each also reads `ZHIZAO_*` from the environment.
#[derive(Args, Debug)]
struct Common {
    /// TOML configuration file (flags and environment win over it).
    #[arg(long, global = true, env = "ZHIZAO_CONFIG")]
    config: Option<PathBuf>,
    /// Folder for the embedded database and other local data [default: zhizao-data].
    #[arg(long, global = true, env = "ZHIZAO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to serve HTTP on [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "ZHIZAO_LISTEN")]
    listen: Option<String>,
    /// `sqlite://FILE` or `postgres://…` [default: SQLite file in the data dir].
    #[arg(long, global = true, env = "ZHIZAO_DATABASE_URL")]
    database_url: Option<String>,
    /// Log filter, e.g. `info` or `zhizao_api=debug` [default: info].
    #[arg(long, global = true, env = "ZHIZAO_LOG")]
    log: Option<String>,
    /// Largest accepted request body in bytes [default: 1048576].
    #[arg(long, global = true, env = "ZHIZAO_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Demo simulator speed-up; 1 is real time [default: 1].
    #[arg(long, global = true, env = "ZHIZAO_SIM_SPEED")]
    sim_speed: Option<f64>,
    /// How long history keeps raw points, e.g. `90d`, or `forever` [default: 90d].
    #[arg(long, global = true, env = "ZHIZAO_RAW_RETENTION")]
    raw_retention: Option<String>,
    /// How long history keeps 1-minute rollups [default: 2y].
    #[arg(long, global = true, env = "ZHIZAO_MINUTE_RETENTION")]
    minute_retention: Option<String>,
    /// How long history keeps hourly rollups [default: forever].
    #[arg(long, global = true, env = "ZHIZAO_HOUR_RETENTION")]
    hour_retention: Option<String>,
    /// Built-in MQTT endpoint address, or `off` [default: 127.0.0.1:1883].
    #[arg(long, global = true, env = "ZHIZAO_MQTT_LISTEN")]
    mqtt_listen: Option<String>,
    /// Client mode: subscribe to this external broker (host:port) with a
    /// shared subscription; credentials from ZHIZAO_MQTT_BROKER_USER and
    /// ZHIZAO_MQTT_BROKER_PASSWORD.
    #[arg(long, global = true, env = "ZHIZAO_MQTT_BROKER")]
    mqtt_broker: Option<String>,
    /// This node's stable client id at the broker [default: zhizao-node].
    #[arg(long, global = true, env = "ZHIZAO_MQTT_CLIENT_ID")]
    mqtt_client_id: Option<String>,
    /// MQTT over TLS: the endpoint's address, e.g. 0.0.0.0:8883 [default: off].
    #[arg(long, global = true, env = "ZHIZAO_MQTT_TLS_LISTEN")]
    mqtt_tls_listen: Option<String>,
    /// PEM file with the TLS certificate chain (server certificate first).
    #[arg(long, global = true, env = "ZHIZAO_MQTT_TLS_CERT")]
    mqtt_tls_cert: Option<PathBuf>,
    /// PEM file with the TLS private key.
    #[arg(long, global = true, env = "ZHIZAO_MQTT_TLS_KEY")]
    mqtt_tls_key: Option<PathBuf>,
    /// Post alarm notifications to this URL (DingTalk/WeCom text messages).
    #[arg(long, global = true, env = "ZHIZAO_ALARM_WEBHOOK")]
    alarm_webhook: Option<String>,
    /// Print the effective configuration and exit.
    #[arg(long, global = true)]
    print_config: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the platform.
    Serve(ServeArgs),
    /// Run the platform with the demo plant and its simulator.
    Demo(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI 3.1 document and exit.
    Openapi,
    /// Run a benchmark and print its figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Import historical data into a running server.
    #[command(subcommand)]
    Import(ImportCommand),
    /// ISO 22400-2 KPIs.
    #[command(subcommand)]
    Kpi(KpiCommand),
    /// Production planning on a plant file: MRP, capacity, promising.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// Job-shop scheduling of benchmark instances: solve, check.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Statistical process control: control charts, run rules, capability.
    #[command(subcommand)]
    Spc(spc::SpcCommand),
}

#[derive(Subcommand, Debug)]
enum KpiCommand {
    /// Compute every KPI for each case of a worked-example file (a `cases`
    /// list with time elements and quantities under `inputs`).
    Compute(KpiComputeArgs),
}

#[derive(Args, Debug)]
struct KpiComputeArgs {
    /// The cases file (JSON), e.g. kpi-cases.json.
    file: PathBuf,
    /// Print `{case id: {kpi: value}}` as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// A CSV file: a time column, tag columns, every other column a field.
    Csv(import::CsvImportArgs),
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Time-series store: ingest the standard data set (500 devices × 10
    /// fields × 1,000 s), then time three dashboard queries.
    Tsdb(TsdbBenchArgs),
    /// Built-in MQTT endpoint: devices publish QoS 1 JSON telemetry as fast
    /// as acknowledgements allow, then again at half that rate for latency.
    Mqtt(MqttBenchArgs),
    /// KPI recomputation: a month of one-second state data for many
    /// machines, accounted per shift and for the month.
    Kpi(KpiBenchArgs),
    /// The live path: machines report state changes over MQTT every
    /// second, screens watch the live WebSocket; latency to the screens.
    Live(LiveBenchArgs),
    /// MRP: a regenerative run and net changes on a generated plant
    /// (20,000 items, BOMs 6 levels deep, open customer orders, weekly
    /// buckets).
    Mrp(MrpBenchArgs),
    /// Rescheduling after a breakdown: 1,000 operations on 40 machines
    /// with shifts and setups; the repair timed and its moves counted.
    Reschedule(RescheduleBenchArgs),
    /// Traceability: a million-unit pump genealogy in the embedded store,
    /// then backward and forward questions timed.
    Trace(TraceBenchArgs),
}

#[derive(Args, Debug)]
struct TraceBenchArgs {
    /// Pumps assembled (each with a casing, a shaft and an impeller serial).
    #[arg(long, default_value_t = 250_000)]
    pumps: usize,
    /// Material lots the parts are made from.
    #[arg(long, default_value_t = 3_000)]
    lots: usize,
    /// Questions each way.
    #[arg(long, default_value_t = 200)]
    questions: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RescheduleBenchArgs {
    /// Seconds to search the schedule that then breaks.
    #[arg(long, default_value_t = 10.0)]
    solve_seconds: f64,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct MrpBenchArgs {
    /// Open customer orders.
    #[arg(long, default_value_t = 5_000)]
    orders: usize,
    /// Weekly buckets planned.
    #[arg(long, default_value_t = 52)]
    buckets: usize,
    /// Net changes of one order, and order promises, to time.
    #[arg(long, default_value_t = 50)]
    changes: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also through the platform: the plant stored, runs and promises
    /// asked over HTTP.
    #[arg(long)]
    platform: bool,
}

#[derive(Args, Debug)]
struct LiveBenchArgs {
    #[arg(long, default_value_t = 500)]
    machines: usize,
    #[arg(long, default_value_t = 50)]
    screens: usize,
    /// Measured seconds (after 3 s of warm-up).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct KpiBenchArgs {
    #[arg(long, default_value_t = 500)]
    machines: usize,
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct MqttBenchArgs {
    /// Devices publishing at once.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Messages per device in each run (10 values each).
    #[arg(long, default_value_t = 2000)]
    messages: u64,
    /// Client mode instead: devices publish to this broker (host:port),
    /// taken off by a plain subscriber (the broker's own rate) and then by
    /// a Zhizao node in client mode.
    #[arg(long)]
    broker: Option<String>,
    /// Print the reports as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct TsdbBenchArgs {
    /// The ten-times-longer data set (50,000,000 values).
    #[arg(long)]
    long: bool,
    /// Send to this InfluxDB 1.x-compatible write URL (e.g.
    /// `http://127.0.0.1:8086/write?db=bench`) instead of an embedded store.
    #[arg(long)]
    url: Option<String>,
    /// `Authorization` header value for `--url`, e.g. `Token …`.
    #[arg(long, env = "ZHIZAO_BENCH_AUTH", hide_env_values = true)]
    auth: Option<String>,
    /// Batches in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Lines per batch.
    #[arg(long, default_value_t = 5000)]
    batch_lines: usize,
    /// Store folder for the embedded run [default: a new temporary folder].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Password for the `admin` account created on first start; generated
    /// and printed once when not given.
    #[arg(long, env = "ZHIZAO_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Seed of the demo simulator.
    #[arg(long, env = "ZHIZAO_SIM_SEED", default_value_t = 20261129)]
    sim_seed: u64,
}

impl Common {
    fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            log: self.log.clone(),
            max_body_bytes: self.max_body_bytes,
            sim_speed: self.sim_speed,
            raw_retention: self.raw_retention.clone(),
            minute_retention: self.minute_retention.clone(),
            hour_retention: self.hour_retention.clone(),
            mqtt_listen: self.mqtt_listen.clone(),
            mqtt_broker: self.mqtt_broker.clone(),
            mqtt_client_id: self.mqtt_client_id.clone(),
            mqtt_tls_listen: self.mqtt_tls_listen.clone(),
            mqtt_tls_cert: self.mqtt_tls_cert.clone(),
            mqtt_tls_key: self.mqtt_tls_key.clone(),
            alarm_webhook: self.alarm_webhook.clone(),
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = Settings::resolve(cli.common.overrides(), cli.common.config.as_deref())?;
    if cli.common.print_config {
        println!("{}", toml::to_string_pretty(&settings)?);
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&settings.log)
                .with_context(|| format!("log filter `{}`", settings.log))?,
        )
        .with_writer(std::io::stderr)
        .init();
    if let Command::Bench(BenchCommand::Tsdb(args)) = cli.command {
        return bench_tsdb(args);
    }
    if let Command::Bench(BenchCommand::Mqtt(args)) = cli.command {
        return bench_mqtt(args);
    }
    if let Command::Bench(BenchCommand::Live(args)) = &cli.command {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let r = runtime.block_on(zhizao_bench::live::run(
            args.machines,
            args.screens,
            args.seconds,
        ))?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            println!(
                "{} machines (state change each second, 10 MQTT gateways) → {} screens (WebSocket clients), {} s measured",
                r.machines, r.screens, r.seconds
            );
            println!(
                "{} messages received ({:.1} % of those sent); stamp → screen ms p50 {:.1}, p99 {:.1}, max {:.1}",
                r.received,
                r.delivered_share * 100.0,
                r.latency_ms.0,
                r.latency_ms.1,
                r.latency_ms.2
            );
            println!(
                "line KPI push, {} rounds: ms p50 {:.1}, max {:.1}; the same read whole, {} rounds: ms p50 {:.1}, max {:.1}",
                r.push_round_ms.0,
                r.push_round_ms.1,
                r.push_round_ms.2,
                r.whole_read_ms.0,
                r.whole_read_ms.1,
                r.whole_read_ms.2
            );
        }
        return Ok(());
    }
    if let Command::Bench(BenchCommand::Trace(args)) = &cli.command {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let r = runtime.block_on(zhizao_bench::trace::run(
            args.pumps,
            args.lots,
            args.questions,
            args.seed,
        ))?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            println!(
                "{} units, {} links loaded in {:.1} s ({:.0} MB)",
                r.units, r.links, r.load_s, r.database_mb
            );
            for (name, (n, median, max, size)) in [
                ("backward, cold", r.backward_cold),
                ("backward, warm", r.backward_warm),
                ("forward, cold", r.forward_cold),
                ("forward, warm", r.forward_warm),
            ] {
                println!(
                    "{name}: {n} questions, ms median {median:.2}, slowest {max:.2}; {size:.0} units an answer"
                );
            }
        }
        return Ok(());
    }
    if let Command::Bench(BenchCommand::Reschedule(args)) = &cli.command {
        let r = zhizao_bench::reschedule::run(args.seed, args.solve_seconds, args.threads)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            println!(
                "{} operations on {} machines, searched {:.0} s: makespan {} min, weighted tardiness {} min",
                r.operations, r.machines, r.solve_seconds, r.makespan_min, r.weighted_tardiness_min
            );
            println!(
                "machine {} down 10:00–14:00: {} operations reached by the breakdown",
                r.broken_machine, r.reached
            );
            println!(
                "repair: {:.2} ms median, {:.2} ms slowest; {} moved, {} of them not reached; weighted tardiness {} min",
                r.repair_ms.0,
                r.repair_ms.1,
                r.repair_moved,
                r.repair_moved_unreached,
                r.repair_tardiness_min
            );
            println!(
                "repair + 1 s search (disruption weighed): {:.0} ms; {} moved; weighted tardiness {} min",
                r.improve_ms, r.improve_moved, r.improve_tardiness_min
            );
        }
        return Ok(());
    }
    if let Command::Bench(BenchCommand::Mrp(args)) = &cli.command {
        let r = zhizao_bench::mrp::run(args.orders, args.buckets, args.changes)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            println!(
                "{} items, {} BOM lines, {} customer orders, {} buckets: {} planned orders, {} exceptions",
                r.items, r.bom_lines, r.orders, r.buckets, r.planned_orders, r.exceptions
            );
            println!(
                "regenerative run ms: {} (median {:.1})",
                r.regenerate_ms
                    .iter()
                    .map(|x| format!("{x:.1}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                r.regenerate_median_ms
            );
            println!(
                "net change of one order, {} runs: ms median {:.2}, max {:.2}; items replanned median {}, max {}",
                r.net_change_ms.0,
                r.net_change_ms.1,
                r.net_change_ms.2,
                r.net_change_items.0,
                r.net_change_items.1
            );
            println!(
                "rough-cut load on {} work centres: {:.1} ms, {} overloaded centre-weeks",
                r.work_centres, r.rough_cut_ms, r.overloads
            );
            println!(
                "order promising, {} new orders: ms median {:.2}, max {:.2}; {} promised within the horizon",
                r.promise_ms.0, r.promise_ms.1, r.promise_ms.2, r.promised
            );
        }
        if args.platform {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let p = runtime.block_on(zhizao_bench::mrp_platform::run(
                args.orders,
                args.buckets,
                args.changes,
            ))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                println!(
                    "through the platform: {} items, {} orders, {} open work orders stored (master data {:.0} ms)",
                    p.items, p.orders, p.work_orders, p.store_master_ms
                );
                println!(
                    "POST /plan/runs regenerative ms: {} (planning in the server {}); run {:.1} MB",
                    p.regenerate_ms
                        .iter()
                        .map(|x| format!("{x:.0}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    p.regenerate_server_ms
                        .iter()
                        .map(|x| format!("{x:.0}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    p.run_bytes as f64 / 1e6
                );
                println!(
                    "PUT /orders then POST /plan/runs net change, {} times: ms median {:.1}, max {:.1}",
                    p.net_change_ms.0, p.net_change_ms.1, p.net_change_ms.2
                );
                println!(
                    "POST /plan/promise, {} orders: ms median {:.1}, max {:.1}; {} on time",
                    p.promise_ms.0, p.promise_ms.1, p.promise_ms.2, p.promised_on_time
                );
            }
        }
        return Ok(());
    }
    if let Command::Bench(BenchCommand::Kpi(args)) = &cli.command {
        let r = zhizao_bench::kpi::run(args.machines, args.days)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            println!(
                "{} machines × {} days: {} state changes, {} counter samples, {} shifts each",
                r.machines, r.days, r.state_changes, r.counter_samples, r.shifts_per_machine
            );
            println!(
                "recomputed every shift and month in {:.3} s on {} threads (data generated in {:.1} s); mean month OEE {:.3}",
                r.recompute_s, r.threads, r.generate_s, r.mean_oee
            );
        }
        return Ok(());
    }
    if let Command::Import(ImportCommand::Csv(args)) = &cli.command {
        return import::run(args);
    }
    if let Command::Kpi(KpiCommand::Compute(args)) = &cli.command {
        return kpi_compute(args);
    }
    if let Command::Plan(command) = &cli.command {
        return plan::run(command);
    }
    if let Command::Schedule(command) = &cli.command {
        return schedule::run(command);
    }
    if let Command::Spc(command) = &cli.command {
        return spc::run(command);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(settings, args, false).await,
            Command::Demo(args) => serve(settings, args, true).await,
            Command::Migrate => {
                let store = open_store(&settings).await?;
                store.close().await;
                println!("migrations applied to {}", redact(&settings.database_url));
                Ok(())
            }
            // Benchmarks and imports run before this runtime is built.
            Command::Bench(_)
            | Command::Import(_)
            | Command::Kpi(_)
            | Command::Plan(_)
            | Command::Schedule(_)
            | Command::Spc(_) => Ok(()),
            Command::Openapi => {
                println!("{}", serde_json::to_string_pretty(zhizao_api::openapi())?);
                Ok(())
            }
        }
    })
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} batches {elapsed} ({eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn kpi_compute(args: &KpiComputeArgs) -> Result<()> {
    use std::io::Write;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", args.file.display()))?;
    let results = zhizao_kpi::reference::compute_all(&doc)
        .with_context(|| format!("in {}", args.file.display()))?;
    let mut out = std::io::stdout().lock();
    let written = (|| -> std::io::Result<()> {
        if args.json {
            return writeln!(out, "{}", serde_json::to_string_pretty(&results)?);
        }
        for (id, kpis) in results.as_object().into_iter().flatten() {
            writeln!(out, "{id}")?;
            for (name, v) in kpis.as_object().into_iter().flatten() {
                match v.as_f64() {
                    Some(x) => writeln!(out, "  {name:36} {x:>12.6}")?,
                    None => writeln!(out, "  {name:36} {:>12}", "—")?,
                }
            }
        }
        Ok(())
    })();
    match written {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Client mode through an external broker, next to the broker's own rate.
fn bench_mqtt_broker(
    runtime: &tokio::runtime::Runtime,
    broker: &str,
    args: &MqttBenchArgs,
) -> Result<()> {
    use zhizao_bench::mqtt::{Consumer, run_broker};
    let (host, port) = broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .with_context(|| format!("--broker `{broker}` is not host:port"))?;
    let b = (host, port);
    let run = |c, m, rate| runtime.block_on(run_broker(b.clone(), c, args.devices, m, rate));
    let plain = run(Consumer::Plain, args.messages, None)?;
    let full = run(Consumer::Zhizao, args.messages, None)?;
    let half_rate = full.messages_per_s / 2.0 / args.devices as f64;
    let half = run(
        Consumer::Zhizao,
        (args.messages / 2).max(1),
        Some(half_rate),
    )?;
    let plain_half = run(Consumer::Plain, (args.messages / 2).max(1), Some(half_rate))?;
    let all = [&plain, &full, &half, &plain_half];
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    println!(
        "{} devices → broker {broker} → consumer; QoS 1, 10 values a message; clients: rumqttc in this process",
        args.devices
    );
    for (name, r) in [
        ("broker alone, full rate", &plain),
        ("Zhizao client mode, full rate", &full),
        ("Zhizao client mode, half rate", &half),
        ("broker alone, same half rate", &plain_half),
    ] {
        println!(
            "{name:31} {:>8.0} messages/s {:>9.0} points/s; publish→{} ms p50 {:.1}, p99 {:.1}, max {:.1}",
            r.messages_per_s,
            r.points_per_s,
            if r.consumer == Consumer::Plain {
                "received"
            } else {
                "durable"
            },
            r.latency_ms.0,
            r.latency_ms.1,
            r.latency_ms.2
        );
    }
    println!(
        "Zhizao / broker alone at full rate: {:.2}",
        full.messages_per_s / plain.messages_per_s
    );
    Ok(())
}

fn bench_mqtt(args: MqttBenchArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(broker) = &args.broker {
        return bench_mqtt_broker(&runtime, broker, &args);
    }
    let full = runtime.block_on(zhizao_bench::mqtt::run(args.devices, args.messages, None))?;
    // Half the measured rate, spread over the devices.
    let half = full.points_per_s / 2.0 / 10.0 / args.devices as f64;
    let paced = runtime.block_on(zhizao_bench::mqtt::run(
        args.devices,
        (args.messages / 2).max(1),
        Some(half),
    ))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&[&full, &paced])?);
        return Ok(());
    }
    println!(
        "{} devices, QoS 1, 10 values a message, client: rumqttc in this process, loopback",
        args.devices
    );
    for (name, r) in [("full rate", &full), ("half rate", &paced)] {
        println!(
            "{name:10} {:>10.0} points/s ({} messages in {:.2} s); publish→PUBACK ms p50 {:.1}, p99 {:.1}, max {:.1}",
            r.points_per_s, r.messages, r.seconds, r.latency_ms.0, r.latency_ms.1, r.latency_ms.2
        );
    }
    Ok(())
}

fn bench_tsdb(args: TsdbBenchArgs) -> Result<()> {
    use zhizao_bench::Dataset;
    let base = if args.long {
        Dataset::long()
    } else {
        Dataset::standard()
    };
    anyhow::ensure!(args.batch_lines > 0, "--batch-lines must be at least 1");
    let d = Dataset {
        batch_lines: args.batch_lines,
        ..base
    };
    eprintln!(
        "data set: {} devices × {} fields × {} s = {} lines, {} values; batches of {} lines, {} in flight",
        d.devices,
        zhizao_bench::dataset::FIELDS,
        d.seconds,
        d.lines(),
        d.points(),
        d.batch_lines,
        args.concurrency
    );
    let total = d.lines().div_ceil(d.batch_lines as u64);
    let bar = progress_bar(total);
    let progress = |n: u64, _total: u64| bar.set_position(n);
    if let Some(url) = &args.url {
        let report =
            zhizao_bench::run_http(&d, url, args.auth.as_deref(), args.concurrency, &progress)?;
        bar.finish_and_clear();
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("target        {}", report.target);
            println!(
                "ingest        {:.0} values/s, {:.0} lines/s ({:.2} s)",
                report.points_per_s, report.lines_per_s, report.seconds
            );
        }
        return Ok(());
    }
    let temp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_owned()
        }
    };
    let report = zhizao_bench::run_embedded(&d, &dir, args.concurrency, &progress)?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let i = &report.ingest;
        println!("target        {}", i.target);
        println!(
            "ingest        {:.0} values/s, {:.0} lines/s ({:.2} s)",
            i.points_per_s, i.lines_per_s, i.seconds
        );
        println!(
            "on disk       {} bytes in segments + {} in rollups, {:.3} bytes/value",
            report.segment_bytes, report.rollup_bytes, report.bytes_per_point
        );
        if let Some(rss) = report.peak_rss_mib {
            println!("peak RSS      {rss:.0} MiB");
        }
        for q in &report.queries {
            println!(
                "query         {:<55} cold {:>8.2} ms  warm {:>8.2} ms  ({} series)",
                q.name, q.cold_ms, q.warm_ms, q.series_returned
            );
        }
    }
    Ok(())
}

/// Hides a password in a database URL before printing it.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn open_store(settings: &Settings) -> Result<Store> {
    let store = Store::connect(&settings.database_url)
        .await
        .with_context(|| format!("opening database {}", redact(&settings.database_url)))?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// Applies a tenant's stored alarm rules. Rules that no longer load (a
/// newer version wrote them) are reported and left out, not fatal.
async fn load_alarm_rules(store: &Store, hub: &LiveHub, tenant: i64) {
    let rules = match store.alarm_rules(tenant).await {
        Ok(Some(json)) => json,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(tenant, error = %e, "alarm rules unreadable");
            return;
        }
    };
    let first = next_alarm_id(store, tenant).await;
    let applied = serde_json::from_str::<Vec<zhizao_alarm::Rule>>(&rules)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            hub.alarms
                .set_rules_from(tenant, r, first)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = applied {
        tracing::error!(tenant, error = %e, "stored alarm rules not applied");
        return;
    }
    // Alarms that were not over at the last stop stay on the list.
    match store.open_alarms(tenant).await {
        Ok(open) => {
            let alarms: Vec<zhizao_alarm::Alarm> = open
                .iter()
                .filter_map(|j| serde_json::from_str(j).ok())
                .collect();
            let unreadable = open.len() - alarms.len();
            let taken = hub.alarms.restore(tenant, alarms);
            if taken > 0 || unreadable > 0 {
                tracing::info!(tenant, taken, unreadable, "open alarms restored");
            }
        }
        Err(e) => tracing::error!(tenant, error = %e, "open alarms unreadable"),
    }
}

/// Applies a tenant's stored state rules; unreadable ones are reported.
async fn load_state_rules(store: &Store, hub: &LiveHub, tenant: i64) {
    let json = match store.state_rules(tenant).await {
        Ok(Some(j)) => j,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(tenant, error = %e, "state rules unreadable");
            return;
        }
    };
    let compiled = serde_json::from_str::<zhizao_kpi::state_rules::StateRuleSet>(&json)
        .map_err(|e| e.to_string())
        .and_then(|set| {
            zhizao_kpi::state_rules::StateRules::compile(&set).map_err(|e| e.to_string())
        });
    match compiled {
        Ok(rules) => hub.set_state_rules(tenant, rules),
        Err(e) => tracing::error!(tenant, error = %e, "stored state rules not applied"),
    }
}

/// The id after the largest one in a tenant's alarm journal.
async fn next_alarm_id(store: &Store, tenant: i64) -> u64 {
    match store.max_alarm_id(tenant).await {
        Ok(max) => max.and_then(|m| u64::try_from(m).ok()).unwrap_or(0) + 1,
        Err(e) => {
            tracing::error!(tenant, error = %e, "alarm journal unreadable; ids may repeat");
            1
        }
    }
}

/// Runs the alarm conditions that time alone decides, every second.
async fn alarm_ticks(hub: Arc<LiveHub>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        let events = hub.alarms.tick(zhizao_live::now_ms());
        let mut by_tenant: std::collections::BTreeMap<i64, Vec<_>> = Default::default();
        for (tenant, at, e) in events {
            by_tenant.entry(tenant).or_default().push((at, e));
        }
        for (tenant, events) in by_tenant {
            hub.alarm_events(tenant, events);
        }
    }
}

/// On the demo's first start: its planning data, and a first MRP run so
/// the plan, the capacity chart and the screen have something to show.
async fn seed_demo_planning(state: &zhizao_api::AppState) -> Result<()> {
    use zhizao_api::planning::{RunRequest, run_mrp, today};
    let plain = |e: zhizao_api::error::ApiError| anyhow::anyhow!("{}", e.message);
    let tenant = state
        .store
        .tenant_by_code("default")
        .await?
        .context("the default tenant is missing")?;
    let today = today(state, tenant.id).await.map_err(plain)?;
    if zhizao_sim::planning::seed(&state.store, tenant.id, today).await? {
        run_mrp(state, tenant.id, "demo", &RunRequest::regenerate(None))
            .await
            .map_err(plain)?;
        tracing::info!("seeded the demo planning data and ran MRP");
    }
    if state.store.current_schedule(tenant.id).await?.is_none() {
        let run = zhizao_api::scheduling::RunBody::default();
        zhizao_api::scheduling::run_schedule(state, (tenant.id, "demo"), &run, 3.0)
            .await
            .map_err(plain)?;
        tracing::info!("scheduled the demo's released work orders");
    }
    Ok(())
}

/// Hands gauge readings from MQTT to quality.
struct GaugeSink(zhizao_api::AppState);

impl zhizao_mqtt::gateway::MeasurementSink for GaugeSink {
    fn record<'a>(
        &'a self,
        tenant: i64,
        equipment: &'a str,
        reading: zhizao_ingest::GaugeReading,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            zhizao_api::quality::record_reading(&self.0, tenant, equipment, reading)
                .await
                .map(|_| ())
                .map_err(|e| e.message)
        })
    }
}

/// The demo's inspectors and connected gauges: every round, a sample of
/// each demo characteristic, recorded as the API records one (so charts,
/// run rules and alarms follow).
async fn inspect(state: zhizao_api::AppState, tenant: i64, seed: u64, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = inspection_round(&state, tenant, seed).await {
            tracing::warn!(error = %e, "the demo inspectors could not record");
        }
    }
}

async fn inspection_round(state: &zhizao_api::AppState, tenant: i64, seed: u64) -> Result<()> {
    for c in state.store.list_characteristics(tenant).await? {
        let last = state.store.recent_samples(tenant, c.id, 1).await?;
        let k = last.first().map_or(1, |s| s.number + 1);
        if let Some(sample) =
            zhizao_sim::quality::sample(&c.characteristic, k, zhizao_store::now_ms(), seed)
        {
            zhizao_api::quality::record_sample(state, tenant, &c, &sample)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        }
    }
    Ok(())
}

/// The demo's shop floor works to the current schedule: every half
/// minute, what each scheduled operation has made by now at its order's
/// pace is reported, and orders start and complete as their quantities
/// come in. Errors are logged; the next round tries again.
async fn follow_schedule(store: zhizao_store::Store, seed: u64) {
    let mut every = tokio::time::interval(Duration::from_secs(30));
    loop {
        every.tick().await;
        if let Err(e) = shop_floor_round(&store, seed).await {
            tracing::warn!(error = %e, "the demo shop floor could not report");
        }
    }
}

async fn shop_floor_round(store: &zhizao_store::Store, seed: u64) -> Result<()> {
    use std::collections::HashMap;
    use zhizao_sim::shopfloor::{PlannedWork, reports};
    let tenant = store
        .tenant_by_code("default")
        .await?
        .context("the default tenant is missing")?;
    let Some(version) = store.current_schedule(tenant.id).await? else {
        return Ok(());
    };
    let body: zhizao_api::scheduling::plant::Body = serde_json::from_str(&version.body)?;
    let plan: Vec<PlannedWork> = body
        .operations
        .iter()
        .map(|o| PlannedWork {
            work_order_id: o.work_order_id,
            seq: o.seq,
            start_ms: o.start_ms,
            end_ms: o.end_ms,
            quantity: o.quantity,
        })
        .collect();
    let orders = store.open_work_orders_with_operations(tenant.id).await?;
    let mut done = HashMap::new();
    let mut ordered = HashMap::new();
    for (o, ops) in &orders {
        ordered.insert(o.id, o.quantity);
        for op in ops {
            done.insert((o.id, op.seq), op.qty_good + op.qty_scrap);
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let made = reports(&plan, &done, &ordered, now, seed);
    for r in &made {
        store
            .report_work_order_operation(tenant.id, r.work_order_id, r.seq, r.good, r.scrap)
            .await?;
        *done.entry((r.work_order_id, r.seq)).or_default() += r.good + r.scrap;
    }
    for (o, ops) in &orders {
        let started = ops
            .iter()
            .any(|op| done.get(&(o.id, op.seq)).copied().unwrap_or(0.0) > 0.0);
        let finished = !ops.is_empty()
            && ops
                .iter()
                .all(|op| done.get(&(o.id, op.seq)).copied().unwrap_or(0.0) >= o.quantity - 1e-9);
        if started && o.status == "released" {
            store
                .set_work_order_status(tenant.id, o.id, "released", "in_progress")
                .await?;
        }
        if finished {
            store
                .set_work_order_status(tenant.id, o.id, "in_progress", "completed")
                .await?;
        }
    }
    Ok(())
}

async fn serve(settings: Settings, args: ServeArgs, demo: bool) -> Result<()> {
    let store = open_store(&settings).await?;
    let admin = store.ensure_admin(args.admin_password.as_deref()).await?;
    let hub = Arc::new(LiveHub::default());
    for tenant in store.tenant_ids().await? {
        let statuses = store.load_statuses(tenant).await?;
        let events = store
            .recent_state_events(tenant, zhizao_live::RECENT_EVENTS as i64)
            .await?;
        hub.restore(&statuses, &events);
        load_alarm_rules(&store, &hub, tenant).await;
        load_state_rules(&store, &hub, tenant).await;
    }
    let persister = tokio::spawn(
        hub.clone()
            .persist_loop(store.clone(), Duration::from_secs(2)),
    );
    let alarm_ticker = tokio::spawn(alarm_ticks(hub.clone()));
    let notifier = settings
        .alarm_webhook
        .clone()
        .map(|url| tokio::spawn(notify::run(hub.clone(), url)));
    let history_dir = settings.data_dir.join("tsdb");
    let mut history_config = TsdbConfig::new(&history_dir);
    let ns = |s: Option<u64>| {
        s.map(|s| i64::try_from(s).unwrap_or(i64::MAX / 1_000_000_000) * 1_000_000_000)
    };
    history_config.retention = zhizao_tsdb::Retention {
        raw: ns(settings.raw_retention_s),
        minute: ns(settings.minute_retention_s),
        hour: ns(settings.hour_retention_s),
    };
    let history =
        Arc::new(Tsdb::open(history_config).with_context(|| {
            format!("opening the time-series store in {}", history_dir.display())
        })?);

    // One gateway serves every MQTT road in: the endpoint, TLS, client mode.
    let gateway =
        zhizao_mqtt::gateway::Gateway::with_hub(store.clone(), history.clone(), Some(hub.clone()));
    let mut mqtt_tasks = Vec::new();
    let mqtt_used = settings.mqtt_listen.is_some()
        || settings.mqtt_tls_listen.is_some()
        || settings.mqtt_broker.is_some();
    if mqtt_used {
        mqtt_tasks.push(tokio::spawn(
            gateway.clone().save_loop(Duration::from_secs(2)),
        ));
        mqtt_tasks.push(tokio::spawn(
            gateway.clone().state_rules_loop(Duration::from_secs(1)),
        ));
    }

    // The built-in MQTT endpoint. A taken port (another broker runs here)
    // is reported and the platform runs on without it.
    let mut mqtt_endpoint = None;
    if let Some(mqtt_addr) = settings.mqtt_listen {
        let mut bound = tokio::net::TcpListener::bind(mqtt_addr).await;
        if let (true, Err(e)) = (demo, &bound) {
            // The demo's gateways need an endpoint; any free port will do.
            println!("MQTT port {mqtt_addr} is taken ({e}); the demo uses a free port");
            bound = tokio::net::TcpListener::bind((mqtt_addr.ip(), 0)).await;
        }
        match bound {
            Ok(l) => {
                let local = l.local_addr()?;
                println!("MQTT endpoint for devices on {local}");
                mqtt_endpoint = Some(local);
                mqtt_tasks.push(tokio::spawn(zhizao_mqtt::serve(l, gateway.clone())));
            }
            Err(e) => {
                tracing::warn!(%mqtt_addr, error = %e, "MQTT endpoint not started; set --mqtt-listen to another address");
                println!(
                    "MQTT endpoint not started: {mqtt_addr}: {e} (use --mqtt-listen ADDR or off)"
                );
            }
        }
    }

    // MQTT over TLS. Unlike the plain default, it was asked for: a bad
    // certificate or a taken port stops the start.
    if let (Some(addr), Some(cert), Some(key)) = (
        settings.mqtt_tls_listen,
        &settings.mqtt_tls_cert,
        &settings.mqtt_tls_key,
    ) {
        let acceptor = zhizao_mqtt::tls::acceptor(cert, key)?;
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("MQTT over TLS on {addr}"))?;
        println!("MQTT over TLS for devices on {}", l.local_addr()?);
        mqtt_tasks.push(tokio::spawn(zhizao_mqtt::serve_tls(
            l,
            acceptor,
            gateway.clone(),
        )));
    }

    // Client mode: this node takes its share of an external broker's messages.
    if let Some((host, port)) = &settings.mqtt_broker {
        let mut cfg = zhizao_mqtt::client::ClientConfig::new(host, *port, &settings.mqtt_client_id);
        cfg.username = std::env::var("ZHIZAO_MQTT_BROKER_USER").ok();
        cfg.password = std::env::var("ZHIZAO_MQTT_BROKER_PASSWORD").ok();
        println!(
            "MQTT client mode: {} at {host}:{port} as {}",
            cfg.subscriptions().join(", "),
            cfg.client_id
        );
        mqtt_tasks.push(tokio::spawn(zhizao_mqtt::client::run(cfg, gateway.clone())));
    }

    let mut simulator = None;
    if demo {
        let tenant = store
            .tenant_by_code("default")
            .await?
            .context("the default tenant is missing; was the admin account created by hand?")?;
        if zhizao_sim::plant::seed(&store, tenant.id).await? {
            tracing::info!("seeded the demo plant");
        }
        if store.alarm_rules(tenant.id).await?.is_none() {
            let rules = zhizao_sim::plant::alarm_rules();
            store
                .put_alarm_rules(tenant.id, &serde_json::to_string(&rules)?)
                .await?;
            let first = next_alarm_id(&store, tenant.id).await;
            hub.alarms.set_rules_from(tenant.id, rules, first)?;
        }
        // Like a real plant: the machines' gateways publish to the MQTT
        // endpoint. Without one, the simulator reports directly.
        simulator = Some(match mqtt_endpoint {
            Some(addr) => {
                println!("demo gateways publish over MQTT to {addr} (half JSON, half Sparkplug B)");
                tokio::spawn(zhizao_sim::gateways::run(
                    store.clone(),
                    addr,
                    tenant.id,
                    args.sim_seed,
                    settings.sim_speed,
                ))
            }
            None => tokio::spawn(zhizao_sim::run(
                store.clone(),
                hub.clone(),
                Some(history.clone()),
                tenant.id,
                args.sim_seed,
                settings.sim_speed,
            )),
        });
    }

    let state = zhizao_api::AppState::new(
        store.clone(),
        hub.clone(),
        history.clone(),
        settings.max_body_bytes,
    );
    // Connected gauges publish readings; quality records them.
    gateway.set_measurement_sink(Arc::new(GaugeSink(state.clone())));
    // Screens get each line's running-shift KPIs pushed, at most every
    // second (a round reads only what is new).
    let mut shop_floor = None;
    let mut inspectors = None;
    if demo {
        seed_demo_planning(&state).await?;
        shop_floor = Some(tokio::spawn(follow_schedule(store.clone(), args.sim_seed)));
        let tenant = store
            .tenant_by_code("default")
            .await?
            .context("the default tenant is missing")?;
        if zhizao_sim::quality::seed(&store, tenant.id, zhizao_store::now_ms(), args.sim_seed)
            .await?
        {
            tracing::info!("seeded the demo inspection plan");
        }
        let every = Duration::from_secs_f64((20.0 / settings.sim_speed).clamp(1.0, 20.0));
        inspectors = Some(tokio::spawn(inspect(
            state.clone(),
            tenant.id,
            args.sim_seed,
            every,
        )));
    }
    let kpi_pusher = tokio::spawn(zhizao_api::kpi::push_line_kpis(
        state.clone(),
        Duration::from_secs(1),
    ));
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "智造云 Zhizao {} is serving on http://{addr}/",
        env!("CARGO_PKG_VERSION")
    );
    if !zhizao_web::has_ui() {
        println!("(the web UI is not built into this binary; see README)");
    }
    match admin {
        LoginOutcome::Created {
            password,
            generated: true,
        } => {
            println!("first start: created user `admin` with password: {password}");
            println!("(shown once; set ZHIZAO_ADMIN_PASSWORD on first start to choose it)");
        }
        LoginOutcome::Created {
            generated: false, ..
        } => {
            println!(
                "first start: created user `admin` with the password from ZHIZAO_ADMIN_PASSWORD"
            );
        }
        LoginOutcome::Existing => println!("log in as an existing user (e.g. `admin`)"),
    }
    if demo {
        println!("control-centre screen: http://{addr}/#/screen");
    }
    zhizao_api::serve(listener, state, shutdown_signal()).await?;
    if let Some(sim) = simulator {
        sim.abort();
    }
    if let Some(f) = shop_floor {
        f.abort();
    }
    if let Some(f) = inspectors {
        f.abort();
    }
    for t in mqtt_tasks {
        t.abort();
    }
    if mqtt_used {
        gateway.save_traffic().await;
    }
    persister.abort();
    alarm_ticker.abort();
    kpi_pusher.abort();
    if let Some(n) = notifier {
        n.abort();
    }
    hub.persist_once(&store).await?;
    store.close().await;
    // Write memory to a segment so the next start replays no log.
    if let Err(e) = history.flush().await {
        tracing::warn!(error = %e, "could not flush history on shutdown; the log keeps it");
    }
    // The API's clones are gone with the server; this waits for queued writes.
    drop(history);
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://a/b.db"), "sqlite://a/b.db");
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
