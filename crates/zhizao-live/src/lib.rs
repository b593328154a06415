//! The in-process live hub: the current state of every machine, today's
//! counters, recent state changes, and a broadcast of every change to the
//! WebSocket subscribers.
//!
//! Producers (simulator now, ingestion later) call [`LiveHub::report`];
//! consumers subscribe and filter by tenant and [`Scope`]. Every message has
//! a process-wide sequence number so a client can tell if it missed one.
//! A persister task copies dirty statuses and new events to the relational
//! store so a restart resumes where it stopped. Clustered fan-out (NATS or
//! broker topics) will plug in behind the same `report`/`subscribe` pair.

pub mod alarms;
pub mod devices;

use std::collections::{HashMap, HashSet, VecDeque};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;
use zhizao_core::{EpochMs, Id, MachineState};
use zhizao_store::{EquipmentStatus, StateEvent, Store};

/// How many recent state changes each tenant keeps for the ticker.
pub const RECENT_EVENTS: usize = 50;
/// Subscribers that fall further behind than this lose messages (and are told).
pub const CHANNEL_CAPACITY: usize = 4096;
/// Messages kept for clients that reconnect and ask for what they missed.
pub const REPLAY_MESSAGES: usize = 10_000;

/// Where a machine sits, carried on every message for scope filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub tenant_id: Id,
    pub site_id: Id,
    pub line_id: Id,
    pub equipment_id: Id,
}

/// A change reported by a producer.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    State {
        code: String,
        state: MachineState,
    },
    Counters {
        good_delta: i64,
        scrap_delta: i64,
        temperature: Option<f64>,
    },
}

/// A message as subscribers receive it (serialised straight to the socket).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    State {
        seq: u64,
        ts: EpochMs,
        equipment_id: Id,
        equipment_code: String,
        line_id: Id,
        state: MachineState,
        previous: Option<MachineState>,
    },
    Counters {
        seq: u64,
        ts: EpochMs,
        equipment_id: Id,
        line_id: Id,
        good_today: i64,
        scrap_today: i64,
        temperature: Option<f64>,
    },
    /// An alarm raised, acknowledged, cleared, shelved …, or a flood.
    Alarm {
        seq: u64,
        ts: EpochMs,
        event: zhizao_alarm::Event,
    },
    /// A line's KPIs for the running shift, up to now.
    LineKpi {
        seq: u64,
        ts: EpochMs,
        line_id: Id,
        #[serde(flatten)]
        update: Box<LineKpiUpdate>,
    },
    /// A sample of an inspection characteristic was recorded and judged.
    QualitySample {
        seq: u64,
        ts: EpochMs,
        characteristic_id: Id,
        code: String,
        number: i64,
        out_of_control: bool,
        rules: Vec<u8>,
    },
    /// A new version of the schedule was stored (a run, a planner's move or
    /// lock, a repair after a breakdown or a rush order).
    Schedule {
        seq: u64,
        ts: EpochMs,
        version: Id,
        reason: String,
        by_user: String,
    },
}

/// What a recorded sample says, for [`LiveHub::quality_sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct QualitySampleNews {
    pub characteristic_id: Id,
    pub code: String,
    pub number: i64,
    pub taken_at: EpochMs,
    pub out_of_control: bool,
    pub rules: Vec<u8>,
}

/// What a line's running shift came to so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineKpiUpdate {
    pub date: Option<String>,
    pub shift: Option<String>,
    pub start: EpochMs,
    pub end: EpochMs,
    pub kpis: zhizao_kpi::Kpis,
    pub quantities: zhizao_kpi::Quantities,
    /// Pieces at ideal cycle time in the planned busy time so far.
    pub ideal_output: Option<f64>,
}

impl LiveMessage {
    /// Whether every subscriber of the tenant wants it, whatever its scope:
    /// a new schedule concerns each machine's terminal too.
    pub fn plant_wide(&self) -> bool {
        matches!(self, LiveMessage::Schedule { .. })
    }

