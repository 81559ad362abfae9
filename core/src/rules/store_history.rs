//! A store as it was at a past instant, from its periods (`store_period`,
//! `crate::kinds::store_periods`): for the rules a report judges over a past month where
//! the store's holder, functional flag or rating may have changed since (docs/adr/0029,
//! docs/adr/0034).

use rusqlite::{OptionalExtension, params};

use crate::error::Result;
use crate::ids::DocId;
use crate::kinds::store::TerminalRating;
use crate::store::LocalStore;
use crate::time::Timestamp;

/// A store's state in the period that held at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreAt {
    pub territory: String,
    pub demo_street: bool,
    /// Not a small grocery store, which R1 exempts.
    pub r1_covered: bool,
    /// A functional terminal (R3, R7, R8).
    pub functional: bool,
    /// Its rating (R7) and the stamp it was given with.
    pub rating: Option<(TerminalRating, Timestamp)>,
}

impl LocalStore {
    /// The store `id` as it was at `at`; `None` before its first period (not imported yet).
    pub fn store_at(&self, id: &DocId, at: Timestamp) -> Result<Option<StoreAt>> {
        let inner = self.lock()?;
        let row = inner
            .conn
            .prepare_cached(
                "SELECT territory, demo_street, r1_covered, functional, rating, rating_at
                 FROM store_period WHERE store_id = ?1 AND from_at <= ?2
                 ORDER BY from_at DESC LIMIT 1",
            )?
            .query_row(params![id.as_str(), at.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })
            .optional()?;
        let Some((territory, demo_street, r1_covered, functional, rating, rating_at)) = row else {
            return Ok(None);
        };
        let rating = match (rating, rating_at) {
            (Some(code), Some(at)) => Some((TerminalRating::parse(&code)?, Timestamp(at))),
            _ => None,
        };
        Ok(Some(StoreAt {
            territory,
            demo_street,
            r1_covered,
            functional,
            rating,
        }))
    }

    /// The territory a record of the store `id` dated `at` counts for: the one that held the
    /// store then, or its first territory for an instant before its first period (a record
    /// entered late, or dated by a clock behind), as the rules credit records over a past
    /// month (`credited_at`, docs/adr/0029). `None` for a store with no period.
    pub fn territory_credited_at(&self, id: &DocId, at: Timestamp) -> Result<Option<String>> {
        let inner = self.lock()?;
        let territory = inner
            .conn
            .prepare_cached(
                "SELECT COALESCE(
                   (SELECT territory FROM store_period WHERE store_id = ?1 AND from_at <= ?2
                    ORDER BY from_at DESC LIMIT 1),
                   (SELECT territory FROM store_period WHERE store_id = ?1
                    ORDER BY from_at LIMIT 1))",
            )?
            .query_row(params![id.as_str(), at.0], |r| {
                r.get::<_, Option<String>>(0)
            })?;
        Ok(territory)
    }

    /// Every store `territory` has ever held, by id.
    pub fn stores_ever_held(&self, territory: &str) -> Result<Vec<DocId>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(
            "SELECT DISTINCT store_id FROM store_period WHERE territory = ?1 ORDER BY store_id",
        )?;
        let ids = stmt
            .query_map([territory], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.iter().map(|id| DocId::parse("id", id)).collect()
    }
}
