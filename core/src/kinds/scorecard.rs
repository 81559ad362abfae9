//! The monthly scorecard document (R4): a supervisor scores one account manager's month on
//! four dimensions, notes the evidence, and the account manager acknowledges it; its
//! schema, value rules, typed form and reader ([`read`]).
//!
//! Weights, pass mark and bonus mark are configuration ([`ScoreWeights`]); a scorecard copies
//! them when it is created, so a later change of configuration leaves old scorecards as they
//! were scored. Each dimension's score is stamped, so two supervisors scoring the same
//! dimension offline show as a conflict with both values. Evidence notes are collaborative
//! text. Points are kept to one decimal and summed in tenths, so the pass and bonus verdicts
//! never depend on floating-point rounding (79.9 fails a pass mark of 80, 80 passes).

mod read;

pub use read::{
    Acknowledgement, NewScorecard, ScoreDimension, ScoreWeights, Scorecard, ScorecardOutcome,
};
pub(crate) use read::{read, tenths, validate_month};

use super::shape::{Field, KeyRule, Ty, opt, req};
use super::visit::{MAX_NOTE, MAX_TEXT};
use crate::doc::Doc;
use crate::kinds::RuleViolation;

pub(crate) const DIMENSIONS: &[&str] = &[
    "visit_frequency",
    "brand_promotion",
    "terminal_image",
    "service_attitude",
];

const POINTS: Ty = Ty::Num {
    min: 0.0,
    max: 100.0,
};

/// Every field of a scorecard document.
pub(crate) const FIELDS: &[Field] = &[
    req("manager", Ty::User),
    req("month", Ty::Str { min: 7, max: 7 }),
    req("supervisor", Ty::User),
    req(
        "weights",
        Ty::Map(&[
            req("visit_frequency", POINTS),
            req("brand_promotion", POINTS),
            req("terminal_image", POINTS),
            req("service_attitude", POINTS),
            req("pass_mark", POINTS),
            req("bonus_mark", POINTS),
        ]),
    ),
    req(
        "scores",
        Ty::MapOf {
            key: KeyRule::Code(DIMENSIONS),
            value: &Ty::Entry(&[req("v", POINTS)]),
            max: 4,
        },
    ),
    opt(
        "evidence",
        Ty::MapOf {
            key: KeyRule::Code(DIMENSIONS),
            value: &Ty::Text { max: MAX_TEXT },
            max: 4,
        },
    ),
    opt(
        "acknowledgement",
        Ty::Entry(&[
            opt(
                "comment",
                Ty::Str {
                    min: 0,
                    max: MAX_NOTE,
                },
            ),
            req("total", POINTS),
        ]),
    ),
];

/// The month is a month; the weights add up to 100 with the marks in order; every score
/// (each value, also concurrent ones) lies in 0..=its weight in tenths; an acknowledgement
/// is the manager's, of a fully scored card, with its true total.
pub(crate) fn rules(doc: &Doc) -> Result<(), RuleViolation> {
    let card = read(doc).map_err(|e| RuleViolation::unreadable(&e))?;
    validate_month(&card.month).map_err(|e| RuleViolation::at("value", "month", e.to_string()))?;
    card.weights
        .validate()
        .map_err(|e| RuleViolation::from_invalid("value", &e))?;
    for (dimension, versions) in &card.scores {
        let weight = card.weights.weight(*dimension);
        for written in versions.iter().flat_map(|v| v.all()) {
            let tenths = written.value * 10.0;
            if (tenths - tenths.round()).abs() > 1e-6 || written.value > weight + 1e-9 {
                return Err(RuleViolation::at(
                    "value",
                    format!("scores.{}", dimension.code()),
                    format!("score `{}` is not in 0..={weight} in tenths", written.value),
                ));
            }
        }
    }
    acknowledgement(&card)
}

fn acknowledgement(card: &Scorecard) -> Result<(), RuleViolation> {
    let Some(ack) = &card.acknowledgement else {
        return Ok(());
    };
    let refuse = |reason: String| Err(RuleViolation::at("value", "acknowledgement", reason));
    if ack.by != card.manager {
        return refuse(format!(
            "only `{}` acknowledges this scorecard",
            card.manager
        ));
    }
    match card.outcome().total {
        None => refuse("the card is not fully scored".into()),
        Some(total) if (total - ack.total).abs() > 0.05 => refuse(format!(
            "the acknowledged total `{}` is not the card's total `{total}`",
            ack.total
        )),
        Some(_) => Ok(()),
    }
}

/// Scores are final once acknowledged: a change that writes a score to a card whose
/// acknowledgement it had seen is refused.
pub(crate) fn scores_final(before: &Doc) -> Result<(), RuleViolation> {
    let card = read(before).map_err(|e| RuleViolation::unreadable(&e))?;
    match card.acknowledgement {
        Some(ack) => Err(RuleViolation::at(
            "transition",
            "scores",
            format!("the scores are final: `{}` acknowledged them", ack.by),
        )),
        None => Ok(()),
    }
}
