//! A scorecard as the app reads it: the typed form of the document, its verdict, and its
//! reader.

use crate::doc::{DOC_ROOT, Doc, Obj, Versions, scalar_f64};
use crate::error::{Error, Result};
use crate::ids::DocId;
use crate::time::Timestamp;

/// The four dimensions a supervisor scores (R4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScoreDimension {
    VisitFrequency,
    BrandPromotion,
    TerminalImage,
    ServiceAttitude,
}

impl ScoreDimension {
    pub const ALL: [ScoreDimension; 4] = [
        ScoreDimension::VisitFrequency,
        ScoreDimension::BrandPromotion,
        ScoreDimension::TerminalImage,
        ScoreDimension::ServiceAttitude,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ScoreDimension::VisitFrequency => "visit_frequency",
            ScoreDimension::BrandPromotion => "brand_promotion",
            ScoreDimension::TerminalImage => "terminal_image",
            ScoreDimension::ServiceAttitude => "service_attitude",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.code() == text)
            .ok_or_else(|| Error::invalid("dimension", format!("unknown dimension `{text}`")))
    }
}

/// The scoring configuration: the most points each dimension gives, the pass mark (below
/// it: assessment) and the bonus mark (at or above it: benchmark bonus). Points have at most
/// one decimal; the four weights add up to 100.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreWeights {
    pub visit_frequency: f64,
    pub brand_promotion: f64,
    pub terminal_image: f64,
    pub service_attitude: f64,
    pub pass_mark: f64,
    pub bonus_mark: f64,
}

impl Default for ScoreWeights {
    /// Decided (domain R4): 25 points each, pass mark 80, bonus mark 90.
    fn default() -> Self {
        ScoreWeights {
            visit_frequency: 25.0,
            brand_promotion: 25.0,
            terminal_image: 25.0,
            service_attitude: 25.0,
            pass_mark: 80.0,
            bonus_mark: 90.0,
        }
    }
}

impl ScoreWeights {
    /// The most points `dimension` gives.
    pub fn weight(&self, dimension: ScoreDimension) -> f64 {
        match dimension {
            ScoreDimension::VisitFrequency => self.visit_frequency,
            ScoreDimension::BrandPromotion => self.brand_promotion,
            ScoreDimension::TerminalImage => self.terminal_image,
            ScoreDimension::ServiceAttitude => self.service_attitude,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let mut sum = 0;
        for d in ScoreDimension::ALL {
            let field = format!("weights.{}", d.code());
            let w = tenths(&field, self.weight(d))?;
            if w < 0 {
                return Err(Error::invalid(
                    field,
                    format!("`{}` is negative", self.weight(d)),
                ));
            }
            sum += w;
        }
        if sum != 1000 {
            return Err(Error::invalid(
                "weights",
                format!(
                    "the four weights add up to `{}`, not `100`",
                    sum as f64 / 10.0
                ),
            ));
        }
        let pass = tenths("weights.pass_mark", self.pass_mark)?;
        let bonus = tenths("weights.bonus_mark", self.bonus_mark)?;
        if !(0..=1000).contains(&pass) || !(pass..=1000).contains(&bonus) {
            return Err(Error::invalid(
                "weights",
                format!(
                    "marks must satisfy 0 <= pass `{}` <= bonus `{}` <= 100",
                    self.pass_mark, self.bonus_mark
                ),
            ));
        }
        Ok(())
    }
}

/// What a supervisor gives to start a scorecard.
#[derive(Clone, Debug, PartialEq)]
pub struct NewScorecard {
    /// The account manager being scored.
    pub manager: String,
    /// The month scored, `YYYY-MM` (`2026-11`).
    pub month: String,
    /// The configuration in force now; copied into the scorecard.
    pub weights: ScoreWeights,
}

/// The account manager's acknowledgement of the scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Acknowledgement {
    pub by: String,
    pub at: Timestamp,
    pub comment: Option<String>,
    /// The total the account manager saw when acknowledging.
    pub total: f64,
}

/// A scorecard as read from its document.
#[derive(Clone, Debug, PartialEq)]
pub struct Scorecard {
    pub id: DocId,
    pub manager: String,
    pub month: String,
    /// Who created it.
    pub supervisor: String,
    pub weights: ScoreWeights,
    /// Each dimension, in [`ScoreDimension::ALL`] order, with its score once given.
    pub scores: Vec<(ScoreDimension, Option<Versions<f64>>)>,
    /// Each dimension, in [`ScoreDimension::ALL`] order, with its evidence notes.
    pub evidence: Vec<(ScoreDimension, String)>,
    pub acknowledgement: Option<Acknowledgement>,
}

