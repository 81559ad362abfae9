//! The one error type an app sees, mapped once from the core's [`Error`] and from a failed
//! sync's [`SyncFailure`].
//!
//! The cases are the ones an app can act on: show the field next to an input
//! (`InvalidInput`), refresh a stale screen (`NotFound`), wait for the network (`Offline`),
//! enroll again (`Unauthorized`), show a refusal (`Rejected`), say that a received record
//! cannot be read (`Damaged`), report a broken phone (`Storage`) or a bug (`Internal`).
//!
//! `Display` is a sentence a developer or a support person reads as it is (``The value
//! given for `count` was refused: must not be negative.``): a capital, the values in
//! backticks, a full stop. Kotlin's `message` and `toString()` and Swift's `description`
//! show it (for Kotlin, `scripts/bindings` points the generated `message` at it, see ADR
//! 0018; Python's `str()` is still uniffi's list of fields); the variant's fields (`field`,
//! `reason`, `detail`, ...) stay properties for code that acts on them.

use std::fmt;

use fieldsync_core::{Error, SyncFailure};

/// Why a fieldsync call failed. In Kotlin a sealed `FieldException`; in Swift an `Error`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
#[uniffi::export(Display)]
pub enum FieldError {
    /// A document (or a store) this device does not have.
    NotFound { detail: String },
    /// An argument was refused; nothing was written. `field` names it (`check_in.gps.lat`).
    InvalidInput { field: String, reason: String },
    /// The server could not be reached, or is unavailable for now: try later.
    Offline { detail: String },
    /// The server is busy and said when to come back: try again no sooner than
    /// `retry_after_ms` from now (a scheduler waits at least that long).
    Busy { detail: String, retry_after_ms: u64 },
    /// The device's token is unknown or revoked: enroll again.
    Unauthorized { detail: String },
    /// Refused by a rule (the server's, or a state machine's); the edits stay on the phone.
    Rejected { detail: String },
    /// The local database failed, or another opening holds it.
    Storage { detail: String },
    /// A document this device received and cannot read (an older server accepted it): it
    /// is kept aside and listed by `damaged_documents`; changes that repair it clear it.
    Damaged { id: String, reason: String },
    /// The server speaks a newer protocol than this app: ask the user to update the app.
    /// Nothing is lost: the edits stay on the phone and sync after the update.
    UpdateRequired { detail: String },
    /// A bug on one side; the detail says what.
    Internal { detail: String },
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            FieldError::NotFound { detail } => format!("{detail} on this phone"),
            FieldError::InvalidInput { field, reason } => {
                format!("the value given for `{field}` was refused: {reason}")
            }
            FieldError::Offline { detail } => format!(
                "the server cannot be reached ({detail}); the edits stay on the phone, try again later"
            ),
            FieldError::Busy { detail, .. } => format!("the server is busy: {detail}"),
            FieldError::Unauthorized { detail } => {
                format!("the server does not accept this device ({detail}): enroll it again")
            }
            FieldError::Rejected { detail } => format!("the change was refused: {detail}"),
            FieldError::Storage { detail } => format!("the phone's local store failed: {detail}"),
            FieldError::Damaged { id, reason } => {
                format!("the record `{id}` on this phone cannot be read: {reason}")
            }
            FieldError::UpdateRequired { detail } => format!("update the app: {detail}"),
            FieldError::Internal { detail } => {
                format!("internal error in fieldsync (a bug): {detail}")
            }
        };
        f.write_str(&sentence(&text))
    }
}

impl std::error::Error for FieldError {}

/// `text` as a sentence: a capital first letter and a closing full stop.
fn sentence(text: &str) -> String {
    let text = text.trim_end();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
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
    fn an_invalid_field_keeps_its_field_and_reason_and_reads_as_a_sentence_naming_it() {
        let e = FieldError::from(Error::invalid("count", "must not be negative"));
        assert_eq!(
            e,
            FieldError::InvalidInput {
                field: "count".into(),
                reason: "must not be negative".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "The value given for `count` was refused: must not be negative."
        );
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
        assert!(e.to_string().starts_with("Update the app: "), "{e}");
    }

    #[test]
    fn every_error_reads_as_one_sentence_without_debug_syntax() {
        let errors = [
            FieldError::from(Error::UnknownDocument { id: "v-1".into() }),
            FieldError::from(Error::invalid("check_in.at", "`x` is not an instant")),
            FieldError::from(SyncFailure::Offline("connection refused".into())),
            FieldError::from(SyncFailure::Unauthorized("unknown token".into())),
            FieldError::from(SyncFailure::Refused("another territory".into())),
            FieldError::from(SyncFailure::Local("disk full".into())),
            FieldError::Damaged {
                id: "v-1".into(),
                reason: "`check_in.at` is a map".into(),
            },
            FieldError::Internal {
                detail: "a bug".into(),
            },
        ];
        for e in errors {
            let text = e.to_string();
            let first = text.chars().next().expect("not empty");
            assert!(first.is_uppercase(), "{text}");
            assert!(text.ends_with('.'), "{text}");
            for debug in ["{", "}", "Some(", "\"", "detail:"] {
                assert!(!text.contains(debug), "{text} holds {debug}");
            }
        }
    }

    #[test]
    fn a_sentence_gets_a_capital_and_one_full_stop() {
        assert_eq!(sentence("offline"), "Offline.");
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(sentence("`a` (b)"), "`a` (b).");
    }
}
