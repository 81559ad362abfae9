//! Monthly scorecards (R4) across the boundary: a supervisor starts one for an account
//! manager's month, scores the four dimensions with evidence, the account manager
//! acknowledges it; the outcome (total, pass, bonus) is the core's, read with the card.
//!
//! Scores are points with at most one decimal, from 0 up to the dimension's weight. Weights,
//! pass mark and bonus mark are copied into the card when it is created.

use fieldsync_core as fc;

use crate::conflict::ScoreVersions;
use crate::error::FieldError;
use crate::parse::{self, same_variants};
use crate::store::FieldStore;
use crate::time::{Instant, YearMonth};

/// The four dimensions a supervisor scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ScoreDimension {
    VisitFrequency,
    BrandPromotion,
    TerminalImage,
    ServiceAttitude,
}

/// The most points of each dimension (adding up to 100), the pass mark and the bonus mark.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct ScoreWeightsRecord {
    pub visit_frequency: f64,
    pub brand_promotion: f64,
    pub terminal_image: f64,
    pub service_attitude: f64,
    /// Below it: assessment.
    pub pass_mark: f64,
    /// At or above it: a bonus in benchmark management.
    pub bonus_mark: f64,
}

/// What a supervisor gives to start a scorecard.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewScorecardRecord {
    /// The account manager scored (not the supervisor themself).
    pub manager: String,
    pub month: YearMonth,
    /// Null: the district's decided default (25 each, pass 80, bonus 90).
    pub weights: Option<ScoreWeightsRecord>,
}

/// One dimension as read back: its score once given, and the evidence notes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DimensionScoreRecord {
    pub dimension: ScoreDimension,
    pub score: Option<ScoreVersions>,
    pub evidence: String,
}

/// The account manager's acknowledgement.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AcknowledgementRecord {
    pub by: String,
    pub at: Instant,
    pub comment: Option<String>,
    /// The total the account manager saw.
    pub total: f64,
}

/// The verdict of a scorecard (R4).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ScorecardOutcomeRecord {
    /// Null until all four dimensions are scored.
    pub total: Option<f64>,
    /// At or above the pass mark; false means assessment.
    pub passes: Option<bool>,
    /// At or above the bonus mark.
    pub bonus: Option<bool>,
    pub missing: Vec<ScoreDimension>,
    /// Dimensions scored concurrently by two supervisors (the total uses the current value).
    pub conflicts: Vec<ScoreDimension>,
}

/// A scorecard as read back.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ScorecardRecord {
    pub id: String,
    pub manager: String,
    pub month: YearMonth,
    pub supervisor: String,
    pub weights: ScoreWeightsRecord,
    /// The four dimensions in order.
    pub dimensions: Vec<DimensionScoreRecord>,
    pub acknowledgement: Option<AcknowledgementRecord>,
    pub outcome: ScorecardOutcomeRecord,
}

/// The district's decided default weights: 25 points each, pass mark 80, bonus mark 90.
#[uniffi::export]
pub fn default_score_weights() -> ScoreWeightsRecord {
    fc::ScoreWeights::default().into()
}

#[uniffi::export]
impl FieldStore {
    /// Starts a scorecard by this user (the supervisor); returns its id. Refuses a
    /// malformed month or weights, scoring oneself, and a second card for the same manager
    /// and month on this device.
    pub fn create_scorecard(&self, card: NewScorecardRecord) -> Result<String, FieldError> {
        let new = fc::NewScorecard {
            manager: card.manager,
            month: card.month.month("month")?,
            weights: card.weights.map(Into::into).unwrap_or_default(),
        };
        self.create(|s| s.create_scorecard(new))
    }

    pub fn scorecard(&self, id: String) -> Result<ScorecardRecord, FieldError> {
        let card = self.core.scorecard(&parse::id("id", &id)?)?;
        Ok(card.into())
    }

    /// The total and verdicts alone.
    pub fn scorecard_outcome(&self, id: String) -> Result<ScorecardOutcomeRecord, FieldError> {
        let outcome = self.core.scorecard_outcome(&parse::id("id", &id)?)?;
        Ok(outcome.into())
    }

    /// Scores one dimension (0 up to its weight, one decimal at most); refused once the
    /// scores are acknowledged.
    pub fn score_dimension(
        &self,
        id: String,
        dimension: ScoreDimension,
        score: f64,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.score_dimension(&doc, dimension.into(), score))
    }

    /// Replaces the evidence notes of one dimension (concurrent edits merge).
    pub fn set_scorecard_evidence(
        &self,
        id: String,
        dimension: ScoreDimension,
        text: String,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| {
            s.set_scorecard_evidence(&doc, dimension.into(), &text)
        })
    }

    /// The scored account manager acknowledges the scores, once all four are given.
    pub fn acknowledge_scorecard(
        &self,
        id: String,
        comment: Option<String>,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| {
            s.acknowledge_scorecard(&doc, comment.as_deref())
        })
    }

    /// Ids of the scorecards of `manager` for `month`: one, unless two
    /// supervisors started one offline.
    pub fn scorecards_of(
        &self,
        manager: String,
        month: YearMonth,
    ) -> Result<Vec<String>, FieldError> {
        let ids = self.core.scorecards_of(&manager, &month.month("month")?)?;
        Ok(ids.iter().map(ToString::to_string).collect())
    }
}