    pub fn seq(&self) -> u64 {
        match self {
            LiveMessage::State { seq, .. }
            | LiveMessage::Counters { seq, .. }
            | LiveMessage::Alarm { seq, .. }
            | LiveMessage::LineKpi { seq, .. }
            | LiveMessage::QualitySample { seq, .. }
            | LiveMessage::Schedule { seq, .. } => *seq,
        }
    }
}

/// A broadcast item: the message plus where it belongs.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub placement: Placement,
    pub message: LiveMessage,
}

/// What a subscriber wants to see within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Site(Id),
    Line(Id),
    Equipment(Id),
}

impl Scope {
    pub fn matches(self, p: &Placement) -> bool {
        match self {
            Scope::All => true,
            Scope::Site(id) => p.site_id == id,
            Scope::Line(id) => p.line_id == id,
            Scope::Equipment(id) => p.equipment_id == id,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("scope `{0}` is not one of all, site:ID, line:ID, equipment:ID")]
pub struct BadScope(pub String);

impl FromStr for Scope {
    type Err = BadScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "all" {
            return Ok(Scope::All);
        }
        let bad = || BadScope(s.to_owned());
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        let id: Id = id.parse().map_err(|_| bad())?;
        match kind {
            "site" => Ok(Scope::Site(id)),
            "line" => Ok(Scope::Line(id)),
            "equipment" => Ok(Scope::Equipment(id)),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::All => f.write_str("all"),
            Scope::Site(id) => write!(f, "site:{id}"),
            Scope::Line(id) => write!(f, "line:{id}"),
            Scope::Equipment(id) => write!(f, "equipment:{id}"),
        }
    }
}

/// Live view of one machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineLive {
    pub state: MachineState,
    pub since: EpochMs,
    pub day: String,
    pub good_today: i64,
    pub scrap_today: i64,
    pub temperature: Option<f64>,
}

#[derive(Default)]
struct TenantLive {
    machines: HashMap<Id, MachineLive>,
    recent: VecDeque<LiveMessage>,
}

#[derive(Default)]
struct Inner {
    tenants: HashMap<Id, TenantLive>,
    dirty: HashSet<(Id, Id)>,
    pending_events: Vec<StateEvent>,
}

/// The hub; share it as `Arc<LiveHub>`.
pub struct LiveHub {
    /// Registered devices' connections and Sparkplug edge nodes.
    pub devices: devices::DevicePresence,
    /// Every tenant's alarm rules and alarms.
    pub alarms: alarms::AlarmDesk,
    /// The latest messages, for clients that come back after a break.
    replay: Mutex<VecDeque<Arc<Envelope>>>,
    /// Each tenant's rules that derive machine states from signals.
    state_rules: Mutex<HashMap<Id, Arc<zhizao_kpi::state_rules::StateRules>>>,
    inner: Mutex<Inner>,
    seq: AtomicU64,
    tx: broadcast::Sender<Arc<Envelope>>,
    /// Maps a timestamp to the plant's calendar day for "today" counters.
    day_of: fn(EpochMs) -> String,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("seq", &self.seq.load(Ordering::Relaxed))
            .finish()
    }
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new(china_day)
    }
}

/// The calendar day in China Standard Time (UTC+8, no daylight saving),
/// where all reference plants are.
pub fn china_day(ts: EpochMs) -> String {
    const OFFSET_MS: i64 = 8 * 3600 * 1000;
    let days = (ts + OFFSET_MS).div_euclid(86_400_000);
    civil_from_days(days)
}

