//! Live plant view: a snapshot for first paint and a WebSocket that streams
//! state changes and counters for a chosen scope.
//!
//! Browsers cannot set headers on a WebSocket, so `/live` also accepts the
//! token as `?token=`. The client subscribes to the hub before reading the
//! `seq` it reports in `hello`, so no message falls between the two.

use std::collections::HashMap;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;
use zhizao_core::MachineState;
use zhizao_live::{LiveMessage, Scope};

use crate::AppState;
use crate::auth::{AuthUser, bearer_token, user_for_token};
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryMap;

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct StateCounts {
    pub running: i64,
    pub idle: i64,
    pub setup: i64,
    pub planned_stop: i64,
    pub blocked: i64,
    pub starved: i64,
    pub down: i64,
    pub offline: i64,
}

impl StateCounts {
    fn add(&mut self, s: MachineState) {
        match s {
            MachineState::Running => self.running += 1,
            MachineState::Idle => self.idle += 1,
            MachineState::Setup => self.setup += 1,
            MachineState::PlannedStop => self.planned_stop += 1,
            MachineState::Blocked => self.blocked += 1,
            MachineState::Starved => self.starved += 1,
            MachineState::Down => self.down += 1,
            MachineState::Offline => self.offline += 1,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MachineSnapshot {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub equipment_type: String,
    /// running, idle, setup, planned_stop, blocked, starved, down or
    /// offline.
    pub state: String,
    /// Epoch ms when the current state began.
    pub since: i64,
    pub good_today: i64,
    pub scrap_today: i64,
    pub temperature: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineSnapshot {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub site_code: String,
    pub good_today: i64,
    pub scrap_today: i64,
    pub equipment: Vec<MachineSnapshot>,
}

/// A state change, as on the WebSocket.
#[derive(Debug, Serialize, ToSchema)]
pub struct StateEventDto {
    #[serde(rename = "type")]
    pub kind: String,
    pub seq: u64,
    pub ts: i64,
    pub equipment_id: i64,
    pub equipment_code: String,
    pub line_id: i64,
    pub state: String,
    pub previous: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Snapshot {
    /// Epoch ms of the snapshot.
    pub ts: i64,
    /// Sequence number of the newest live message included.
    pub seq: u64,
    pub state_counts: StateCounts,
    pub lines: Vec<LineSnapshot>,
    /// Recent state changes, newest first.
    pub events: Vec<StateEventDto>,
}

/// The current state of every machine of the tenant, by line.
#[utoipa::path(get, path = "/live/snapshot", tag = "live", security(("bearer" = [])),
    responses((status = 200, body = Snapshot), (status = 401, body = ErrorBody)))]
pub async fn snapshot(State(s): State<AppState>, u: AuthUser) -> Result<Json<Snapshot>, ApiError> {
    let tenant = u.tenant();
    let seq = s.hub.last_seq();
    let layout = s.store.layout(tenant).await?;
    let machines = s.hub.machines(tenant);
    let mut counts = StateCounts::default();
    let mut by_line: HashMap<i64, Vec<MachineSnapshot>> = HashMap::new();
    let mut codes: HashMap<i64, (String, i64)> = HashMap::new();
    for e in layout.equipment.iter() {
        let live = machines.get(&e.id);
        let state = live.map_or(MachineState::Offline, |m| m.state);
        counts.add(state);
        codes.insert(e.id, (e.code.clone(), e.line_id));
        by_line.entry(e.line_id).or_default().push(MachineSnapshot {
            id: e.id,
            code: e.code.clone(),
            name: e.name.clone(),
            equipment_type: e.equipment_type.0.clone(),
            state: state.as_str().to_owned(),
            since: live.map_or(0, |m| m.since),
            good_today: live.map_or(0, |m| m.good_today),
            scrap_today: live.map_or(0, |m| m.scrap_today),
            temperature: live.and_then(|m| m.temperature),
        });
    }
    let lines = layout
        .lines
        .iter()
        .map(|l| {
            let equipment = by_line.remove(&l.id).unwrap_or_default();
            LineSnapshot {
                id: l.id,
                code: l.code.clone(),
                name: l.name.clone(),
                site_code: layout
                    .site_of_line(l.id)
                    .map(|s| s.code.clone())
                    .unwrap_or_default(),
                good_today: equipment.iter().map(|m| m.good_today).sum(),
                scrap_today: equipment.iter().map(|m| m.scrap_today).sum(),
                equipment,
            }
        })
        .collect();
    let events = s
        .hub
        .recent_events(tenant)
        .into_iter()
        .filter_map(|m| match m {
            LiveMessage::State {
                seq,
                ts,
                equipment_id,
                state,
                previous,
                ..
            } => {
                // Restored events carry no code; fill it from the layout.
                let (code, line_id) = codes.get(&equipment_id).cloned()?;
                Some(StateEventDto {
                    kind: "state".into(),
                    seq,
                    ts,
                    equipment_id,
                    equipment_code: code,
                    line_id,
                    state: state.as_str().to_owned(),
                    previous: previous.map(|p| p.as_str().to_owned()),
                })
            }
            LiveMessage::Counters { .. }
            | LiveMessage::Alarm { .. }
            | LiveMessage::LineKpi { .. }
            | LiveMessage::QualitySample { .. }
            | LiveMessage::Schedule { .. } => None,
        })
        .collect();
    Ok(Json(Snapshot {
        ts: zhizao_live::now_ms(),
        seq,
        state_counts: counts,
        lines,
        events,
    }))
}

/// The caller of the live socket: header token or `?token=`.
pub struct LiveCaller {
    tenant_id: i64,
    scope: Scope,
    /// The last `seq` the client saw before it lost the connection.
    since: Option<u64>,
}

impl FromRequestParts<AppState> for LiveCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let QueryMap(q) = QueryMap::from_request_parts(parts, state).await?;
        if let Some(k) = q
            .keys()
            .find(|k| !matches!(k.as_str(), "token" | "scope" | "since"))
        {
            return Err(ApiError::validation(
                k.clone(),
                format!("unknown query parameter `{k}`; expected token, scope, since"),
            ));
        }
        let since = q
            .get("since")
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::validation("since", "must be a message seq (a whole number)")
                })
            })
            .transpose()?;
        let token = bearer_token(&parts.headers)
            .map(str::to_owned)
            .or_else(|| q.get("token").cloned())
            .ok_or_else(|| {
                ApiError::unauthorized("missing token: send `Authorization: Bearer …` or `?token=`")
            })?;
        let user = user_for_token(state, &token).await?;
        let scope = match q.get("scope") {
            None => Scope::All,
            Some(s) => s
                .parse::<Scope>()
                .map_err(|e| ApiError::validation("scope", e.to_string()))?,
        };
        Ok(LiveCaller {
            tenant_id: user.tenant_id,
            scope,
            since,
        })
    }
}

