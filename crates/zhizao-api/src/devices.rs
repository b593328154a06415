//! The device registry over HTTP: register a device or gateway (its MQTT
//! password is shown in the answer, once), list devices with their traffic
//! and last rejection, give one a new password, delete one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_core::Device;
use zhizao_store::NewDevice;

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, QueryMap, ValidJson, list_query};
use crate::hierarchy::{PageDto, PageParams};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDevice {
    /// Letters, digits, `-`, `_`, `.`; unique in the tenant.
    pub code: String,
    /// Defaults to the code.
    pub name: Option<String>,
    /// Topics the device may publish under, e.g. `zhizao/v1/S1/L01`.
    pub topic_prefix: String,
    /// For payloads not in the default shape: JSON pointers to the time
    /// and the values, e.g. `{"ts": "/header/time", "values": "/data", "ts_unit": "s"}`.
    #[schema(value_type = Option<Object>)]
    pub mapping: Option<zhizao_ingest::Mapping>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceDto {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub topic_prefix: String,
    /// MQTT user name.
    pub username: String,
    #[schema(value_type = Option<Object>)]
    pub mapping: Option<serde_json::Value>,
    pub created_at: i64,
    /// Epoch ms of the last message or connection.
    pub last_seen: Option<i64>,
    pub messages: i64,
    pub points: i64,
    pub errors: i64,
    /// Why the last refused message was refused.
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    /// Connected now (to this node's MQTT endpoint), or heard from through
    /// the external broker in the last minute.
    pub online: bool,
    /// Sparkplug B edge nodes under the device's prefix, as their births
    /// and deaths left them.
    pub edge_nodes: Vec<EdgeNodeDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeNodeDto {
    pub group: String,
    pub node: String,
    pub online: bool,
    pub devices: Vec<EdgeDeviceDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeDeviceDto {
    pub device: String,
    pub online: bool,
}

impl DeviceDto {
    /// The device with its live state from the hub.
    fn live(d: Device, s: &AppState) -> Self {
        let live = s.hub.devices.get(d.id);
        let online = live.online(zhizao_live::now_ms());
        let edge_nodes = live
            .edge_nodes
            .into_iter()
            .map(|n| EdgeNodeDto {
                group: n.group,
                node: n.node,
                online: n.online,
                devices: n
                    .devices
                    .into_iter()
                    .map(|(device, online)| EdgeDeviceDto { device, online })
                    .collect(),
            })
            .collect();
        DeviceDto {
            online,
            edge_nodes,
            ..DeviceDto::from(d)
        }
    }
}

impl From<Device> for DeviceDto {
    fn from(d: Device) -> Self {
        DeviceDto {
            id: d.id,
            code: d.code,
            name: d.name,
            topic_prefix: d.topic_prefix,
            username: d.username,
            mapping: d.mapping.and_then(|m| serde_json::from_str(&m).ok()),
            created_at: d.created_at,
            last_seen: d.last_seen,
            messages: d.messages,
            points: d.points,
            errors: d.errors,
            last_error: d.last_error,
            last_error_at: d.last_error_at,
            online: false,
            edge_nodes: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedDevice {
    pub device: DeviceDto,
    /// The MQTT password. Shown this once; it is not stored.
    pub password: String,
}

/// List the tenant's devices with their traffic.
#[utoipa::path(get, path = "/devices", tag = "devices", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = PageDto<DeviceDto>)))]
pub async fn list_devices(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<PageDto<DeviceDto>>, ApiError> {
    let q = list_query(&q, &[])?;
    let (items, total) = s.store.list_devices(u.tenant(), q.limit, q.offset).await?;
    Ok(Json(PageDto {
        items: items.into_iter().map(|d| DeviceDto::live(d, &s)).collect(),
        total,
        limit: q.limit,
        offset: q.offset,
    }))
}

/// Register a device; the answer carries its MQTT password, once.
#[utoipa::path(post, path = "/devices", tag = "devices", security(("bearer" = [])), request_body = CreateDevice,
    responses((status = 201, body = CreatedDevice), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_device(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(b): ValidJson<CreateDevice>,
) -> Result<(StatusCode, Json<CreatedDevice>), ApiError> {
    u.require_admin("manage devices")?;
    let mapping = match &b.mapping {
        None => None,
        Some(m) => {
            m.validate()
                .map_err(|e| ApiError::validation(e.place.clone(), e.to_string()))?;
            Some(
                serde_json::to_string(m)
                    .map_err(|e| ApiError::validation("mapping", e.to_string()))?,
            )
        }
    };
    let new = NewDevice {
        name: b.name.clone().unwrap_or_else(|| b.code.clone()),
        code: b.code,
        topic_prefix: b.topic_prefix,
        mapping,
    };
    let (device, password) = s.store.create_device(u.tenant(), &new).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedDevice {
            device: device.into(),
            password,
        }),
    ))
}

/// One device with its traffic and last rejection.
#[utoipa::path(get, path = "/devices/{id}", tag = "devices", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = DeviceDto), (status = 404, body = ErrorBody)))]
pub async fn get_device(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<DeviceDto>, ApiError> {
    let d = s.store.get_device(u.tenant(), id).await?;
    Ok(Json(DeviceDto::live(d, &s)))
}

/// Delete a device; it can no longer log in.
#[utoipa::path(delete, path = "/devices/{id}", tag = "devices", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_device(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    u.require_admin("manage devices")?;
    s.store.delete_device(u.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewPassword {
    /// The new MQTT password. Shown this once; it is not stored.
    pub password: String,
}

/// Give a device a new MQTT password (the old one stops working); the
/// answer carries it, once.
#[utoipa::path(post, path = "/devices/{id}/password", tag = "devices", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = NewPassword), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset_device_password(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<NewPassword>, ApiError> {
    u.require_admin("manage devices")?;
    let password = s.store.reset_device_password(u.tenant(), id).await?;
    Ok(Json(NewPassword { password }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedDto {
    /// Epoch ms.
    pub at: i64,
    /// Empty when the connection itself broke a rule.
    pub topic: String,
    pub reason: String,
    /// The start of what was sent: text as it is, other bytes in hex.
    pub payload: String,
    pub payload_bytes: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedList {
    /// Newest first; the last 20 since the server started.
    pub items: Vec<RefusedDto>,
}

/// The device's last refused messages, with the start of each payload.
#[utoipa::path(get, path = "/devices/{id}/rejections", tag = "devices", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = RefusedList), (status = 404, body = ErrorBody)))]
pub async fn device_rejections(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<RefusedList>, ApiError> {
    // Another tenant's device is not found, as a missing one is not.
    let d = s.store.get_device(u.tenant(), id).await?;
    let items = s
        .hub
        .devices
        .refusals(d.id)
        .into_iter()
        .map(|r| RefusedDto {
            at: r.at,
            topic: r.topic,
            reason: r.reason,
            payload: r.payload,
            payload_bytes: r.payload_bytes,
        })
        .collect();
    Ok(Json(RefusedList { items }))
}
