//! Downtime reasons over HTTP: the tenant's reason tree, a machine's stops
//! over a period with the reasons given, and giving a stop its reason (as
//! an operator terminal does). A reason's class changes what the stop
//! counts as in the KPIs (`docs/kpis.md`).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_core::MachineState;
use zhizao_kpi::reasons::{Reason, ReasonTree};
use zhizao_store::StopReason;

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, QueryMap, ValidJson};

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonTreeDto {
    #[schema(value_type = Object)]
    pub tree: ReasonTree,
    /// True when the tenant has none set and the default is shown.
    pub default: bool,
}

/// The tenant's reason tree, or the default one.
pub(crate) async fn tree_of(s: &AppState, tenant: i64) -> Result<(ReasonTree, bool), ApiError> {
    match s.store.reason_tree(tenant).await? {
        Some(json) => serde_json::from_str(&json)
            .map(|t| (t, false))
            .map_err(|e| ApiError::unavailable(format!("stored reason tree unreadable: {e}"))),
        None => Ok((ReasonTree::default_tree(), true)),
    }
}

/// The downtime reason tree (codes, Chinese and English names, and what
/// kind of time each reason makes a stop).
#[utoipa::path(get, path = "/downtime-reasons", tag = "kpi", security(("bearer" = [])),
    responses((status = 200, body = ReasonTreeDto)))]
