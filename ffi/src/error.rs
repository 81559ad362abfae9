//! The one error type an app sees, mapped once from the core's [`Error`] and from a failed
//! sync's [`SyncFailure`].
//!
//! The cases are the ones an app can act on: show the field next to an input
//! (`InvalidInput`), refresh a stale screen (`NotFound`), wait for the network (`Offline`),
//! enroll again (`Unauthorized`), show a refusal (`Rejected`), say that a received record
//! cannot be read (`Damaged`), report a broken phone (`Storage`) or a bug (`Internal`). `Display` (Kotlin `toString()`, Swift `description`)
//! is a readable lower-case sentence; `detail` carries the same sentence.

use fieldsync_core::{Error, SyncFailure};

/// Why a fieldsync call failed. In Kotlin a sealed `FieldException`; in Swift an `Error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum FieldError {
    /// A document (or a store) this device does not have.
    #[error("{detail}")]
    NotFound { detail: String },
    /// An argument was refused; nothing was written. `field` names it (`check_in.gps.lat`).
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },
    /// The server could not be reached, or is unavailable for now: try later.
    #[error("offline: {detail}")]
    Offline { detail: String },
    /// The server is busy and said when to come back: try again no sooner than
    /// `retry_after_ms` from now (a scheduler waits at least that long).
    #[error("server busy: {detail}")]
    Busy { detail: String, retry_after_ms: u64 },
    /// The device's token is unknown or revoked: enroll again.
    #[error("unauthorized: {detail}")]
    Unauthorized { detail: String },
    /// Refused by a rule (the server's, or a state machine's); the edits stay on the phone.
    #[error("rejected: {detail}")]
    Rejected { detail: String },
    /// The local database failed, or another opening holds it.
    #[error("storage: {detail}")]
    Storage { detail: String },
    /// A document this device received and cannot read (an older server accepted it): it
    /// is kept aside and listed by `damaged_documents`; changes that repair it clear it.
    #[error("damaged: document `{id}` cannot be read: {reason}")]
    Damaged { id: String, reason: String },
    /// The server speaks a newer protocol than this app: ask the user to update the app.
    /// Nothing is lost: the edits stay on the phone and sync after the update.
    #[error("update the app: {detail}")]
    UpdateRequired { detail: String },
    /// A bug on one side; the detail says what.
    #[error("internal error: {detail}")]
    Internal { detail: String },
}

impl From<Error> for FieldError {
    fn from(e: Error) -> Self {
        let detail = e.to_string();
        match e {
            Error::InvalidField { field, reason } => FieldError::InvalidInput { field, reason },
            Error::NotFound { .. } | Error::UnknownDocument { .. } => {
                FieldError::NotFound { detail }
            }
            Error::WrongKind { .. } => FieldError::InvalidInput {
                field: "id".into(),
                reason: detail,
            },
            Error::IllegalTransition { .. } => FieldError::Rejected { detail },
            Error::Damaged { id, reason, .. } => FieldError::Damaged { id, reason },
            Error::Locked { .. }
            | Error::Sqlite(_)
            | Error::Io(_)
            | Error::SchemaTooNew { .. }
            | Error::Corrupt { .. } => FieldError::Storage { detail },
            Error::Automerge(_) => FieldError::Internal { detail },
        }
    }
}

impl From<SyncFailure> for FieldError {
    fn from(f: SyncFailure) -> Self {
        match f {
            SyncFailure::Offline(detail) | SyncFailure::ServerUnavailable(detail) => {
                FieldError::Offline { detail }
            }
            SyncFailure::Busy {
                retry_after,
                message,
            } => FieldError::Busy {
                detail: format!(
                    "{message} (the server asks to wait {} s)",
                    retry_after.as_secs().max(1)
                ),
                retry_after_ms: u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
            },
            SyncFailure::Unauthorized(detail) => FieldError::Unauthorized { detail },
            SyncFailure::Refused(detail) => FieldError::Rejected { detail },
            SyncFailure::Local(detail) => FieldError::Storage { detail },
            SyncFailure::UpdateRequired(detail) => FieldError::UpdateRequired { detail },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_field_keeps_its_field_and_reason_and_reads_like_the_core() {
        let e = FieldError::from(Error::invalid("count", "must not be negative"));
        assert_eq!(
            e,
            FieldError::InvalidInput {
                field: "count".into(),
                reason: "must not be negative".into()
            }
        );
        assert_eq!(e.to_string(), "invalid `count`: must not be negative");
    }

    #[test]
    fn a_server_that_cannot_be_reached_is_offline_and_a_revoked_device_unauthorized() {
        assert!(matches!(
            FieldError::from(SyncFailure::ServerUnavailable("503".into())),
            FieldError::Offline { .. }
        ));
        assert!(matches!(
            FieldError::from(SyncFailure::Unauthorized("revoked".into())),
            FieldError::Unauthorized { .. }
        ));
    }

    #[test]
    fn a_busy_server_s_wait_reaches_the_app_in_milliseconds() {
        let e = FieldError::from(SyncFailure::Busy {
            retry_after: std::time::Duration::from_secs(30),
            message: "busy".into(),
        });
        assert!(
            matches!(
                &e,
                FieldError::Busy {
                    retry_after_ms: 30_000,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("30 s"), "{e}");
    }

    #[test]
    fn a_server_on_a_newer_protocol_asks_for_an_app_update() {
        let e = FieldError::from(SyncFailure::UpdateRequired("speaks `2`".into()));
        assert!(matches!(e, FieldError::UpdateRequired { .. }));
        assert!(e.to_string().starts_with("update the app"), "{e}");
    }
}
