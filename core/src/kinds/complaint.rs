//! The complaint or service request of a retailer (R9 service commitments, R10 requests),
//! with the events that answer it and the clocks those events stop; its schema, value rules
//! (the events of each kind, in their order, never before the complaint was received),
//! typed form, reader ([`read`]) and clocks.
//!
//! A complaint (投诉) must be handled within 72 hours of receipt, called back within 48 hours
//! after handling, and met on site within 1 hour when the store is urban and it came in
//! working hours; damaged cartons (残损卷烟) are replaced within 48 hours; a wrong deduction
//! (扣款错误) is refunded by the end of the third working day; a request gets a reply, a visit
//! and a satisfaction callback, with no deadline. Whether the on-site clock applies is
//! decided from the store's market type when the document is created (`urban`, which the
//! server holds to the values the store's market has held), so a later change to the store
//! does not rewrite old clocks; and from whether it came in working hours. Working days are
//! the district's ([`crate::WorkingDays`]): public holidays do not count, make-up Saturdays
//! and Sundays do. Working hours and the refund's due instant are judged with the calendar
//! of the device that reads them, the district's: a phone that recorded the complaint with
//! an older calendar (a year not configured yet) stored what it judged then
//! (`on_site_applies`, `refund_due` of the document), but its clocks are not judged by that,
//! and a forged `on_site_applies` wins nothing.
//!
//! Each event is stamped (who recorded it, when) and carries the instant it happened. Done at
//! exactly the due instant is met.

mod clocks;
mod read;

pub use clocks::ClockState;
pub(crate) use clocks::{Facts, on_site_applies, refund_due};
pub(crate) use read::read;
pub use read::{Complaint, ComplaintEvent, ComplaintKind, EventRecord, NewComplaint};

use super::shape::{Field, KeyRule, Ty, opt, prefixed, req};
use super::visit::{MAX_NOTE, MAX_TEXT};
use crate::doc::Doc;
use crate::kinds::RuleViolation;

pub(crate) const KINDS: &[&str] = &["complaint", "damaged_cartons", "wrong_deduction", "request"];
pub(crate) const EVENTS: &[&str] = &[
    "on_site",
    "handled",
    "callback",
    "replaced",
    "refunded",
    "replied",
    "visited",
    "satisfaction_callback",
];

/// How far after receipt a refund can fall due: 3 working days never span more.
const MAX_REFUND_DAYS_MS: i64 = 30 * 24 * 3_600_000;

/// Every field of a complaint document.
pub(crate) const FIELDS: &[Field] = &[
    req("store_id", Ty::Id),
    req("complaint_kind", Ty::Code(KINDS)),
    req("received_at", Ty::Time),
    req("received_by", Ty::User),
    opt("description", Ty::Text { max: MAX_TEXT }),
    req("urban", Ty::Bool),
    req("on_site_applies", Ty::Bool),
    opt(
        "events",
        Ty::MapOf {
            key: KeyRule::Code(EVENTS),
            value: &Ty::Entry(&[
                req("when", Ty::Time),
                opt(
                    "note",
                    Ty::Str {
                        min: 0,
                        max: MAX_NOTE,
                    },
                ),
            ]),
            max: 8,
        },
    ),
    opt("refund_due", Ty::Time),
    // Photos as root entries `photo.<hash>`: no shared map two phones could both create.
    prefixed(
        crate::kinds::visit::PHOTO_PREFIX,
        KeyRule::PhotoHash,
        Ty::Entry(crate::kinds::visit::PHOTO_ENTRY),
    ),
];

/// Events belong to the complaint's kind, happen after receipt and after what they need
/// (a callback after the handling), and never after an event that needs them; the
/// on-site clock applies only to an urban complaint; a refund falls due only for a wrong
/// deduction, after receipt.
pub(crate) fn rules(doc: &Doc) -> Result<(), RuleViolation> {
    let c = read(doc).map_err(|e| RuleViolation::unreadable(&e))?;
    let value = |field: String, reason: String| Err(RuleViolation::at("value", field, reason));
    for (event, versions) in &c.events {
        let field = format!("events.{}", event.code());
        if !c.kind.events().contains(event) {
            return value(field, format!("is not an event of a `{}`", c.kind.code()));
        }
        for w in versions.all() {
            if w.value.happened_at < c.received_at {
                return value(
                    format!("{field}.when"),
                    format!(
                        "`{}` is before the complaint was received (`{}`)",
                        w.value.happened_at.0, c.received_at.0
                    ),
                );
            }
        }
    }
    let happened = |e: ComplaintEvent| {
        c.events
            .iter()
            .find(|(k, _)| *k == e)
            .map(|(_, v)| v.current.value.happened_at)
    };
    for event in ComplaintEvent::ALL {
        let Some(at) = happened(event) else { continue };
        for need in event.needs() {
            match happened(*need) {
                None => {
                    return value(
                        format!("events.{}", event.code()),
                        format!("needs `{}` first", need.code()),
                    );
                }
                Some(t) if t > at => {
                    return value(
                        format!("events.{}.when", event.code()),
                        format!("is before `{}` at `{}`", need.code(), t.0),
                    );
                }
                Some(_) => {}
            }
        }
    }
    if c.on_site_applies && !(c.urban && c.kind == ComplaintKind::Complaint) {
        return value(
            "on_site_applies".into(),
            "the on-site clock applies only to an urban complaint".into(),
        );
    }
    match (c.kind, c.refund_due) {
        (ComplaintKind::WrongDeduction, None) => value(
            "refund_due".into(),
            "a wrong deduction has a refund due time".into(),
        ),
        (ComplaintKind::WrongDeduction, Some(due))
            if due <= c.received_at || due.0 - c.received_at.0 > MAX_REFUND_DAYS_MS =>
        {
            value(
                "refund_due".into(),
                format!("`{}` is not within 30 days after receipt", due.0),
            )
        }
        (ComplaintKind::WrongDeduction, Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => value(
            "refund_due".into(),
            "only a wrong deduction has a refund due time".into(),
        ),
    }
}
