//! Login, the bearer-token extractor and role checks.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_core::{Role, User};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidJson;

/// The authenticated caller; every `/api/v1` handler but login takes one.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl AuthUser {
    pub fn tenant(&self) -> i64 {
        self.0.tenant_id
    }

    /// Only an admin may do `what` (e.g. "manage users").
    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.0.role == zhizao_core::Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("only an admin may {what}")))
        }
    }

    /// Master data (the equipment hierarchy) may be changed by admins only.
    pub fn require_master_data_editor(&self) -> Result<(), ApiError> {
        if self.0.role.can_edit_master_data() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "role `{}` may not change master data; an admin must do this",
                self.0.role
            )))
        }
    }
}

/// Resolves a bearer token to its user.
pub async fn user_for_token(state: &AppState, token: &str) -> Result<User, ApiError> {
    if token.is_empty() || token.len() > 256 {
        return Err(ApiError::unauthorized("invalid or expired token"));
    }
    state
        .store
        .user_for_token(token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid or expired token; log in again"))
}

pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("missing `Authorization: Bearer <token>` header; log in first")
        })?;
        user_for_token(state, token).await.map(AuthUser)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    pub username: String,
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
    pub tenant_id: i64,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username,
            role: u.role,
            tenant_id: u.tenant_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub user: UserDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub id: i64,
    pub username: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub tenant_id: i64,
    pub tenant_name: String,
}

/// Log in with username and password; returns a bearer token.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 422, description = "Malformed request", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    if req.username.len() > 64 || req.password.len() > 1024 {
        return Err(ApiError::unauthorized("wrong username or password"));
    }
    let user = state
        .store
        .verify_login(&req.username, &req.password)
        .await?
        .ok_or_else(|| ApiError::unauthorized("wrong username or password"))?;
    let token = state.store.create_session(user.id).await?;
    Ok(Json(LoginResponse {
        token,
        user: user.into(),
    }))
}

/// The logged-in user and their tenant.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)))]
pub async fn me(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<MeResponse>, ApiError> {
    let tenant = state.store.get_tenant(user.tenant()).await?;
    let u = user.0;
    Ok(Json(MeResponse {
        id: u.id,
        username: u.username,
        role: u.role,
        tenant_id: u.tenant_id,
        tenant_name: tenant.name,
    }))
}

/// End the session of the presented token.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Logged out"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    _user: AuthUser,
) -> Result<StatusCode, ApiError> {
    if let Some(token) = bearer_token(&headers) {
        state.store.delete_session(token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Days the token stays valid, 1–3650 (default 365).
    pub days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Token <token>` (InfluxDB clients) or `Bearer`.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Create a long-lived API token for the caller, e.g. for Telegraf or a
/// gateway writing line protocol. Shown once.
#[utoipa::path(post, path = "/auth/tokens", tag = "auth", security(("bearer" = [])), request_body = TokenRequest,
    responses((status = 201, body = TokenResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<TokenRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let days = req.days.unwrap_or(365);
    if !(1..=3650).contains(&days) {
        return Err(ApiError::validation(
            "days",
            "days: must be between 1 and 3650",
        ));
    }
    let ttl = days * 86_400_000;
    let token = state.store.create_token(user.0.id, ttl).await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenResponse {
            token,
            expires_at: crate::hierarchy::rfc3339(zhizao_store::now_ms() + ttl),
        }),
    ))
}
