//! Checks on user-supplied identifiers and names, shared by the API and the
//! importers so both reject the same things with the same words.

use serde::Serialize;

/// A problem with one input field, named so a form can show it in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub const MAX_CODE_LEN: usize = 64;
pub const MAX_NAME_LEN: usize = 200;

/// Codes are what people type on terminals and what MQTT topics carry:
/// ASCII letters, digits, `-`, `_` and `.`, 1 to 64 characters.
pub fn validate_code(field: &str, code: &str) -> Result<(), FieldError> {
    if code.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if code.len() > MAX_CODE_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_CODE_LEN} characters"),
        ));
    }
    if let Some(c) = code
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(FieldError::new(
            field,
            format!("contains `{c}`; only letters, digits, `-`, `_` and `.` are allowed"),
        ));
    }
    Ok(())
}

/// Names are free text (Chinese included) but not blank and not huge.
pub fn validate_name(field: &str, name: &str) -> Result<(), FieldError> {
    if name.trim().is_empty() {
        return Err(FieldError::new(field, "must not be blank"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(validate_code("code", "CUT-01").is_ok());
        assert!(validate_code("code", "a.b_c").is_ok());
        assert_eq!(
            validate_code("code", "").unwrap_err().message,
            "must not be empty"
        );
        assert!(validate_code("code", "切割").is_err());
        assert!(validate_code("code", "a/b").is_err());
        assert!(validate_code("code", &"x".repeat(65)).is_err());
    }

    #[test]
    fn names() {
        assert!(validate_name("name", "数控切割机 1号").is_ok());
        assert!(validate_name("name", "   ").is_err());
        assert!(validate_name("name", &"名".repeat(201)).is_err());
    }
}
