//! `/api/v1/quality`: inspection characteristics, their samples and live
//! control charts. Each sample reaches the alarm system as the signal
//! `spc_signal` of the machine it was measured on (the characteristic's
//! code when there is none): the first run rule the newest point signals
//! (1 when it is only beyond the limits), or 0 when every characteristic
//! measured on that machine is in control. An alarm rule
//! `spc_signal > 0.5` so raises and clears with the charts, and the
//! machine's own signals keep its no-data rules quiet.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use zhizao_core::{Role, validate_code};
use zhizao_live::Placement;
use zhizao_quality::kpi::{ItemCost, OperationYield, QualityFigures, quality_figures};
use zhizao_quality::{
    Actor, Characteristic, ChartKind, ChartView, Direction, FrozenLimits, Ncr, NcrAction, NcrError,
    NewNcr, TraceRecord, chart_view,
};
use zhizao_store::{
    NcrChange, NcrEvent, NcrPhoto, NewSample, Sample, StoredCharacteristic, StoredNcr,
};

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, QueryMap, ValidJson};

/// Samples a chart shows unless asked otherwise, and at most.
const DEFAULT_POINTS: i64 = 50;
const MAX_POINTS: i64 = 500;

/// The alarm signal a sample sends.
pub const SPC_SIGNAL: &str = "spc_signal";

/// A characteristic as the API shows it: its definition, id and times.
#[derive(Serialize, ToSchema)]
pub struct CharacteristicDto {
    pub id: i64,
    /// The definition as posted: code, name, item, operation_seq, stage
    /// (iqc, ipqc, oqc), chart (xbar_r, xbar_s, imr, p, np, c, u),
    /// subgroup_size, unit, lsl, usl, target, sampling, gauge, equipment,
    /// rules, limits.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub characteristic: Characteristic,
    pub created_at: i64,
    pub updated_at: i64,
    /// `in_control`, `out_of_control` (the newest point), or `no_data`.
    pub status: String,
    /// Samples recorded so far.
    pub samples: usize,
    /// When the next sample is due (sampling by time), epoch ms.
    pub next_due_at: Option<i64>,
    /// The next sample is past due.
    pub overdue: bool,
}

/// A chart's state as lists show it.
struct ChartState {
    status: &'static str,
    samples: usize,
    last_at: Option<i64>,
}

impl ChartState {
    fn of(c: &Characteristic, samples: &[Sample]) -> ChartState {
        let groups: Vec<_> = samples.iter().map(Sample::subgroup).collect();
        let status = match chart_view(c, &groups) {
            _ if groups.is_empty() => "no_data",
            Ok(v) if v.latest_out_of_control() => "out_of_control",
            _ => "in_control",
        };
        ChartState {
            status,
            samples: samples.last().map_or(0, |x| x.number.max(0) as usize),
            last_at: samples.iter().map(|x| x.taken_at).max(),
        }
    }
}

fn dto(s: StoredCharacteristic, state: &ChartState) -> CharacteristicDto {
    let next_due_at = s.characteristic.next_due(state.last_at, s.created_at);
    CharacteristicDto {
        id: s.id,
        created_at: s.created_at,
        updated_at: s.updated_at,
        status: state.status.to_owned(),
        samples: state.samples,
        next_due_at,
        overdue: next_due_at.is_some_and(|due| due < zhizao_store::now_ms()),
        characteristic: s.characteristic,
    }
}

fn require_quality(u: &AuthUser) -> Result<(), ApiError> {
    if matches!(u.0.role, Role::Admin | Role::Quality) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role `{}` may not change inspection plans; a quality engineer or an admin must",
            u.0.role.as_str()
        )))
    }
}

fn checked(body: Value) -> Result<Characteristic, ApiError> {
    let c: Characteristic = crate::extract::parse_json(body.to_string().as_bytes())?;
    c.validate()
        .map_err(|e| ApiError::validation(e.field.clone(), e.to_string()))?;
    Ok(c)
}

async fn status_of(
    s: &AppState,
    tenant: i64,
    c: &StoredCharacteristic,
) -> Result<ChartState, ApiError> {
    let samples = s.store.recent_samples(tenant, c.id, 25).await?;
    Ok(ChartState::of(&c.characteristic, &samples))
}

/// The inspection plan: every characteristic, by item and code, with the
/// state of its chart.
#[utoipa::path(get, path = "/quality/characteristics", tag = "quality", security(("bearer" = [])),
    operation_id = "list_characteristics",
    responses((status = 200, body = [CharacteristicDto])))]
pub async fn list_characteristics(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<Vec<CharacteristicDto>>, ApiError> {
    let mut out = Vec::new();
    for c in s.store.list_characteristics(u.tenant()).await? {
        let state = status_of(&s, u.tenant(), &c).await?;
        out.push(dto(c, &state));
    }
    Ok(Json(out))
}

/// Adds a characteristic to the inspection plan.
#[utoipa::path(post, path = "/quality/characteristics", tag = "quality", security(("bearer" = [])),
    operation_id = "create_characteristic",
    request_body(content = Object, description = "A characteristic: see CharacteristicDto"),
    responses((status = 201, body = CharacteristicDto), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_characteristic(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(body): ValidJson<Value>,
) -> Result<(StatusCode, Json<CharacteristicDto>), ApiError> {
    require_quality(&u)?;
    let c = checked(body)?;
    let id = s.store.create_characteristic(u.tenant(), &c).await?;
    let stored = s.store.get_characteristic(u.tenant(), id).await?;
    Ok((
        StatusCode::CREATED,
        Json(dto(
            stored,
            &ChartState {
                status: "no_data",
                samples: 0,
                last_at: None,
            },
        )),
    ))
}

#[utoipa::path(get, path = "/quality/characteristics/{id}", tag = "quality", security(("bearer" = [])),
    operation_id = "get_characteristic", params(("id" = i64, Path)),
    responses((status = 200, body = CharacteristicDto), (status = 404, body = ErrorBody)))]
