//! The alarm engines of every tenant, shared by what feeds them (the MQTT
//! gateway, a one-second tick) and what reads them (the API). Events are
//! broadcast to live subscribers like state changes, and the latest are
//! kept for the ticker.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use zhizao_alarm::{Alarm, AlarmError, AlarmId, Engine, Event, Rule};
use zhizao_core::{EpochMs, Id};

use crate::Placement;

/// Alarm events kept per tenant for the ticker.
pub const RECENT_ALARM_EVENTS: usize = 50;
/// A flood is more than this many alarms raised in ten minutes.
pub const FLOOD_LIMIT: usize = 10;

struct TenantAlarms {
    rules: Vec<Rule>,
    engine: Engine,
    recent: VecDeque<Event>,
    /// Where each machine (equipment code) sits, for scoped broadcast.
    placements: HashMap<String, Placement>,
}

#[derive(Default)]
pub struct AlarmDesk {
    tenants: Mutex<HashMap<Id, TenantAlarms>>,
}

impl std::fmt::Debug for AlarmDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlarmDesk")
    }
}

impl AlarmDesk {
    fn with<R>(&self, tenant: Id, f: impl FnOnce(&mut TenantAlarms) -> R) -> Option<R> {
        let mut t = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        t.get_mut(&tenant).map(f)
    }

    /// Replaces a tenant's rules; alarms of the old rules end with them.
    pub fn set_rules(&self, tenant: Id, rules: Vec<Rule>) -> Result<(), AlarmError> {
        let engine = Engine::new(rules.clone(), FLOOD_LIMIT)?;
        let mut t = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        let placements = t
            .remove(&tenant)
            .map(|old| old.placements)
            .unwrap_or_default();
        t.insert(
            tenant,
            TenantAlarms {
                rules,
                engine,
                recent: VecDeque::new(),
                placements,
            },
        );
        Ok(())
    }

    pub fn rules(&self, tenant: Id) -> Vec<Rule> {
        self.with(tenant, |t| t.rules.clone()).unwrap_or_default()
    }

    fn keep(t: &mut TenantAlarms, events: &[Event]) {
        for e in events {
            t.recent.push_front(e.clone());
        }
        t.recent.truncate(RECENT_ALARM_EVENTS);
    }

    /// A numeric sample of a machine; returns the events with where the
    /// machine sits.
    pub fn sample(
        &self,
        tenant: Id,
        at: Option<Placement>,
        source: &str,
        field: &str,
        ts: EpochMs,
        value: f64,
    ) -> Vec<(Option<Placement>, Event)> {
        self.with(tenant, |t| {
            if let Some(p) = at {
                t.placements.insert(source.to_owned(), p);
            }
            let events = t.engine.sample(source, field, ts, value);
            Self::keep(t, &events);
            events.into_iter().map(|e| (at, e)).collect()
        })
        .unwrap_or_default()
    }

    /// A state change of a machine.
    pub fn state(
        &self,
        tenant: Id,
        at: Option<Placement>,
        source: &str,
        state: &str,
        ts: EpochMs,
    ) -> Vec<(Option<Placement>, Event)> {
        self.with(tenant, |t| {
            if let Some(p) = at {
                t.placements.insert(source.to_owned(), p);
            }
            let events = t.engine.state(source, state, ts);
            Self::keep(t, &events);
            events.into_iter().map(|e| (at, e)).collect()
        })
        .unwrap_or_default()
    }

    /// What time alone decides, for every tenant.
    pub fn tick(&self, now: EpochMs) -> Vec<(Id, Option<Placement>, Event)> {
        let mut t = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        for (tenant, ta) in t.iter_mut() {
            let events = ta.engine.tick(now);
            Self::keep(ta, &events);
            for e in events {
                let at = e
                    .alarm
                    .as_ref()
                    .and_then(|a| ta.placements.get(&a.source).copied());
                out.push((*tenant, at, e));
            }
        }
        out
    }

    /// Alarms that are not over, oldest first.
    pub fn active(&self, tenant: Id) -> Vec<Alarm> {
        self.with(tenant, |t| t.engine.alarms().into_iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The latest alarm events, newest first.
    pub fn recent(&self, tenant: Id) -> Vec<Event> {
        self.with(tenant, |t| t.recent.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn acknowledge(
        &self,
        tenant: Id,
        id: AlarmId,
        by: &str,
        comment: &str,
        now: EpochMs,
    ) -> Result<(Option<Placement>, Event), AlarmError> {
        self.with(tenant, |t| {
            let e = t.engine.acknowledge(id, by, comment, now)?;
            Self::keep(t, std::slice::from_ref(&e));
            let at = e
                .alarm
                .as_ref()
                .and_then(|a| t.placements.get(&a.source).copied());
            Ok((at, e))
        })
        .unwrap_or(Err(AlarmError::NoSuchAlarm(id)))
    }

    pub fn shelve(
        &self,
        tenant: Id,
        id: AlarmId,
        until: EpochMs,
        now: EpochMs,
    ) -> Result<(Option<Placement>, Event), AlarmError> {
        self.with(tenant, |t| {
            let e = t.engine.shelve(id, until, now)?;
            Self::keep(t, std::slice::from_ref(&e));
            let at = e
                .alarm
                .as_ref()
                .and_then(|a| t.placements.get(&a.source).copied());
            Ok((at, e))
        })
        .unwrap_or(Err(AlarmError::NoSuchAlarm(id)))
    }
}
