//! Tenants, users, password checks and API sessions.
//!
//! Passwords are stored as argon2id PHC strings. Session tokens are random
//! 256-bit values handed to the client once; only their SHA-256 is stored,
//! so a leaked database does not leak live tokens. Sessions live in the
//! relational store so every node of a cluster accepts them.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, FromRow};
use zhizao_core::{FieldError, Role, Tenant, User, validate_code, validate_name};

use crate::{Result, Store, StoreError, now_ms, on_pool};

/// How long a login stays valid: a control-room screen runs for weeks.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

#[derive(FromRow)]
struct TenantRow {
    id: i64,
    code: String,
    name: String,
    created_at: i64,
}

#[derive(FromRow)]
struct UserRow {
    id: i64,
    tenant_id: i64,
    username: String,
    role: String,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self> {
        let role = r
            .role
            .parse::<Role>()
            .map_err(|e| StoreError::Corrupt(format!("user {}: {e}", r.id)))?;
        Ok(User {
            id: r.id,
            tenant_id: r.tenant_id,
            username: r.username,
            role,
            created_at: r.created_at,
        })
    }
}

/// Result of a first-start bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The admin account already existed; nothing was created.
    Existing,
    /// An admin was created with the given password (generated or supplied).
    Created { password: String, generated: bool },
}

const USER_COLUMNS: &str = "id, tenant_id, username, role, created_at";

pub(crate) fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

