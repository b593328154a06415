//! The relational store: one code base over SQLite (embedded default) and
//! PostgreSQL (scale-out).
//!
//! Both backends are typed sqlx pools behind one [`Store`]; each query is
//! written once with `$n` placeholders (which SQLite accepts too) and run on
//! whichever pool is configured via the [`on_pool!`] macro. Every query on
//! tenant data takes the tenant id, so no caller can forget the scoping.

mod alarms;
mod auth;
mod calendars;
mod devices;
mod error;
mod hierarchy;
mod list;
mod planning;
mod quality;
mod reasons;
mod schedules;
mod status;
mod trace;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub use alarms::JournalEntry;
pub use auth::{LoginOutcome, SESSION_TTL_MS};
pub use devices::{DeviceTraffic, NewDevice};
pub use error::StoreError;
pub use hierarchy::{
    AreaPatch, EquipmentPatch, Layout, LinePatch, NewArea, NewEquipment, NewLine, NewSite,
    SitePatch,
};
pub use list::{Filter, ListQuery, MAX_LIMIT, Page, Sort};
pub use planning::{
    CustomerOrder, NewCustomerOrder, NewPurchaseOrder, NewWorkOrder, OrderQuery, OrderSort,
    PlanRun, PurchaseOrder, RUNS_KEPT, WorkOrder, WorkOrderOperation,
};
pub use quality::{
    NcrChange, NcrEvent, NcrPhoto, NewSample, Sample, StoredCharacteristic, StoredNcr,
};
pub use reasons::StopReason;
pub use schedules::{SCHEDULES_KEPT, ScheduleVersion};
pub use status::{EquipmentStatus, StateEvent};
pub use trace::{Genealogy, TracedLink, TracedUnit};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same expression on whichever pool backs the store.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Opens a transaction that will write. On SQLite it takes the write lock
/// at `BEGIN IMMEDIATE`: a transaction that reads before it writes would
/// otherwise fail at its first write, without waiting, whenever another
/// connection wrote after its read (a stale snapshot in WAL mode); with
/// the lock taken first, the busy timeout applies instead.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for sqlx::SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for sqlx::PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// A handle to the relational store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Store {
    /// Opens `sqlite:…` or `postgres://…`; creates the SQLite file (and its
    /// folder) when missing. Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if let Some(parent) = opts
                .get_filename()
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::Io {
                    path: parent.display().to_string(),
                    source: e,
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await?;
            Ok(Store {
                pool: Pool::Sqlite(pool),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(PgConnectOptions::from_str(url)?).await
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// Opens PostgreSQL with explicit options (tests use this to pin a
    /// `search_path` to a fresh schema).
    pub async fn connect_postgres(opts: PgConnectOptions) -> Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(Store {
            pool: Pool::Postgres(pool),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations for this backend's dialect.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Pool::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// Current time as epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
