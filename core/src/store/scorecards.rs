//! The typed API of scorecards and their index row: starting a scorecard, scoring,
//! evidence, the manager's acknowledgement, and `scorecard_index`. The document itself is
//! defined in `crate::kinds::scorecard`.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::doc::{DOC_ROOT, Doc, HydrateValue, Scalar, entry_value, str_value, text_value};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::scorecard::{
    NewScorecard, ScoreDimension, Scorecard, ScorecardOutcome, read, tenths, validate_month,
};
use crate::store::LocalStore;

impl LocalStore {
    /// Starts a scorecard of `manager` for `month`, by this device's user (the supervisor).
    /// Refuses a malformed month or configuration, and a second scorecard of the same
    /// manager and month on this device.
    pub fn create_scorecard(&self, new: NewScorecard) -> Result<DocId> {
        if new.manager.trim().is_empty() {
            return Err(Error::invalid("manager", "must not be empty"));
        }
        validate_month(&new.month)?;
        new.weights.validate()?;
        if new.manager == self.identity().user_id {
            return Err(Error::invalid(
                "manager",
                format!("`{}` cannot score their own month", new.manager),
            ));
        }
        self.create_doc(DocKind::Scorecard, |conn, stamp| {
            if let Some(existing) = scorecard_ids(conn, &new.manager, &new.month)?.first() {
                return Err(Error::invalid(
                    "month",
                    format!(
                        "`{}` already has scorecard `{existing}` for `{}`",
                        new.manager, new.month
                    ),
                ));
            }
            let w = &new.weights;
            let mut weights: HashMap<&str, HydrateValue> = ScoreDimension::ALL
                .into_iter()
                .map(|d| (d.code(), HydrateValue::from(w.weight(d))))
                .collect();
            weights.insert("pass_mark", HydrateValue::from(w.pass_mark));
            weights.insert("bonus_mark", HydrateValue::from(w.bonus_mark));
            let evidence: HashMap<&str, HydrateValue> = ScoreDimension::ALL
                .into_iter()
                .map(|d| (d.code(), text_value("")))
                .collect();
            Ok(HashMap::from([
                ("manager", str_value(&new.manager)),
                ("month", str_value(&new.month)),
                ("supervisor", str_value(&stamp.by)),
                ("weights", HydrateValue::from(weights)),
                ("scores", HydrateValue::map()),
                ("evidence", HydrateValue::from(evidence)),
            ]))
        })
    }

    /// Reads a scorecard.
    pub fn scorecard(&self, id: &DocId) -> Result<Scorecard> {
        self.read_doc(id, DocKind::Scorecard, read)
    }

    /// The total and verdicts of a scorecard.
    pub fn scorecard_outcome(&self, id: &DocId) -> Result<ScorecardOutcome> {
        Ok(self.scorecard(id)?.outcome())
    }

    /// Scores one dimension (0 up to its weight, one decimal at most). Refused once the
    /// account manager has acknowledged the scores.
    pub fn score_dimension(&self, id: &DocId, dimension: ScoreDimension, score: f64) -> Result<()> {
        let field = format!("scores.{}", dimension.code());
        let what = format!("score {}", dimension.code());
        self.edit_doc(id, DocKind::Scorecard, &what, |doc, stamp, _| {
            let card = read(doc)?;
            let weight = card.weights.weight(dimension);
            let points = tenths(&field, score)?;
            if !(0..=(weight * 10.0).round() as i64).contains(&points) {
                return Err(Error::invalid(
                    field,
                    format!("score `{score}` is outside 0..={weight}"),
                ));
            }
            if let Some(ack) = &card.acknowledgement {
                return Err(Error::invalid(
                    field,
                    format!("the scores are final: `{}` acknowledged them", ack.by),
                ));
            }
            let scores = doc.container(&DOC_ROOT, "scores")?;
            doc.put_stamped(&scores, dimension.code(), points as f64 / 10.0, stamp)
        })
    }

    /// Replaces the evidence notes of one dimension (a minimal text diff, so concurrent
    /// edits merge).
    pub fn set_scorecard_evidence(
        &self,
        id: &DocId,
        dimension: ScoreDimension,
        text: &str,
    ) -> Result<()> {
        let what = format!("edit evidence of {}", dimension.code());
        self.edit_doc(id, DocKind::Scorecard, &what, |doc, _, _| {
            let evidence = doc.container(&DOC_ROOT, "evidence")?;
            doc.update_text(&evidence, dimension.code(), text)
        })
    }

    /// The account manager acknowledges the scores, with an optional comment. Only the
    /// scored account manager may, and only once all four dimensions are scored.
    pub fn acknowledge_scorecard(&self, id: &DocId, comment: Option<&str>) -> Result<()> {
        self.edit_doc(id, DocKind::Scorecard, "acknowledge", |doc, stamp, _| {
            let card = read(doc)?;
            if stamp.by != card.manager {
                return Err(Error::invalid(
                    "acknowledgement",
                    format!("only `{}` acknowledges this scorecard", card.manager),
                ));
            }
            let outcome = card.outcome();
            let Some(total) = outcome.total else {
                let missing: Vec<&str> = outcome.missing.iter().map(|d| d.code()).collect();
                return Err(Error::invalid(
                    "acknowledgement",
                    format!("not scored yet: `{}`", missing.join("`, `")),
                ));
            };
            let comment = match comment.map(str::trim) {
                Some(c) if !c.is_empty() => Scalar::Str(c.into()),
                _ => Scalar::Null,
            };
            let entry = entry_value(vec![("comment", comment), ("total", total.into())], stamp);
            doc.put_value(&DOC_ROOT, "acknowledgement", &entry)
        })
    }

    /// Scorecards of `manager` for `month`: one, unless two devices created one offline.
    pub fn scorecards_of(&self, manager: &str, month: &str) -> Result<Vec<DocId>> {
        validate_month(month)?;
        scorecard_ids(&self.lock()?.conn, manager, month)
    }
}

fn scorecard_ids(conn: &Connection, manager: &str, month: &str) -> Result<Vec<DocId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM scorecard_index WHERE manager = ?1 AND month = ?2 ORDER BY id",
    )?;
    let ids = stmt
        .query_map([manager, month], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids.iter().map(|s| DocId::parse("id", s)).collect()
}

pub(crate) fn index(tx: &Connection, doc: &Doc) -> Result<()> {
    let card = read(doc)?;
    let outcome = card.outcome();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO scorecard_index (id, manager, month, supervisor, total, acknowledged_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        card.id.as_str(),
        card.manager,
        card.month,
        card.supervisor,
        outcome.total,
        card.acknowledgement.map(|a| a.at.0),
    ])?;
    Ok(())
}