pub async fn get_tree(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<ReasonTreeDto>, ApiError> {
    let (tree, default) = tree_of(&s, u.tenant()).await?;
    Ok(Json(ReasonTreeDto { tree, default }))
}

/// Replace the downtime reason tree. A code that stops were given must
/// stay (its names may change).
#[utoipa::path(put, path = "/downtime-reasons", tag = "kpi", security(("bearer" = [])),
    request_body(content = Object),
    responses((status = 200, body = ReasonTreeDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_tree(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(tree): ValidJson<ReasonTree>,
) -> Result<Json<ReasonTreeDto>, ApiError> {
    u.require_master_data_editor()?;
    tree.validate()
        .map_err(|e| ApiError::validation(e.field.clone(), e.to_string()))?;
    // Stops already explained keep their reason: its code must stay.
    for (code, stops) in s.store.reason_codes_in_use(u.tenant()).await? {
        if tree.get(&code).is_none() {
            return Err(ApiError::validation(
                "reasons",
                format!(
                    "`{code}` is the reason of {stops} stop(s) and cannot be removed; rename it instead"
                ),
            ));
        }
    }
    let json =
        serde_json::to_string(&tree).map_err(|e| ApiError::validation("reasons", e.to_string()))?;
    s.store.put_reason_tree(u.tenant(), &json).await?;
    Ok(Json(ReasonTreeDto {
        tree,
        default: false,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StopDto {
    /// When the stop began (epoch ms): the key to give it a reason.
    pub start: i64,
    /// When it ended; `null` while it lasts.
    pub end: Option<i64>,
    pub state: String,
    pub seconds: f64,
    #[schema(value_type = Option<Object>)]
    pub reason: Option<Reason>,
    pub comment: Option<String>,
    pub by: Option<String>,
}

/// A state that is not making or preparing parts: a stop that can be
/// given a reason.
pub(crate) fn is_stop(state: &str) -> bool {
    !matches!(
        state.parse::<MachineState>(),
        Ok(MachineState::Running | MachineState::Setup) | Err(_)
    )
}

/// A machine's stops (every state but running and setup) that began in `[from, to)`
/// (default: the last 24 hours), newest first, with their reasons.
#[utoipa::path(get, path = "/equipment/{id}/stops", tag = "kpi", security(("bearer" = [])),
    params(("id" = i64, Path), ("from" = Option<String>, Query), ("to" = Option<String>, Query)),
    responses((status = 200, body = Vec<StopDto>), (status = 404, body = ErrorBody)))]
pub async fn stops(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    QueryMap(q): QueryMap,
) -> Result<Json<Vec<StopDto>>, ApiError> {
    let tenant = u.tenant();
    s.store.get_equipment(tenant, id).await?;
    let now = zhizao_live::now_ms();
    let to = crate::kpi::time_param(&q, "to", now)?.min(now);
    let from = crate::kpi::time_param(&q, "from", to - 86_400_000)?;
    let (_, events) = s.store.state_events_between(tenant, id, from, to).await?;
    // The change after each event ends it; the last may still last.
    let next = s
        .store
        .first_state_event_between(tenant, id, to, now + 1)
        .await?;
    let (tree, _) = tree_of(&s, tenant).await?;
    let reasons = s.store.stop_reasons_between(tenant, id, from, to).await?;
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if !is_stop(&e.state) {
            continue;
        }
        let end = events.get(i + 1).or(next.as_ref()).map(|n| n.ts);
        let given = reasons.iter().find(|r| r.stop_ts == e.ts);
        out.push(StopDto {
            start: e.ts,
            end,
            state: e.state.clone(),
            seconds: (end.unwrap_or(now) - e.ts) as f64 / 1000.0,
            reason: given.and_then(|r| tree.get(&r.code).cloned()),
            comment: given.map(|r| r.comment.clone()),
            by: given.map(|r| r.by_user.clone()),
        });
    }
    out.reverse();
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveReason {
    /// A code of the reason tree, e.g. `material.crane`.
    pub code: String,
    #[serde(default)]
    pub comment: String,
}

/// Give the stop that began at `start` its reason (replacing one given
/// before).
#[utoipa::path(put, path = "/equipment/{id}/stops/{start}/reason", tag = "kpi", security(("bearer" = [])),
    params(("id" = i64, Path), ("start" = i64, Path)), request_body = GiveReason,
    responses((status = 200, body = StopDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn give_reason(
    State(s): State<AppState>,
    u: AuthUser,
    Path((id, start)): Path<(i64, i64)>,
    ValidJson(body): ValidJson<GiveReason>,
) -> Result<Json<StopDto>, ApiError> {
    let tenant = u.tenant();
    s.store.get_equipment(tenant, id).await?;
    let (tree, _) = tree_of(&s, tenant).await?;
    let reason = tree.get(&body.code).cloned().ok_or_else(|| {
        ApiError::validation("code", format!("`{}` is not in the reason tree", body.code))
    })?;
    let (_, events) = s
        .store
        .state_events_between(tenant, id, start, start + 1)
        .await?;
    let Some(stop) = events.iter().find(|e| e.ts == start && is_stop(&e.state)) else {
        return Err(ApiError::validation(
            "start",
            format!(
                "no stop of this machine began at {start} (see GET /api/v1/equipment/{id}/stops)"
            ),
        ));
    };
    let by = u.0.username.clone();
    s.store
        .set_stop_reason(
            tenant,
            &StopReason {
                equipment_id: id,
                stop_ts: start,
                code: body.code,
                comment: body.comment.clone(),
                by_user: by.clone(),
                created_at: zhizao_live::now_ms(),
            },
        )
        .await?;
    Ok(Json(StopDto {
        start,
        end: None,
        state: stop.state.clone(),
        seconds: 0.0,
        reason: Some(reason),
        comment: Some(body.comment),
        by: Some(by),
    }))
}

/// The rules that derive machine states from signals, per equipment type
/// (empty when none are set).
#[utoipa::path(get, path = "/state-rules", tag = "kpi", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn get_state_rules(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<zhizao_kpi::state_rules::StateRuleSet>, ApiError> {
    match s.store.state_rules(u.tenant()).await? {
        Some(json) => serde_json::from_str(&json)
            .map(Json)
            .map_err(|e| ApiError::unavailable(format!("stored state rules unreadable: {e}"))),
        None => Ok(Json(Default::default())),
    }
}

/// Replace the state rules: for each equipment type, conditions over a
/// machine's latest numbers in order; the first that holds names the
/// state. They apply at once to machines of those types that report no
/// state themselves.
#[utoipa::path(put, path = "/state-rules", tag = "kpi", security(("bearer" = [])),
    request_body(content = Object),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_state_rules(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(set): ValidJson<zhizao_kpi::state_rules::StateRuleSet>,
) -> Result<Json<zhizao_kpi::state_rules::StateRuleSet>, ApiError> {
    u.require_master_data_editor()?;
    let compiled = zhizao_kpi::state_rules::StateRules::compile(&set)
        .map_err(|e| ApiError::validation(e.field.clone(), e.to_string()))?;
    let json =
        serde_json::to_string(&set).map_err(|e| ApiError::validation("types", e.to_string()))?;
    s.store.put_state_rules(u.tenant(), &json).await?;
    s.hub.set_state_rules(u.tenant(), compiled);
    Ok(Json(set))
}