/// Days since 1970-01-01 to `YYYY-MM-DD`.
fn civil_from_days(days: i64) -> String {
    let (y, m, d) = zhizao_core::civil::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

impl LiveHub {
    pub fn new(day_of: fn(EpochMs) -> String) -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            devices: devices::DevicePresence::default(),
            alarms: alarms::AlarmDesk::default(),
            replay: Mutex::new(VecDeque::with_capacity(REPLAY_MESSAGES)),
            state_rules: Mutex::new(HashMap::new()),
            inner: Mutex::new(Inner::default()),
            seq: AtomicU64::new(0),
            tx,
            day_of,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-written
        // in a way later readers would misread, so keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The sequence number of the latest message.
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.tx.subscribe()
    }

    /// Seeds the hub from persisted statuses (at start-up).
    pub fn restore(&self, statuses: &[EquipmentStatus], events: &[StateEvent]) {
        let mut inner = self.lock();
        for s in statuses {
            let Ok(state) = s.state.parse::<MachineState>() else {
                tracing::warn!(equipment = s.equipment_id, state = %s.state, "skipping unknown stored state");
                continue;
            };
            inner
                .tenants
                .entry(s.tenant_id)
                .or_default()
                .machines
                .insert(
                    s.equipment_id,
                    MachineLive {
                        state,
                        since: s.since,
                        day: s.day.clone(),
                        good_today: s.good_today,
                        scrap_today: s.scrap_today,
                        temperature: s.temperature,
                    },
                );
        }
        // `events` come newest first; the ticker keeps that order.
        for e in events {
            let (Ok(state), previous) = (
                e.state.parse::<MachineState>(),
                e.previous.as_deref().and_then(|p| p.parse().ok()),
            ) else {
                continue;
            };
            let tenant = inner.tenants.entry(e.tenant_id).or_default();
            if tenant.recent.len() < RECENT_EVENTS {
                tenant.recent.push_back(LiveMessage::State {
                    seq: 0,
                    ts: e.ts,
                    equipment_id: e.equipment_id,
                    equipment_code: String::new(),
                    line_id: 0,
                    state,
                    previous,
                });
            }
        }
    }

    /// Sets the rules that derive a tenant's machine states from signals.
    pub fn set_state_rules(&self, tenant: Id, rules: zhizao_kpi::state_rules::StateRules) {
        self.state_rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tenant, Arc::new(rules));
    }

    /// A tenant's state rules, if it has any.
    pub fn state_rules(&self, tenant: Id) -> Option<Arc<zhizao_kpi::state_rules::StateRules>> {
        self.state_rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant)
            .cloned()
    }

    /// Keeps a message for replay and sends it to the subscribers.
    fn broadcast(&self, envelope: Envelope) {
        let envelope = Arc::new(envelope);
        {
            let mut r = self.replay.lock().unwrap_or_else(PoisonError::into_inner);
            if r.len() == REPLAY_MESSAGES {
                r.pop_front();
            }
            r.push_back(envelope.clone());
        }
        // No subscribers is not an error.
        let _ = self.tx.send(envelope);
    }

    /// The messages after `since`, for a client that reconnects; `None`
    /// when some of them are no longer kept (the client must reload).
    pub fn replay_since(&self, since: u64) -> Option<Vec<Arc<Envelope>>> {
        let last = self.last_seq();
        // A seq from before a restart (numbering starts again at 1).
        if since > last {
            return None;
        }
        if since == last {
            return Some(Vec::new());
        }
        let r = self.replay.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = r.iter().map(|e| e.message.seq()).min()?;
        if since + 1 < oldest {
            return None;
        }
        let mut after: Vec<Arc<Envelope>> = r
            .iter()
            .filter(|e| e.message.seq() > since)
            .cloned()
            .collect();
        after.sort_by_key(|e| e.message.seq());
        Some(after)
    }

    /// Broadcasts a line's running-shift KPIs.
    pub fn line_kpi(&self, at: Placement, update: LineKpiUpdate) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.broadcast(Envelope {
            placement: at,
            message: LiveMessage::LineKpi {
                seq,
                ts: now_ms(),
                line_id: at.line_id,
                update: Box::new(update),
            },
        });
    }

    /// Broadcasts that a sample was recorded, so open charts redraw at
    /// once. Without a placement (a characteristic of no known machine) it
    /// goes to the tenant's subscribers of the whole plant only.
    pub fn quality_sample(&self, tenant: Id, at: Option<Placement>, sample: QualitySampleNews) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let placement = at.unwrap_or(Placement {
            tenant_id: tenant,
            site_id: 0,
            line_id: 0,
            equipment_id: 0,
        });
        self.broadcast(Envelope {
            placement,
            message: LiveMessage::QualitySample {
                seq,
                ts: sample.taken_at,
                characteristic_id: sample.characteristic_id,
                code: sample.code,
                number: sample.number,
                out_of_control: sample.out_of_control,
                rules: sample.rules,
            },
        });
    }

    /// Broadcasts that a schedule version was stored, so open Gantt charts
    /// and dispatch lists load it. It reaches every subscriber of the
    /// tenant (see [`LiveMessage::plant_wide`]).
    pub fn schedule_changed(&self, tenant: Id, version: Id, reason: &str, by_user: &str) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.broadcast(Envelope {
            placement: Placement {
                tenant_id: tenant,
                site_id: 0,
                line_id: 0,
                equipment_id: 0,
            },
            message: LiveMessage::Schedule {
                seq,
                ts: now_ms(),
                version,
                reason: reason.to_owned(),
                by_user: by_user.to_owned(),
            },
        });
    }

    /// Broadcasts alarm events. One without a placement (a flood notice, a
    /// machine not in the plant hierarchy) goes to the tenant's subscribers
    /// of the whole plant only.
    pub fn alarm_events(&self, tenant: Id, events: Vec<(Option<Placement>, zhizao_alarm::Event)>) {
        for (at, event) in events {
            let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
            let placement = at.unwrap_or(Placement {
                tenant_id: tenant,
                site_id: 0,
                line_id: 0,
                equipment_id: 0,
            });
            self.broadcast(Envelope {
                placement,
                message: LiveMessage::Alarm {
                    seq,
                    ts: event.at,
                    event,
                },
            });
        }
    }

    /// Applies a producer's report and broadcasts the resulting message.
    /// A state report that repeats the current state changes nothing and
    /// returns `None`.
    pub fn report(&self, at: Placement, ts: EpochMs, report: Report) -> Option<LiveMessage> {
        let day = (self.day_of)(ts);
        let mut inner = self.lock();
        let tenant = inner.tenants.entry(at.tenant_id).or_default();
        if let (Report::State { state, .. }, Some(m)) =
            (&report, tenant.machines.get(&at.equipment_id))
            && m.state == *state
        {
            return None;
        }
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let machine = tenant
            .machines
            .entry(at.equipment_id)
            .or_insert_with(|| MachineLive {
                state: MachineState::Offline,
                since: ts,
                day: day.clone(),
                good_today: 0,
                scrap_today: 0,
                temperature: None,
            });
        if machine.day != day {
            machine.day = day;
            machine.good_today = 0;
            machine.scrap_today = 0;
        }
        let message = match report {
            Report::State { code, state } => {
                let previous = Some(machine.state);
                machine.state = state;
                machine.since = ts;
                LiveMessage::State {
                    seq,
                    ts,
                    equipment_id: at.equipment_id,
                    equipment_code: code,
                    line_id: at.line_id,
                    state,
                    previous,
                }
            }
            Report::Counters {
                good_delta,
                scrap_delta,
                temperature,
            } => {
                machine.good_today += good_delta.max(0);
                machine.scrap_today += scrap_delta.max(0);
                if temperature.is_some() {
                    machine.temperature = temperature;
                }
                LiveMessage::Counters {
                    seq,
                    ts,
                    equipment_id: at.equipment_id,
                    line_id: at.line_id,
                    good_today: machine.good_today,
                    scrap_today: machine.scrap_today,
                    temperature: machine.temperature,
                }
            }
        };
        if let LiveMessage::State {
            state, previous, ..
        } = &message
        {
            tenant.recent.push_front(message.clone());
            tenant.recent.truncate(RECENT_EVENTS);
            inner.pending_events.push(StateEvent {
                tenant_id: at.tenant_id,
                equipment_id: at.equipment_id,
                ts,
                state: state.as_str().to_owned(),
                previous: previous.map(|p| p.as_str().to_owned()),
            });
        }
        inner.dirty.insert((at.tenant_id, at.equipment_id));
        drop(inner);
        self.broadcast(Envelope {
            placement: at,
            message: message.clone(),
        });
        Some(message)
    }

    /// Current view of every machine of a tenant.
    pub fn machines(&self, tenant_id: Id) -> HashMap<Id, MachineLive> {
        let day = (self.day_of)(now_ms());
        let inner = self.lock();
        let mut out = inner
            .tenants
            .get(&tenant_id)
            .map(|t| t.machines.clone())
            .unwrap_or_default();
        for m in out.values_mut() {
            if m.day != day {
                m.good_today = 0;
                m.scrap_today = 0;
            }
        }
        out
    }

    /// The newest state changes of a tenant, newest first.
    pub fn recent_events(&self, tenant_id: Id) -> Vec<LiveMessage> {
        self.lock()
            .tenants
            .get(&tenant_id)
            .map(|t| t.recent.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Takes what changed since the last call, for persisting.
    pub fn take_pending(&self) -> (Vec<EquipmentStatus>, Vec<StateEvent>) {
        let mut inner = self.lock();
        let dirty = std::mem::take(&mut inner.dirty);
        let events = std::mem::take(&mut inner.pending_events);
        let now = now_ms();
        let statuses = dirty
            .into_iter()
            .filter_map(|(tenant_id, equipment_id)| {
                let m = inner.tenants.get(&tenant_id)?.machines.get(&equipment_id)?;
                Some(EquipmentStatus {
                    equipment_id,
                    tenant_id,
                    state: m.state.as_str().to_owned(),
                    since: m.since,
                    day: m.day.clone(),
                    good_today: m.good_today,
                    scrap_today: m.scrap_today,
                    temperature: m.temperature,
                    updated_at: now,
                })
            })
            .collect();
        (statuses, events)
    }

    /// Puts back what could not be persisted so the next round retries it.
    fn requeue(&self, statuses: &[EquipmentStatus], events: Vec<StateEvent>) {
        let mut inner = self.lock();
        for s in statuses {
            inner.dirty.insert((s.tenant_id, s.equipment_id));
        }
        let newer = std::mem::replace(&mut inner.pending_events, events);
        inner.pending_events.extend(newer);
    }

    /// Copies pending changes to the store once.
    pub async fn persist_once(&self, store: &Store) -> Result<usize, zhizao_store::StoreError> {
        let journal = self.alarms.take_journal();
        if !journal.is_empty() {
            let entries: Vec<zhizao_store::JournalEntry> = journal
                .iter()
                .map(|(t, e)| alarms::journal_entry(*t, e))
                .collect();
            if let Err(e) = store.append_alarm_journal(&entries).await {
                self.alarms.requeue_journal(journal);
                return Err(e);
            }
        }
        let (statuses, events) = self.take_pending();
        let n = statuses.len() + events.len();
        if n == 0 {
            return Ok(0);
        }
        let saved = async {
            store.save_statuses(&statuses).await?;
            store.append_state_events(&events).await
        }
        .await;
        if let Err(e) = saved {
            self.requeue(&statuses, events);
            return Err(e);
        }
        Ok(n)
    }

    /// Persists every `every` until the process ends.
    pub async fn persist_loop(self: Arc<Self>, store: Store, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = self.persist_once(&store).await {
                tracing::warn!(error = %e, "persisting live status failed; will retry");
            }
        }
    }
}

