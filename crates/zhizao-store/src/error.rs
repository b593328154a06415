use zhizao_core::FieldError;

/// What can go wrong in the store, in terms the API can map to statuses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: i64 },
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    #[error("{field}: {message}")]
    MissingParent { field: String, message: String },
    #[error("{entity} {id} is still referenced: {message}")]
    InUse {
        entity: &'static str,
        id: i64,
        message: String,
    },
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("unsupported database url `{0}` (expected sqlite:… or postgres://…)")]
    UnsupportedUrl(String),
    #[error("cannot create {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps constraint violations of a write to the field the user set.
    pub(crate) fn from_write(e: sqlx::Error, unique_field: &str, what: &str) -> StoreError {
        if e.as_database_error()
            .is_some_and(|db| db.is_unique_violation())
        {
            return StoreError::Conflict {
                field: unique_field.to_owned(),
                message: format!("{what} already exists"),
            };
        }
        StoreError::Db(e)
    }
}
