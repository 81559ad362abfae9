//! A complaint as the app reads it: the kinds of complaint and their events, the typed
//! form of the document, and its reader.

use crate::doc::{DOC_ROOT, Doc, Versions, Written};
use crate::error::{Error, Result};
use crate::ids::DocId;
use crate::time::Timestamp;

/// A fieldless enum stored as codes, with `ALL`, `code` and `parse`.
macro_rules! coded {
    ($(#[$m:meta])* $ty:ident ($field:literal, $what:literal) {
        $($(#[$vm:meta])* $variant:ident => $code:literal),+ $(,)?
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $ty { $($(#[$vm])* $variant),+ }

        impl $ty {
            pub const ALL: [$ty; [$($code),+].len()] = [$($ty::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($ty::$variant => $code,)+ }
            }

            pub fn parse(text: &str) -> Result<Self> {
                match text {
                    $($code => Ok($ty::$variant),)+
                    other => Err(Error::invalid($field, format!("unknown {} `{other}`", $what))),
                }
            }
        }
    };
}

coded! {
    /// What the retailer raised.
    ComplaintKind("kind", "complaint kind") {
        /// 投诉: on site, handled, callback (R9).
        Complaint => "complaint",
        /// 残损卷烟: replaced within 48 hours (R9).
        DamagedCartons => "damaged_cartons",
        /// 扣款错误: refunded within 3 working days (R9).
        WrongDeduction => "wrong_deduction",
        /// A request: reply, visit, satisfaction callback (R10).
        Request => "request",
    }
}

coded! {
    /// Something done about a complaint. Each clock is named by the event that stops it.
    ComplaintEvent("event", "complaint event") {
        OnSite => "on_site", Handled => "handled", Callback => "callback",
        Replaced => "replaced", Refunded => "refunded", Replied => "replied",
        Visited => "visited", SatisfactionCallback => "satisfaction_callback",
    }
}

impl ComplaintKind {
    /// The events that can be recorded for this kind.
    pub fn events(self) -> &'static [ComplaintEvent] {
        use ComplaintEvent::*;
        match self {
            ComplaintKind::Complaint => &[OnSite, Handled, Callback],
            ComplaintKind::DamagedCartons => &[Replaced],
            ComplaintKind::WrongDeduction => &[Refunded],
            ComplaintKind::Request => &[Replied, Visited, SatisfactionCallback],
        }
    }

    /// The events that must all happen before it is closed.
    pub fn required(self) -> &'static [ComplaintEvent] {
        use ComplaintEvent::*;
        match self {
            ComplaintKind::Complaint => &[Handled, Callback],
            other => other.events(),
        }
    }
}

impl ComplaintEvent {
    /// Events that must have happened before this one (a callback follows the handling).
    pub fn needs(self) -> &'static [ComplaintEvent] {
        use ComplaintEvent::*;
        match self {
            Callback => &[Handled],
            SatisfactionCallback => &[Replied, Visited],
            _ => &[],
        }
    }

    pub(crate) fn slot(self) -> usize {
        self as usize
    }
}

/// What the app gives to record a complaint or request.
#[derive(Clone, Debug, PartialEq)]
pub struct NewComplaint {
    pub store_id: DocId,
    pub kind: ComplaintKind,
    /// When the retailer raised it; not after now.
    pub received_at: Timestamp,
    pub description: String,
}

/// One recorded event: when it happened, with a note.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    pub happened_at: Timestamp,
    pub note: String,
}

/// A complaint as read from its document.
#[derive(Clone, Debug, PartialEq)]
pub struct Complaint {
    pub id: DocId,
    pub store_id: DocId,
    pub kind: ComplaintKind,
    pub received_at: Timestamp,
    pub received_by: String,
    pub description: String,
    /// The store's market type was urban when the complaint was recorded.
    pub urban: bool,
    /// R9's one-hour on-site clock applies (a complaint, urban, received in working hours).
    pub on_site_applies: bool,
    /// For a wrong deduction: the end of the third working day after receipt, by the
    /// reading device's calendar (see the module).
    pub refund_due: Option<Timestamp>,
    /// The events recorded, in [`ComplaintEvent::ALL`] order; several values of one event
    /// when people recorded it concurrently.
    pub events: Vec<(ComplaintEvent, Versions<EventRecord>)>,
}

pub(crate) fn read(doc: &Doc) -> Result<Complaint> {
    let bad = |e: Error| Error::corrupt(doc.id.as_str(), e.to_string());
    let flag = |key: &str| doc.bool(&DOC_ROOT, key).ok_or_else(|| doc.missing(key));
    let mut events = Vec::new();
    if let Some(obj) = doc.obj(&DOC_ROOT, "events") {
        for e in ComplaintEvent::ALL {
            let Some(entries) = doc.entries(&obj, e.code()) else {
                continue;
            };
            let record = |w: &Written<crate::doc::Fields>| {
                Ok(Written {
                    value: EventRecord {
                        happened_at: w.value.time("when").ok_or_else(|| doc.missing("when"))?,
                        note: w.value.str("note").unwrap_or_default(),
                    },
                    by: w.by.clone(),
                    at: w.at,
                })
            };
            let versions = Versions {
                current: record(&entries.current)?,
                others: entries.others.iter().map(record).collect::<Result<_>>()?,
            };
            events.push((e, versions));
        }
    }
    Ok(Complaint {
        id: doc.id.clone(),
        store_id: DocId::parse("store_id", &doc.req_str(&DOC_ROOT, "store_id")?)?,
        kind: ComplaintKind::parse(&doc.req_str(&DOC_ROOT, "complaint_kind")?).map_err(bad)?,
        received_at: Timestamp(doc.req_i64(&DOC_ROOT, "received_at")?),
        received_by: doc.req_str(&DOC_ROOT, "received_by")?,
        description: doc.text(&DOC_ROOT, "description").unwrap_or_default(),
        urban: flag("urban")?,
        on_site_applies: flag("on_site_applies")?,
        refund_due: doc.time(&DOC_ROOT, "refund_due"),
        events,
    })
}
