//! Each document kind, defined once: its fields and their Automerge types, which are
//! required, the closed code sets, the value rules, its state machine, its typed form (the
//! public structs and enums: `Visit`, `VisitKind`, ...), its reader and the index rows
//! derived from it. One module per kind (`kinds/visit.rs`, with `kinds/visit/read.rs` where
//! one file would be too long).
//!
//! [`check`] holds a whole document to its kind; the server runs it on every document a
//! device pushes (after the new changes are applied), the phone on every document it
//! writes and every document it receives, so "the server accepted it" implies "every
//! reader can read it". [`judge`] adds what only the server can judge: who wrote each
//! stamp, when (device clocks against the server's receive time and against what an edit
//! built on), and whether each state change was legal for its author. `docs/protocol.md`
//! ("Documents") is the same definition in prose; a test holds the two together.
//!
//! This layer builds on `crate::doc` and knows nothing of SQLite, the local store, the rule
//! queries or sync (`crate::layers` checks it): the server uses it as the phone does.

mod clock;
pub(crate) mod complaint;
mod entries;
pub(crate) mod feed_index;
mod fixed;
pub(crate) mod inventory_count;
mod paths;
pub(crate) mod photo_refs;
pub(crate) mod scorecard;
mod seen;
pub(crate) mod shape;
pub(crate) mod shelf_display;
#[cfg(test)]
mod spec;
pub(crate) mod store;
pub(crate) mod store_copy;
pub(crate) mod store_periods;
pub(crate) mod task;
mod task_moves;
mod violation;
pub(crate) mod visit;

pub use clock::MAX_CLOCK_DRIFT_MS;
pub use violation::RuleViolation;

use crate::doc::Doc;
use crate::ids::DocKind;

pub(crate) use task::check_move as check_task_move;

/// The fields of a kind.
pub(crate) fn fields(kind: DocKind) -> &'static [shape::Field] {
    match kind {
        DocKind::Store => store::FIELDS,
        DocKind::Visit => visit::FIELDS,
        DocKind::ShelfDisplay => shelf_display::FIELDS,
        DocKind::InventoryCount => inventory_count::FIELDS,
        DocKind::Scorecard => scorecard::FIELDS,
        DocKind::Task => task::FIELDS,
        DocKind::Complaint => complaint::FIELDS,
    }
}

/// Holds a document to its kind: its shape (every value of every field), that the kind's
/// reader and index rows read it, and its value rules.
pub(crate) fn check(doc: &Doc) -> Result<(), RuleViolation> {
    doc.reading(|doc| {
        check_header_and_fields(doc)?;
        check_read_and_values(doc)
    })
}

/// The header and every value against its field.
pub(crate) fn check_header_and_fields(doc: &Doc) -> Result<(), RuleViolation> {
    doc.check_header().map_err(|e| header_violation(doc, &e))?;
    shape::check(doc, fields(doc.kind))
}

/// A header that does not read, refused naming the header field at fault.
fn header_violation(doc: &Doc, e: &crate::error::Error) -> RuleViolation {
    use crate::doc::{DOC_ROOT, DOC_SCHEMA_VERSION};
    if let crate::error::Error::SchemaTooNew {
        found, supported, ..
    } = e
    {
        return RuleViolation::at(
            "schema",
            "schema",
            format!(
                "is {found}: a document of schema version {found} is newer than this server \
                 reads (schema version {supported} at most)"
            ),
        );
    }
    let kind = doc.kind.as_str();
    if doc.str(&DOC_ROOT, "kind").as_deref() != Some(kind) {
        return RuleViolation::at(
            "schema",
            "kind",
            format!("must be the plain string `{kind}` at the document's root"),
        );
    }
    RuleViolation::at(
        "schema",
        "schema",
        format!("must be the integer {DOC_SCHEMA_VERSION} at the document's root"),
    )
}

/// What [`readable`] and [`check_values`] prove together, reading the document once where
/// the value rules read it as its kind anyway.
pub(crate) fn check_read_and_values(doc: &Doc) -> Result<(), RuleViolation> {
    let rows = match doc.kind {
        DocKind::Store => store::read(doc).map(drop),
        // Their value rules read them whole, which reads every field their rows do, alike.
        DocKind::Visit | DocKind::InventoryCount => Ok(()),
        // Their value rules read them whole; a display's rows are made from what it reads.
        DocKind::ShelfDisplay | DocKind::Scorecard | DocKind::Task | DocKind::Complaint => Ok(()),
    };
    rows.map_err(|e| RuleViolation::unreadable(&e))?;
    check_values(doc)
}

/// The fields of the document, each value against its declared type and limits (no
/// reader is run): what the phone's merge adds to reading a document it receives.
pub(crate) fn check_fields(doc: &Doc) -> Result<(), RuleViolation> {
    shape::check(doc, fields(doc.kind))
}

