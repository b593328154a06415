//! Alarms over HTTP: a tenant's rules (checked by the alarm engine before
//! they are stored and applied), the alarms that are not over, the latest
//! alarm events, acknowledgement and shelving. Rule kinds and the
//! lifecycle are in `docs/alarms.md`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_alarm::{Alarm, AlarmError, Event, Rule};

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, ValidJson};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmRules {
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<Rule>,
}

fn rule_error(e: AlarmError) -> ApiError {
    match &e {
        AlarmError::Rule { index, field, .. } => {
            ApiError::validation(format!("rules[{index}].{field}"), e.to_string())
        }
        AlarmError::NoSuchAlarm(_) => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            e.to_string(),
        ),
        AlarmError::AlreadyAcknowledged(_) => {
            ApiError::new(axum::http::StatusCode::CONFLICT, "conflict", e.to_string())
        }
    }
}

/// The tenant's alarm rules.
#[utoipa::path(get, path = "/alarm-rules", tag = "alarms", security(("bearer" = [])),
    responses((status = 200, body = AlarmRules)))]
pub async fn get_rules(State(s): State<AppState>, u: AuthUser) -> Json<AlarmRules> {
    Json(AlarmRules {
        rules: s.hub.alarms.rules(u.tenant()),
    })
}

/// Replace the tenant's alarm rules. They apply at once; alarms of the
/// old rules end.
#[utoipa::path(put, path = "/alarm-rules", tag = "alarms", security(("bearer" = [])),
    request_body = AlarmRules,
    responses((status = 200, body = AlarmRules), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_rules(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(body): ValidJson<AlarmRules>,
) -> Result<Json<AlarmRules>, ApiError> {
    u.require_master_data_editor()?;
    // Checked (and compiled) before anything is stored.
    zhizao_alarm::Engine::new(body.rules.clone(), zhizao_live::alarms::FLOOD_LIMIT)
        .map_err(rule_error)?;
    let json = serde_json::to_string(&body.rules)
        .map_err(|e| ApiError::validation("rules", e.to_string()))?;
    s.store.put_alarm_rules(u.tenant(), &json).await?;
    // Ids go on after the journal's, so they stay unique over restarts.
    let first = s
        .store
        .max_alarm_id(u.tenant())
        .await?
        .and_then(|m| u64::try_from(m).ok())
        .unwrap_or(0)
        + 1;
    s.hub
        .alarms
        .set_rules_from(u.tenant(), body.rules.clone(), first)
        .map_err(rule_error)?;
    Ok(Json(body))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmList {
    /// Alarms that are not over (active, or cleared but unacknowledged),
    /// oldest first.
    #[schema(value_type = Vec<Object>)]
    pub active: Vec<Alarm>,
    /// The latest alarm events, newest first.
    #[schema(value_type = Vec<Object>)]
    pub recent: Vec<Event>,
}

/// Alarms that are not over, and the latest alarm events.
#[utoipa::path(get, path = "/alarms", tag = "alarms", security(("bearer" = [])),
    responses((status = 200, body = AlarmList)))]
pub async fn list(State(s): State<AppState>, u: AuthUser) -> Json<AlarmList> {
    Json(AlarmList {
        active: s.hub.alarms.active(u.tenant()),
        recent: s.hub.alarms.recent(u.tenant()),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledge {
    #[serde(default)]
    pub comment: String,
}

/// Acknowledge an alarm (as the logged-in user, with a comment).
#[utoipa::path(post, path = "/alarms/{id}/acknowledge", tag = "alarms", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = Acknowledge,
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn acknowledge(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(body): ValidJson<Acknowledge>,
) -> Result<Json<Event>, ApiError> {
    let id = u64::try_from(id).map_err(|_| ApiError::validation("id", "must be positive"))?;
    let (at, event) = s
        .hub
        .alarms
        .acknowledge(
            u.tenant(),
            id,
            &u.0.username,
            &body.comment,
            zhizao_live::now_ms(),
        )
        .map_err(rule_error)?;
    s.hub.alarm_events(u.tenant(), vec![(at, event.clone())]);
    Ok(Json(event))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shelve {
    /// How long to hold back the alarm's notifications (1 to 1440).
    pub minutes: u32,
}

/// Shelve an alarm: its notifications are held back for a while.
#[utoipa::path(post, path = "/alarms/{id}/shelve", tag = "alarms", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = Shelve,
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn shelve(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(body): ValidJson<Shelve>,
) -> Result<Json<Event>, ApiError> {
    if !(1..=1440).contains(&body.minutes) {
        return Err(ApiError::validation("minutes", "must be 1 to 1440"));
    }
    let id = u64::try_from(id).map_err(|_| ApiError::validation("id", "must be positive"))?;
    let now = zhizao_live::now_ms();
    let (at, event) = s
        .hub
        .alarms
        .shelve(u.tenant(), id, now + i64::from(body.minutes) * 60_000, now)
        .map_err(rule_error)?;
    s.hub.alarm_events(u.tenant(), vec![(at, event.clone())]);
    Ok(Json(event))
}

/// The alarm journal: every alarm event in `[from, to)` (default: the last
/// 7 days), newest first, paged with `limit` (default 50, at most 500) and
/// `offset`.
#[utoipa::path(get, path = "/alarms/history", tag = "alarms", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
pub async fn history(
    State(s): State<AppState>,
    u: AuthUser,
    crate::extract::QueryMap(q): crate::extract::QueryMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = zhizao_live::now_ms();
    let to = crate::kpi::time_param(&q, "to", now + 1)?;
    let from = crate::kpi::time_param(&q, "from", now - 7 * 86_400_000)?;
    let number = |name: &'static str, default: i64, max: i64| -> Result<i64, ApiError> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::validation(name, format!("must be a number from 0 to {max}"))
                }),
        }
    };
    let limit = number("limit", 50, 500)?.max(1);
    let offset = number("offset", 0, i64::MAX)?;
    let (items, total) = s
        .store
        .alarm_journal(u.tenant(), from, to, limit, offset)
        .await?;
    Ok(Json(serde_json::json!({
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}
