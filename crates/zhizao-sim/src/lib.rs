//! The demo plant and its simulator.
//!
//! [`plant`] seeds the reference plants' master data; [`machine`] is a pure,
//! seeded model of one machine's states, output and temperature; [`run`]
//! drives all machines in real (or sped-up) time and reports to the live hub.
//! Later issues make it publish over MQTT like a gateway and execute the
//! schedule; the model stays the same.

pub mod machine;
pub mod plant;

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use zhizao_live::{LiveHub, Placement, Report};
use zhizao_store::{Layout, Store, StoreError};

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
    machine: SimMachine,
}

/// Builds simulated machines for every equipment of a tenant's layout.
fn bind(tenant_id: i64, layout: &Layout, rng: &mut StdRng) -> Vec<Bound> {
    layout
        .equipment
        .iter()
        .filter_map(|e| {
            let site = layout.site_of_line(e.line_id)?;
            let profile = MachineProfile::for_type(e.equipment_type.as_str());
            Some(Bound {
                placement: Placement {
                    tenant_id,
                    site_id: site.id,
                    line_id: e.line_id,
                    equipment_id: e.id,
                },
                code: e.code.clone(),
                machine: SimMachine::new(profile, rng),
            })
        })
        .collect()
}

/// Runs the simulator for a tenant until the task is dropped. One simulated
/// second passes every `1/speed` real seconds.
pub async fn run(
    store: Store,
    hub: Arc<LiveHub>,
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
        for m in &mut machines {
            let Tick {
                new_state,
                good,
                scrap,
                temperature,
            } = m.machine.step(1.0, &mut rng);
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
    }
}
