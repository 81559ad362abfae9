//! The typed API of complaints and their index row: recording a complaint or request and
//! its events, and `complaint_index`, which keeps the event instants so
//! [`LocalStore::complaint_clocks`] answers a territory's open clocks without loading
//! documents. The document itself is defined in `crate::kinds::complaint`.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::doc::{DOC_ROOT, Doc, HydrateValue, Scalar, str_value, text_value};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::complaint::{
    ClockState, Complaint, ComplaintEvent, ComplaintKind, Facts, NewComplaint, on_site_applies,
    read, refund_due,
};
use crate::kinds::store::MarketType;
use crate::store::LocalStore;
use crate::store::retail_stores::store_facts;
use crate::time::Timestamp;

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
            let on_site_applies = on_site_applies(calendar, new.kind, urban, new.received_at);
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
        let (calendar, kind, received_at) =
            (self.calendar(), complaint.kind, complaint.received_at);
        complaint.refund_due = refund_due(calendar, kind, received_at);
        complaint.on_site_applies = on_site_applies(calendar, kind, complaint.urban, received_at);
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
                // The index holds whether the clock can apply (an urban complaint).
                on_site_applies: r.get::<_, bool>(4)? && calendar.in_working_hours(received_at),
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

/// The complaint's rows. `on_site_applies` holds whether the on-site clock can apply (a
/// complaint about an urban store): readers add working hours by their calendar. Its
/// `closed_at` counts the clock where it can apply, so a complaint is never left out as
/// closed while a reader's calendar may still have its on-site clock running.
pub(crate) fn index(tx: &Connection, doc: &Doc) -> Result<()> {
    let mut c = read(doc)?;
    c.on_site_applies = c.kind == ComplaintKind::Complaint && c.urban;
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
