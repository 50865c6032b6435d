//! The errors of the use cases; each surface maps them to its own format.

use cityloop_domain::workflow::{MoveError, MoveKind};
use cityloop_domain::State;
use cityloop_store::StoreError;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No credentials, or credentials that are wrong, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The password was right, and the account also asks for a one-time code from its authenticator.
    #[error("{0}")]
    SecondFactorRequired(String),
    /// Known caller, not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown (or invisible to the caller, so that its existence does not leak).
    #[error("{0} not found")]
    NotFound(String),
    /// The move does not apply to the case in its current state.
    #[error("cannot {kind} a case that is {state}: {reason}")]
    IllegalMove { kind: MoveKind, state: State, reason: String, allowed: Vec<MoveKind> },
    /// The case changed since the caller read it.
    #[error("the case was changed by someone else (now at version {current}); reload it and try again")]
    StaleVersion { current: i64 },
    /// Something with the same key already exists.
    #[error("{0}")]
    Duplicate(String),
    /// A field is missing or wrong.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Several fields are missing or wrong (at least two), so that a form can mark them all at once.
    #[error("{}", list_fields(.0))]
    InvalidFields(Vec<FieldError>),
    /// A body or file is too large.
    #[error("{0}")]
    TooLarge(String),
    /// Too many attempts (failed logins): refused until `retry_after_seconds` have passed.
    #[error("{message}")]
    TooManyAttempts { message: String, retry_after_seconds: i64 },
    /// The database cannot be reached.
    #[error("service unavailable")]
    Unavailable(String),
    /// A feature has nothing to work with yet (no classifier model trained); the message says what to do.
    #[error("{0}")]
    NotReady(String),
    /// A fault of ours; details are logged, not shown.
    #[error("internal error")]
    Internal(String),
}

/// Result type of the use cases.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// A field error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid { field: field.into(), message: message.into() }
    }

    /// Every field error this error holds, in the order they were found; empty for other errors.
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            AppError::Invalid { field, message } => vec![FieldError { field: field.clone(), message: message.clone() }],
            AppError::InvalidFields(all) => all.clone(),
            _ => Vec::new(),
        }
    }
}

/// One field's error among several.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn list_fields(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

/// Collects the field errors of a form's independent checks, so that one answer names them all.
#[derive(Debug, Default)]
pub(crate) struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// The checked value, or `None` after keeping its field errors; any other error ends the request.
    pub fn keep<T>(&mut self, checked: Result<T>) -> Result<Option<T>> {
        let e = match checked {
            Ok(value) => return Ok(Some(value)),
            Err(e) => e,
        };
        let found = e.field_errors();
        if found.is_empty() {
            return Err(e);
        }
        self.0.extend(found);
        Ok(None)
    }

    /// Keeps a field error found by a check of the caller's own.
    pub fn refuse(&mut self, field: &str, message: &str) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    /// Whether no error was kept so far.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every error kept, as one: `Invalid` for one field, `InvalidFields` for several.
    pub fn finish(self) -> Result<()> {
        let mut found = self.0;
        match found.len() {
            0 => Ok(()),
            1 => {
                let FieldError { field, message } = found.remove(0);
                Err(AppError::Invalid { field, message })
            }
            _ => Err(AppError::InvalidFields(found)),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("record".into()),
            StoreError::Duplicate(m) => AppError::Duplicate(m),
            StoreError::StaleVersion => AppError::StaleVersion { current: -1 },
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::Invalid(m) => AppError::invalid("text", m),
            e @ StoreError::UnknownAttachment(_) => AppError::invalid("attachments", e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<MoveError> for AppError {
    fn from(e: MoveError) -> Self {
        match e {
            MoveError::Forbidden { kind, reason } => AppError::Forbidden(format!("not allowed to {kind}: {reason}")),
            MoveError::Illegal { kind, state, reason, allowed } => {
                AppError::IllegalMove { kind, state, reason, allowed }
            }
            MoveError::Invalid { field, message } => AppError::invalid(field, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_are_reported_together_and_other_errors_at_once() {
        let mut errors = FieldErrors::default();
        assert_eq!(errors.keep(Ok::<_, AppError>(3)).unwrap(), Some(3));
        assert_eq!(errors.keep::<()>(Err(AppError::invalid("title", "is required"))).unwrap(), None);
        assert!(matches!(errors.keep::<()>(Err(AppError::NotFound("x".into()))), Err(AppError::NotFound(_))));
        errors.keep::<()>(Err(AppError::invalid("phone", "is wrong"))).unwrap();
        let all = errors.finish().unwrap_err();
        assert_eq!(all.to_string(), "title: is required; phone: is wrong");
        assert_eq!(all.field_errors().len(), 2);

        let mut one = FieldErrors::default();
        one.keep::<()>(Err(AppError::invalid("title", "is required"))).unwrap();
        assert!(matches!(one.finish(), Err(AppError::Invalid { field, .. }) if field == "title"));
        assert!(FieldErrors::default().finish().is_ok());
    }
}