pub async fn get_characteristic(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<CharacteristicDto>, ApiError> {
    let c = s.store.get_characteristic(u.tenant(), id).await?;
    let state = status_of(&s, u.tenant(), &c).await?;
    Ok(Json(dto(c, &state)))
}

/// Replaces a characteristic's definition; its samples stay.
#[utoipa::path(put, path = "/quality/characteristics/{id}", tag = "quality", security(("bearer" = [])),
    operation_id = "update_characteristic", params(("id" = i64, Path)),
    request_body(content = Object),
    responses((status = 200, body = CharacteristicDto), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_characteristic(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(body): ValidJson<Value>,
) -> Result<Json<CharacteristicDto>, ApiError> {
    require_quality(&u)?;
    let c = checked(body)?;
    let old = s.store.get_characteristic(u.tenant(), id).await?;
    if old.characteristic.chart != c.chart
        && s.store.recent_samples(u.tenant(), id, 1).await?.len() == 1
    {
        return Err(ApiError::validation(
            "chart",
            "chart: the characteristic has samples of its chart type; add a new characteristic instead",
        ));
    }
    s.store.update_characteristic(u.tenant(), id, &c).await?;
    let stored = s.store.get_characteristic(u.tenant(), id).await?;
    let state = status_of(&s, u.tenant(), &stored).await?;
    Ok(Json(dto(stored, &state)))
}

#[utoipa::path(delete, path = "/quality/characteristics/{id}", tag = "quality", security(("bearer" = [])),
    operation_id = "delete_characteristic", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_characteristic(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    require_quality(&u)?;
    s.store.delete_characteristic(u.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One sample: the measured values of a subgroup, or a count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSampleDto {
    /// Measured characteristics: exactly `subgroup_size` values.
    pub values: Option<Vec<f64>>,
    /// Counted characteristics: nonconforming units (p, np) or
    /// nonconformities (c, u).
    pub count: Option<f64>,
    /// p: units inspected; u: inspection units (may be fractional).
    pub sample_size: Option<f64>,
    /// Epoch ms; now when absent.
    pub taken_at: Option<i64>,
    pub work_order: Option<String>,
    pub operation_seq: Option<i32>,
    /// Equipment code; the characteristic's when absent.
    pub equipment: Option<String>,
    /// Who measured; the caller when absent.
    pub operator: Option<String>,
    /// Material lot of the measured unit(s).
    pub lot: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SampleResult {
    #[schema(value_type = Object)]
    pub sample: Sample,
    /// The new point is beyond its limits or signals a run rule.
    pub out_of_control: bool,
    pub beyond_limits: bool,
    /// Run rules signalled at the new point.
    pub rules: Vec<u8>,
}

/// Checks a sample against its characteristic.
pub fn sample_from(
    c: &Characteristic,
    dto: NewSampleDto,
    operator: &str,
    now: i64,
) -> Result<NewSample, ApiError> {
    let bad =
        |field: &str, message: String| ApiError::validation(field, format!("{field}: {message}"));
    let (values, sample_size) = if c.chart.is_variable() {
        if dto.count.is_some() {
            return Err(bad(
                "count",
                format!("{} is measured; send `values`", c.code),
            ));
        }
        let values = dto.values.ok_or_else(|| {
            bad(
                "values",
                format!(
                    "missing; {} takes {} value(s) a sample",
                    c.code, c.subgroup_size
                ),
            )
        })?;
        if values.len() != c.subgroup_size as usize {
            return Err(bad(
                "values",
                format!(
                    "{} value(s), but {} takes subgroups of {}",
                    values.len(),
                    c.code,
                    c.subgroup_size
                ),
            ));
        }
        (values, None)
    } else {
        if dto.values.is_some() {
            return Err(bad(
                "values",
                format!("{} is counted; send `count`", c.code),
            ));
        }
        let count = dto.count.ok_or_else(|| bad("count", "missing".into()))?;
        if !(count >= 0.0 && count.fract() == 0.0) {
            return Err(bad(
                "count",
                format!("{count}: a count is a whole number, 0 or more"),
            ));
        }
        let size = match c.chart {
            ChartKind::P | ChartKind::U => {
                let n = dto.sample_size.ok_or_else(|| {
                    bad(
                        "sample_size",
                        "missing: how many units were inspected".into(),
                    )
                })?;
                if n.is_nan() || n <= 0.0 || (c.chart == ChartKind::P && n.fract() != 0.0) {
                    return Err(bad("sample_size", format!("{n}: must be positive")));
                }
                Some(n)
            }
            ChartKind::Np => {
                let n = f64::from(c.subgroup_size);
                if dto.sample_size.is_some_and(|s| s != n) {
                    return Err(bad(
                        "sample_size",
                        format!("{} inspects {n} units a sample", c.code),
                    ));
                }
                Some(n)
            }
            _ => None,
        };
        if matches!(c.chart, ChartKind::P | ChartKind::Np) && size.is_some_and(|n| count > n) {
            return Err(bad(
                "count",
                format!("{count} nonconforming of {} inspected", size.unwrap_or(0.0)),
            ));
        }
        (vec![count], size)
    };
    let taken_at = dto.taken_at.unwrap_or(now);
    if !(0..=now + 86_400_000).contains(&taken_at) {
        return Err(bad(
            "taken_at",
            format!("{taken_at} is not a time up to tomorrow (epoch ms)"),
        ));
    }
    let equipment = dto.equipment.unwrap_or_else(|| c.equipment.clone());
    if !equipment.is_empty() {
        validate_code("equipment", &equipment)
            .map_err(|e| ApiError::validation(e.field.clone(), e.to_string()))?;
    }
    let short = |field: &str, v: Option<String>| -> Result<String, ApiError> {
        let v = v.unwrap_or_default();
        if v.chars().count() > 100 {
            return Err(bad(field, "longer than 100 characters".into()));
        }
        Ok(v)
    };
    Ok(NewSample {
        values,
        sample_size,
        taken_at,
        work_order: short("work_order", dto.work_order)?,
        operation_seq: dto.operation_seq.or(c.operation_seq),
        equipment,
        operator: short(
            "operator",
            dto.operator.or_else(|| Some(operator.to_owned())),
        )?,
        lot: short("lot", dto.lot)?,
        source: "api".into(),
    })
}

/// Where an equipment code sits, for the alarm it may raise.
async fn placement(s: &AppState, tenant: i64, code: &str) -> Option<Placement> {
    if code.is_empty() {
        return None;
    }
    let layout = s.store.layout(tenant).await.ok()?;
    let e = layout.equipment.iter().find(|e| e.code == code)?;
    let site = layout.site_of_line(e.line_id)?;
    Some(Placement {
        tenant_id: tenant,
        site_id: site.id,
        line_id: e.line_id,
        equipment_id: e.id,
    })
}

/// Stores a sample and judges its point; used by the API and the demo.
pub async fn record_sample(
    s: &AppState,
    tenant: i64,
    c: &StoredCharacteristic,
    new: &NewSample,
) -> Result<SampleResult, ApiError> {
    let sample = s.store.add_sample(tenant, c.id, new).await?;
    let recent = s.store.recent_samples(tenant, c.id, DEFAULT_POINTS).await?;
    let groups: Vec<_> = recent.iter().map(Sample::subgroup).collect();
    let view = chart_view(&c.characteristic, &groups).map_err(|e| {
        tracing::warn!(characteristic = c.id, error = %e, "chart of stored samples");
        ApiError::internal()
    })?;
    let (beyond, rules) = view
        .points
        .last()
        .map_or((false, Vec::new()), |p| (p.beyond, p.rules.clone()));
    let mut signal = match (beyond, rules.first()) {
        (_, Some(r)) => f64::from(*r),
        (true, None) => 1.0,
        (false, None) => 0.0,
    };
    let source = if sample.equipment.is_empty() {
        c.characteristic.code.clone()
    } else {
        sample.equipment.clone()
    };
    if signal == 0.0 && !sample.equipment.is_empty() {
        // Another characteristic of the machine may still be out.
        for other in s.store.list_characteristics(tenant).await? {
            if other.id != c.id
                && other.characteristic.equipment == source
                && status_of(s, tenant, &other).await?.status == "out_of_control"
            {
                signal = 1.0;
                break;
            }
        }
    }
    let at = placement(s, tenant, &source).await;
    let events = s
        .hub
        .alarms
        .sample(tenant, at, &source, SPC_SIGNAL, sample.taken_at, signal);
    if !events.is_empty() {
        s.hub.alarm_events(tenant, events);
    }
    s.hub.quality_sample(
        tenant,
        at,
        zhizao_live::QualitySampleNews {
            characteristic_id: c.id,
            code: c.characteristic.code.clone(),
            number: sample.number,
            taken_at: sample.taken_at,
            out_of_control: beyond || !rules.is_empty(),
            rules: rules.clone(),
        },
    );
    Ok(SampleResult {
        sample,
        out_of_control: beyond || !rules.is_empty(),
        beyond_limits: beyond,
        rules,
    })
}

/// Records one sample of a characteristic and judges its point.
#[utoipa::path(post, path = "/quality/characteristics/{id}/samples", tag = "quality", security(("bearer" = [])),
    operation_id = "create_sample", params(("id" = i64, Path)),
    request_body = NewSampleDto,
    responses((status = 201, body = SampleResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_sample(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(body): ValidJson<NewSampleDto>,
) -> Result<(StatusCode, Json<SampleResult>), ApiError> {
    if u.0.role == Role::Viewer {
        return Err(ApiError::forbidden("a viewer may not record measurements"));
    }
    let c = s.store.get_characteristic(u.tenant(), id).await?;
    let new = sample_from(
        &c.characteristic,
        body,
        &u.0.username,
        zhizao_store::now_ms(),
    )?;
    let result = record_sample(&s, u.tenant(), &c, &new).await?;
    Ok((StatusCode::CREATED, Json(result)))
}

/// A characteristic's chart with its samples.
#[derive(Serialize, ToSchema)]
pub struct ChartDto {
    pub characteristic: CharacteristicDto,
    /// Points (with their limits and the rules they signal), the spread
    /// panel's limits, and capability over the points shown.
    #[schema(value_type = Object)]
    pub chart: ChartView,
    #[schema(value_type = Vec<Object>)]
    pub samples: Vec<Sample>,
}

/// A whole-number query parameter within `range`; `default` when absent.
fn query_number(
    q: &std::collections::HashMap<String, String>,
    key: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ApiError> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::validation(
                    key,
                    format!(
                        "{key}: `{v}` is not a number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// The live control chart of a characteristic: its newest samples.
#[utoipa::path(get, path = "/quality/characteristics/{id}/chart", tag = "quality", security(("bearer" = [])),
    operation_id = "characteristic_chart",
    params(("id" = i64, Path), ("last" = Option<i64>, Query, description = "samples shown, 1–500 (default 50)")),
    responses((status = 200, body = ChartDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn chart(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    QueryMap(q): QueryMap,
) -> Result<Json<ChartDto>, ApiError> {
    let last = query_number(&q, "last", DEFAULT_POINTS, 1..=MAX_POINTS)?;
    let c = s.store.get_characteristic(u.tenant(), id).await?;
    let samples = s.store.recent_samples(u.tenant(), id, last).await?;
    let groups: Vec<_> = samples.iter().map(Sample::subgroup).collect();
    let view = chart_view(&c.characteristic, &groups)
        .map_err(|e| ApiError::validation(e.field.clone(), e.to_string()))?;
    let state = ChartState::of(&c.characteristic, &samples);
    Ok(Json(ChartDto {
        characteristic: dto(c, &state),
        chart: view,
        samples,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeRequest {
    /// Estimate from the newest this many samples (default 25).
    pub last: Option<i64>,
}

/// Phase II: freezes the trial limits of the newest samples, so later
/// points are judged against them.
#[utoipa::path(put, path = "/quality/characteristics/{id}/limits", tag = "quality", security(("bearer" = [])),
    operation_id = "freeze_limits", params(("id" = i64, Path)),
    request_body = FreezeRequest,
    responses((status = 200, body = CharacteristicDto), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn freeze_limits(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(body): ValidJson<FreezeRequest>,
) -> Result<Json<CharacteristicDto>, ApiError> {
    require_quality(&u)?;
    let last = body.last.unwrap_or(25);
    if !(2..=MAX_POINTS).contains(&last) {
        return Err(ApiError::validation(
            "last",
            format!("last: {last} is not from 2 to {MAX_POINTS}"),
        ));
    }
    let mut c = s.store.get_characteristic(u.tenant(), id).await?;
    let samples = s.store.recent_samples(u.tenant(), id, last).await?;
    let groups: Vec<_> = samples.iter().map(Sample::subgroup).collect();
    let mut trial = c.characteristic.clone();
    trial.limits = None;
    let view = chart_view(&trial, &groups)
        .map_err(|e| ApiError::validation(e.field.clone(), e.to_string()))?;
    let location = view.points.first().and_then(|p| p.limits).ok_or_else(|| {
        ApiError::validation("last", "last: not enough samples yet to estimate limits")
    })?;
    if view.points.windows(2).any(|w| w[0].limits != w[1].limits) {
        return Err(ApiError::validation(
            "last",
            "last: the limits vary with the sample size; freeze the centre line instead by setting `limits` on the characteristic",
        ));
    }
    c.characteristic.limits = Some(FrozenLimits {
        location,
        spread: view.spread_limits,
    });
    s.store
        .update_characteristic(u.tenant(), id, &c.characteristic)
        .await?;
    let stored = s.store.get_characteristic(u.tenant(), id).await?;
    let state = status_of(&s, u.tenant(), &stored).await?;
    Ok(Json(dto(stored, &state)))
}

/// Back to trial limits from the points shown.
#[utoipa::path(delete, path = "/quality/characteristics/{id}/limits", tag = "quality", security(("bearer" = [])),
    operation_id = "unfreeze_limits", params(("id" = i64, Path)),
    responses((status = 200, body = CharacteristicDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unfreeze_limits(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<CharacteristicDto>, ApiError> {
    require_quality(&u)?;
    let mut c = s.store.get_characteristic(u.tenant(), id).await?;
    c.characteristic.limits = None;
    s.store
        .update_characteristic(u.tenant(), id, &c.characteristic)
        .await?;
    let stored = s.store.get_characteristic(u.tenant(), id).await?;
    let state = status_of(&s, u.tenant(), &stored).await?;
    Ok(Json(dto(stored, &state)))
}

/// A nonconformance report with its id, and (singly) its audit trail.
#[derive(Serialize, ToSchema)]
pub struct NcrDto {
    pub id: i64,
    /// number, title, description, item, quantity, work_order,
    /// operation_seq, equipment, lot, characteristic, sample_number,
    /// status, created_by, created_at, containment, quantity_held,
    /// disposition, root_cause, actions, verification, closed_at.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub ncr: Ncr,
    pub updated_at: i64,
    /// Every change, oldest first (single reports only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub events: Option<Vec<NcrEvent>>,
    /// Photos without their bytes (single reports only); each is at
    /// `…/photos/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub photos: Option<Vec<NcrPhoto>>,
}

#[derive(Serialize, ToSchema)]
pub struct NcrPage {
    pub items: Vec<NcrDto>,
    pub total: i64,
}

fn ncr_dto(s: StoredNcr, events: Option<Vec<NcrEvent>>) -> NcrDto {
    NcrDto {
        id: s.id,
        ncr: s.ncr,
        updated_at: s.updated_at,
        events,
        photos: None,
    }
}

/// A single report with its audit trail and photos.
async fn full_ncr(s: &AppState, tenant: i64, stored: StoredNcr) -> Result<NcrDto, ApiError> {
    let events = s.store.ncr_events(tenant, stored.id).await?;
    let photos = s.store.ncr_photos(tenant, stored.id).await?;
    let mut dto = ncr_dto(stored, Some(events));
    dto.photos = Some(photos);
    Ok(dto)
}

fn ncr_error(e: NcrError) -> ApiError {
    match e {
        NcrError::Invalid(f) => ApiError::validation(f.field.clone(), f.to_string()),
        NcrError::WrongState { .. } => {
            ApiError::new(StatusCode::CONFLICT, "wrong_state", e.to_string())
        }
        NcrError::Forbidden(m) => ApiError::forbidden(m),
    }
}

fn actor(u: &AuthUser) -> Actor {
    Actor {
        username: u.0.username.clone(),
        role: u.0.role,
    }
}

/// Nonconformance reports, newest first.
#[utoipa::path(get, path = "/quality/ncrs", tag = "quality", security(("bearer" = [])),
    operation_id = "list_ncrs",
    params(("status" = Option<String>, Query, description = "open, contained, disposition_proposed, dispositioned, actions_open, verification, closed, cancelled"),
           ("limit" = Option<i64>, Query, description = "1–200 (default 50)"),
           ("offset" = Option<i64>, Query)),
    responses((status = 200, body = NcrPage), (status = 422, body = ErrorBody)))]
pub async fn list_ncrs(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<NcrPage>, ApiError> {
    const STATUSES: [&str; 8] = [
        "open",
        "contained",
        "disposition_proposed",
        "dispositioned",
        "actions_open",
        "verification",
        "closed",
        "cancelled",
    ];
    let status = q
        .get("status")
        .map(String::as_str)
        .filter(|v| !v.is_empty());
    if let Some(v) = status
        && !STATUSES.contains(&v)
    {
        return Err(ApiError::validation(
            "status",
            format!("status: `{v}` is not one of {}", STATUSES.join(", ")),
        ));
    }
    let limit = query_number(&q, "limit", 50, 0..=200)?.max(1);
    let offset = query_number(&q, "offset", 0, 0..=i64::MAX)?;
    let (items, total) = s.store.list_ncrs(u.tenant(), status, limit, offset).await?;
    Ok(Json(NcrPage {
        items: items.into_iter().map(|n| ncr_dto(n, None)).collect(),
        total,
    }))
}

/// Records a nonconformance: what, where, how many; from a control chart
/// when `characteristic` and `sample_number` name the point.
#[utoipa::path(post, path = "/quality/ncrs", tag = "quality", security(("bearer" = [])),
    operation_id = "create_ncr",
    request_body(content = Object, description = "title, description, item, quantity, work_order, operation_seq, equipment, lot, characteristic, sample_number"),
    responses((status = 201, body = NcrDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_ncr(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(body): ValidJson<Value>,
) -> Result<(StatusCode, Json<NcrDto>), ApiError> {
    let what: NewNcr = crate::extract::parse_json(body.to_string().as_bytes())?;
    if let Some(code) = &what.characteristic
        && s.store
            .characteristic_by_code(u.tenant(), code)
            .await?
            .is_none()
    {
        return Err(ApiError::validation(
            "characteristic",
            format!("characteristic: `{code}` is not in the inspection plan"),
        ));
    }
    let who = actor(&u);
    let now = zhizao_store::now_ms();
    // Checked before a number is taken; the store numbers it.
    let draft = Ncr::record(String::new(), what, &who, now).map_err(ncr_error)?;
    let detail = body.to_string();
    let stored = s
        .store
        .create_ncr(
            u.tenant(),
            |number| Ncr { number, ..draft },
            NcrChange {
                by_user: &u.0.username,
                action: "record",
                detail: &detail,
                at: now,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(full_ncr(&s, u.tenant(), stored).await?),
    ))
}

/// A report with its audit trail.
#[utoipa::path(get, path = "/quality/ncrs/{id}", tag = "quality", security(("bearer" = [])),
    operation_id = "get_ncr", params(("id" = i64, Path)),
    responses((status = 200, body = NcrDto), (status = 404, body = ErrorBody)))]
pub async fn get_ncr(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<NcrDto>, ApiError> {
    let stored = s.store.get_ncr(u.tenant(), id).await?;
    Ok(Json(full_ncr(&s, u.tenant(), stored).await?))
}

/// One step of the workflow: `contain`, `propose_disposition`,
/// `approve_disposition` (by someone other than the proposer; a
/// `use_as_is` concession by an admin), `reject_disposition`,
/// `record_root_cause` (5 Whys and a fishbone category), `add_action`,
/// `complete_action`, `verify`, `cancel`.
#[utoipa::path(post, path = "/quality/ncrs/{id}/actions", tag = "quality", security(("bearer" = [])),
    operation_id = "ncr_action", params(("id" = i64, Path)),
    request_body(content = Object, description = "{\"action\": \"contain\", \"containment\": \"…\", \"quantity_held\": 12} and so on"),
    responses((status = 200, body = NcrDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "not possible in the report's state, or changed meanwhile"),
              (status = 422, body = ErrorBody)))]
pub async fn ncr_action(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(body): ValidJson<Value>,
) -> Result<Json<NcrDto>, ApiError> {
    let action: NcrAction = crate::extract::parse_json(body.to_string().as_bytes())?;
    let current = s.store.get_ncr(u.tenant(), id).await?;
    let now = zhizao_store::now_ms();
    let next = current
        .ncr
        .apply(&action, &actor(&u), now)
        .map_err(ncr_error)?;
    let detail = body.to_string();
    let stored = s
        .store
        .update_ncr(
            u.tenant(),
            &current,
            &next,
            NcrChange {
                by_user: &u.0.username,
                action: action.name(),
                detail: &detail,
                at: now,
            },
        )
        .await?;
    Ok(Json(full_ncr(&s, u.tenant(), stored).await?))
}

/// Records that units (lots, serial numbers) went into another at an
/// operation; a received lot may be described in place as an input.
#[utoipa::path(post, path = "/quality/trace", tag = "quality", security(("bearer" = [])),
    operation_id = "record_trace",
    request_body(content = Object, description = "{\"output\": {\"code\", \"kind\": \"lot|serial\", \"item\", \"quantity\", \"work_order\"}, \"inputs\": [{\"code\", \"quantity\", \"kind\", \"item\"}], \"operation_seq\", \"at\"}"),
    responses((status = 201, description = "recorded"), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "a unit of another kind or item, or a loop"),
              (status = 422, body = ErrorBody)))]
pub async fn record_trace(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(body): ValidJson<Value>,
) -> Result<StatusCode, ApiError> {
    if u.0.role == Role::Viewer {
        return Err(ApiError::forbidden("a viewer may not record traceability"));
    }
    let record: TraceRecord = crate::extract::parse_json(body.to_string().as_bytes())?;
    record
        .validate()
        .map_err(|e| ApiError::validation(e.field.clone(), e.to_string()))?;
    let at = record.at.unwrap_or_else(zhizao_store::now_ms);
    s.store.record_trace(u.tenant(), &record, at).await?;
    Ok(StatusCode::CREATED)
}

/// What went into a unit (`direction=backward`, the default) or where a
/// lot went (`forward`): the units reached with their depth, and the links
/// between them.
#[utoipa::path(get, path = "/quality/trace/{code}", tag = "quality", security(("bearer" = [])),
    operation_id = "genealogy",
    params(("code" = String, Path, description = "lot or serial number"),
           ("direction" = Option<String>, Query, description = "backward (default) or forward"),
           ("depth" = Option<i64>, Query, description = "links to follow, 1–50 (default 20)"),
           ("limit" = Option<i64>, Query, description = "units to return, 1–10000 (default 1000)")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn genealogy(
    State(s): State<AppState>,
    u: AuthUser,
    axum::extract::Path(code): axum::extract::Path<String>,
    QueryMap(q): QueryMap,
) -> Result<Json<zhizao_store::Genealogy>, ApiError> {
    let direction = match q.get("direction").map(String::as_str) {
        None | Some("backward") => Direction::Backward,
        Some("forward") => Direction::Forward,
        Some(other) => {
            return Err(ApiError::validation(
                "direction",
                format!("direction: `{other}` is not backward or forward"),
            ));
        }
    };
    let depth = query_number(&q, "depth", 20, 1..=50)?;
    let limit = query_number(&q, "limit", 1000, 1..=10_000)?;
    s.store
        .genealogy(u.tenant(), &code, direction, depth, limit)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no lot or serial number `{code}`"),
            )
        })
}

/// Quality figures with the state of the charts.
#[derive(Serialize, ToSchema)]
pub struct QualityKpis {
    /// First-pass yield per operation and rolled throughput yield per
    /// item; first-pass yield per work centre; Pareto of reported
    /// quantities by item and by cause category; cost of poor quality;
    /// open reports.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub figures: QualityFigures,
    /// Characteristics whose newest point is out of control.
    pub out_of_control: Vec<String>,
    pub characteristics: usize,
}

/// First-pass and rolled throughput yield, where nonconformances come
/// from, and the cost of poor quality, from everything reported so far.
#[utoipa::path(get, path = "/quality/kpis", tag = "quality", security(("bearer" = [])),
    operation_id = "quality_kpis",
    responses((status = 200, body = QualityKpis)))]
pub async fn quality_kpis(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<QualityKpis>, ApiError> {
    let tenant = u.tenant();
    let mut operations = Vec::new();
    for (order, ops) in s.store.work_orders_with_operations(tenant, true).await? {
        for op in ops {
            operations.push(OperationYield {
                item: order.item.clone(),
                seq: op.seq,
                work_centre: op.work_centre,
                good: op.qty_good,
                scrap: op.qty_scrap,
            });
        }
    }
    let (reports, _) = s.store.list_ncrs(tenant, None, i64::MAX, 0).await?;
    let reports: Vec<Ncr> = reports.into_iter().map(|r| r.ncr).collect();
    let costs = s.store.quality_costs(tenant).await?;
    let figures = quality_figures(&operations, &reports, &costs);
    let characteristics = s.store.list_characteristics(tenant).await?;
    let mut out_of_control = Vec::new();
    for c in &characteristics {
        if status_of(&s, tenant, c).await?.status == "out_of_control" {
            out_of_control.push(c.characteristic.code.clone());
        }
    }
    Ok(Json(QualityKpis {
        figures,
        out_of_control,
        characteristics: characteristics.len(),
    }))
}

/// Standard costs per item: `{"items": {"CASING-50": {"unit_cost": 320, "rework_cost": 40}}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityCosts {
    #[schema(value_type = Object)]
    pub items: std::collections::BTreeMap<String, ItemCost>,
}

#[utoipa::path(get, path = "/quality/costs", tag = "quality", security(("bearer" = [])),
    operation_id = "get_quality_costs",
    responses((status = 200, body = QualityCosts)))]
pub async fn get_quality_costs(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<QualityCosts>, ApiError> {
    Ok(Json(QualityCosts {
        items: s.store.quality_costs(u.tenant()).await?,
    }))
}

/// Replaces the standard costs the cost of poor quality is priced at.
#[utoipa::path(put, path = "/quality/costs", tag = "quality", security(("bearer" = [])),
    operation_id = "put_quality_costs",
    request_body = QualityCosts,
    responses((status = 200, body = QualityCosts), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_quality_costs(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(body): ValidJson<QualityCosts>,
) -> Result<Json<QualityCosts>, ApiError> {
    require_quality(&u)?;
    for (item, c) in &body.items {
        validate_code(&format!("items.{item}"), item)
            .map_err(|e| ApiError::validation(e.field.clone(), e.to_string()))?;
        for (name, v) in [("unit_cost", c.unit_cost), ("rework_cost", c.rework_cost)] {
            if !(v.is_finite() && v >= 0.0) {
                let field = format!("items.{item}.{name}");
                return Err(ApiError::validation(
                    field.clone(),
                    format!("{field}: {v} is not a cost (0 or more)"),
                ));
            }
        }
    }
    s.store.put_quality_costs(u.tenant(), &body.items).await?;
    Ok(Json(body))
}

/// Columns of a sample import, by key and the names a header may use.
const SAMPLE_COLUMNS: [(&str, &[&str]); 10] = [
    (
        "characteristic",
        &["characteristic", "code", "特性", "检验特性"],
    ),
    ("values", &["values", "value", "测量值", "值"]),
    ("count", &["count", "nonconforming", "不合格数", "缺陷数"]),
    (
        "sample_size",
        &["sample_size", "inspected", "检验数", "样本量"],
    ),
    ("taken_at", &["taken_at", "time", "时间", "测量时间"]),
    ("work_order", &["work_order", "工单"]),
    ("operation_seq", &["operation_seq", "operation", "工序"]),
    ("equipment", &["equipment", "machine", "设备"]),
    ("operator", &["operator", "inspector", "检验员"]),
    ("lot", &["lot", "批次"]),
];

#[derive(Serialize, ToSchema)]
pub struct SampleImportReport {
    /// Data rows read (the header not counted).
    pub rows: u64,
    pub accepted: u64,
    /// Every refused row with the column at fault; the other rows are
    /// stored.
    pub rejected: Vec<crate::planning::orders::ImportRowError>,
    /// Accepted samples whose point is out of control.
    pub out_of_control: u64,
}

/// A `taken_at` cell: RFC 3339 or epoch milliseconds.
fn parse_time(cell: &str) -> Result<i64, String> {
    if let Ok(ms) = cell.parse::<i64>() {
        return Ok(ms);
    }
    time::OffsetDateTime::parse(cell, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| format!("`{cell}` is not an RFC 3339 time or epoch milliseconds"))
}

/// Records samples from a CSV file or an XLSX workbook, a row each: the
/// characteristic's code, `values` (separated by spaces, `;` or `|`) or
/// `count` and `sample_size`, and optionally `taken_at`, `work_order`,
/// `operation_seq`, `equipment`, `operator`, `lot` (English or Chinese
/// headers). Good rows are stored in file order; every bad row is
/// reported with its row number and column.
#[utoipa::path(post, path = "/quality/samples/import", tag = "quality", security(("bearer" = [])),
    operation_id = "import_samples",
    request_body(content = String, description = "CSV text or an XLSX workbook"),
    responses((status = 200, body = SampleImportReport), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_samples(
    State(s): State<AppState>,
    u: AuthUser,
    body: axum::body::Bytes,
) -> Result<Json<SampleImportReport>, ApiError> {
    use crate::planning::orders::ImportRowError;
    if u.0.role == Role::Viewer {
        return Err(ApiError::forbidden("a viewer may not record measurements"));
    }
    let format = if body.starts_with(b"PK\x03\x04") {
        "xlsx"
    } else {
        "csv"
    };
    let rows = crate::planning::orders::read_rows(&body, format)?;
    let Some((header, data)) = rows.split_first() else {
        return Err(ApiError::bad_request(
            "the file is empty: the first row must name the columns",
        ));
    };
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let name = h.trim().to_lowercase();
        if let Some((key, _)) = SAMPLE_COLUMNS
            .iter()
            .find(|(_, names)| names.contains(&name.as_str()))
        {
            at.insert(key, i);
        }
    }
    if !at.contains_key("characteristic") {
        return Err(ApiError::validation(
            "characteristic",
            "the header has no `characteristic` (特性) column",
        ));
    }
    let mut known: std::collections::HashMap<String, StoredCharacteristic> = s
        .store
        .list_characteristics(u.tenant())
        .await?
        .into_iter()
        .map(|c| (c.characteristic.code.clone(), c))
        .collect();
    let now = zhizao_store::now_ms();
    let mut report = SampleImportReport {
        rows: data.len() as u64,
        accepted: 0,
        rejected: Vec::new(),
        out_of_control: 0,
    };
    for (i, row) in data.iter().enumerate() {
        let line = i as u64 + 2;
        let cell = |key: &str| -> Option<&str> {
            at.get(key)
                .and_then(|&c| row.get(c))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let refuse = |column: &str, message: String| ImportRowError {
            row: line,
            column: Some(column.to_owned()),
            message,
        };
        let parsed = (|| -> Result<(String, NewSampleDto), ImportRowError> {
            let code = cell("characteristic")
                .ok_or_else(|| refuse("characteristic", "missing".into()))?
                .to_owned();
            // A finite number; a decimal comma is taken as a point.
            let decimal = |key: &str, v: &str| -> Result<f64, ImportRowError> {
                v.replace(',', ".")
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| refuse(key, format!("`{v}` is not a number")))
            };
            let number = |key: &str| -> Result<Option<f64>, ImportRowError> {
                cell(key).map(|v| decimal(key, v)).transpose()
            };
            let values = match cell("values") {
                None => None,
                Some(v) => Some(
                    v.split([' ', ';', '|', '\t'])
                        .filter(|x| !x.is_empty())
                        .map(|x| decimal("values", x))
                        .collect::<Result<Vec<f64>, _>>()?,
                ),
            };
            let operation_seq = number("operation_seq")?
                .map(|v| {
                    (v.fract() == 0.0 && v.abs() < 1e9)
                        .then_some(v as i32)
                        .ok_or_else(|| {
                            refuse("operation_seq", format!("{v} is not a whole number"))
                        })
                })
                .transpose()?;
            let taken_at = cell("taken_at")
                .map(|v| parse_time(v).map_err(|m| refuse("taken_at", m)))
                .transpose()?;
            Ok((
                code,
                NewSampleDto {
                    values,
                    count: number("count")?,
                    sample_size: number("sample_size")?,
                    taken_at,
                    work_order: cell("work_order").map(str::to_owned),
                    operation_seq,
                    equipment: cell("equipment").map(str::to_owned),
                    operator: cell("operator").map(str::to_owned),
                    lot: cell("lot").map(str::to_owned),
                },
            ))
        })();
        let (code, dto) = match parsed {
            Ok(p) => p,
            Err(e) => {
                report.rejected.push(e);
                continue;
            }
        };
        let Some(c) = known.get_mut(&code) else {
            report.rejected.push(refuse(
                "characteristic",
                format!("`{code}` is not in the inspection plan"),
            ));
            continue;
        };
        let mut new = match sample_from(&c.characteristic, dto, &u.0.username, now) {
            Ok(n) => n,
            Err(e) => {
                report.rejected.push(ImportRowError {
                    row: line,
                    column: e.field.clone(),
                    message: e.message,
                });
                continue;
            }
        };
        new.source = "csv".into();
        let r = record_sample(&s, u.tenant(), c, &new).await?;
        report.accepted += 1;
        if r.out_of_control {
            report.out_of_control += 1;
        }
    }
    Ok(Json(report))
}

/// Records a connected gauge's reading (MQTT `…/measurement`) taken at
/// `equipment`, as the API records a sample; the operator is `gauge`
/// unless the reading names one.
pub async fn record_reading(
    s: &AppState,
    tenant: i64,
    equipment: &str,
    r: zhizao_ingest::GaugeReading,
) -> Result<SampleResult, ApiError> {
    let c = s
        .store
        .characteristic_by_code(tenant, &r.characteristic)
        .await?
        .ok_or_else(|| {
            ApiError::validation(
                "characteristic",
                format!(
                    "characteristic: `{}` is not in the inspection plan",
                    r.characteristic
                ),
            )
        })?;
    let dto = NewSampleDto {
        values: r.values,
        count: r.count,
        sample_size: r.sample_size,
        taken_at: r.ts,
        work_order: r.work_order,
        operation_seq: None,
        equipment: Some(equipment.to_owned()),
        operator: r.operator,
        lot: r.lot,
    };
    let mut new = sample_from(&c.characteristic, dto, "gauge", zhizao_store::now_ms())?;
    new.source = "mqtt".into();
    record_sample(s, tenant, &c, &new).await
}

/// Largest photo accepted.
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

/// The image type the bytes are, by their first bytes.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

/// Attaches a photo (PNG, JPEG, WebP or GIF, up to 5 MiB) to a report;
/// `name` names it (the file name).
#[utoipa::path(post, path = "/quality/ncrs/{id}/photos", tag = "quality", security(("bearer" = [])),
    operation_id = "add_ncr_photo",
    params(("id" = i64, Path), ("name" = Option<String>, Query, description = "file name")),
    request_body(content = Vec<u8>, content_type = "image/*"),
    responses((status = 201, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_ncr_photo(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    QueryMap(q): QueryMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<NcrPhoto>), ApiError> {
    if u.0.role == Role::Viewer {
        return Err(ApiError::forbidden("a viewer may not add photos"));
    }
    let ncr = s.store.get_ncr(u.tenant(), id).await?;
    if matches!(
        ncr.ncr.status,
        zhizao_quality::NcrStatus::Closed | zhizao_quality::NcrStatus::Cancelled
    ) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "wrong_state",
            format!(
                "the report is {}; photos are added while it is open",
                ncr.ncr.status.as_str()
            ),
        ));
    }
    if body.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the photo has {} bytes; at most {MAX_PHOTO_BYTES} are taken",
                body.len()
            ),
        ));
    }
    let content_type = image_type(&body)
        .ok_or_else(|| ApiError::validation("body", "body: not a PNG, JPEG, WebP or GIF image"))?;
    let name = q
        .get("name")
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .unwrap_or("photo");
    if name.chars().count() > 200 {
        return Err(ApiError::validation(
            "name",
            "name: must be at most 200 characters",
        ));
    }
    let detail =
        serde_json::json!({"name": name, "content_type": content_type, "size": body.len()})
            .to_string();
    let photo = s
        .store
        .add_ncr_photo(
            u.tenant(),
            &ncr,
            name,
            content_type,
            &body,
            NcrChange {
                by_user: &u.0.username,
                action: "add_photo",
                detail: &detail,
                at: zhizao_store::now_ms(),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(photo)))
}

/// A report's photo, as stored.
#[utoipa::path(get, path = "/quality/ncrs/{id}/photos/{photo}", tag = "quality", security(("bearer" = [])),
    operation_id = "get_ncr_photo",
    params(("id" = i64, Path), ("photo" = i64, Path)),
    responses((status = 200, description = "the image", content_type = "image/*"), (status = 404, body = ErrorBody)))]
pub async fn get_ncr_photo(
    State(s): State<AppState>,
    u: AuthUser,
    axum::extract::Path((id, photo)): axum::extract::Path<(i64, i64)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (content_type, bytes) = s.store.ncr_photo(u.tenant(), id, photo).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response())
}