/// Checks `password` against a stored argon2 hash, on the blocking pool:
/// argon2 is deliberately slow, and a burst of log-ins must not stall the
/// async workers. Without a stored hash (no such user or device) it spends
/// the same effort, so timing does not reveal which names exist.
pub(crate) async fn check_password(
    stored: Option<String>,
    password: &str,
    entity: &'static str,
    name: &str,
) -> Result<bool> {
    let password = password.to_owned();
    let checked = tokio::task::spawn_blocking(move || match stored {
        Some(stored) => PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .map_err(|e| e.to_string()),
        None => {
            let _ = hash_password(&password);
            Ok(false)
        }
    })
    .await
    .map_err(|e| StoreError::Hash(e.to_string()))?;
    checked.map_err(|e| StoreError::Corrupt(format!("{entity} {name} password hash: {e}")))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random password of 20 URL-safe characters.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

impl Store {
    pub async fn create_tenant(&self, code: &str, name: &str) -> Result<Tenant> {
        validate_code("code", code)?;
        validate_name("name", name)?;
        let row: TenantRow = on_pool!(self, p => sqlx::query_as(
            "INSERT INTO tenants (code, name, created_at) VALUES ($1, $2, $3) RETURNING id, code, name, created_at")
            .bind(code)
            .bind(name)
            .bind(now_ms())
            .fetch_one(p)
            .await
            .map_err(|e| StoreError::from_write(e, "code", "a tenant with this code"))?);
        Ok(Tenant {
            id: row.id,
            code: row.code,
            name: row.name,
            created_at: row.created_at,
        })
    }

    pub async fn get_tenant(&self, id: i64) -> Result<Tenant> {
        let row: Option<TenantRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, code, name, created_at FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(p)
            .await?);
        let row = row.ok_or(StoreError::NotFound {
            entity: "tenant",
            id,
        })?;
        Ok(Tenant {
            id: row.id,
            code: row.code,
            name: row.name,
            created_at: row.created_at,
        })
    }

    pub async fn tenant_by_code(&self, code: &str) -> Result<Option<Tenant>> {
        let row: Option<TenantRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, code, name, created_at FROM tenants WHERE code = $1")
            .bind(code)
            .fetch_optional(p)
            .await?);
        Ok(row.map(|r| Tenant {
            id: r.id,
            code: r.code,
            name: r.name,
            created_at: r.created_at,
        }))
    }

    pub async fn create_user(
        &self,
        tenant_id: i64,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<User> {
        validate_code("username", username)?;
        if password.chars().count() < 8 {
            return Err(FieldError::new("password", "must be at least 8 characters").into());
        }
        let hash = hash_password(password)?;
        let sql = format!(
            "INSERT INTO users (tenant_id, username, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
        );
        let row: UserRow = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id)
            .bind(username)
            .bind(hash)
            .bind(role.as_str())
            .bind(now_ms())
            .fetch_one(p)
            .await
            .map_err(|e| StoreError::from_write(e, "username", "a user with this name"))?);
        row.try_into()
    }

    /// Checks a username and password; `None` for either being wrong (the
    /// caller must not tell which).
    pub async fn verify_login(&self, username: &str, password: &str) -> Result<Option<User>> {
        let row: Option<(i64, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(p)
            .await?);
        let (id, stored) = row.unzip();
        if !check_password(stored, password, "user", username).await? {
            return Ok(None);
        }
        match id {
            Some(id) => self.get_user(id).await.map(Some),
            None => Ok(None),
        }
    }

    pub async fn get_user(&self, id: i64) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::NotFound { entity: "user", id })?
            .try_into()
    }

    /// A tenant's users ordered by username, one page at a time.
    pub async fn list_users(
        &self,
        tenant_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<crate::Page<User>> {
        let limit = limit.clamp(1, crate::MAX_LIMIT);
        let offset = offset.max(0);
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY username LIMIT $2 OFFSET $3"
        );
        let (total, rows): (i64, Vec<UserRow>) = on_pool!(self, p => {
            let total = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_one(p)
                .await?;
            let rows = sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(tenant_id)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await?;
            (total, rows)
        });
        Ok(crate::Page {
            items: rows
                .into_iter()
                .map(User::try_from)
                .collect::<Result<_>>()?,
            total,
            limit,
            offset,
        })
    }

    /// Deletes a user of the tenant and ends their sessions.
    pub async fn delete_user(&self, tenant_id: i64, id: i64) -> Result<()> {
        let deleted = on_pool!(self, p => sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        if deleted == 0 {
            return Err(StoreError::NotFound { entity: "user", id });
        }
        Ok(())
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(
            on_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(p)
            .await?),
        )
    }

    /// Starts a session and returns the bearer token (shown to the client once).
    pub async fn create_session(&self, user_id: i64) -> Result<String> {
        self.create_token(user_id, SESSION_TTL_MS).await
    }

    /// A token valid for `ttl_ms`: a login session, or a long-lived API
    /// token for collectors and scripts.
    pub async fn create_token(&self, user_id: i64, ttl_ms: i64) -> Result<String> {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let now = now_ms();
        on_pool!(self, p => sqlx::query(
            "INSERT INTO api_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(&token))
            .bind(user_id)
            .bind(now)
            .bind(now.saturating_add(ttl_ms))
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(token)
    }

    /// The user behind a live token, or `None` if unknown or expired.
    pub async fn user_for_token(&self, token: &str) -> Result<Option<User>> {
        const SQL: &str = "SELECT u.id, u.tenant_id, u.username, u.role, u.created_at FROM api_sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2";
        let row: Option<UserRow> = on_pool!(self, p => sqlx::query_as(SQL)
            .bind(token_hash(token))
            .bind(now_ms())
            .fetch_optional(p)
            .await?);
        row.map(User::try_from).transpose()
    }

    pub async fn delete_session(&self, token: &str) -> Result<()> {
        on_pool!(self, p => sqlx::query("DELETE FROM api_sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// On first start: creates the `default` tenant and the `admin` user.
    /// Uses `password` if given, else generates one (returned so the caller
    /// can print it once).
    pub async fn ensure_admin(&self, password: Option<&str>) -> Result<LoginOutcome> {
        if self.count_users().await? > 0 {
            return Ok(LoginOutcome::Existing);
        }
        let tenant = match self.tenant_by_code("default").await? {
            Some(t) => t,
            None => self.create_tenant("default", "默认企业").await?,
        };
        let (password, generated) = match password {
            Some(p) => (p.to_owned(), false),
            None => (generate_password(), true),
        };
        self.create_user(tenant.id, "admin", &password, Role::Admin)
            .await?;
        Ok(LoginOutcome::Created {
            password,
            generated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }

    #[test]
    fn token_hash_is_stable_hex() {
        assert_eq!(token_hash("x"), token_hash("x"));
        assert_eq!(token_hash("x").len(), 64);
    }
}
