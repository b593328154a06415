//! The HTTP face of the platform: `/api/v1` (REST + OpenAPI + live
//! WebSocket), health and metrics, and the embedded web UI as fallback.
//!
//! The only crate that knows HTTP and JSON shapes. Handlers are thin: parse
//! and check input (extractors), call the store or hub, map to DTOs.
//! `router(state)` builds everything, so tests drive it in-process.

pub mod alarms;
pub mod auth;
pub mod devices;
pub mod error;
pub mod extract;
pub mod health;
pub mod hierarchy;
mod history;
pub mod import;
pub mod kpi;
pub mod live;
pub mod planning;
pub mod quality;
pub mod reasons;
pub mod report;
pub mod scheduling;
pub mod series;
pub mod spc;
pub mod users;

use std::sync::{Arc, OnceLock};

use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, middleware};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zhizao_live::LiveHub;
use zhizao_store::Store;
use zhizao_tsdb::Tsdb;

pub use error::ApiError;
pub use health::Metrics;

/// Shared by every handler; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub hub: Arc<LiveHub>,
    pub tsdb: Arc<Tsdb>,
    pub metrics: Arc<Metrics>,
    pub credentials: Arc<series::CredentialCache>,
    /// Each tenant's newest plan, for promising and net change.
    pub plans: Arc<planning::PlanCache>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
}

