//! The demo plant and its simulator.
//!
//! [`plant`] seeds the reference plants' master data; [`machine`] is a pure,
//! seeded model of one machine's states, output and temperature; [`run`]
//! drives all machines in real (or sped-up) time and reports to the live hub
//! directly; [`gateways::run`] drives the same model but sends everything
//! over MQTT as a plant's gateways would (half JSON, half Sparkplug B);
//! [`shopfloor`] makes the scheduled work orders' quantities as the
//! schedule plans them, each order at its own pace.

pub mod gateways;
pub mod machine;
pub mod planning;
pub mod plant;
pub mod quality;
pub mod shopfloor;

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use zhizao_core::MachineState;
use zhizao_live::{LiveHub, Placement, Report};
use zhizao_store::{Layout, Store, StoreError};
use zhizao_tsdb::{Point, Tsdb, Value};

pub use machine::{MachineProfile, SimMachine, Tick};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One simulated machine bound to its place in the plant.
struct Bound {
    placement: Placement,
    code: String,
    tags: Arc<Vec<(String, String)>>,
    machine: SimMachine,
    good_total: i64,
    scrap_total: i64,
}

/// Machine state as the small integer stored in history.
pub fn state_code(s: MachineState) -> i64 {
    match s {
        MachineState::Offline => 0,
        MachineState::Running => 1,
        MachineState::Idle => 2,
        MachineState::Setup => 3,
        MachineState::Down => 4,
        MachineState::PlannedStop => 5,
        MachineState::Blocked => 6,
        MachineState::Starved => 7,
    }
}

impl Bound {
    /// This tick's telemetry, as a gateway would send it.
    fn telemetry(&self, ts_ns: i64, temperature: f64) -> Vec<Point> {
        let fields = [
            ("temperature", Value::F64(temperature)),
            ("count_good", Value::I64(self.good_total)),
            ("count_scrap", Value::I64(self.scrap_total)),
            ("state", Value::I64(state_code(self.machine.state()))),
        ];
        fields
            .into_iter()
            .map(|(field, value)| Point {
                measurement: "telemetry".into(),
                tags: self.tags.clone(),
                field: field.into(),
                ts: ts_ns,
                value,
            })
            .collect()
    }
}

/// Builds simulated machines for every equipment of a tenant's layout.
fn bind(tenant_id: i64, layout: &Layout, rng: &mut StdRng) -> Vec<Bound> {
    layout
        .equipment
        .iter()
        .filter_map(|e| {
            let site = layout.site_of_line(e.line_id)?;
            let line = layout.lines.iter().find(|l| l.id == e.line_id)?;
            let profile = MachineProfile::for_type(e.equipment_type.as_str());
            Some(Bound {
                placement: Placement {
                    tenant_id,
                    site_id: site.id,
                    line_id: e.line_id,
                    equipment_id: e.id,
                },
                code: e.code.clone(),
                tags: Arc::new(vec![
                    ("site".into(), site.code.clone()),
                    ("line".into(), line.code.clone()),
                    ("equipment".into(), e.code.clone()),
                ]),
                machine: SimMachine::new(profile, rng),
                good_total: 0,
                scrap_total: 0,
            })
        })
        .collect()
}

/// Runs the simulator for a tenant until the task is dropped. One simulated
/// second passes every `1/speed` real seconds. With a history store, every
/// machine's telemetry (temperature, counters, state) is written each tick.
pub async fn run(
    store: Store,
    hub: Arc<LiveHub>,
    history: Option<Arc<Tsdb>>,
    tenant_id: i64,
    seed: u64,
    speed: f64,
) -> Result<(), SimError> {
    let layout = store.layout(tenant_id).await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut machines = bind(tenant_id, &layout, &mut rng);
    tracing::info!(machines = machines.len(), "simulator started");
    let now = zhizao_live::now_ms();
    for m in &machines {
        hub.report(
            m.placement,
            now,
            Report::State {
                code: m.code.clone(),
                state: m.machine.state(),
            },
        );
    }
    let period = Duration::from_secs_f64(1.0 / speed.max(0.001));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let ts = zhizao_live::now_ms();
        let mut telemetry = Vec::new();
        for m in &mut machines {
            let Tick {
                new_state,
                good,
                scrap,
                temperature,
            } = m.machine.step(1.0, &mut rng);
            m.good_total += good;
            m.scrap_total += scrap;
            telemetry.extend(m.telemetry(ts.saturating_mul(1_000_000), temperature));
            if let Some(state) = new_state {
                hub.report(
                    m.placement,
                    ts,
                    Report::State {
                        code: m.code.clone(),
                        state,
                    },
                );
            }
            hub.report(
                m.placement,
                ts,
                Report::Counters {
                    good_delta: good,
                    scrap_delta: scrap,
                    temperature: Some(temperature),
                },
            );
        }
        if let Some(history) = &history {
            match history.write(tenant_id, telemetry).await {
                Ok(out) if !out.rejected.is_empty() => {
                    tracing::warn!(rejected = out.rejected.len(), first = %out.rejected[0].1, "history rejected simulator points");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "history write failed"),
            }
        }
    }
}