pub fn now_ms() -> EpochMs {
    zhizao_store::now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(equipment_id: Id) -> Placement {
        Placement {
            tenant_id: 1,
            site_id: 10,
            line_id: 100,
            equipment_id,
        }
    }

    #[test]
    fn scopes_parse_and_match() {
        assert_eq!("all".parse::<Scope>(), Ok(Scope::All));
        assert_eq!("line:100".parse::<Scope>(), Ok(Scope::Line(100)));
        assert!("line:".parse::<Scope>().is_err());
        assert!("cell:3".parse::<Scope>().is_err());
        assert!(Scope::Site(10).matches(&at(1)));
        assert!(!Scope::Line(101).matches(&at(1)));
        assert!(Scope::Equipment(1).matches(&at(1)));
        assert_eq!(Scope::Line(3).to_string(), "line:3");
    }

    #[test]
    fn day_boundaries_follow_china_time() {
        // 2026-11-29T15:59:59Z is 23:59:59 in Shanghai; one second later is the next day.
        let t = 1_795_967_999_000;
        assert_eq!(china_day(t), "2026-11-29");
        assert_eq!(china_day(t + 1000), "2026-11-30");
        assert_eq!(china_day(0), "1970-01-01");
    }

    #[test]
    fn the_replay_keeps_the_latest_messages_and_says_when_it_has_lost_some() {
        let hub = LiveHub::new(|_| "2026-11-29".into());
        let at = Placement {
            tenant_id: 1,
            site_id: 1,
            line_id: 1,
            equipment_id: 1,
        };
        for i in 0..(REPLAY_MESSAGES as i64 + 10) {
            hub.report(
                at,
                i,
                Report::Counters {
                    good_delta: 1,
                    scrap_delta: 0,
                    temperature: None,
                },
            );
        }
        let last = hub.last_seq();
        let tail = hub.replay_since(last - 5).unwrap_or_default();
        assert_eq!(
            tail.iter().map(|e| e.message.seq()).collect::<Vec<_>>(),
            ((last - 4)..=last).collect::<Vec<_>>()
        );
        assert!(hub.replay_since(1).is_none(), "the first messages are gone");
        assert_eq!(hub.replay_since(last).map(|v| v.len()), Some(0));
        assert!(
            hub.replay_since(last + 1).is_none(),
            "a seq from before a restart"
        );
    }

    #[tokio::test]
    async fn reports_update_state_broadcast_and_queue_persistence() {
        let hub = LiveHub::new(|_| "2026-11-29".into());
        let mut rx = hub.subscribe();
        let ts = 1_795_900_000_000;
        hub.report(
            at(1),
            ts,
            Report::State {
                code: "CUT-01".into(),
                state: MachineState::Running,
            },
        );
        hub.report(
            at(1),
            ts + 1,
            Report::Counters {
                good_delta: 3,
                scrap_delta: 1,
                temperature: Some(55.0),
            },
        );
        hub.report(
            at(1),
            ts + 2,
            Report::State {
                code: "CUT-01".into(),
                state: MachineState::Down,
            },
        );
        // Repeating the current state is not a change.
        let repeat = Report::State {
            code: "CUT-01".into(),
            state: MachineState::Down,
        };
        assert_eq!(hub.report(at(1), ts + 3, repeat), None);
        let first = rx.recv().await.unwrap();
        assert!(matches!(first.message, LiveMessage::State { seq: 1, .. }));
        let m = &hub.machines(1)[&1];
        assert_eq!(m.state, MachineState::Down);
        assert_eq!((m.good_today, m.scrap_today), (3, 1));
        let recent = hub.recent_events(1);
        assert_eq!(recent.len(), 2);
        assert!(matches!(
            recent[0],
            LiveMessage::State {
                state: MachineState::Down,
                previous: Some(MachineState::Running),
                ..
            }
        ));
        let (statuses, events) = hub.take_pending();
        assert_eq!(statuses.len(), 1);
        assert_eq!(events.len(), 2);
        assert_eq!(hub.take_pending().1.len(), 0);
        assert_eq!(hub.last_seq(), 3);
    }

    #[test]
    fn counters_reset_when_the_day_changes() {
        let hub = LiveHub::default();
        let day1 = 1_795_967_999_000;
        let bump = Report::Counters {
            good_delta: 5,
            scrap_delta: 0,
            temperature: None,
        };
        hub.report(at(1), day1, bump.clone());
        let msg = hub.report(at(1), day1 + 1000, bump);
        assert!(matches!(
            msg,
            Some(LiveMessage::Counters { good_today: 5, .. })
        ));
    }
}
