//! The complaint or service request of a retailer (R9 service commitments, R10 requests),
//! with the events that answer it and the clocks those events stop.
//!
//! A complaint (投诉) must be handled within 72 hours of receipt, called back within 48 hours
//! after handling, and met on site within 1 hour when the store is urban and it came in
//! working hours; damaged cartons (残损卷烟) are replaced within 48 hours; a wrong deduction
//! (扣款错误) is refunded by the end of the third working day; a request gets a reply, a visit
//! and a satisfaction callback, with no deadline. Whether the on-site clock applies is
//! decided when the document is created (from the store's market type and working hours
//! then), so a later change to the store does not rewrite old clocks. Working days are the
//! district's ([`crate::WorkingDays`]): public holidays do not count, make-up Saturdays and
//! Sundays do. The refund's due instant is judged with the calendar of the device that reads
//! it, the district's: a phone that recorded the complaint with an older calendar (a year
//! not configured yet) stored the due it promised then (`refund_due` of the document), but
//! its clock is not judged by that.
//!
//! Each event is stamped (who recorded it, when) and carries the instant it happened. Done at
//! exactly the due instant is met. The index keeps the event instants, so
//! [`LocalStore::complaint_clocks`] answers a territory's open clocks without loading documents.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::doc::{DOC_ROOT, Doc, HydrateValue, Scalar, Versions, Written, str_value, text_value};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::store::MarketType;
use crate::store::LocalStore;
use crate::store::retail_stores::store_facts;
use crate::time::{FieldCalendar, Timestamp};