/// The value rules across fields. Judged on the document as its writer made it: two edits
/// that are each valid may merge into a state neither made (conflicts stay data).
pub(crate) fn check_values(doc: &Doc) -> Result<(), RuleViolation> {
    match doc.kind {
        DocKind::Store => Ok(()),
        DocKind::Visit => visit::rules(doc),
        DocKind::ShelfDisplay => shelf_display::rules(doc),
        DocKind::InventoryCount => inventory_count::rules(doc),
        DocKind::Scorecard => scorecard::rules(doc),
        DocKind::Task => task::rules(doc),
        DocKind::Complaint => complaint::rules(doc),
    }
}

/// The retail store a document is about (the store itself for a store document).
pub(crate) fn store_of(doc: &Doc) -> Option<String> {
    match doc.kind {
        DocKind::Store => Some(doc.id.to_string()),
        _ => doc.str(&crate::doc::DOC_ROOT, "store_id"),
    }
}

/// Reads the document as every reader of its kind does: the typed struct and the index
/// rows derived from it (the phone's merge keeps the rows it returns).
pub(crate) fn readable(doc: &Doc) -> crate::Result<Option<Rows>> {
    doc.reading(read_rows)
}

fn read_rows(doc: &Doc) -> crate::Result<Option<Rows>> {
    Ok(match doc.kind {
        DocKind::Store => {
            store::read(doc)?;
            None
        }
        DocKind::Visit => {
            visit::read(doc)?;
            Some(Rows::Visit(visit::VisitRow::read(doc)?))
        }
        DocKind::ShelfDisplay => Some(Rows::Display(shelf_display::DisplayRows::of(
            &shelf_display::read(doc)?,
        ))),
        DocKind::InventoryCount => Some(Rows::Count(inventory_count::CountRows::of(
            &inventory_count::read(doc)?,
        ))),
        DocKind::Scorecard => scorecard::read(doc).map(|_| None)?,
        DocKind::Task => task::read(doc).map(|_| None)?,
        DocKind::Complaint => complaint::read(doc).map(|_| None)?,
    })
}

/// The index rows [`readable`] derives on its way, for the kinds whose rows a loaded
/// document keeps.
pub(crate) enum Rows {
    Count(inventory_count::CountRows),
    Display(shelf_display::DisplayRows),
    Visit(visit::VisitRow),
}

pub(crate) use clock::{Sender, judge};

#[cfg(test)]
mod tests {
    use super::complaint::{ComplaintEvent, ComplaintKind};
    use super::scorecard::ScoreDimension;
    use super::shelf_display::{DisplayStandard, Verdict};
    use super::store::{MarketType, StoreFormat, StoreSize, TerminalRating, ValueTier};
    use super::visit::{TrainingActivity, VisitKind};
    use super::*;
    use crate::kinds::task::TaskState;

    fn same(declared: &[&str], codes: impl IntoIterator<Item = &'static str>) {
        let codes: Vec<&str> = codes.into_iter().collect();
        assert_eq!(declared, codes.as_slice());
    }

    #[test]
    fn every_code_set_of_the_schema_is_the_code_set_of_its_typed_enum() {
        same(
            store::FORMATS,
            [
                StoreFormat::Grocery,
                StoreFormat::Convenience,
                StoreFormat::Supermarket,
                StoreFormat::Mall,
                StoreFormat::TobaccoLiquor,
                StoreFormat::Entertainment,
                StoreFormat::Other,
            ]
            .map(StoreFormat::code),
        );
        same(
            store::MARKETS,
            [MarketType::Urban, MarketType::Rural].map(MarketType::code),
        );
        same(
            store::SIZES,
            [StoreSize::Large, StoreSize::Medium, StoreSize::Small].map(StoreSize::code),
        );
        same(
            store::TIERS,
            [ValueTier::A, ValueTier::B, ValueTier::C].map(ValueTier::code),
        );
        same(
            store::RATINGS,
            [
                TerminalRating::Excellent,
                TerminalRating::Good,
                TerminalRating::Qualified,
                TerminalRating::Unqualified,
            ]
            .map(TerminalRating::code),
        );
        same(visit::KINDS, VisitKind::ALL.map(VisitKind::code));
        same(
            crate::geo::DATUM_CODES,
            crate::geo::Datum::ALL.map(crate::geo::Datum::code),
        );
        same(
            visit::ACTIVITIES,
            TrainingActivity::ALL.map(TrainingActivity::code),
        );
        same(
            shelf_display::STANDARDS,
            DisplayStandard::ALL.map(DisplayStandard::code),
        );
        same(
            shelf_display::VERDICTS,
            [Verdict::Pass, Verdict::Fail, Verdict::NotApplicable].map(Verdict::code),
        );
        same(
            scorecard::DIMENSIONS,
            ScoreDimension::ALL.map(ScoreDimension::code),
        );
        same(task::STATES, TaskState::ALL.map(TaskState::code));
        same(
            complaint::KINDS,
            ComplaintKind::ALL.map(ComplaintKind::code),
        );
        same(
            complaint::EVENTS,
            ComplaintEvent::ALL.map(ComplaintEvent::code),
        );
    }
}
