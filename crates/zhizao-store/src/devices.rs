//! The device registry. Credentials are generated here and shown once;
//! only an argon2id hash is kept. Traffic counters are added in batches by
//! the ingest side, not written per message.

use sqlx::{AssertSqlSafe, FromRow};
use zhizao_core::device::validate_topic_prefix;
use zhizao_core::{Device, validate_code, validate_name};

use crate::auth::{check_password, generate_password, hash_password};
use crate::{Result, Store, StoreError, now_ms, on_pool};

/// What registering a device needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub code: String,
    pub name: String,
    pub topic_prefix: String,
    /// A payload mapping as JSON, already checked by the caller.
    pub mapping: Option<String>,
}

/// Traffic to add to a device's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceTraffic {
    pub messages: i64,
    pub points: i64,
    pub errors: i64,
    pub last_seen: Option<i64>,
    /// The newest rejection: (reason, when).
    pub last_error: Option<(String, i64)>,
}

#[derive(FromRow)]
struct DeviceRow {
    id: i64,
    tenant_id: i64,
    code: String,
    name: String,
    topic_prefix: String,
    username: String,
    mapping: Option<String>,
    created_at: i64,
    last_seen: Option<i64>,
    messages: i64,
    points: i64,
    errors: i64,
    last_error: Option<String>,
    last_error_at: Option<i64>,
}

impl From<DeviceRow> for Device {
    fn from(r: DeviceRow) -> Device {
        Device {
            id: r.id,
            tenant_id: r.tenant_id,
            code: r.code,
            name: r.name,
            topic_prefix: r.topic_prefix,
            username: r.username,
            mapping: r.mapping,
            created_at: r.created_at,
            last_seen: r.last_seen,
            messages: r.messages,
            points: r.points,
            errors: r.errors,
            last_error: r.last_error,
            last_error_at: r.last_error_at,
        }
    }
}

/// A device row with its password hash, for log-in only.
#[derive(FromRow)]
struct CredentialRow {
    #[sqlx(flatten)]
    device: DeviceRow,
    password_hash: String,
}

const COLUMNS: &str = "id, tenant_id, code, name, topic_prefix, username, mapping, created_at, \
     last_seen, messages, points, errors, last_error, last_error_at";

/// A write that touched no row was for a device that is not there (or is
/// another tenant's).
fn found(rows: u64, id: i64) -> Result<()> {
    if rows == 0 {
        return Err(StoreError::NotFound {
            entity: "device",
            id,
        });
    }
    Ok(())
}

impl Store {
    /// Registers a device; returns it with its generated password, which
    /// is not stored and cannot be shown again.
    pub async fn create_device(&self, tenant_id: i64, new: &NewDevice) -> Result<(Device, String)> {
        validate_code("code", &new.code)?;
        validate_name("name", &new.name)?;
        validate_topic_prefix(&new.topic_prefix)?;
        let tenant = self.get_tenant(tenant_id).await?;
        let username = format!("{}.{}", tenant.code, new.code);
        let password = generate_password();
        let hash = hash_password(&password)?;
        let sql = format!(
            "INSERT INTO devices (tenant_id, code, name, topic_prefix, username, password_hash, mapping, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
        );
        let row: DeviceRow = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id)
            .bind(&new.code)
            .bind(&new.name)
            .bind(new.topic_prefix.trim_end_matches('/'))
            .bind(&username)
            .bind(hash)
            .bind(&new.mapping)
            .bind(now_ms())
            .fetch_one(p)
            .await
            .map_err(|e| StoreError::from_write(e, "code", "a device with this code or topic prefix"))?);
        Ok((row.into(), password))
    }

    /// A tenant's devices by code, `limit` from `offset`, and the total.
    pub async fn list_devices(
        &self,
        tenant_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Device>, i64)> {
        let sql = format!(
            "SELECT {COLUMNS} FROM devices WHERE tenant_id = $1 ORDER BY code LIMIT $2 OFFSET $3"
        );
        let rows: Vec<DeviceRow> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await?);
        let total: (i64,) = on_pool!(self, p => sqlx::query_as(
            "SELECT COUNT(*) FROM devices WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(p)
            .await?);
        Ok((rows.into_iter().map(Device::from).collect(), total.0))
    }

    pub async fn get_device(&self, tenant_id: i64, id: i64) -> Result<Device> {
        let sql = format!("SELECT {COLUMNS} FROM devices WHERE tenant_id = $1 AND id = $2");
        let row: Option<DeviceRow> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(p)
            .await?);
        row.map(Device::from).ok_or(StoreError::NotFound {
            entity: "device",
            id,
        })
    }

    /// Gives a device a new generated password (shown once, like the
    /// first); the old one stops working at the device's next log-in.
    pub async fn reset_device_password(&self, tenant_id: i64, id: i64) -> Result<String> {
        let password = generate_password();
        let hash = hash_password(&password)?;
        let done = on_pool!(self, p => sqlx::query(
            "UPDATE devices SET password_hash = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(hash)
            .bind(tenant_id)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        found(done, id)?;
        Ok(password)
    }

    pub async fn delete_device(&self, tenant_id: i64, id: i64) -> Result<()> {
        let done = on_pool!(self, p => sqlx::query(
            "DELETE FROM devices WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        found(done, id)
    }

    /// Every device of every tenant, for routing messages that arrive
    /// through an external broker (where the topic names the device).
    pub async fn all_devices(&self) -> Result<Vec<Device>> {
        let sql = format!("SELECT {COLUMNS} FROM devices ORDER BY id");
        let rows: Vec<DeviceRow> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(Device::from).collect())
    }

    /// Checks device credentials; `None` when either is wrong.
    pub async fn verify_device(&self, username: &str, password: &str) -> Result<Option<Device>> {
        let sql = format!("SELECT {COLUMNS}, password_hash FROM devices WHERE username = $1");
        let row: Option<CredentialRow> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(username)
            .fetch_optional(p)
            .await?);
        let (device, stored) = row.map(|r| (r.device, r.password_hash)).unzip();
        let ok = check_password(stored, password, "device", username).await?;
        Ok(device.filter(|_| ok).map(Device::from))
    }

    /// Adds traffic to a device's counters.
    pub async fn add_device_traffic(&self, id: i64, t: &DeviceTraffic) -> Result<()> {
        let (error, error_at) = match &t.last_error {
            Some((e, at)) => (Some(e.as_str()), Some(*at)),
            None => (None, None),
        };
        on_pool!(self, p => sqlx::query(
            "UPDATE devices SET messages = messages + $2, points = points + $3, errors = errors + $4, \
             last_seen = COALESCE($5, last_seen), last_error = COALESCE($6, last_error), \
             last_error_at = COALESCE($7, last_error_at) WHERE id = $1")
            .bind(id)
            .bind(t.messages)
            .bind(t.points)
            .bind(t.errors)
            .bind(t.last_seen)
            .bind(error)
            .bind(error_at)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
