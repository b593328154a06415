//! User administration within the caller's tenant (admins only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use zhizao_core::Role;

use crate::AppState;
use crate::auth::{AuthUser, UserDto};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, QueryMap, ValidJson, list_query};
use crate::hierarchy::{PageDto, PageParams};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Letters, digits, `-`, `_`, `.`; unique across the installation.
    pub username: String,
    /// At least 8 characters.
    pub password: String,
    /// admin, planner, quality, maintenance, operator or viewer.
    #[schema(value_type = String, example = "planner")]
    pub role: Role,
}

/// List the users of the tenant.
#[utoipa::path(get, path = "/users", tag = "auth", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = PageDto<UserDto>), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<PageDto<UserDto>>, ApiError> {
    u.require_admin("manage users")?;
    let q = list_query(&q, &[])?;
    let page = s.store.list_users(u.tenant(), q.limit, q.offset).await?;
    Ok(Json(PageDto {
        items: page.items.into_iter().map(UserDto::from).collect(),
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Create a user in the tenant.
#[utoipa::path(post, path = "/users", tag = "auth", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = UserDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_user(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(b): ValidJson<CreateUser>,
) -> Result<(StatusCode, Json<UserDto>), ApiError> {
    u.require_admin("manage users")?;
    let user = s
        .store
        .create_user(u.tenant(), &b.username, &b.password, b.role)
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Delete a user of the tenant; their sessions end.
#[utoipa::path(delete, path = "/users/{id}", tag = "auth", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete_user(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    u.require_admin("manage users")?;
    if id == u.0.id {
        return Err(ApiError::validation(
            "id",
            "id: you cannot delete your own account",
        ));
    }
    s.store.delete_user(u.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
