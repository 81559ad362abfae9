//! R9's service clocks of a complaint: when each is due, and whether it was met, breached
//! or does not apply, computed the same way from a document or from the index.

use super::read::{Complaint, ComplaintEvent, ComplaintKind};
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

    pub(crate) fn facts(&self) -> Facts {
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
pub(crate) struct Facts {
    pub(crate) kind: ComplaintKind,
    pub(crate) received_at: Timestamp,
    pub(crate) on_site_applies: bool,
    pub(crate) refund_due: Option<Timestamp>,
    pub(crate) happened: [Option<Timestamp>; 8],
}

impl Facts {
    fn at(&self, e: ComplaintEvent, as_of: Timestamp) -> Option<Timestamp> {
        self.happened[e.slot()].filter(|t| *t <= as_of)
    }

    pub(crate) fn clocks(&self, as_of: Timestamp) -> Vec<(ComplaintEvent, ClockState)> {
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

    pub(crate) fn outstanding(&self, as_of: Timestamp) -> Vec<ComplaintEvent> {
        let required = self.kind.required().iter().copied();
        required.filter(|e| self.at(*e, as_of).is_none()).collect()
    }

    pub(crate) fn closed_at(&self) -> Option<Timestamp> {
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

/// Whether R9's one-hour on-site clock applies, on `calendar`: to a complaint about an
/// urban store received in working hours. The document's own `on_site_applies` is what
/// the recording device judged with its calendar then; readers judge with theirs, the
/// district's, as they do the refund's due.
pub(crate) fn on_site_applies(
    calendar: &FieldCalendar,
    kind: ComplaintKind,
    urban: bool,
    received_at: Timestamp,
) -> bool {
    kind == ComplaintKind::Complaint && urban && calendar.in_working_hours(received_at)
}

/// When a wrong deduction must be refunded by: the end of the third working day after
/// receipt on `calendar`. `None` for the other kinds.
pub(crate) fn refund_due(
    calendar: &FieldCalendar,
    kind: ComplaintKind,
    received_at: Timestamp,
) -> Option<Timestamp> {
    (kind == ComplaintKind::WrongDeduction).then(|| calendar.after_working_days(received_at, 3))
}
