//! The alarm engines of every tenant, shared by what feeds them (the MQTT
//! gateway, a one-second tick) and what reads them (the API). Events are
//! broadcast to live subscribers like state changes, and the latest are
//! kept for the ticker.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use zhizao_alarm::{Alarm, AlarmError, AlarmId, Engine, Event, EventKind, Rule};
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
    /// Events not yet written to the journal.
    journal: Mutex<Vec<(Id, Event)>>,
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

    /// Replaces a tenant's rules. Alarms of rules that stay as they were
    /// go on; those of rules changed, removed or switched off end
    /// (journalled as closed). New alarms are numbered from `first_id` on
    /// (or after the old rules' alarms).
    pub fn set_rules_from(
        &self,
        tenant: Id,
        rules: Vec<Rule>,
        first_id: AlarmId,
    ) -> Result<(), AlarmError> {
        let mut engine = Engine::new(rules.clone(), FLOOD_LIMIT)?;
        engine.continue_from(first_id);
        let mut t = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        let mut ended = Vec::new();
        let placements = match t.remove(&tenant) {
            Some(old) => {
                engine.continue_from(old.engine.next_id());
                let (kept, changed): (Vec<Alarm>, Vec<Alarm>) =
                    old.engine.alarms().into_iter().cloned().partition(|a| {
                        let same = |rs: &[Rule]| rs.iter().find(|r| r.id == a.rule).cloned();
                        same(&old.rules).is_some_and(|r| Some(r) == same(&rules))
                    });
                ended.extend(changed);
                ended.extend(engine.restore(kept));
                old.placements
            }
            None => HashMap::new(),
        };
        self.close(tenant, ended);
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

    /// Journals alarms that ended without their condition clearing.
    fn close(&self, tenant: Id, alarms: Vec<Alarm>) {
        let now = crate::now_ms();
        let ended: Vec<Event> = alarms
            .into_iter()
            .map(|a| Event {
                at: now,
                kind: EventKind::Closed,
                alarm: Some(a),
                notify: false,
            })
            .collect();
        self.journal(tenant, &ended);
    }

    /// Takes back a tenant's alarms that were not over at the last stop
    /// (after its rules are set); those it cannot take (their rule is gone
    /// or switched off) are journalled as closed. Returns how many were
    /// taken.
    pub fn restore(&self, tenant: Id, alarms: Vec<Alarm>) -> usize {
        let offered = alarms.len();
        match self.with(tenant, |t| t.engine.restore(alarms)) {
            Some(dropped) => {
                let taken = offered - dropped.len();
                self.close(tenant, dropped);
                taken
            }
            None => 0,
        }
    }

    /// Replaces a tenant's rules (see [`AlarmDesk::set_rules_from`]).
    pub fn set_rules(&self, tenant: Id, rules: Vec<Rule>) -> Result<(), AlarmError> {
        self.set_rules_from(tenant, rules, 1)
    }

    /// Takes the events not yet journalled.
    pub fn take_journal(&self) -> Vec<(Id, Event)> {
        std::mem::take(&mut *self.journal.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts back events whose journalling failed, ahead of newer ones.
    pub fn requeue_journal(&self, mut events: Vec<(Id, Event)>) {
        let mut j = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        events.append(&mut j);
        *j = events;
    }

    fn journal(&self, tenant: Id, events: &[Event]) {
        if events.is_empty() {
            // Most samples raise nothing; spare the hot path the lock.
            return;
        }
        self.journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(events.iter().map(|e| (tenant, e.clone())));
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

    /// Feeds one input of a machine to the tenant's engine: remembers where
    /// the machine sits, keeps and journals the events it raises.
    fn feed(
        &self,
        tenant: Id,
        at: Option<Placement>,
        source: &str,
        input: impl FnOnce(&mut Engine) -> Vec<Event>,
    ) -> Vec<(Option<Placement>, Event)> {
        // Journalled under the tenant's lock, so the journal keeps the
        // engine's order (a clear and an acknowledgement at once).
        self.with(tenant, |t| {
            if let Some(p) = at {
                t.placements.insert(source.to_owned(), p);
            }
            let events = input(&mut t.engine);
            Self::keep(t, &events);
            self.journal(tenant, &events);
            events
        })
        .map(|events| events.into_iter().map(|e| (at, e)).collect())
        .unwrap_or_default()
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
        self.feed(tenant, at, source, |e| e.sample(source, field, ts, value))
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
        self.feed(tenant, at, source, |e| e.state(source, state, ts))
    }

    /// What time alone decides, for every tenant.
    pub fn tick(&self, now: EpochMs) -> Vec<(Id, Option<Placement>, Event)> {
        let mut t = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        for (tenant, ta) in t.iter_mut() {
            let events = ta.engine.tick(now);
            Self::keep(ta, &events);
            self.journal(*tenant, &events);
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

    /// A person acts on one alarm; the event is kept and journalled.
    fn act(
        &self,
        tenant: Id,
        id: AlarmId,
        f: impl FnOnce(&mut Engine) -> Result<Event, AlarmError>,
    ) -> Result<(Option<Placement>, Event), AlarmError> {
        self.with(tenant, |t| {
            let e = f(&mut t.engine)?;
            self.journal(tenant, std::slice::from_ref(&e));
            Self::keep(t, std::slice::from_ref(&e));
            let at = e
                .alarm
                .as_ref()
                .and_then(|a| t.placements.get(&a.source).copied());
            Ok((at, e))
        })
        .unwrap_or(Err(AlarmError::NoSuchAlarm(id)))
    }

    pub fn acknowledge(
        &self,
        tenant: Id,
        id: AlarmId,
        by: &str,
        comment: &str,
        now: EpochMs,
    ) -> Result<(Option<Placement>, Event), AlarmError> {
        self.act(tenant, id, |e| e.acknowledge(id, by, comment, now))
    }

    pub fn shelve(
        &self,
        tenant: Id,
        id: AlarmId,
        until: EpochMs,
        now: EpochMs,
    ) -> Result<(Option<Placement>, Event), AlarmError> {
        self.act(tenant, id, |e| e.shelve(id, until, now))
    }
}

/// An alarm event as the journal keeps it.
pub fn journal_entry(tenant: Id, e: &Event) -> zhizao_store::JournalEntry {
    let kind = serde_json::to_value(&e.kind)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let a = e.alarm.as_ref();
    zhizao_store::JournalEntry {
        tenant_id: tenant,
        alarm_id: a.and_then(|a| i64::try_from(a.id).ok()),
        at: e.at,
        kind,
        rule: a.map(|a| a.rule.clone()),
        name: a.map(|a| a.name.clone()),
        source: a.map(|a| a.source.clone()),
        severity: a.and_then(|a| json_str(&a.severity)),
        state: a.and_then(|a| json_str(&a.state)),
        value: a.and_then(|a| a.value),
        by_user: a.and_then(|a| a.acknowledged.as_ref().map(|k| k.by.clone())),
        comment: a.and_then(|a| a.acknowledged.as_ref().map(|k| k.comment.clone())),
        flood: a.is_some_and(|a| a.flood),
        alarm: a.and_then(|a| serde_json::to_string(a).ok()),
    }
}

/// A unit enum's snake_case name, as serde writes it.
fn json_str(v: &impl serde::Serialize) -> Option<String> {
    serde_json::to_value(v).ok()?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use zhizao_alarm::{AlarmState, Condition, Severity};

    use super::*;

    fn rule(id: &str, limit: f64) -> Rule {
        Rule {
            id: id.into(),
            name: id.into(),
            severity: Severity::High,
            condition: Condition::Above {
                field: "temp".into(),
                limit,
                deadband: 0.0,
            },
            enabled: true,
            on_delay_s: 0,
            off_delay_s: 0,
            sources: None,
        }
    }

    fn closed(desk: &AlarmDesk) -> Vec<AlarmId> {
        desk.take_journal()
            .into_iter()
            .filter(|(_, e)| e.kind == EventKind::Closed)
            .filter_map(|(_, e)| e.alarm.map(|a| a.id))
            .collect()
    }

    #[test]
    fn saving_rules_keeps_the_alarms_of_unchanged_rules() {
        let desk = AlarmDesk::default();
        desk.set_rules(1, vec![rule("hot", 80.0), rule("warm", 60.0)])
            .unwrap_or_else(|e| panic!("{e}"));
        desk.sample(1, None, "M", "temp", 0, 90.0);
        let before = desk.active(1);
        assert_eq!(before.len(), 2);
        desk.take_journal();
        // "warm" changes its limit; "hot" stays as it was.
        desk.set_rules_from(1, vec![rule("hot", 80.0), rule("warm", 65.0)], 1)
            .unwrap_or_else(|e| panic!("{e}"));
        let after = desk.active(1);
        assert_eq!(after.len(), 1);
        assert_eq!(after[0], before[0]);
        assert_eq!(closed(&desk), [before[1].id]);
        // The kept alarm still clears the normal way.
        let events = desk.sample(1, None, "M", "temp", 1_000, 50.0);
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].1.alarm.as_ref().map(|a| a.state),
            Some(AlarmState::ClearedUnacked)
        );
        // Switched off: its alarm ends.
        let mut off = rule("hot", 80.0);
        off.enabled = false;
        desk.set_rules_from(1, vec![off], 1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(desk.active(1).is_empty());
        assert_eq!(closed(&desk), [before[0].id]);
    }
}