/// The verdict of a scorecard (R4).
#[derive(Clone, Debug, PartialEq)]
pub struct ScorecardOutcome {
    /// The sum of the four scores; `None` until all four are scored.
    pub total: Option<f64>,
    /// At or above the pass mark; `Some(false)` means assessment.
    pub passes: Option<bool>,
    /// At or above the bonus mark (benchmark management bonus).
    pub bonus: Option<bool>,
    /// Dimensions not scored yet.
    pub missing: Vec<ScoreDimension>,
    /// Dimensions whose score is in conflict: the total uses the value every device shows.
    pub conflicts: Vec<ScoreDimension>,
}

impl Scorecard {
    /// The total and verdicts, from the current value of each score.
    pub fn outcome(&self) -> ScorecardOutcome {
        let mut total = 0;
        let mut missing = Vec::new();
        let mut conflicts = Vec::new();
        for (d, score) in &self.scores {
            match score {
                Some(v) => {
                    total += (v.value() * 10.0).round() as i64;
                    if v.is_conflict() {
                        conflicts.push(*d);
                    }
                }
                None => missing.push(*d),
            }
        }
        let complete = missing.is_empty();
        let pass = (self.weights.pass_mark * 10.0).round() as i64;
        let bonus = (self.weights.bonus_mark * 10.0).round() as i64;
        ScorecardOutcome {
            total: complete.then_some(total as f64 / 10.0),
            passes: complete.then_some(total >= pass),
            bonus: complete.then_some(total >= bonus),
            missing,
            conflicts,
        }
    }
}

/// `value` in tenths of a point; refuses what is not a number with at most one decimal.
pub(crate) fn tenths(field: &str, value: f64) -> Result<i64> {
    let scaled = value * 10.0;
    if !scaled.is_finite() || scaled.abs() > 1e9 || (scaled - scaled.round()).abs() > 1e-6 {
        return Err(Error::invalid(
            field,
            format!("`{value}` is not a number with at most one decimal"),
        ));
    }
    Ok(scaled.round() as i64)
}

/// A month as `YYYY-MM`.
pub(crate) fn validate_month(month: &str) -> Result<()> {
    let b = month.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 7
        && b[4] == b'-'
        && digits(0..4)
        && digits(5..7)
        && (1..=12).contains(&((b[5] - b'0') * 10 + (b[6] - b'0')));
    if !ok {
        return Err(Error::invalid(
            "month",
            format!("`{month}` is not a month like `2026-11`"),
        ));
    }
    Ok(())
}

fn read_weights(doc: &Doc) -> Result<ScoreWeights> {
    let obj = doc
        .obj(&DOC_ROOT, "weights")
        .ok_or_else(|| doc.missing("weights"))?;
    let w = |key: &str| {
        doc.f64(&obj, key)
            .ok_or_else(|| doc.missing(&format!("weights.{key}")))
    };
    Ok(ScoreWeights {
        visit_frequency: w("visit_frequency")?,
        brand_promotion: w("brand_promotion")?,
        terminal_image: w("terminal_image")?,
        service_attitude: w("service_attitude")?,
        pass_mark: w("pass_mark")?,
        bonus_mark: w("bonus_mark")?,
    })
}

fn read_score(doc: &Doc, scores: &Obj, d: ScoreDimension) -> Result<Option<Versions<f64>>> {
    let Some(versions) = doc.stamped(scores, d.code()) else {
        return Ok(None);
    };
    if versions.all().any(|w| scalar_f64(&w.value).is_none()) {
        return Err(doc.missing(&format!("scores.{}", d.code())));
    }
    Ok(Some(versions.map(|s| scalar_f64(&s).unwrap_or_default())))
}

pub(crate) fn read(doc: &Doc) -> Result<Scorecard> {
    let scores = doc
        .obj(&DOC_ROOT, "scores")
        .ok_or_else(|| doc.missing("scores"))?;
    let evidence = doc.obj(&DOC_ROOT, "evidence");
    let acknowledgement = doc
        .entry(&DOC_ROOT, "acknowledgement")
        .map(|ack| Acknowledgement {
            by: ack.str("by").unwrap_or_default(),
            at: ack.time("at").unwrap_or(Timestamp(0)),
            comment: ack.str("comment"),
            total: ack.f64("total").unwrap_or_default(),
        });
    Ok(Scorecard {
        id: doc.id.clone(),
        manager: doc.req_str(&DOC_ROOT, "manager")?,
        month: doc.req_str(&DOC_ROOT, "month")?,
        supervisor: doc.req_str(&DOC_ROOT, "supervisor")?,
        weights: read_weights(doc)?,
        scores: ScoreDimension::ALL
            .into_iter()
            .map(|d| Ok((d, read_score(doc, &scores, d)?)))
            .collect::<Result<Vec<_>>>()?,
        evidence: ScoreDimension::ALL
            .into_iter()
            .map(|d| {
                let text = evidence.as_ref().and_then(|e| doc.text(e, d.code()));
                (d, text.unwrap_or_default())
            })
            .collect(),
        acknowledgement,
    })
}
