//! Documents the admin device cannot read, named in the output of the admin commands.
//!
//! An older server stored documents that no reader can read (a verdict `"banana"`, a visit
//! without `check_in`). The admin device's pull keeps them aside as damaged, as a phone
//! does (`fieldsync_core::DamagedDocument`), so every command still does its job for the
//! other documents; a document that fails to read while a command reads it (its stored
//! bytes are damaged) is skipped the same way. Each command then names them: `admin
//! report` in a section after its rows, `admin reassign` and `admin import-stores` after
//! what they did. Never an `internal` failure of the whole command.

use std::io::Write;

use fieldsync_core::{DocId, DocKind, LocalStore};

use crate::error::{AppError, AppResult};

/// A document left out of a command's work because it cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub id: String,
    pub kind: Option<DocKind>,
    pub store: Option<DocId>,
    /// The territory of its store, when the admin device can read the store.
    pub territory: Option<String>,
    pub reason: String,
}

/// The header of the report's section of unreadable documents.
pub const SECTION_COLUMNS: [&str; 5] = ["damaged_document", "kind", "store", "territory", "reason"];

/// Every document the admin device keeps aside as damaged.
pub fn damaged(local: &LocalStore) -> AppResult<Vec<Unreadable>> {
    Ok(local
        .damaged_documents()?
        .into_iter()
        .map(|d| Unreadable {
            id: d.id.to_string(),
            kind: d.kind,
            territory: d
                .store_id
                .as_ref()
                .and_then(|s| local.store(s).ok())
                .map(|s| s.territory),
            store: d.store_id,
            reason: d.reason,
        })
        .collect())
}

/// The value of a read, or `None` when the document cannot be read: then it is added to
/// `skipped` (once) and the command goes on. Other failures stop the command.
pub fn readable<T>(
    read: fieldsync_core::Result<T>,
    kind: DocKind,
    skipped: &mut Vec<Unreadable>,
) -> AppResult<Option<T>> {
    match read {
        Ok(value) => Ok(Some(value)),
        Err(fieldsync_core::Error::Damaged { id, reason, .. })
        | Err(fieldsync_core::Error::Corrupt { id, reason }) => {
            if !skipped.iter().any(|u| u.id == id) {
                skipped.push(Unreadable {
                    id,
                    kind: Some(kind),
                    store: None,
                    territory: None,
                    reason,
                });
            }
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}

/// Adds `more` to `into`, each document once.
pub fn merge(into: &mut Vec<Unreadable>, more: Vec<Unreadable>) {
    for u in more {
        if !into.iter().any(|i| i.id == u.id) {
            into.push(u);
        }
    }
}

/// One line per document: ``document `…` (visit, store `…`) cannot be read and was left
/// out: reason``.
pub fn notes(unreadable: &[Unreadable]) -> Vec<String> {
    unreadable
        .iter()
        .map(|u| {
            let kind = u.kind.map_or("unknown kind", DocKind::as_str);
            let store = u
                .store
                .as_ref()
                .map(|s| format!(", store `{s}`"))
                .unwrap_or_default();
            format!(
                "document `{}` ({kind}{store}) cannot be read and was left out: {}",
                u.id, u.reason
            )
        })
        .collect()
}

/// Writes the report's section after its rows: an empty line, [`SECTION_COLUMNS`], and a
/// row per document. Nothing when there are none, so a clean district's report is the
/// rows alone.
pub fn write_section(unreadable: &[Unreadable], mut out: impl Write) -> AppResult<()> {
    if unreadable.is_empty() {
        return Ok(());
    }
    let io = |e: csv::Error| AppError::Internal(format!("cannot write the report: {e}"));
    writeln!(out).map_err(|e| AppError::Internal(format!("cannot write the report: {e}")))?;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(SECTION_COLUMNS).map_err(io)?;
    for u in unreadable {
        writer
            .write_record([
                u.id.as_str(),
                u.kind.map_or("", DocKind::as_str),
                u.store.as_ref().map_or("", DocId::as_str),
                u.territory.as_deref().unwrap_or(""),
                u.reason.as_str(),
            ])
            .map_err(io)?;
    }
    writer
        .flush()
        .map_err(|e| AppError::Internal(format!("cannot write the report: {e}")))?;
    Ok(())
}