impl AppState {
    pub fn new(store: Store, hub: Arc<LiveHub>, tsdb: Arc<Tsdb>, max_body_bytes: usize) -> Self {
        Self {
            store,
            hub,
            tsdb,
            metrics: Arc::new(Metrics::default()),
            credentials: Arc::default(),
            plans: Arc::default(),
            max_body_bytes,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Zhizao 智造云 API", description = "Smart-manufacturing platform: equipment hierarchy, live plant state, time-series history, and (in later versions) KPIs, planning, scheduling and quality."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Login and sessions"),
        (name = "hierarchy", description = "ISA-95 equipment hierarchy: sites, areas, lines, equipment"),
        (name = "live", description = "Live plant state"),
        (name = "devices", description = "Device registry: MQTT credentials, topic prefixes, traffic"),
        (name = "alarms", description = "Alarm rules, alarms, acknowledgement and shelving"),
        (name = "kpi", description = "ISO 22400-2 KPIs per shift, and the site calendars they are planned by"),
        (name = "planning", description = "Production planning: master data, the order book, MRP, capacity, promising, work orders"),
        (name = "scheduling", description = "Finite-capacity scheduling of work orders onto machines: runs, events, moves, dispatch lists"),
        (name = "quality", description = "Quality: inspection characteristics, samples, live control charts; SPC analysis (charts, run rules, capability)"),
        (name = "series", description = "Time-series history: writes (JSON and InfluxDB line protocol) and queries"),
        (name = "ops", description = "Health, readiness, metrics, API description")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut OpenApiDoc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth::login))
        .routes(routes!(auth::me))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::create_token))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::delete_user))
        .routes(routes!(devices::list_devices, devices::create_device))
        .routes(routes!(devices::get_device, devices::delete_device))
        .routes(routes!(devices::reset_device_password))
        .routes(routes!(devices::device_rejections))
        .routes(routes!(kpi::get_calendar, kpi::put_calendar))
        .routes(routes!(kpi::equipment_kpi))
        .routes(routes!(kpi::line_kpis))
        .routes(routes!(report::kpi_report))
        .routes(routes!(report::downtime_pareto))
        .routes(routes!(reasons::get_tree, reasons::put_tree))
        .routes(routes!(reasons::get_state_rules, reasons::put_state_rules))
        .routes(routes!(reasons::stops))
        .routes(routes!(reasons::give_reason))
        .routes(routes!(alarms::get_rules, alarms::put_rules))
        .routes(routes!(alarms::list))
        .routes(routes!(alarms::history))
        .routes(routes!(alarms::acknowledge))
        .routes(routes!(alarms::shelve))
        .routes(routes!(hierarchy::list_sites, hierarchy::create_site))
        .routes(routes!(
            hierarchy::get_site,
            hierarchy::update_site,
            hierarchy::delete_site
        ))
        .routes(routes!(hierarchy::list_areas, hierarchy::create_area))
        .routes(routes!(
            hierarchy::get_area,
            hierarchy::update_area,
            hierarchy::delete_area
        ))
        .routes(routes!(hierarchy::list_lines, hierarchy::create_line))
        .routes(routes!(
            hierarchy::get_line,
            hierarchy::update_line,
            hierarchy::delete_line
        ))
        .routes(routes!(
            hierarchy::list_equipment,
            hierarchy::create_equipment
        ))
        .routes(routes!(
            hierarchy::get_equipment,
            hierarchy::update_equipment,
            hierarchy::delete_equipment
        ))
        .routes(routes!(planning::get_master, planning::put_master))
        .routes(routes!(planning::get_forecasts, planning::put_forecasts))
        .routes(routes!(planning::create_run, planning::list_runs))
        .routes(routes!(planning::latest_run))
        .routes(routes!(planning::planned_orders))
        .routes(routes!(planning::promise_order))
        .routes(routes!(planning::what_if))
        .routes(routes!(planning::apply_what_if))
        .routes(routes!(planning::overview))
        .routes(routes!(
            planning::orders::list_orders,
            planning::orders::create_order
        ))
        .routes(routes!(
            planning::orders::get_order,
            planning::orders::update_order,
            planning::orders::delete_order
        ))
        .routes(routes!(planning::orders::export_orders))
        .merge(write_routes(routes!(planning::orders::import_orders)))
        .routes(routes!(planning::work_orders::release))
        .routes(routes!(planning::work_orders::list_work_orders))
        .routes(routes!(planning::work_orders::get_work_order))
        .routes(routes!(planning::work_orders::set_status))
        .routes(routes!(planning::work_orders::report_operation))
        .routes(routes!(planning::work_orders::list_purchase_orders))
        .routes(routes!(planning::work_orders::receive_purchase_order))
        .routes(routes!(planning::work_orders::cancel_purchase_order))
        .routes(routes!(scheduling::get_schedule))
        .routes(routes!(scheduling::list_versions))
        .routes(routes!(scheduling::get_version))
        .routes(routes!(scheduling::create_run))
        .routes(routes!(scheduling::post_event))
        .routes(routes!(scheduling::move_operation))
        .routes(routes!(scheduling::lock_operation))
        .routes(routes!(scheduling::dispatch_list))
        .routes(routes!(scheduling::schedule_progress))
        .routes(routes!(spc::analyze))
        .routes(routes!(
            quality::list_characteristics,
            quality::create_characteristic
        ))
        .routes(routes!(
            quality::get_characteristic,
            quality::update_characteristic,
            quality::delete_characteristic
        ))
        .routes(routes!(quality::create_sample))
        .merge(write_routes(routes!(quality::import_samples)))
        .routes(routes!(quality::chart))
        .routes(routes!(quality::freeze_limits, quality::unfreeze_limits))
        .routes(routes!(quality::list_ncrs, quality::create_ncr))
        .routes(routes!(quality::get_ncr))
        .routes(routes!(quality::ncr_action))
        .merge(write_routes(routes!(quality::add_ncr_photo)))
        .routes(routes!(quality::get_ncr_photo))
        .routes(routes!(quality::record_trace))
        .routes(routes!(quality::genealogy))
        .routes(routes!(quality::quality_kpis))
        .routes(routes!(
            quality::get_quality_costs,
            quality::put_quality_costs
        ))
        .routes(routes!(series::query))
        .routes(routes!(series::export))
        .merge(write_routes(routes!(series::write_json)))
        .merge(write_routes(routes!(import::import_csv)))
        .routes(routes!(live::snapshot))
        .routes(routes!(live::timeline))
        .routes(routes!(live::socket))
        .routes(routes!(openapi_json))
}

/// Write endpoints take larger bodies than the rest of the API.
fn write_routes(
    routes: utoipa_axum::router::UtoipaMethodRouter<AppState>,
) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes)
        .layer(DefaultBodyLimit::max(series::MAX_WRITE_BYTES))
}

fn all_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api_routes())
        .merge(write_routes(routes!(series::write_line_protocol)))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
}

/// The OpenAPI 3.1 document of every route, generated from the handlers.
pub fn openapi() -> &'static OpenApiDoc {
    static DOC: OnceLock<OpenApiDoc> = OnceLock::new();
    DOC.get_or_init(|| all_routes().split_for_parts().1)
}

/// This API's description (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
async fn openapi_json() -> Json<&'static OpenApiDoc> {
    Json(openapi())
}

async fn fallback(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no API route {}", uri.path()),
        )
        .into_response();
    }
    zhizao_web::serve(uri).await
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (router, _) = all_routes().split_for_parts();
    router
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            health::track,
        ))
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
