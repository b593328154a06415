//! Inspection characteristics and their samples, and nonconformance
//! reports with their audit trail. A characteristic or a report is kept as
//! its JSON beside the columns lookups need; a sample is one subgroup,
//! numbered per characteristic in the order it was stored.

use sqlx::FromRow;
use zhizao_quality::kpi::ItemCost;
use zhizao_quality::{Characteristic, Ncr, Subgroup};

use crate::{BeginWrite, Result, Store, StoreError, now_ms, on_pool};

/// A stored characteristic.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCharacteristic {
    pub id: i64,
    pub characteristic: Characteristic,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(FromRow)]
struct CharacteristicRow {
    id: i64,
    body: String,
    created_at: i64,
    updated_at: i64,
}

impl CharacteristicRow {
    fn decode(self) -> Result<StoredCharacteristic> {
        let characteristic = decode(&self.body, "quality characteristic", self.id)?;
        Ok(StoredCharacteristic {
            id: self.id,
            characteristic,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A sample to store: the values of one subgroup (or one count) and where
/// and by whom it was taken.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewSample {
    pub values: Vec<f64>,
    pub sample_size: Option<f64>,
    pub taken_at: i64,
    pub work_order: String,
    pub operation_seq: Option<i32>,
    pub equipment: String,
    pub operator: String,
    pub lot: String,
    /// `terminal`, `api`, `csv`, `mqtt` or `sim`.
    pub source: String,
}

/// A stored sample.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sample {
    pub id: i64,
    pub number: i64,
    pub values: Vec<f64>,
    pub sample_size: Option<f64>,
    pub taken_at: i64,
    pub work_order: String,
    pub operation_seq: Option<i32>,
    pub equipment: String,
    pub operator: String,
    pub lot: String,
    pub source: String,
}

impl Sample {
    pub fn subgroup(&self) -> Subgroup {
        Subgroup {
            number: self.number,
            values: self.values.clone(),
            sample_size: self.sample_size,
            taken_at: self.taken_at,
        }
    }
}

#[derive(FromRow)]
struct SampleRow {
    id: i64,
    number: i64,
    vals: String,
    sample_size: Option<f64>,
    taken_at: i64,
    work_order: String,
    operation_seq: Option<i64>,
    equipment: String,
    operator: String,
    lot: String,
    source: String,
}

impl SampleRow {
    fn decode(self) -> Result<Sample> {
        let values = decode(&self.vals, "quality sample", self.id)?;
        Ok(Sample {
            id: self.id,
            number: self.number,
            values,
            sample_size: self.sample_size,
            taken_at: self.taken_at,
            work_order: self.work_order,
            operation_seq: self.operation_seq.and_then(|v| i32::try_from(v).ok()),
            equipment: self.equipment,
            operator: self.operator,
            lot: self.lot,
            source: self.source,
        })
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A JSON column read back; `what` and `id` name it when it is corrupt.
fn decode<T: serde::de::DeserializeOwned>(json: &str, what: &str, id: i64) -> Result<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("{what} {id}: {e}")))
}

fn stage(c: &Characteristic) -> &'static str {
    match c.stage {
        zhizao_quality::Stage::Iqc => "iqc",
        zhizao_quality::Stage::Ipqc => "ipqc",
        zhizao_quality::Stage::Oqc => "oqc",
    }
}

const CHARACTERISTIC_COLUMNS: &str = "id, body, created_at, updated_at";

impl Store {
    /// Stores a new characteristic (checked by the caller); a conflict when
    /// its code is taken.
    pub async fn create_characteristic(&self, tenant_id: i64, c: &Characteristic) -> Result<i64> {
        let body = encode(c)?;
        let now = now_ms();
        let id = on_pool!(self, p => sqlx::query_scalar(
            "INSERT INTO quality_characteristics (tenant_id, code, item, stage, equipment, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id")
            .bind(tenant_id).bind(&c.code).bind(&c.item).bind(stage(c)).bind(&c.equipment)
            .bind(&body).bind(now)
            .fetch_one(p).await
            .map_err(|e| StoreError::from_write(e, "code", "a characteristic with this code"))?);
        Ok(id)
    }

    pub async fn update_characteristic(
        &self,
        tenant_id: i64,
        id: i64,
        c: &Characteristic,
    ) -> Result<()> {
        let body = encode(c)?;
        let done = on_pool!(self, p => sqlx::query(
            "UPDATE quality_characteristics SET code = $3, item = $4, stage = $5, equipment = $6, body = $7, updated_at = $8 \
             WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id).bind(id).bind(&c.code).bind(&c.item).bind(stage(c)).bind(&c.equipment)
            .bind(&body).bind(now_ms())
            .execute(p).await
            .map_err(|e| StoreError::from_write(e, "code", "a characteristic with this code"))?
            .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound {
                entity: "characteristic",
                id,
            });
        }
        Ok(())
    }

