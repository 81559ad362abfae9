//! The one error type of the core crate.
//!
//! Domain variants name what was wrong (the field and the reason, the kind and id of a
//! missing document); infrastructure errors are wrapped with `#[from]`. The FFI and the
//! server map this type once into their own smaller error types.

use crate::ids::DocKind;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input was refused; nothing was written.
    #[error("invalid `{field}`: {reason}")]
    InvalidField { field: String, reason: String },

    /// A document (or a store in the index) does not exist on this device.
    #[error("{kind} `{id}` not found")]
    NotFound { kind: DocKind, id: String },

    /// No document of any kind has this id on this device.
    #[error("document `{id}` not found")]
    UnknownDocument { id: String },

    /// A document id was used with an API of another kind of document.
    #[error("document `{id}` is a {actual}, not a {expected}")]
    WrongKind {
        id: String,
        expected: DocKind,
        actual: DocKind,
    },

    /// A state machine (rectification task, complaint) refused a move.
    #[error("illegal transition of {kind} `{id}` from `{from}` to `{to}`")]
    IllegalTransition {
        kind: DocKind,
        id: String,
        from: String,
        to: String,
    },

    /// Stored bytes or a document's content do not have the shape this build expects.
    #[error("document `{id}` is corrupt: {reason}")]
    Corrupt { id: String, reason: String },

    /// A document received from the server or a peer that cannot be read as its kind: it is
    /// kept aside (see `LocalStore::damaged_documents`) until changes arrive that repair it.
    /// `kind` is the kind it names itself, when it can say.
    #[error("document `{id}` is damaged and cannot be read: {reason}")]
    Damaged {
        id: String,
        kind: Option<DocKind>,
        reason: String,
    },

    /// A document or database written by a newer build of fieldsync.
    #[error("{what} has schema version {found}; this build supports up to {supported}")]
    SchemaTooNew {
        what: String,
        found: i64,
        supported: i64,
    },

    /// Another process (or another `LocalStore` in this one) holds the database.
    #[error("the local store at `{path}` is already open elsewhere")]
    Locked { path: String },

    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),

    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// The result type of the core crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An `InvalidField` error; `reason` is lower-case and puts values in backticks.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(id: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            id: id.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(kind: DocKind, id: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            id: id.into(),
        }
    }
}
