use thiserror::Error;

/// Everything the SPC library refuses, named by the place in the input
/// (`data[3][1]`, `params.lsl`) so a user can find it.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{field}: {problem}")]
pub struct SpcError {
    /// Where the fault is, as a path into the case (`data[2]`, `params.usl`).
    pub field: String,
    /// What is wrong, in a sentence.
    pub problem: String,
}

impl SpcError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The same error seen from an enclosing object: `data[1]` becomes
    /// `cases[4].data[1]`.
    pub fn within(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            self.field = if self.field.is_empty() {
                prefix.to_owned()
            } else if self.field.starts_with('[') {
                format!("{prefix}{}", self.field)
            } else {
                format!("{prefix}.{}", self.field)
            };
        }
        self
    }
}

pub type Result<T> = std::result::Result<T, SpcError>;