    pub async fn get_characteristic(
        &self,
        tenant_id: i64,
        id: i64,
    ) -> Result<StoredCharacteristic> {
        let sql = format!(
            "SELECT {CHARACTERISTIC_COLUMNS} FROM quality_characteristics WHERE tenant_id = $1 AND id = $2"
        );
        let row: Option<CharacteristicRow> = on_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(tenant_id).bind(id).fetch_optional(p).await?);
        row.ok_or(StoreError::NotFound {
            entity: "characteristic",
            id,
        })?
        .decode()
    }

    /// A characteristic by its code.
    pub async fn characteristic_by_code(
        &self,
        tenant_id: i64,
        code: &str,
    ) -> Result<Option<StoredCharacteristic>> {
        let sql = format!(
            "SELECT {CHARACTERISTIC_COLUMNS} FROM quality_characteristics WHERE tenant_id = $1 AND code = $2"
        );
        let row: Option<CharacteristicRow> = on_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(tenant_id).bind(code).fetch_optional(p).await?);
        row.map(CharacteristicRow::decode).transpose()
    }

    /// Every characteristic of the tenant, by item and code.
    pub async fn list_characteristics(&self, tenant_id: i64) -> Result<Vec<StoredCharacteristic>> {
        let sql = format!(
            "SELECT {CHARACTERISTIC_COLUMNS} FROM quality_characteristics WHERE tenant_id = $1 ORDER BY item, code"
        );
        let rows: Vec<CharacteristicRow> = on_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(tenant_id).fetch_all(p).await?);
        rows.into_iter().map(CharacteristicRow::decode).collect()
    }

    /// Deletes a characteristic and its samples.
    pub async fn delete_characteristic(&self, tenant_id: i64, id: i64) -> Result<()> {
        let done = on_pool!(self, p => sqlx::query(
            "DELETE FROM quality_characteristics WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id).bind(id).execute(p).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound {
                entity: "characteristic",
                id,
            });
        }
        Ok(())
    }

    /// Stores a sample as the characteristic's next number; returns it.
    pub async fn add_sample(
        &self,
        tenant_id: i64,
        characteristic_id: i64,
        s: &NewSample,
    ) -> Result<Sample> {
        let vals = encode(&s.values)?;
        let row: SampleRow = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let owned: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM quality_characteristics WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id).bind(characteristic_id).fetch_optional(&mut *tx).await?;
            if owned.is_none() {
                return Err(StoreError::NotFound { entity: "characteristic", id: characteristic_id });
            }
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(number) FROM quality_samples WHERE characteristic_id = $1")
                .bind(characteristic_id).fetch_one(&mut *tx).await?;
            let row = sqlx::query_as(
                "INSERT INTO quality_samples (tenant_id, characteristic_id, number, vals, sample_size, taken_at, \
                 work_order, operation_seq, equipment, operator, lot, source) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 RETURNING id, number, vals, sample_size, taken_at, work_order, operation_seq, equipment, operator, lot, source")
                .bind(tenant_id).bind(characteristic_id).bind(last.unwrap_or(0) + 1).bind(&vals)
                .bind(s.sample_size).bind(s.taken_at).bind(&s.work_order)
                .bind(s.operation_seq.map(i64::from)).bind(&s.equipment).bind(&s.operator)
                .bind(&s.lot).bind(&s.source)
                .fetch_one(&mut *tx).await?;
            tx.commit().await?;
            row
        });
        row.decode()
    }

    /// The newest `limit` samples of a characteristic, oldest first.
    pub async fn recent_samples(
        &self,
        tenant_id: i64,
        characteristic_id: i64,
        limit: i64,
    ) -> Result<Vec<Sample>> {
        let rows: Vec<SampleRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, number, vals, sample_size, taken_at, work_order, operation_seq, equipment, operator, lot, source \
             FROM quality_samples WHERE tenant_id = $1 AND characteristic_id = $2 ORDER BY number DESC LIMIT $3")
            .bind(tenant_id).bind(characteristic_id).bind(limit).fetch_all(p).await?);
        let mut out = rows
            .into_iter()
            .map(SampleRow::decode)
            .collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }
}

