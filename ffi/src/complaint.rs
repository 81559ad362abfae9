//! Complaints and service requests across the boundary (R9, R10): record one, record the
//! events that answer it, read it back, and see its service clocks, one complaint at a time
//! or every open one of a territory.
//!
//! An `as_of` left null is the store's now.

use fieldsync_core as fc;

use crate::conflict::EventEntryVersions;
use crate::error::FieldError;
use crate::parse::{self, same_variants};
use crate::store::FieldStore;
use crate::time::Instant;

/// What the retailer raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ComplaintKind {
    /// 投诉: on site within 1 hour (urban, working hours), handled within 72 hours, called
    /// back within 48 hours after handling.
    Complaint,
    /// 残损卷烟: replaced within 48 hours.
    DamagedCartons,
    /// 扣款错误: refunded by the end of the third working day.
    WrongDeduction,
    /// A request (R10): a reply, a visit and a satisfaction callback, no deadline.
    Request,
}

/// Something done about a complaint; each clock is named by the event that stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ComplaintEvent {
    OnSite,
    Handled,
    Callback,
    Replaced,
    Refunded,
    Replied,
    Visited,
    SatisfactionCallback,
}

/// Where one service clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ClockState {
    /// Waiting for the event that starts it (the callback clock before handling).
    NotStarted,
    Running {
        due: Instant,
    },
    /// Done at or before the due instant.
    Met {
        at: Instant,
        due: Instant,
    },
    /// Done late (`at`), or not done and past due (`at` null).
    Breached {
        due: Instant,
        at: Option<Instant>,
    },
    /// The commitment does not apply (on site for a rural store or out of working hours).
    NotApplicable,
}

/// What the app gives to record a complaint or request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewComplaintRecord {
    pub store_id: String,
    pub kind: ComplaintKind,
    /// When the retailer raised it; not after now.
    pub received_at: Instant,
    pub description: String,
}

/// One recorded event: when it happened, with a note.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EventEntryRecord {
    pub happened_at: Instant,
    pub note: String,
}

/// An event as recorded, with every concurrent recording of it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ComplaintEventStatus {
    pub event: ComplaintEvent,
    pub entry: EventEntryVersions,
}

/// One clock of a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ServiceClockRecord {
    pub event: ComplaintEvent,
    pub state: ClockState,
}

/// A complaint as read back.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ComplaintRecord {
    pub id: String,
    pub store_id: String,
    pub kind: ComplaintKind,
    pub received_at: Instant,
    pub received_by: String,
    pub description: String,
    /// The store was urban when the complaint was recorded.
    pub urban: bool,
    /// The one-hour on-site clock applies.
    pub on_site_applies: bool,
    /// For a wrong deduction: the end of the third working day after receipt.
    pub refund_due: Option<Instant>,
    /// The events recorded so far.
    pub events: Vec<ComplaintEventStatus>,
    /// When every required event happened and every clock was settled; null while open.
    pub closed_at: Option<Instant>,
}

/// An open complaint of a territory with its clocks (R9) and what is still owed (R10).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ComplaintClocksRecord {
    pub id: String,
    pub store_id: String,
    pub kind: ComplaintKind,
    pub received_at: Instant,
    pub clocks: Vec<ServiceClockRecord>,
    /// Required events that have not happened yet.
    pub outstanding: Vec<ComplaintEvent>,
}

#[uniffi::export]
impl FieldStore {
    /// Records a complaint or request of a known store; returns its id. Refuses an empty
    /// description and a receipt time after now.
    pub fn create_complaint(&self, complaint: NewComplaintRecord) -> Result<String, FieldError> {
        let new = fc::NewComplaint {
            store_id: parse::id("store_id", &complaint.store_id)?,
            kind: complaint.kind.into(),
            received_at: complaint.received_at.timestamp("received_at")?,
            description: complaint.description,
        };
        self.create(|s| s.create_complaint(new))
    }

    pub fn complaint(&self, id: String) -> Result<ComplaintRecord, FieldError> {
        let complaint = self.core.complaint(&parse::id("id", &id)?)?;
        Ok(complaint.into())
    }

    /// Records that `event` happened at `happened_at` (recording it again corrects it).
    /// Refuses an event the kind does not have, an instant before receipt or after now, and
    /// an impossible order (a callback before the handling).
    pub fn record_complaint_event(
        &self,
        id: String,
        event: ComplaintEvent,
        happened_at: Instant,
        note: String,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        let at = happened_at.timestamp("happened_at")?;
        self.write(&[&id], |s| {
            s.record_complaint_event(&doc, event.into(), at, &note)
        })
    }

    /// The clocks of one complaint as of `as_of` (null: now); later events do not count.
    pub fn clocks_of_complaint(
        &self,
        id: String,
        as_of: Option<Instant>,
    ) -> Result<Vec<ServiceClockRecord>, FieldError> {
        let complaint = self.core.complaint(&parse::id("id", &id)?)?;
        let as_of = parse::as_of(&self.core, "as_of", as_of)?;
        Ok(complaint.clocks(as_of).into_iter().map(clock).collect())
    }

    /// R9, R10: every complaint about a store of `manager`'s territory that was open at
    /// `as_of` (null: now), oldest first, with its clocks and what is still owed.
    pub fn complaint_clocks(
        &self,
        manager: String,
        as_of: Option<Instant>,
    ) -> Result<Vec<ComplaintClocksRecord>, FieldError> {
        let as_of = parse::as_of(&self.core, "as_of", as_of)?;
        let open = self.core.complaint_clocks(&manager, as_of)?;
        Ok(open
            .into_iter()
            .map(|c| ComplaintClocksRecord {
                id: c.id.to_string(),
                store_id: c.store_id.to_string(),
                kind: c.kind.into(),
                received_at: Instant::from(c.received_at),
                clocks: c.clocks.into_iter().map(clock).collect(),
                outstanding: c.outstanding.into_iter().map(Into::into).collect(),
            })
            .collect())
    }
}

