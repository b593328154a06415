//! The rule engine and the alarm lifecycle.

use std::collections::{BTreeMap, HashMap, VecDeque};

use evalexpr::{
    ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Node, Value as ExprValue,
};
use serde::{Deserialize, Serialize};

use crate::{AlarmError, Condition, Rule, Severity};

pub type AlarmId = u64;

/// ISA-18.2 alarm states (normal is no alarm at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    /// Active, not yet acknowledged.
    ActiveUnacked,
    /// Active and acknowledged.
    ActiveAcked,
    /// The condition is gone but nobody acknowledged the alarm yet.
    ClearedUnacked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    pub comment: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub id: AlarmId,
    pub rule: String,
    pub name: String,
    pub severity: Severity,
    /// The machine (equipment code).
    pub source: String,
    pub state: AlarmState,
    pub raised_at: i64,
    pub cleared_at: Option<i64>,
    pub acknowledged: Option<Acknowledgement>,
    /// Shelved (notifications held back) until this time.
    pub shelved_until: Option<i64>,
    /// The value that raised it, for single-signal rules.
    pub value: Option<f64>,
    /// Raised during an alarm flood.
    pub flood: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Raised,
    /// A cleared, unacknowledged alarm whose condition came back.
    Reactivated,
    Acknowledged,
    Cleared,
    /// Cleared and acknowledged: the alarm is over.
    Closed,
    Shelved,
    Unshelved,
    FloodStarted,
    FloodEnded {
        suppressed: u32,
    },
}

/// Something that happened; `notify` says whether people should be told
/// now (not for shelved alarms or alarms inside a flood).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub at: i64,
    #[serde(flatten)]
    pub kind: EventKind,
    pub alarm: Option<Alarm>,
    pub notify: bool,
}

enum Compiled {
    Plain(Condition),
    Expression {
        node: Node<DefaultNumericTypes>,
        variables: Vec<String>,
    },
}

/// What the engine knows of one machine.
#[derive(Default)]
struct Source {
    /// field → (time, value) of its latest sample.
    values: HashMap<String, (i64, f64)>,
    /// field → (value, since) of its last move beyond a flatline epsilon,
    /// per rule.
    flat: HashMap<(usize, String), (f64, i64)>,
    last_sample: Option<i64>,
    state: Option<(String, i64)>,
}

/// A rule's debounced condition on one machine.
#[derive(Default, Clone, Copy)]
struct Track {
    /// The debounced condition.
    active: bool,
    /// The raw condition, for hysteresis.
    raw: bool,
    /// Since when the raw condition has differed from `active`.
    pending_since: Option<i64>,
    value: Option<f64>,
}

/// Alarms raised within this window count towards a flood.
const FLOOD_WINDOW_MS: i64 = 10 * 60 * 1000;

pub struct Engine {
    rules: Vec<(Rule, Compiled)>,
    sources: HashMap<String, Source>,
    tracks: HashMap<(usize, String), Track>,
    /// Alarms by (rule index, source); at most one each.
    alarms: BTreeMap<(usize, String), Alarm>,
    next_id: AlarmId,
    flood_limit: usize,
    raised: VecDeque<i64>,
    flooding: bool,
    suppressed: u32,
}