/// A stored nonconformance report.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNcr {
    pub id: i64,
    pub ncr: Ncr,
    pub updated_at: i64,
}

#[derive(FromRow)]
struct NcrRow {
    id: i64,
    body: String,
    updated_at: i64,
}

impl NcrRow {
    fn decode(self) -> Result<StoredNcr> {
        let ncr = decode(&self.body, "nonconformance report", self.id)?;
        Ok(StoredNcr {
            id: self.id,
            ncr,
            updated_at: self.updated_at,
        })
    }
}

/// One entry of a report's audit trail.
#[derive(Debug, Clone, PartialEq, serde::Serialize, FromRow)]
pub struct NcrEvent {
    pub at: i64,
    pub by_user: String,
    pub action: String,
    /// The action as posted (JSON).
    pub detail: String,
    pub from_status: String,
    pub to_status: String,
}

/// A change to record with a report: who, what, and the action as posted.
#[derive(Debug, Clone, PartialEq)]
pub struct NcrChange<'a> {
    pub by_user: &'a str,
    pub action: &'a str,
    pub detail: &'a str,
    pub at: i64,
}

impl Store {
    /// Stores a new report numbered `NCR-0001`, `NCR-0002`, … per tenant;
    /// `make` builds it from its number.
    pub async fn create_ncr(
        &self,
        tenant_id: i64,
        make: impl FnOnce(String) -> Ncr + Send,
        change: NcrChange<'_>,
    ) -> Result<StoredNcr> {
        let id: i64 = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ncrs WHERE tenant_id = $1")
                .bind(tenant_id).fetch_one(&mut *tx).await?;
            let ncr = make(format!("NCR-{:04}", count + 1));
            let body = encode(&ncr)?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO ncrs (tenant_id, number, status, item, body, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id")
                .bind(tenant_id).bind(&ncr.number).bind(ncr.status.as_str()).bind(&ncr.what.item)
                .bind(&body).bind(change.at)
                .fetch_one(&mut *tx).await
                .map_err(|e| StoreError::from_write(e, "number", "a report with this number"))?;
            sqlx::query(
                "INSERT INTO ncr_events (tenant_id, ncr_id, at, by_user, action, detail, from_status, to_status) \
                 VALUES ($1, $2, $3, $4, $5, $6, '', $7)")
                .bind(tenant_id).bind(id).bind(change.at).bind(change.by_user).bind(change.action)
                .bind(change.detail).bind(ncr.status.as_str())
                .execute(&mut *tx).await?;
            tx.commit().await?;
            id
        });
        self.get_ncr(tenant_id, id).await
    }

    pub async fn get_ncr(&self, tenant_id: i64, id: i64) -> Result<StoredNcr> {
        let row: Option<NcrRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, body, updated_at FROM ncrs WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id).bind(id).fetch_optional(p).await?);
        row.ok_or(StoreError::NotFound {
            entity: "nonconformance report",
            id,
        })?
        .decode()
    }

    /// Reports newest first, optionally of one status; with the total.
    pub async fn list_ncrs(
        &self,
        tenant_id: i64,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<StoredNcr>, i64)> {
        let status = status.unwrap_or("");
        let (rows, total): (Vec<NcrRow>, i64) = on_pool!(self, p => {
            let rows = sqlx::query_as(
                "SELECT id, body, updated_at FROM ncrs WHERE tenant_id = $1 AND ($2 = '' OR status = $2) \
                 ORDER BY id DESC LIMIT $3 OFFSET $4")
                .bind(tenant_id).bind(status).bind(limit).bind(offset).fetch_all(p).await?;
            let total = sqlx::query_scalar(
                "SELECT COUNT(*) FROM ncrs WHERE tenant_id = $1 AND ($2 = '' OR status = $2)")
                .bind(tenant_id).bind(status).fetch_one(p).await?;
            (rows, total)
        });
        Ok((
            rows.into_iter()
                .map(NcrRow::decode)
                .collect::<Result<_>>()?,
            total,
        ))
    }

    /// Replaces a report after an action, if nobody changed it since it was
    /// read (its `updated_at`); records the change.
    pub async fn update_ncr(
        &self,
        tenant_id: i64,
        from: &StoredNcr,
        to: &Ncr,
        change: NcrChange<'_>,
    ) -> Result<StoredNcr> {
        let id = from.id;
        let body = encode(to)?;
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE ncrs SET status = $3, body = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND updated_at = $6")
                .bind(tenant_id).bind(id).bind(to.status.as_str()).bind(&body)
                .bind(change.at.max(from.updated_at + 1)).bind(from.updated_at)
                .execute(&mut *tx).await?.rows_affected();
            if done == 0 {
                return Err(StoreError::Conflict {
                    field: "ncr".into(),
                    message: "the report was changed meanwhile; load it again".into(),
                });
            }
            sqlx::query(
                "INSERT INTO ncr_events (tenant_id, ncr_id, at, by_user, action, detail, from_status, to_status) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(tenant_id).bind(id).bind(change.at).bind(change.by_user).bind(change.action)
                .bind(change.detail).bind(from.ncr.status.as_str()).bind(to.status.as_str())
                .execute(&mut *tx).await?;
            tx.commit().await?;
        });
        self.get_ncr(tenant_id, id).await
    }

    /// A report's audit trail, oldest first.
    pub async fn ncr_events(&self, tenant_id: i64, id: i64) -> Result<Vec<NcrEvent>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT at, by_user, action, detail, from_status, to_status FROM ncr_events \
             WHERE tenant_id = $1 AND ncr_id = $2 ORDER BY id")
            .bind(tenant_id).bind(id).fetch_all(p).await?))
    }
}