fn clock((event, state): (fc::ComplaintEvent, fc::ClockState)) -> ServiceClockRecord {
    ServiceClockRecord {
        event: event.into(),
        state: state.into(),
    }
}

same_variants!(
    ComplaintKind,
    fc::ComplaintKind,
    Complaint,
    DamagedCartons,
    WrongDeduction,
    Request,
);
same_variants!(
    ComplaintEvent,
    fc::ComplaintEvent,
    OnSite,
    Handled,
    Callback,
    Replaced,
    Refunded,
    Replied,
    Visited,
    SatisfactionCallback,
);

impl From<fc::ClockState> for ClockState {
    fn from(s: fc::ClockState) -> Self {
        match s {
            fc::ClockState::NotStarted => ClockState::NotStarted,
            fc::ClockState::Running { due } => ClockState::Running {
                due: Instant::from(due),
            },
            fc::ClockState::Met { at, due } => ClockState::Met {
                at: Instant::from(at),
                due: Instant::from(due),
            },
            fc::ClockState::Breached { due, at } => ClockState::Breached {
                due: Instant::from(due),
                at: at.map(Instant::from),
            },
            fc::ClockState::NotApplicable => ClockState::NotApplicable,
        }
    }
}

impl From<fc::EventRecord> for EventEntryRecord {
    fn from(e: fc::EventRecord) -> Self {
        EventEntryRecord {
            happened_at: Instant::from(e.happened_at),
            note: e.note,
        }
    }
}

impl From<fc::Complaint> for ComplaintRecord {
    fn from(c: fc::Complaint) -> Self {
        let closed_at = c.closed_at().map(Instant::from);
        ComplaintRecord {
            id: c.id.to_string(),
            store_id: c.store_id.to_string(),
            kind: c.kind.into(),
            received_at: Instant::from(c.received_at),
            received_by: c.received_by,
            description: c.description,
            urban: c.urban,
            on_site_applies: c.on_site_applies,
            refund_due: c.refund_due.map(Instant::from),
            events: c
                .events
                .into_iter()
                .map(|(event, entry)| ComplaintEventStatus {
                    event: event.into(),
                    entry: entry.into(),
                })
                .collect(),
            closed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{HOUR_MS, MONDAY_10, ms, new_store, phone};

    #[test]
    fn an_urban_complaint_met_on_site_shows_its_clocks_met_running_and_not_started() {
        let am = phone("am-li", MONDAY_10);
        let shop = am.store.create_store(new_store("330100000001", "am-li"));
        let received = ms(MONDAY_10);
        let id = am
            .store
            .create_complaint(NewComplaintRecord {
                store_id: shop.expect("store"),
                kind: ComplaintKind::Complaint,
                received_at: received,
                description: "cartons sold past their date".into(),
            })
            .expect("complaint");
        am.clock.advance_minutes(90);
        am.store
            .record_complaint_event(
                id.clone(),
                ComplaintEvent::OnSite,
                received + 40 * 60_000,
                "".into(),
            )
            .expect("on site");

        let clocks = am
            .store
            .clocks_of_complaint(id.clone(), Some(received + 2 * HOUR_MS))
            .expect("clocks");
        let state = |e: ComplaintEvent| clocks.iter().find(|c| c.event == e).map(|c| c.state);
        assert_eq!(
            state(ComplaintEvent::OnSite),
            Some(ClockState::Met {
                at: received + 40 * 60_000,
                due: received + HOUR_MS
            })
        );
        assert_eq!(
            state(ComplaintEvent::Handled),
            Some(ClockState::Running {
                due: received + 72 * HOUR_MS
            })
        );
        assert_eq!(
            state(ComplaintEvent::Callback),
            Some(ClockState::NotStarted)
        );

        let complaint = am.store.complaint(id.clone()).expect("read back");
        assert!(complaint.urban && complaint.on_site_applies);
        assert_eq!(complaint.closed_at, None);
        assert_eq!(complaint.events[0].event, ComplaintEvent::OnSite);
        assert_eq!(complaint.events[0].entry.current.by, "am-li");

        // The territory query sees the same complaint, still owing handling and callback.
        let open = am
            .store
            .complaint_clocks("am-li".into(), Some(received + 2 * HOUR_MS))
            .expect("territory clocks");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].id, id);
        assert_eq!(
            open[0].outstanding,
            vec![ComplaintEvent::Handled, ComplaintEvent::Callback]
        );
    }

    #[test]
    fn a_callback_before_the_handling_is_invalid_input_naming_the_event() {
        let am = phone("am-li", MONDAY_10);
        let shop = am
            .store
            .create_store(new_store("330100000002", "am-li"))
            .expect("store");
        let id = am
            .store
            .create_complaint(NewComplaintRecord {
                store_id: shop,
                kind: ComplaintKind::Complaint,
                received_at: ms(MONDAY_10),
                description: "no receipt".into(),
            })
            .expect("complaint");
        am.clock.advance_minutes(60);
        let refused = am.store.record_complaint_event(
            id,
            ComplaintEvent::Callback,
            ms(MONDAY_10) + 30 * 60_000,
            "called".into(),
        );
        match refused {
            Err(FieldError::InvalidInput { field, reason }) => {
                assert_eq!(field, "event");
                assert!(reason.contains("handled"), "{reason}");
            }
            other => panic!("expected invalid input, got {other:?}"),
        }
    }
}