/// Where one service clock stands as of an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockState {
    /// Waiting for the event that starts it (a callback clock before handling).
    NotStarted,
    Running {
        due: Timestamp,
    },
    /// Done at or before `due`.
    Met {
        at: Timestamp,
        due: Timestamp,
    },
    /// Done after `due` (`at`), or not done and `due` has passed (`at` is `None`).
    Breached {
        due: Timestamp,
        at: Option<Timestamp>,
    },
    /// The commitment does not apply (on site for a rural store, or out of working hours).
    NotApplicable,
}

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

    fn slot(self) -> usize {
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

/// One line of [`LocalStore::complaint_clocks`].
#[derive(Clone, Debug, PartialEq)]
pub struct ComplaintClocks {
    pub id: DocId,
    pub store_id: DocId,
    pub kind: ComplaintKind,
    pub received_at: Timestamp,
    pub clocks: Vec<(ComplaintEvent, ClockState)>,
    /// Required events that have not happened yet (R10's reply, visit and callback too).
    pub outstanding: Vec<ComplaintEvent>,
}

impl Complaint {
    /// Every clock of this kind as of `as_of`; events after `as_of` do not count yet.
    pub fn clocks(&self, as_of: Timestamp) -> Vec<(ComplaintEvent, ClockState)> {
        self.facts().clocks(as_of)
    }

    /// When it was closed: every required event happened and every clock is met, breached
    /// or not applicable. `None` while it is open.
    pub fn closed_at(&self) -> Option<Timestamp> {
        self.facts().closed_at()
    }

    fn facts(&self) -> Facts {
        let mut happened = [None; 8];
        for (e, v) in &self.events {
            happened[e.slot()] = Some(v.value().happened_at);
        }
        Facts {
            kind: self.kind,
            received_at: self.received_at,
            on_site_applies: self.on_site_applies,
            refund_due: self.refund_due,
            happened,
        }
    }
}

/// What the clocks are computed from: the same whether read from a document or the index.
struct Facts {
    kind: ComplaintKind,
    received_at: Timestamp,
    on_site_applies: bool,
    refund_due: Option<Timestamp>,
    happened: [Option<Timestamp>; 8],
}

impl Facts {
    fn at(&self, e: ComplaintEvent, as_of: Timestamp) -> Option<Timestamp> {
        self.happened[e.slot()].filter(|t| *t <= as_of)
    }

    fn clocks(&self, as_of: Timestamp) -> Vec<(ComplaintEvent, ClockState)> {
        use ComplaintEvent::*;
        let received = Some(self.received_at).filter(|t| *t <= as_of);
        let clock = |due: Option<Timestamp>, e: ComplaintEvent| {
            (e, clock_state(due, self.at(e, as_of), as_of))
        };
        let hours = |start: Option<Timestamp>, h: i64| start.map(|s| s.plus_hours(h));
        match self.kind {
            ComplaintKind::Complaint => vec![
                match self.on_site_applies {
                    true => clock(hours(received, 1), OnSite),
                    false => (OnSite, ClockState::NotApplicable),
                },
                clock(hours(received, 72), Handled),
                clock(hours(self.at(Handled, as_of), 48), Callback),
            ],
            ComplaintKind::DamagedCartons => vec![clock(hours(received, 48), Replaced)],
            ComplaintKind::WrongDeduction => {
                vec![clock(received.and(self.refund_due), Refunded)]
            }
            ComplaintKind::Request => Vec::new(),
        }
    }

    fn outstanding(&self, as_of: Timestamp) -> Vec<ComplaintEvent> {
        let required = self.kind.required().iter().copied();
        required.filter(|e| self.at(*e, as_of).is_none()).collect()
    }

    fn closed_at(&self) -> Option<Timestamp> {
        let mut closed = self.received_at;
        for e in self.kind.required() {
            closed = closed.max(self.happened[e.slot()]?);
        }
        // A clock whose event never happens becomes final the instant after it is due.
        for (_, state) in self.clocks(Timestamp(i64::MAX)) {
            closed = closed.max(match state {
                ClockState::Met { at, .. } | ClockState::Breached { at: Some(at), .. } => at,
                ClockState::Breached { due, at: None } => Timestamp(due.0.saturating_add(1)),
                ClockState::NotApplicable => closed,
                ClockState::NotStarted | ClockState::Running { .. } => return None,
            });
        }
        Some(closed)
    }
}

fn clock_state(due: Option<Timestamp>, done: Option<Timestamp>, as_of: Timestamp) -> ClockState {
    let Some(due) = due else {
        return ClockState::NotStarted;
    };
    match done {
        Some(at) if at <= due => ClockState::Met { at, due },
        Some(at) => ClockState::Breached { due, at: Some(at) },
        None if as_of > due => ClockState::Breached { due, at: None },
        None => ClockState::Running { due },
    }
}

impl LocalStore {
    /// Records a complaint or request of a known store, by this device's user. Refuses an
    /// empty description and a receipt time after now.
    pub fn create_complaint(&self, new: NewComplaint) -> Result<DocId> {
        if new.description.trim().is_empty() {
            return Err(Error::invalid("description", "must not be empty"));
        }
        let calendar = self.calendar();
        self.create_doc(DocKind::Complaint, |conn, stamp| {
            let facts = store_facts(conn, "store_id", &new.store_id)?;
            if new.received_at > stamp.at {
                return Err(Error::invalid(
                    "received_at",
                    format!("`{}` is after now `{}`", new.received_at.0, stamp.at.0),
                ));
            }
            let urban = facts.market == MarketType::Urban;
            let on_site_applies = new.kind == ComplaintKind::Complaint
                && urban
                && calendar.in_working_hours(new.received_at);
            let mut fields: HashMap<&'static str, HydrateValue> = HashMap::from([
                ("store_id", str_value(new.store_id.as_str())),
                ("complaint_kind", str_value(new.kind.code())),
                ("received_at", HydrateValue::from(new.received_at.0)),
                ("received_by", str_value(&stamp.by)),
                ("description", text_value(&new.description)),
                ("urban", HydrateValue::from(Scalar::Boolean(urban))),
                (
                    "on_site_applies",
                    HydrateValue::from(Scalar::Boolean(on_site_applies)),
                ),
                ("events", HydrateValue::map()),
            ]);
            if let Some(due) = refund_due(calendar, new.kind, new.received_at) {
                fields.insert("refund_due", HydrateValue::from(due.0));
            }
            Ok(fields)
        })
    }

    /// Reads a complaint; a refund's due instant by this device's calendar.
    pub fn complaint(&self, id: &DocId) -> Result<Complaint> {
        let mut complaint = self.read_doc(id, DocKind::Complaint, read)?;
        complaint.refund_due = refund_due(self.calendar(), complaint.kind, complaint.received_at);
        Ok(complaint)
    }

    /// Records that `event` happened at `happened_at` (recording it again corrects it).
    /// Refuses an event this kind does not have, an instant before receipt or after now,
    /// and an order that cannot be (a callback before the handling, or without it).
    pub fn record_complaint_event(
        &self,
        id: &DocId,
        event: ComplaintEvent,
        happened_at: Timestamp,
        note: &str,
    ) -> Result<()> {
        let what = format!("record {}", event.code());
        self.edit_doc(id, DocKind::Complaint, &what, |doc, stamp, _| {
            let c = read(doc)?;
            if !c.kind.events().contains(&event) {
                return Err(Error::invalid(
                    "event",
                    format!(
                        "`{}` is not an event of a `{}`",
                        event.code(),
                        c.kind.code()
                    ),
                ));
            }
            let when = |t: Timestamp, reason: String| {
                Err(Error::invalid("happened_at", format!("`{}` {reason}", t.0)))
            };
            if happened_at < c.received_at {
                return when(
                    happened_at,
                    format!("is before receipt `{}`", c.received_at.0),
                );
            }
            if happened_at > stamp.at {
                return when(happened_at, format!("is after now `{}`", stamp.at.0));
            }
            let recorded = c.facts().happened;
            for need in event.needs() {
                match recorded[need.slot()] {
                    None => {
                        return Err(Error::invalid(
                            "event",
                            format!("`{}` needs `{}` first", event.code(), need.code()),
                        ));
                    }
                    Some(t) if t > happened_at => {
                        return when(
                            happened_at,
                            format!("is before `{}` at `{}`", need.code(), t.0),
                        );
                    }
                    Some(_) => {}
                }
            }
            for later in ComplaintEvent::ALL
                .iter()
                .filter(|l| l.needs().contains(&event))
            {
                if let Some(t) = recorded[later.slot()].filter(|t| *t < happened_at) {
                    return when(
                        happened_at,
                        format!("is after `{}` at `{}`", later.code(), t.0),
                    );
                }
            }
            let events = doc.container(&DOC_ROOT, "events")?;
            let entry = crate::doc::entry_value(
                vec![("when", happened_at.0.into()), ("note", note.trim().into())],
                stamp,
            );
            doc.put_value(&events, event.code(), &entry)
        })
    }

    /// The clocks of every complaint that was open at `as_of` (received by then, not closed
    /// by then) about a store of `territory` (an account manager's), oldest first. Reads the
    /// index only.
    pub fn complaint_clocks(
        &self,
        territory: &str,
        as_of: Timestamp,
    ) -> Result<Vec<ComplaintClocks>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(
            "SELECT c.id, c.store_id, c.kind, c.received_at, c.on_site_applies, c.refund_due,
                    c.on_site_at, c.handled_at, c.callback_at, c.replaced_at, c.refunded_at,
                    c.replied_at, c.visited_at, c.satisfaction_callback_at
             FROM complaint_index c JOIN store_index s ON s.id = c.store_id
             WHERE s.territory = ?1 AND c.received_at <= ?2 AND (c.closed_at IS NULL OR c.closed_at > ?2)
             ORDER BY c.received_at, c.id",
        )?;
        let calendar = self.calendar();
        let rows = stmt.query_and_then(params![territory, as_of.0], |r| {
            let mut happened = [None; 8];
            for (i, slot) in happened.iter_mut().enumerate() {
                *slot = r.get::<_, Option<i64>>(6 + i)?.map(Timestamp);
            }
            let kind = ComplaintKind::parse(&r.get::<_, String>(2)?)?;
            let received_at = Timestamp(r.get(3)?);
            let facts = Facts {
                kind,
                received_at,
                on_site_applies: r.get(4)?,
                refund_due: refund_due(calendar, kind, received_at),
                happened,
            };
            Ok(ComplaintClocks {
                id: DocId::parse("id", &r.get::<_, String>(0)?)?,
                store_id: DocId::parse("store_id", &r.get::<_, String>(1)?)?,
                kind: facts.kind,
                received_at: facts.received_at,
                clocks: facts.clocks(as_of),
                outstanding: facts.outstanding(as_of),
            })
        })?;
        rows.collect()
    }
}

