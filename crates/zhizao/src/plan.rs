//! `zhizao plan`: MRP, rough-cut capacity and order promising on a plant
//! file (JSON, items and work centres referred to by code). Printing only;
//! the planning is in `zhizao-plan`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use zhizao_plan::file::{Plant, PlantFile, code_of};
use zhizao_plan::{ExceptionKind, PegSource, Plan, Shortage, promise, rough_cut};

#[derive(Subcommand, Debug)]
pub enum PlanCommand {
    /// Plan a plant file: planned orders with pegging, exception messages
    /// and the overloaded work centres (after the file's what-if changes).
    Run(RunArgs),
    /// The earliest bucket a new order can be delivered in, on top of the
    /// plan, and why not earlier.
    Promise(PromiseArgs),
    /// Write the demo plants' planning data (the steel workshop and the
    /// pump plant, with six months of customer orders) as a plant file.
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to write it; standard output when absent.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the generated customer orders.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The plant file (JSON): horizon, items, bom, demands, receipts,
    /// work_centres, routings, what_if.
    file: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct PromiseArgs {
    file: PathBuf,
    /// The item's code.
    #[arg(long)]
    item: String,
    #[arg(long)]
    quantity: f64,
    /// The bucket asked for.
    #[arg(long, default_value_t = 0)]
    bucket: usize,
    #[arg(long)]
    json: bool,
}

fn load(file: &PathBuf) -> Result<(Plant, Plan)> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let parsed: PlantFile = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a plant file", file.display()))?;
    let plant = parsed
        .resolve()
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let plan = Plan::regenerate(plant.input.clone())
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    Ok((plant, plan))
}

#[derive(Serialize)]
struct OrderOut<'a> {
    item: &'a str,
    due: usize,
    release: usize,
    quantity: f64,
    purchase: bool,
    pegs: Vec<PegOut<'a>>,
}

#[derive(Serialize)]
struct PegOut<'a> {
    /// A customer order's id, or a parent's planned order.
    demand: Option<u64>,
    parent: Option<&'a str>,
    parent_due: Option<usize>,
    quantity: f64,
}

#[derive(Serialize)]
struct ExceptionOut<'a> {
    item: &'a str,
    kind: ExceptionKind,
    bucket: usize,
    quantity: f64,
}

#[derive(Serialize)]
struct OverloadOut<'a> {
    work_centre: &'a str,
    bucket: usize,
    load_hours: f64,
    capacity_hours: f64,
}

#[derive(Serialize)]
struct RunOut<'a> {
    planned_orders: Vec<OrderOut<'a>>,
    exceptions: Vec<ExceptionOut<'a>>,
    overloads: Vec<OverloadOut<'a>>,
}

pub fn run(command: &PlanCommand) -> Result<()> {
    match command {
        PlanCommand::Run(args) => plan_run(args),
        PlanCommand::Promise(args) => plan_promise(args),
        PlanCommand::Demo(args) => {
            let text =
                serde_json::to_string_pretty(&zhizao_sim::planning::demo_plant_file(args.seed))?;
            match &args.out {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => println!("{text}"),
            }
            Ok(())
        }
    }
}

fn plan_run(args: &RunArgs) -> Result<()> {
    let (plant, plan) = load(&args.file)?;
    let input = plan.input();
    let code = |i| code_of(input, i);
    let load = rough_cut(
        &plan,
        &plant.work_centres,
        &plant.routings,
        &[],
        &plant.what_if,
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let out = RunOut {
        planned_orders: plan
            .planned_orders()
            .map(|o| OrderOut {
                item: code(o.item),
                due: o.due,
                release: o.release,
                quantity: o.quantity,
                purchase: o.purchase,
                pegs: o
                    .pegs
                    .iter()
                    .map(|p| match p.source {
                        PegSource::Demand { id } => PegOut {
                            demand: Some(id),
                            parent: None,
                            parent_due: None,
                            quantity: p.quantity,
                        },
                        PegSource::Order { item, due } => PegOut {
                            demand: None,
                            parent: Some(code(item)),
                            parent_due: Some(due),
                            quantity: p.quantity,
                        },
                    })
                    .collect(),
            })
            .collect(),
        exceptions: plan
            .exceptions()
            .map(|e| ExceptionOut {
                item: code(e.item),
                kind: e.kind,
                bucket: e.bucket,
                quantity: e.quantity,
            })
            .collect(),
        overloads: load
            .overloads()
            .into_iter()
            .map(|(c, t)| OverloadOut {
                work_centre: plant.work_centres[c].code.as_str(),
                bucket: t,
                load_hours: load.load[c][t],
                capacity_hours: load.capacity[c][t],
            })
            .collect(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{:<16} {:>8} {:>8} {:>10}  kind",
        "item", "release", "due", "quantity"
    );
    for o in &out.planned_orders {
        let kind = if o.purchase { "purchase" } else { "make" };
        println!(
            "{:<16} {:>8} {:>8} {:>10.2}  {kind}",
            o.item, o.release, o.due, o.quantity
        );
    }
    println!("{} planned orders", out.planned_orders.len());
    for e in &out.exceptions {
        println!(
            "exception: {} {:?} in bucket {} ({})",
            e.item, e.kind, e.bucket, e.quantity
        );
    }
    for o in &out.overloads {
        println!(
            "overloaded: {} in bucket {}: {:.1} h of {:.1} h",
            o.work_centre, o.bucket, o.load_hours, o.capacity_hours
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct PromiseOut<'a> {
    item: &'a str,
    quantity: f64,
    requested: usize,
    bucket: Option<usize>,
    /// Why not at `requested`: `lead_time` (of an item) or `capacity` (of
    /// a work centre).
    reason: Option<&'static str>,
    short: Option<&'a str>,
}

fn plan_promise(args: &PromiseArgs) -> Result<()> {
    let (plant, plan) = load(&args.file)?;
    let input = plan.input();
    let Some(item) = input.items.iter().position(|i| i.code == args.item) else {
        bail!("{}: no item `{}`", args.file.display(), args.item);
    };
    let p = promise(
        &plan,
        &plant.work_centres,
        &plant.routings,
        item,
        args.quantity,
        args.bucket,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (reason, short) = match p.reason {
        Some(Shortage::LeadTime { item }) => (Some("lead_time"), Some(code_of(input, item))),
        Some(Shortage::Capacity { work_centre }) => (
            Some("capacity"),
            plant.work_centres.get(work_centre).map(|c| c.code.as_str()),
        ),
        None => (None, None),
    };
    let out = PromiseOut {
        item: &args.item,
        quantity: args.quantity,
        requested: p.requested,
        bucket: p.bucket,
        reason,
        short,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        match out.bucket {
            Some(b) => println!(
                "{} × {}: bucket {b} (asked {})",
                out.quantity, out.item, out.requested
            ),
            None => println!("{} × {}: not within the horizon", out.quantity, out.item),
        }
        if let (Some(r), Some(s)) = (out.reason, out.short) {
            println!("not earlier because of {r}: {s}");
        }
    }
    Ok(())
}
