//! `POST /api/v1/spc/analyze`: control charts, run rules and capability for
//! cases in the reference case format. The statistics are in `zhizao-spc`;
//! this module reads the body and maps refusals to 422 naming the field.

use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidJson;

/// The chart a case asks for.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpcChart {
    XbarR,
    XbarS,
    Imr,
    P,
    Np,
    C,
    U,
    Ewma,
    Cusum,
    Capability,
    Rules,
}

/// What a case may give besides its data. Every key is optional; unknown
/// keys (titles, notes) are ignored. Sample numbers are 1-based.
#[derive(Serialize, ToSchema)]
pub struct SpcParams {
    /// Limits at this many sigmas (default 3).
    pub sigma_multiplier: Option<f64>,
    /// Table constants to use instead of the computed ones: `A2`, `D3`,
    /// `D4`, `A3`, `B3`, `B4`, `d2`, `c4`.
    #[schema(value_type = Option<Object>)]
    pub constants: Option<Value>,
    /// xbar_r, xbar_s: the subgroup size the data must have.
    pub subgroup_size: Option<u32>,
    /// Phase I: samples left out of the limits (assignable causes).
    pub exclude_from_limits: Option<Vec<u32>>,
    /// Phase I: leave out every sample beyond the limits and estimate
    /// again until none is.
    pub revise: Option<bool>,
    /// Phase I on the first N samples (or `[first, last]`), the rest judged
    /// against those limits.
    #[schema(value_type = Option<Object>)]
    pub phase1_samples: Option<Value>,
    /// Number of the first sample (default 1).
    pub first_sample: Option<u32>,
    /// Phase II: frozen limits per chart, e.g.
    /// `{"xbar": {"center", "ucl", "lcl"}, "r": {…}}` (`individuals`,
    /// `moving_range`, `s` for the other charts); p, np, c, u take `ucl`
    /// and `lcl` at the top of `params`.
    #[schema(value_type = Option<Object>)]
    pub limits: Option<Value>,
    /// Phase II: known centre line (X̄, p̄, c̄, ū; with `sigma` a known
    /// standard for the variable charts).
    pub center: Option<f64>,
    /// Known process sigma (variable charts, EWMA, CUSUM, rules); estimated
    /// from moving ranges when absent.
    pub sigma: Option<f64>,
    /// Phase II: frozen R̄ (with `center`).
    pub r_bar: Option<f64>,
    /// Phase II: frozen s̄ (with `center`).
    pub s_bar: Option<f64>,
    /// imr: points in a moving range (default 2).
    pub moving_range_span: Option<u32>,
    /// p, np, c, u: report a lower limit below this as this (usually 0).
    pub lcl_floor: Option<f64>,
    /// np: the sample size of every sample.
    pub sample_size: Option<f64>,
    /// ewma: the weight λ in (0, 1].
    pub lambda_: Option<f64>,
    /// ewma: limits at L sigmas (default 3).
    #[serde(rename = "L")]
    pub l: Option<f64>,
    /// ewma, cusum: the in-control mean μ0 (default the data's mean);
    /// capability: the nominal value (for Cpm).
    pub target: Option<f64>,
    /// ewma: z0 (default the target).
    pub start_value: Option<f64>,
    /// ewma: `exact` (time-varying, the default) or `steady-state` limits
    /// decide out-of-control points; both are returned.
    pub limits_kind: Option<String>,
    /// cusum: reference value in sigmas (default 0.5), or `K` in data units.
    pub k_sigma: Option<f64>,
    /// cusum: decision interval in sigmas (default 5), or `H` in data units.
    pub h_sigma: Option<f64>,
    /// cusum: restart both sums after a signal (default false).
    pub reset_after_signal: Option<bool>,
    /// capability: lower specification limit.
    pub lsl: Option<f64>,
    /// capability: upper specification limit.
    pub usl: Option<f64>,
    /// capability without data: the mean (with `sigma`).
    pub mean: Option<f64>,
    /// capability: `R-bar/d2` (default) or `s-bar/c4` for subgroups.
    pub sigma_within: Option<String>,
    /// capability: level of the confidence intervals (default 0.95).
    pub confidence: Option<f64>,
    /// rules (and any chart): `nelson` (tests 1–8) or `western_electric`
    /// (rules 1–4).
    pub rule_set: Option<String>,
    /// Rules to apply (default all of the set).
    pub rules_enabled: Option<Vec<u8>>,
}

/// One case: a chart, its parameters and its data.
#[derive(Serialize, ToSchema)]
pub struct SpcCase {
    /// Key of this case in the response (default `case-N`).
    pub id: Option<String>,
    pub chart: SpcChart,
    pub params: Option<SpcParams>,
    /// xbar_r, xbar_s: a list of subgroups (lists of equal size);
    /// imr, ewma, cusum, rules: values in time order; p:
    /// `{"nonconforming": […], "sample_sizes": […]}`; np:
    /// `{"nonconforming": […]}`; c: `{"counts": […]}`; u:
    /// `{"counts": […], "sizes": […]}`; capability: subgroups, values, or
    /// null with `mean` and `sigma` in params.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// Several cases at once.
#[derive(Serialize, ToSchema)]
pub struct SpcCaseList {
    pub cases: Vec<SpcCase>,
}

/// One case, or a document with a `cases` list.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SpcAnalyzeRequest {
    One(Box<SpcCase>),
    Many(SpcCaseList),
}

/// Results keyed by case id. Per chart: `xbar_r` → `xbar`, `r` (each
/// `center`, `ucl`, `lcl`), `subgroup_means`, `subgroup_ranges`,
/// `out_of_control_points`; `xbar_s` → `xbar`, `s`, `subgroup_sd`,
/// `sigma_hat_sbar_over_c4`; `imr` → `individuals`, `moving_range` (with
/// `values`); `p`, `np`, `c`, `u` → `center`, `ucl`, `lcl` (lists when the
/// sample sizes vary), `fractions`/`values`/`u`; `ewma` → `ewma`, `center`,
/// `ucl`, `lcl`, `ucl_time_varying`, `lcl_time_varying`; `cusum` →
/// `c_plus`, `c_minus`, `n_plus`, `n_minus`, `first_signal`,
/// `estimated_shift_start_after_period`, `estimated_new_mean`;
/// `capability` → `mean`, `sigma_within`, `sigma_overall`, `cp`, `cpk`,
/// `cpu`, `cpl`, `pp`, `ppk`, `cpm`, fractions outside the specification,
/// `confidence_intervals`, `normality` (Anderson–Darling); `rules` →
/// `signals` (rule → points), `pattern_points`, `out_of_control_points`.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct SpcAnalyzeResponse(pub Map<String, Value>);

/// Analyse control charts, run rules or capability for one or more cases.
#[utoipa::path(post, path = "/spc/analyze", tag = "quality", security(("bearer" = [])),
    operation_id = "spc_analyze",
    request_body = SpcAnalyzeRequest,
    responses((status = 200, body = SpcAnalyzeResponse),
              (status = 400, body = ErrorBody, description = "not JSON"),
              (status = 422, body = ErrorBody, description = "a case is invalid; `field` names where")))]
pub async fn analyze(
    _user: AuthUser,
    ValidJson(body): ValidJson<Value>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    // Pure CPU work, bounded by the body limit; small enough to run inline.
    zhizao_spc::analyze(&body).map(Json).map_err(|e| {
        let field = if e.field.is_empty() {
            "body".to_owned()
        } else {
            e.field.clone()
        };
        ApiError::validation(field, e.to_string())
    })
}