same_variants!(
    ScoreDimension,
    fc::ScoreDimension,
    VisitFrequency,
    BrandPromotion,
    TerminalImage,
    ServiceAttitude,
);

impl From<ScoreWeightsRecord> for fc::ScoreWeights {
    fn from(w: ScoreWeightsRecord) -> Self {
        fc::ScoreWeights {
            visit_frequency: w.visit_frequency,
            brand_promotion: w.brand_promotion,
            terminal_image: w.terminal_image,
            service_attitude: w.service_attitude,
            pass_mark: w.pass_mark,
            bonus_mark: w.bonus_mark,
        }
    }
}

impl From<fc::ScoreWeights> for ScoreWeightsRecord {
    fn from(w: fc::ScoreWeights) -> Self {
        ScoreWeightsRecord {
            visit_frequency: w.visit_frequency,
            brand_promotion: w.brand_promotion,
            terminal_image: w.terminal_image,
            service_attitude: w.service_attitude,
            pass_mark: w.pass_mark,
            bonus_mark: w.bonus_mark,
        }
    }
}

impl From<fc::ScorecardOutcome> for ScorecardOutcomeRecord {
    fn from(o: fc::ScorecardOutcome) -> Self {
        ScorecardOutcomeRecord {
            total: o.total,
            passes: o.passes,
            bonus: o.bonus,
            missing: o.missing.into_iter().map(Into::into).collect(),
            conflicts: o.conflicts.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<fc::Scorecard> for ScorecardRecord {
    fn from(c: fc::Scorecard) -> Self {
        let outcome = c.outcome().into();
        let mut evidence = c.evidence.into_iter();
        let dimensions = c
            .scores
            .into_iter()
            .map(|(dimension, score)| DimensionScoreRecord {
                dimension: dimension.into(),
                score: score.map(Into::into),
                evidence: evidence
                    .find(|(d, _)| *d == dimension)
                    .map(|(_, text)| text)
                    .unwrap_or_default(),
            })
            .collect();
        ScorecardRecord {
            id: c.id.to_string(),
            manager: c.manager,
            month: YearMonth(c.month),
            supervisor: c.supervisor,
            weights: c.weights.into(),
            dimensions,
            acknowledgement: c.acknowledgement.map(|a| AcknowledgementRecord {
                by: a.by,
                at: Instant::from(a.at),
                comment: a.comment,
                total: a.total,
            }),
            outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MONDAY_10, phone};
    use fieldsync_core::fixtures::exchange;

    fn card(supervisor: &FieldStore) -> String {
        supervisor
            .create_scorecard(NewScorecardRecord {
                manager: "am-li".into(),
                month: YearMonth("2026-11".into()),
                weights: None,
            })
            .expect("scorecard")
    }

    #[test]
    fn four_scores_give_a_total_that_passes_and_earns_the_bonus_at_ninety() {
        let sup = phone("sup-zhao", MONDAY_10);
        let id = card(&sup.store);
        let scores = [
            (ScoreDimension::VisitFrequency, 24.5),
            (ScoreDimension::BrandPromotion, 22.0),
            (ScoreDimension::TerminalImage, 20.0),
        ];
        for (dimension, score) in scores {
            sup.store
                .score_dimension(id.clone(), dimension, score)
                .expect("score");
        }
        let partial = sup.store.scorecard_outcome(id.clone()).expect("outcome");
        assert_eq!(partial.total, None);
        assert_eq!(partial.missing, vec![ScoreDimension::ServiceAttitude]);

        sup.store
            .score_dimension(id.clone(), ScoreDimension::ServiceAttitude, 23.5)
            .expect("score");
        let outcome = sup.store.scorecard(id.clone()).expect("read back").outcome;
        assert_eq!(outcome.total, Some(90.0));
        assert_eq!((outcome.passes, outcome.bonus), (Some(true), Some(true)));

        // The scored account manager acknowledges on their own phone, after a sync.
        let am = phone("am-li", MONDAY_10);
        exchange(&sup.store.core, &am.store.core).expect("sync");
        am.store
            .acknowledge_scorecard(id.clone(), Some("agreed".into()))
            .expect("acknowledge");
        let ack = am.store.scorecard(id).expect("read back").acknowledgement;
        assert_eq!(ack.map(|a| (a.by, a.total)), Some(("am-li".into(), 90.0)));
    }

    #[test]
    fn a_score_above_its_weight_is_invalid_input_naming_the_dimension() {
        let sup = phone("sup-zhao", MONDAY_10);
        let id = card(&sup.store);
        match sup
            .store
            .score_dimension(id, ScoreDimension::TerminalImage, 26.0)
        {
            Err(FieldError::InvalidInput { field, .. }) => {
                assert_eq!(field, "scores.terminal_image")
            }
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn the_default_weights_are_the_districts_decided_ones() {
        let w = default_score_weights();
        assert_eq!(
            (
                w.visit_frequency,
                w.service_attitude,
                w.pass_mark,
                w.bonus_mark
            ),
            (25.0, 25.0, 80.0, 90.0)
        );
    }
}