impl Store {
    /// Replaces the tenant's standard costs (checked by the caller).
    pub async fn put_quality_costs(
        &self,
        tenant_id: i64,
        costs: &std::collections::BTreeMap<String, ItemCost>,
    ) -> Result<()> {
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            sqlx::query("DELETE FROM quality_costs WHERE tenant_id = $1")
                .bind(tenant_id).execute(&mut *tx).await?;
            for (item, c) in costs {
                sqlx::query(
                    "INSERT INTO quality_costs (tenant_id, item, unit_cost, rework_cost) VALUES ($1, $2, $3, $4)")
                    .bind(tenant_id).bind(item).bind(c.unit_cost).bind(c.rework_cost)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn quality_costs(
        &self,
        tenant_id: i64,
    ) -> Result<std::collections::BTreeMap<String, ItemCost>> {
        let rows: Vec<(String, f64, f64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT item, unit_cost, rework_cost FROM quality_costs WHERE tenant_id = $1 ORDER BY item")
            .bind(tenant_id).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(|(item, unit_cost, rework_cost)| {
                (
                    item,
                    ItemCost {
                        unit_cost,
                        rework_cost,
                    },
                )
            })
            .collect())
    }
}

/// A photo of a report, without its bytes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, FromRow)]
pub struct NcrPhoto {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub by_user: String,
    pub at: i64,
}

impl Store {
    /// Attaches a photo (checked by the caller) and records it in the
    /// report's audit trail.
    pub async fn add_ncr_photo(
        &self,
        tenant_id: i64,
        ncr: &StoredNcr,
        name: &str,
        content_type: &str,
        bytes: &[u8],
        change: NcrChange<'_>,
    ) -> Result<NcrPhoto> {
        let status = ncr.ncr.status.as_str();
        let id: i64 = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO ncr_photos (tenant_id, ncr_id, name, content_type, size, bytes, by_user, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
                .bind(tenant_id).bind(ncr.id).bind(name).bind(content_type).bind(bytes.len() as i64)
                .bind(bytes).bind(change.by_user).bind(change.at)
                .fetch_one(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO ncr_events (tenant_id, ncr_id, at, by_user, action, detail, from_status, to_status) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
                .bind(tenant_id).bind(ncr.id).bind(change.at).bind(change.by_user).bind(change.action)
                .bind(change.detail).bind(status)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            id
        });
        Ok(NcrPhoto {
            id,
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            size: bytes.len() as i64,
            by_user: change.by_user.to_owned(),
            at: change.at,
        })
    }

    pub async fn ncr_photos(&self, tenant_id: i64, ncr_id: i64) -> Result<Vec<NcrPhoto>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT id, name, content_type, size, by_user, at FROM ncr_photos \
             WHERE tenant_id = $1 AND ncr_id = $2 ORDER BY id")
            .bind(tenant_id).bind(ncr_id).fetch_all(p).await?))
    }

    /// A photo's type and bytes.
    pub async fn ncr_photo(
        &self,
        tenant_id: i64,
        ncr_id: i64,
        id: i64,
    ) -> Result<(String, Vec<u8>)> {
        let row: Option<(String, Vec<u8>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT content_type, bytes FROM ncr_photos WHERE tenant_id = $1 AND ncr_id = $2 AND id = $3")
            .bind(tenant_id).bind(ncr_id).bind(id).fetch_optional(p).await?);
        row.ok_or(StoreError::NotFound {
            entity: "photo",
            id,
        })
    }
}