impl Engine {
    /// Checks and compiles the rules. A flood is more than `flood_limit`
    /// alarms raised within ten minutes (ISA-18.2 suggests 10).
    pub fn new(rules: Vec<Rule>, flood_limit: usize) -> Result<Engine, AlarmError> {
        let mut compiled = Vec::with_capacity(rules.len());
        for (index, rule) in rules.into_iter().enumerate() {
            let bad = |field: &'static str, message: String| AlarmError::Rule {
                index,
                field,
                message,
            };
            if rule.id.trim().is_empty() {
                return Err(bad("id", "must not be empty".into()));
            }
            if let Some(other) = compiled
                .iter()
                .position(|(r, _): &(Rule, _)| r.id == rule.id)
            {
                return Err(bad(
                    "id",
                    format!("`{}` is the id of rule {other} too", rule.id),
                ));
            }
            if rule.name.trim().is_empty() {
                return Err(bad("name", "must not be empty".into()));
            }
            match &rule.condition {
                Condition::Above { field, .. }
                | Condition::Below { field, .. }
                | Condition::RateOfChange { field, .. }
                | Condition::Flatline { field, .. }
                    if field.trim().is_empty() =>
                {
                    return Err(bad("condition.field", "must name a signal".into()));
                }
                Condition::StateLonger { state, .. } => {
                    if let Err(e) = state.parse::<zhizao_core::MachineState>() {
                        return Err(bad("condition.state", e.to_string()));
                    }
                }
                _ => {}
            }
            let c = match &rule.condition {
                Condition::Expression { expr } => {
                    let node = evalexpr::build_operator_tree::<DefaultNumericTypes>(expr)
                        .map_err(|e| bad("condition.expr", format!("`{expr}`: {e}")))?;
                    let variables: Vec<String> = node
                        .iter_variable_identifiers()
                        .map(str::to_owned)
                        .collect();
                    if variables.is_empty() {
                        return Err(bad("condition.expr", format!("`{expr}` names no signal")));
                    }
                    // It must give true or false, whatever the values.
                    let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
                    for v in &variables {
                        let _ = ctx.set_value(v.clone(), ExprValue::from_float(0.0));
                    }
                    if let Err(e) = node.eval_boolean_with_context(&ctx) {
                        return Err(bad(
                            "condition.expr",
                            format!("`{expr}` does not give true or false: {e}"),
                        ));
                    }
                    Compiled::Expression { node, variables }
                }
                Condition::Above { deadband, .. } | Condition::Below { deadband, .. }
                    if !(deadband.is_finite() && *deadband >= 0.0) =>
                {
                    return Err(bad("condition.deadband", "must be a number ≥ 0".into()));
                }
                Condition::RateOfChange { per_second, .. }
                    if !(per_second.is_finite() && *per_second > 0.0) =>
                {
                    return Err(bad("condition.per_second", "must be a number > 0".into()));
                }
                Condition::Flatline { for_s: 0, .. }
                | Condition::NoData { for_s: 0 }
                | Condition::StateLonger { for_s: 0, .. } => {
                    return Err(bad("condition.for_s", "must be at least 1".into()));
                }
                other => Compiled::Plain(other.clone()),
            };
            compiled.push((rule, c));
        }
        Ok(Engine {
            rules: compiled,
            sources: HashMap::new(),
            tracks: HashMap::new(),
            alarms: BTreeMap::new(),
            next_id: 1,
            flood_limit: flood_limit.max(1),
            raised: VecDeque::new(),
            flooding: false,
            suppressed: 0,
        })
    }

    /// The id the next alarm gets.
    pub fn next_id(&self) -> AlarmId {
        self.next_id
    }

    /// Numbers new alarms from `next` on (or later), so ids stay unique
    /// across restarts and rule changes.
    pub fn continue_from(&mut self, next: AlarmId) {
        self.next_id = self.next_id.max(next);
    }

    /// Takes back alarms that were not over when the engine last stopped,
    /// as if their conditions still held: each clears the normal way once
    /// its condition is seen to be gone. A state held too long counts as
    /// held since `for_s` before the alarm rose, a stuck signal as stuck
    /// at the value that raised it. Returns the alarms it could not take:
    /// of rules that no longer exist, are switched off or no longer cover
    /// their machine.
    pub fn restore(&mut self, alarms: Vec<Alarm>) -> Vec<Alarm> {
        let mut dropped = Vec::new();
        for a in alarms {
            let Some(r) = self.rules.iter().position(|(rule, _)| rule.id == a.rule) else {
                dropped.push(a);
                continue;
            };
            let key = (r, a.source.clone());
            if !self.applies(r, &a.source) || self.alarms.contains_key(&key) {
                dropped.push(a);
                continue;
            }
            let active = a.state != AlarmState::ClearedUnacked;
            self.tracks.insert(
                key.clone(),
                Track {
                    active,
                    raw: active,
                    pending_since: None,
                    value: a.value,
                },
            );
            // Known, so silence and stuck-signal checks run for it.
            let src = self.sources.entry(a.source.clone()).or_default();
            if active {
                match &self.rules[r].1 {
                    Compiled::Plain(Condition::StateLonger { state, for_s })
                        if src.state.is_none() =>
                    {
                        src.state = Some((state.clone(), a.raised_at - secs(*for_s)));
                    }
                    Compiled::Plain(Condition::Flatline { field, for_s, .. }) => {
                        if let Some(v) = a.value {
                            src.flat
                                .entry((r, field.clone()))
                                .or_insert((v, a.raised_at - secs(*for_s)));
                        }
                    }
                    _ => {}
                }
            }
            self.next_id = self.next_id.max(a.id + 1);
            self.alarms.insert(key, a);
        }
        dropped
    }

    /// Every alarm that is not over, oldest first.
    pub fn alarms(&self) -> Vec<&Alarm> {
        let mut v: Vec<&Alarm> = self.alarms.values().collect();
        v.sort_by_key(|a| a.id);
        v
    }

    fn applies(&self, rule: usize, source: &str) -> bool {
        let rule = &self.rules[rule].0;
        rule.enabled
            && rule
                .sources
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == source))
    }

    /// A numeric sample of `field` from machine `source` at `at` (ms).
    pub fn sample(&mut self, source: &str, field: &str, at: i64, value: f64) -> Vec<Event> {
        let mut out = Vec::new();
        if !value.is_finite() {
            return out;
        }
        let src = self.sources.entry(source.to_owned()).or_default();
        let previous = src.values.insert(field.to_owned(), (at, value));
        src.last_sample = Some(src.last_sample.map_or(at, |t| t.max(at)));
        for r in 0..self.rules.len() {
            if !self.applies(r, source) {
                continue;
            }
            let key = (r, source.to_owned());
            let was_raw = self.tracks.get(&key).is_some_and(|t| t.raw);
            let raw = match &self.rules[r].1 {
                Compiled::Plain(Condition::Above {
                    field: f,
                    limit,
                    deadband,
                }) if f == field => Some(if was_raw {
                    value > limit - deadband
                } else {
                    value > *limit
                }),
                Compiled::Plain(Condition::Below {
                    field: f,
                    limit,
                    deadband,
                }) if f == field => Some(if was_raw {
                    value < limit + deadband
                } else {
                    value < *limit
                }),
                Compiled::Plain(Condition::RateOfChange {
                    field: f,
                    per_second,
                }) if f == field => previous
                    .filter(|(t, _)| at > *t)
                    .map(|(t, v)| ((value - v) / ((at - t) as f64 / 1000.0)).abs() > *per_second),
                Compiled::Plain(Condition::Flatline {
                    field: f,
                    for_s,
                    epsilon,
                }) if f == field => {
                    let src = self.sources.entry(source.to_owned()).or_default();
                    let anchor = src.flat.entry((r, field.to_owned())).or_insert((value, at));
                    if (value - anchor.0).abs() > *epsilon {
                        *anchor = (value, at);
                    }
                    Some(at - anchor.1 >= secs(*for_s))
                }
                Compiled::Plain(Condition::NoData { .. }) => Some(false),
                Compiled::Expression { node, variables }
                    if variables.iter().any(|v| v == field) =>
                {
                    let src = &self.sources[source];
                    evaluate(node, variables, src)
                }
                _ => None,
            };
            if let Some(raw) = raw {
                out.extend(self.observe(r, source, raw, Some(value), at));
            }
        }
        out
    }

    /// A state change of machine `source` at `at`.
    pub fn state(&mut self, source: &str, state: &str, at: i64) -> Vec<Event> {
        let src = self.sources.entry(source.to_owned()).or_default();
        if src.state.as_ref().is_none_or(|(s, _)| s != state) {
            src.state = Some((state.to_owned(), at));
        }
        src.last_sample = Some(src.last_sample.map_or(at, |t| t.max(at)));
        self.tick_source(source, at)
    }

    fn tick_source(&mut self, source: &str, now: i64) -> Vec<Event> {
        let mut out = Vec::new();
        for r in 0..self.rules.len() {
            if !self.applies(r, source) {
                continue;
            }
            let Some(src) = self.sources.get(source) else {
                continue;
            };
            let raw = match &self.rules[r].1 {
                Compiled::Plain(Condition::NoData { for_s }) => {
                    src.last_sample.map(|t| now - t >= secs(*for_s))
                }
                // An unknown state (just after a restart) decides nothing.
                Compiled::Plain(Condition::StateLonger { state, for_s }) => src
                    .state
                    .as_ref()
                    .map(|(s, since)| s == state && now - since >= secs(*for_s)),
                Compiled::Plain(Condition::Flatline { field, for_s, .. }) => src
                    .flat
                    .get(&(r, field.clone()))
                    .map(|(_, since)| now - since >= secs(*for_s)),
                // Sample-driven conditions: only their delays run on.
                _ => self.tracks.get(&(r, source.to_owned())).map(|t| t.raw),
            };
            if let Some(raw) = raw {
                out.extend(self.observe(r, source, raw, None, now));
            }
        }
        out
    }

    /// Runs what time alone decides: delays, silence, stuck signals,
    /// states held too long, shelving that ran out, the end of a flood.
    pub fn tick(&mut self, now: i64) -> Vec<Event> {
        let sources: Vec<String> = self.sources.keys().cloned().collect();
        let mut out = Vec::new();
        for s in sources {
            out.extend(self.tick_source(&s, now));
        }
        for a in self.alarms.values_mut() {
            if a.shelved_until.is_some_and(|u| now >= u) {
                a.shelved_until = None;
                out.push(Event {
                    at: now,
                    kind: EventKind::Unshelved,
                    alarm: Some(a.clone()),
                    notify: a.state != AlarmState::ActiveAcked,
                });
            }
        }
        self.trim_window(now);
        if self.flooding && self.raised.len() <= self.flood_limit / 2 {
            self.flooding = false;
            out.push(Event {
                at: now,
                kind: EventKind::FloodEnded {
                    suppressed: std::mem::take(&mut self.suppressed),
                },
                alarm: None,
                notify: true,
            });
        }
        out
    }

    fn trim_window(&mut self, now: i64) {
        while self
            .raised
            .front()
            .is_some_and(|t| now - t > FLOOD_WINDOW_MS)
        {
            self.raised.pop_front();
        }
    }

    /// Debounces a raw condition and moves the alarm through its states.
    fn observe(
        &mut self,
        r: usize,
        source: &str,
        raw: bool,
        value: Option<f64>,
        at: i64,
    ) -> Vec<Event> {
        let key = (r, source.to_owned());
        let rule = &self.rules[r].0;
        let (on_delay, off_delay) = (secs(rule.on_delay_s), secs(rule.off_delay_s));
        let t = self.tracks.entry(key.clone()).or_default();
        t.raw = raw;
        if value.is_some() && raw {
            t.value = value;
        }
        if raw == t.active {
            t.pending_since = None;
            return Vec::new();
        }
        let since = *t.pending_since.get_or_insert(at);
        let delay = if raw { on_delay } else { off_delay };
        if at - since < delay {
            return Vec::new();
        }
        t.active = raw;
        t.pending_since = None;
        let shown_value = t.value;
        if raw {
            self.raise(key, shown_value, at)
        } else {
            self.clear(&key, at)
        }
    }

    fn raise(&mut self, key: (usize, String), value: Option<f64>, at: i64) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some(a) = self.alarms.get_mut(&key) {
            // The condition came back before anyone acknowledged the alarm.
            a.state = AlarmState::ActiveUnacked;
            a.cleared_at = None;
            a.value = value.or(a.value);
            let notify = a.shelved_until.is_none() && !self.flooding;
            out.push(Event {
                at,
                kind: EventKind::Reactivated,
                alarm: Some(a.clone()),
                notify,
            });
            return out;
        }
        self.trim_window(at);
        self.raised.push_back(at);
        let flood = self.raised.len() > self.flood_limit;
        if flood && !self.flooding {
            self.flooding = true;
            out.push(Event {
                at,
                kind: EventKind::FloodStarted,
                alarm: None,
                notify: true,
            });
        }
        if flood {
            self.suppressed += 1;
        }
        let rule = &self.rules[key.0].0;
        let alarm = Alarm {
            id: self.next_id,
            rule: rule.id.clone(),
            name: rule.name.clone(),
            severity: rule.severity,
            source: key.1.clone(),
            state: AlarmState::ActiveUnacked,
            raised_at: at,
            cleared_at: None,
            acknowledged: None,
            shelved_until: None,
            value,
            flood,
        };
        self.next_id += 1;
        out.push(Event {
            at,
            kind: EventKind::Raised,
            alarm: Some(alarm.clone()),
            notify: !flood,
        });
        self.alarms.insert(key, alarm);
        out
    }

    fn clear(&mut self, key: &(usize, String), at: i64) -> Vec<Event> {
        let Some(a) = self.alarms.get_mut(key) else {
            return Vec::new();
        };
        a.cleared_at = Some(at);
        let notify = a.shelved_until.is_none() && !a.flood;
        if a.state == AlarmState::ActiveAcked {
            let Some(a) = self.alarms.remove(key) else {
                return Vec::new();
            };
            return vec![Event {
                at,
                kind: EventKind::Closed,
                alarm: Some(a),
                notify,
            }];
        }
        a.state = AlarmState::ClearedUnacked;
        vec![Event {
            at,
            kind: EventKind::Cleared,
            alarm: Some(a.clone()),
            notify,
        }]
    }

    fn find(&self, id: AlarmId) -> Result<(usize, String), AlarmError> {
        self.alarms
            .iter()
            .find(|(_, a)| a.id == id)
            .map(|(k, _)| k.clone())
            .ok_or(AlarmError::NoSuchAlarm(id))
    }

    /// Someone acknowledges an alarm; a cleared one is then over.
    pub fn acknowledge(
        &mut self,
        id: AlarmId,
        by: &str,
        comment: &str,
        at: i64,
    ) -> Result<Event, AlarmError> {
        let key = self.find(id)?;
        let Some(a) = self.alarms.get_mut(&key) else {
            return Err(AlarmError::NoSuchAlarm(id));
        };
        if a.acknowledged.is_some() && a.state == AlarmState::ActiveAcked {
            return Err(AlarmError::AlreadyAcknowledged(id));
        }
        a.acknowledged = Some(Acknowledgement {
            by: by.to_owned(),
            comment: comment.to_owned(),
            at,
        });
        if a.state == AlarmState::ClearedUnacked {
            let a = self.alarms.remove(&key);
            return Ok(Event {
                at,
                kind: EventKind::Closed,
                alarm: a,
                notify: false,
            });
        }
        a.state = AlarmState::ActiveAcked;
        Ok(Event {
            at,
            kind: EventKind::Acknowledged,
            alarm: Some(a.clone()),
            notify: false,
        })
    }

    /// Holds back an alarm's notifications until `until`; its states go on.
    pub fn shelve(&mut self, id: AlarmId, until: i64, at: i64) -> Result<Event, AlarmError> {
        let key = self.find(id)?;
        let Some(a) = self.alarms.get_mut(&key) else {
            return Err(AlarmError::NoSuchAlarm(id));
        };
        a.shelved_until = Some(until);
        Ok(Event {
            at,
            kind: EventKind::Shelved,
            alarm: Some(a.clone()),
            notify: false,
        })
    }
}

fn secs(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// An expression over the machine's latest values; `None` until every
/// signal it names has a value, `false` when it does not give a boolean.
fn evaluate(node: &Node<DefaultNumericTypes>, variables: &[String], src: &Source) -> Option<bool> {
    let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
    for v in variables {
        let (_, x) = src.values.get(v)?;
        // Whole numbers as integers: `door_open == 1` must hold for 1.0.
        let value = if x.fract() == 0.0 && x.abs() < 9.0e15 {
            ExprValue::from_int(*x as i64)
        } else {
            ExprValue::from_float(*x)
        };
        ctx.set_value(v.clone(), value).ok()?;
    }
    Some(node.eval_boolean_with_context(&ctx).unwrap_or(false))
}

#[cfg(test)]
mod tests;