/// WebSocket stream of state changes and counters.
///
/// Query: `token` (or the Authorization header) and `scope` = `all` (default),
/// `site:ID`, `line:ID` or `equipment:ID`. Messages are JSON text frames:
/// first `{"type":"hello","scope":…,"seq":…}`, then `state`, `counters` and
/// `alarm` messages each with a rising `seq`; `{"type":"lagged","missed":n}`
/// says the client fell behind and should reload the snapshot. A client
/// that reconnects passes `since` (the last `seq` it saw) and first gets
/// what it missed (`hello` then says `"replayed": n`), or `"resync": true`
/// when that is no longer kept and it must reload the snapshot.
#[utoipa::path(get, path = "/live", tag = "live",
    params(("token" = Option<String>, Query, description = "bearer token, for browsers"),
        ("scope" = Option<String>, Query, description = "all | site:ID | line:ID | equipment:ID"),
        ("since" = Option<u64>, Query, description = "the last seq seen, to get what was missed")),
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn socket(
    State(s): State<AppState>,
    caller: LiveCaller,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| stream(s, caller, socket))
}

async fn stream(s: AppState, caller: LiveCaller, socket: WebSocket) {
    let mut rx = s.hub.subscribe();
    let (mut tx, mut incoming) = socket.split();
    s.metrics.live_connections.inc();
    let mine = |env: &zhizao_live::Envelope| {
        env.placement.tenant_id == caller.tenant_id
            && (caller.scope.matches(&env.placement) || env.message.plant_wide())
    };
    // Subscribed first, so nothing falls between the replay and the feed;
    // what is in both is sent once.
    let replay = caller.since.map(|since| s.hub.replay_since(since));
    let mut hello = serde_json::json!({"type": "hello", "scope": caller.scope.to_string(), "seq": s.hub.last_seq()});
    let mut missed = Vec::new();
    let mut sent_up_to = 0;
    match replay {
        Some(Some(list)) => {
            missed = list.into_iter().filter(|e| mine(e)).collect();
            hello["replayed"] = missed.len().into();
            sent_up_to = caller.since.unwrap_or(0);
        }
        Some(None) => hello["resync"] = true.into(),
        None => {}
    }
    let mut open = tx
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_ok();
    for env in missed {
        if !open {
            break;
        }
        sent_up_to = sent_up_to.max(env.message.seq());
        if let Ok(t) = serde_json::to_string(&env.message) {
            open = tx.send(Message::Text(t.into())).await.is_ok();
        }
    }
    while open {
        tokio::select! {
            msg = rx.recv() => {
                let text = match msg {
                    Ok(env) => {
                        if !mine(&env) || env.message.seq() <= sent_up_to {
                            continue;
                        }
                        match serde_json::to_string(&env.message) {
                            Ok(t) => t,
                            Err(e) => {
                                tracing::error!(error = %e, "cannot serialise live message");
                                continue;
                            }
                        }
                    }
                    Err(RecvError::Lagged(n)) => serde_json::json!({"type": "lagged", "missed": n}).to_string(),
                    Err(RecvError::Closed) => break,
                };
                open = tx.send(Message::Text(text.into())).await.is_ok();
            }
            incoming_msg = incoming.next() => {
                // Clients only close or ping; axum answers pings itself.
                open = matches!(incoming_msg, Some(Ok(m)) if !matches!(m, Message::Close(_)));
            }
        }
    }
    s.metrics.live_connections.dec();
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineSegment {
    pub start: i64,
    pub end: i64,
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MachineTimeline {
    pub equipment_id: i64,
    pub code: String,
    /// Consecutive states, oldest first; time before the first known state
    /// is left out.
    pub segments: Vec<TimelineSegment>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    pub from: i64,
    pub to: i64,
    pub machines: Vec<MachineTimeline>,
}

/// Each machine's states over the last `hours` (1 to 24, default 8),
/// for the machines of `line_id` (or all), from the recorded state changes.
#[utoipa::path(get, path = "/live/timeline", tag = "live", security(("bearer" = [])),
    params(("line_id" = Option<i64>, Query), ("hours" = Option<i64>, Query)),
    responses((status = 200, body = Timeline), (status = 422, body = ErrorBody)))]
