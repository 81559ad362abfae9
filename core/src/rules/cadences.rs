//! The cadences others keep in an account manager's stores (R4, R5), and R10's requests.
//!
//! - R5's weekly walk: the market team walks every demo-street store once per ISO week.
//! - R5's monthly sample and R4's spot checks: each month the supervision team spot-checks
//!   stores of every account manager, and samples the demo street among them.
//! - R10: every request a retailer raises gets a reply, a visit and a satisfaction callback.
//!
//! Visits are counted by their kind, from `visit_index`. The kind is trustworthy because
//! the server holds each kind to one role ([`crate::VisitKind::recorded_by`]): an account
//! manager's "spot check" of their own store is refused, not counted. The server's own
//! stores (the report's admin device, the console's replica) also know every user's role
//! ([`LocalStore::set_user_roles`]) and count a visit only from someone of its kind's role,
//! so a visit stored before the server bound kinds to roles counts for nothing either.
//!
//! Decided where `domain.md` is silent (docs/adr/0028-supervision-cadences.md): a walk is
//! a `market_walkthrough` visit, by anyone of the market team; a spot check is a
//! `supervision_spot_check` visit, by any supervisor; R4 asks for at least one store of
//! the territory spot-checked in the month, and R5's sample for at least one of its
//! demo-street stores (when it has any). A spot check counts for the territory that held
//! its store when it was made (docs/adr/0029); this week's walks are the territory's now.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rusqlite::params;

use crate::error::Result;
use crate::ids::Role;
use crate::kinds::complaint::ComplaintKind;
use crate::kinds::visit::VisitKind;
use crate::rules::{StoreDue, credited_at, ever_held_by, held_at, store_due_rows};
use crate::store::LocalStore;
use crate::store::complaints::ComplaintClocks;
use crate::time::{FieldCalendar, Timestamp};

/// SQL: the visit `v` was recorded by someone of the role `?{role}` names, as far as this
/// store knows roles (it knows none on a phone: every visit passes).
pub(crate) fn by_its_role(role: usize) -> String {
    format!(
        "(NOT EXISTS (SELECT 1 FROM user_roles)
          OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = v.visitor AND r.role = ?{role}))"
    )
}

/// What the supervision team did in one territory in one month (R4's spot checks, R5's
/// monthly sample of the demo street).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupervisionMonth {
    pub month_start: NaiveDate,
    /// Supervision spot checks in stores of the territory in the month.
    pub spot_checks: u32,
    /// Stores of the territory with at least one of them.
    pub stores_spot_checked: u32,
    /// Demo-street stores of the territory.
    pub demo_street_stores: u32,
    /// Of those, stores with a spot check in the month: the demo street's sample.
    pub demo_street_sampled: u32,
}

impl SupervisionMonth {
    /// R4: at least one store of the territory was spot-checked in the month.
    pub fn spot_checked(&self) -> bool {
        self.stores_spot_checked > 0
    }

    /// R5: the territory's demo street was sampled in the month, or it has none.
    pub fn demo_street_sampled_ok(&self) -> bool {
        self.demo_street_stores == 0 || self.demo_street_sampled > 0
    }
}

/// R10 in one territory: the requests received in a month, and every request still
/// waiting for its reply, visit or satisfaction callback.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestsAnswered {
    pub month_start: NaiveDate,
    /// Requests received in the month, up to the instant asked.
    pub received: u32,
    /// Requests received by the instant asked (in any month) with an answer outstanding,
    /// oldest first; `outstanding` names what each still waits for.
    pub unanswered: Vec<ComplaintClocks>,
}