/// When a wrong deduction must be refunded by: the end of the third working day after
/// receipt on `calendar`. `None` for the other kinds.
fn refund_due(
    calendar: &FieldCalendar,
    kind: ComplaintKind,
    received_at: Timestamp,
) -> Option<Timestamp> {
    (kind == ComplaintKind::WrongDeduction).then(|| calendar.after_working_days(received_at, 3))
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

pub(crate) fn index(tx: &Connection, doc: &Doc) -> Result<()> {
    let c = read(doc)?;
    let facts = c.facts();
    let h = |e: ComplaintEvent| facts.happened[e.slot()].map(|t| t.0);
    use ComplaintEvent::*;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO complaint_index (id, store_id, kind, received_at, on_site_applies,
         refund_due, on_site_at, handled_at, callback_at, replaced_at, refunded_at, replied_at,
         visited_at, satisfaction_callback_at, closed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        c.id.as_str(),
        c.store_id.as_str(),
        c.kind.code(),
        c.received_at.0,
        c.on_site_applies,
        c.refund_due.map(|t| t.0),
        h(OnSite),
        h(Handled),
        h(Callback),
        h(Replaced),
        h(Refunded),
        h(Replied),
        h(Visited),
        h(SatisfactionCallback),
        facts.closed_at().map(|t| t.0),
    ])?;
    Ok(())
}