pub async fn timeline(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<Timeline>, ApiError> {
    let tenant = u.tenant();
    let hours = match q.get("hours") {
        None => 8,
        Some(h) => h
            .parse::<i64>()
            .ok()
            .filter(|h| (1..=24).contains(h))
            .ok_or_else(|| ApiError::validation("hours", "must be a whole number from 1 to 24"))?,
    };
    let line_id = q
        .get("line_id")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::validation("line_id", "must be a line id"))
        })
        .transpose()?;
    let to = zhizao_live::now_ms();
    let from = to - hours * 3_600_000;
    let layout = s.store.layout(tenant).await?;
    let mut machines = Vec::new();
    for e in layout
        .equipment
        .iter()
        .filter(|e| line_id.is_none_or(|l| e.line_id == l))
    {
        let (before, changes) = s.store.state_events_between(tenant, e.id, from, to).await?;
        let mut segments: Vec<TimelineSegment> = Vec::new();
        let mut current = before.map(|b| (from, b.state));
        for c in changes {
            match &current {
                Some((_, st)) if *st == c.state => {}
                Some((start, st)) => {
                    segments.push(TimelineSegment {
                        start: *start,
                        end: c.ts,
                        state: st.clone(),
                    });
                    current = Some((c.ts, c.state));
                }
                None => current = Some((c.ts, c.state)),
            }
        }
        if let Some((start, state)) = current {
            segments.push(TimelineSegment {
                start,
                end: to,
                state,
            });
        }
        machines.push(MachineTimeline {
            equipment_id: e.id,
            code: e.code.clone(),
            segments,
        });
    }
    Ok(Json(Timeline { from, to, machines }))
}