impl LocalStore {
    /// Sets the roles of the district's users as the server holds them (every user, each
    /// once); an unchanged set writes nothing. Meant for the server's own stores: see the
    /// module. A phone that never calls it counts every visit of a kind.
    pub fn set_user_roles(&self, users: &[(String, Role)]) -> Result<()> {
        let wanted: BTreeMap<&str, &str> = users
            .iter()
            .map(|(user, role)| (user.as_str(), role.code()))
            .collect();
        let inner = self.lock()?;
        let held: BTreeMap<String, String> = inner
            .conn
            .prepare_cached("SELECT user_id, role FROM user_roles")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let same = held.len() == wanted.len()
            && held
                .iter()
                .all(|(u, r)| wanted.get(u.as_str()) == Some(&r.as_str()));
        if same {
            return Ok(());
        }
        let tx = inner.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM user_roles", [])?;
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)")?;
            for (user, role) in &wanted {
                insert.execute(params![user, role])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// R5: demo-street stores with no market-team walk in the ISO week of `day`, never
    /// walked first, then by their last walk. `territory` narrows them to one account
    /// manager's; `None` lists every demo-street store the device holds (the market team's
    /// own list).
    pub fn demo_street_unwalked(
        &self,
        territory: Option<&str>,
        day: NaiveDate,
    ) -> Result<Vec<StoreDue>> {
        let cal = self.calendar();
        let week = FieldCalendar::week_start(day);
        let (from, to) = (
            cal.start_of(week),
            cal.start_of(week + chrono::Duration::days(7)),
        );
        let inner = self.lock()?;
        let by_role = by_its_role(5);
        let sql = format!(
            "SELECT s.id, s.name, s.licence,
                    (SELECT MAX(v.check_in_at) FROM visit_index v WHERE v.store_id = s.id AND v.kind = ?2
                     AND {by_role}) AS last_walk
             FROM store_index s
             WHERE s.demo_street = 1 AND (?1 IS NULL OR s.territory = ?1)
               AND NOT EXISTS (SELECT 1 FROM visit_index v WHERE v.store_id = s.id AND v.kind = ?2
                               AND v.check_in_at >= ?3 AND v.check_in_at < ?4 AND {by_role})
             ORDER BY last_walk IS NOT NULL, last_walk, s.name, s.id"
        );
        let mut stmt = inner.conn.prepare_cached(&sql)?;
        let walk = VisitKind::MarketWalkthrough;
        let role = walk.recorded_by().code();
        store_due_rows(
            &mut stmt,
            params![territory, walk.code(), from.0, to.0, role],
        )
    }

    /// R4 and R5: the supervision team's spot checks in `manager`'s stores in the month
    /// holding `day`. A spot check counts for the territory that held its store when it
    /// was made (its first territory if dated before the store's import); the demo street
    /// is every demo-street store the territory held at some point in the month
    /// (`store_period`, docs/adr/0029).
    pub fn supervision_month(&self, manager: &str, day: NaiveDate) -> Result<SupervisionMonth> {
        let cal = self.calendar();
        let month = FieldCalendar::month_start(day);
        let (from, to) = (
            cal.start_of(month),
            cal.start_of(FieldCalendar::next_month_start(month)),
        );
        let inner = self.lock()?;
        let by_role = by_its_role(5);
        let ever = ever_held_by(1);
        let (held_at_start, held_when_checked) = (held_at("?3"), credited_at("v.check_in_at"));
        let sql = format!(
            "SELECT s.demo_street,
                    ({held_at_start} IS ?1 OR EXISTS (SELECT 1 FROM store_period m
                        WHERE m.store_id = s.id AND m.territory = ?1
                        AND m.from_at >= ?3 AND m.from_at < ?4)),
                    (SELECT COUNT(*) FROM visit_index v WHERE v.store_id = s.id AND v.kind = ?2
                     AND v.check_in_at >= ?3 AND v.check_in_at < ?4 AND {by_role}
                     AND {held_when_checked} = ?1)
             FROM store_index s WHERE {ever}"
        );
        let mut stmt = inner.conn.prepare_cached(&sql)?;
        let spot = VisitKind::SupervisionSpotCheck;
        let role = spot.recorded_by().code();
        let rows = stmt
            .query_map(params![manager, spot.code(), from.0, to.0, role], |r| {
                Ok((
                    r.get::<_, bool>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut month_row = SupervisionMonth {
            month_start: month,
            spot_checks: 0,
            stores_spot_checked: 0,
            demo_street_stores: 0,
            demo_street_sampled: 0,
        };
        for (demo_street, held_in_month, checks) in rows {
            month_row.spot_checks += checks;
            month_row.stores_spot_checked += u32::from(checks > 0);
            // A check dated before the store's import counts it as the territory's too.
            month_row.demo_street_stores += u32::from(demo_street && (held_in_month || checks > 0));
            month_row.demo_street_sampled += u32::from(demo_street && checks > 0);
        }
        Ok(month_row)
    }

    /// R10: the requests about `territory`'s stores received in the month holding `day` up
    /// to `as_of`, and every request received by `as_of` that still waits for an answer.
    pub fn requests_answered(
        &self,
        territory: &str,
        day: NaiveDate,
        as_of: Timestamp,
    ) -> Result<RequestsAnswered> {
        let cal = self.calendar();
        let month = FieldCalendar::month_start(day);
        let from = cal.start_of(month);
        let to = cal.start_of(FieldCalendar::next_month_start(month));
        let received: u32 = {
            let inner = self.lock()?;
            let mut stmt = inner.conn.prepare_cached(
                "SELECT COUNT(*) FROM complaint_index c JOIN store_index s ON s.id = c.store_id
                 WHERE s.territory = ?1 AND c.kind = ?2
                   AND c.received_at >= ?3 AND c.received_at < ?4 AND c.received_at <= ?5",
            )?;
            let request = ComplaintKind::Request.code();
            stmt.query_row(params![territory, request, from.0, to.0, as_of.0], |r| {
                r.get(0)
            })?
        };
        let unanswered = self
            .complaint_clocks(territory, as_of)?
            .into_iter()
            .filter(|c| c.kind == ComplaintKind::Request && !c.outstanding.is_empty())
            .collect();
        Ok(RequestsAnswered {
            month_start: month,
            received,
            unanswered,
        })
    }
}
