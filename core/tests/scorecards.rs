//! Monthly scorecards (R4) through the public API: scored, refused when wrong, judged at the
//! pass and bonus marks, acknowledged, and merged between two supervisors' phones.

use fieldsync_core::fixtures::ManualClock;
use fieldsync_core::{
    DeviceIdentity, DocId, Error, LocalStore, NewScorecard, ScoreDimension, ScoreWeights,
    StoreOptions, Timestamp,
};

fn t(s: &str) -> Timestamp {
    Timestamp::parse("t", s).expect("valid time")
}

fn open(dir: &tempfile::TempDir, user: &str) -> (LocalStore, ManualClock) {
    let clock = ManualClock::starting_at(t("2026-11-30T10:00:00+08:00"));
    let options = StoreOptions {
        clock: clock.clock(),
        ..StoreOptions::default()
    };
    let store = LocalStore::open(
        dir.path().join(format!("{user}.db")),
        DeviceIdentity::new(user, format!("{user}-phone")),
        options,
    )
    .expect("open store");
    (store, clock)
}

fn send(from: &LocalStore, to: &LocalStore, id: &DocId) -> fieldsync_core::Result<()> {
    to.merge_changes(id, &from.export_changes(id, &[])?)
}

fn november(manager: &str) -> NewScorecard {
    NewScorecard {
        manager: manager.into(),
        month: "2026-11".into(),
        weights: ScoreWeights::default(),
    }
}

fn score_all(db: &LocalStore, id: &DocId, scores: [f64; 4]) -> fieldsync_core::Result<()> {
    for (d, s) in ScoreDimension::ALL.into_iter().zip(scores) {
        db.score_dimension(id, d, s)?;
    }
    Ok(())
}

#[test]
fn a_score_above_its_weight_is_refused_and_nothing_is_written() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let card = db.create_scorecard(november("am-li"))?;
    let heads = db.heads(&card)?;
    let err = db
        .score_dimension(&card, ScoreDimension::BrandPromotion, 30.0)
        .expect_err("must refuse");
    assert_eq!(
        err.to_string(),
        "invalid `scores.brand_promotion`: score `30` is outside 0..=25"
    );
    for bad in [-1.0, 25.1, 12.25, f64::NAN] {
        assert!(
            db.score_dimension(&card, ScoreDimension::BrandPromotion, bad)
                .is_err(),
            "`{bad}` must be refused"
        );
    }
    assert_eq!(db.heads(&card)?, heads, "the refused edits left no change");
    assert_eq!(
        db.scorecard(&card)?.scores[1],
        (ScoreDimension::BrandPromotion, None)
    );
    db.score_dimension(&card, ScoreDimension::BrandPromotion, 25.0)?;
    db.score_dimension(&card, ScoreDimension::TerminalImage, 0.0)?;
    Ok(())
}

#[test]
fn the_outcome_has_no_total_until_all_four_dimensions_are_scored() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let card = db.create_scorecard(november("am-li"))?;
    db.score_dimension(&card, ScoreDimension::VisitFrequency, 25.0)?;
    db.score_dimension(&card, ScoreDimension::ServiceAttitude, 24.5)?;
    let outcome = db.scorecard_outcome(&card)?;
    assert_eq!(outcome.total, None);
    assert_eq!(outcome.passes, None);
    assert_eq!(outcome.bonus, None);
    assert_eq!(
        outcome.missing,
        vec![
            ScoreDimension::BrandPromotion,
            ScoreDimension::TerminalImage
        ]
    );
    Ok(())
}

#[test]
fn totals_of_79_5_80_89_9_and_90_fall_on_the_right_side_of_the_marks() -> fieldsync_core::Result<()>
{
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let card = db.create_scorecard(november("am-li"))?;
    // (scores, total, passes, bonus): below the pass mark is assessment, 90 is a bonus.
    let cases = [
        ([20.0, 20.0, 20.0, 19.5], 79.5, false, false),
        ([20.0, 20.0, 20.0, 20.0], 80.0, true, false),
        ([25.0, 25.0, 25.0, 14.9], 89.9, true, false),
        ([25.0, 25.0, 25.0, 15.0], 90.0, true, true),
        ([20.1, 20.2, 19.7, 20.0], 80.0, true, false),
    ];
    for (scores, total, passes, bonus) in cases {
        score_all(&db, &card, scores)?;
        let outcome = db.scorecard_outcome(&card)?;
        assert_eq!(outcome.total, Some(total), "{scores:?}");
        assert_eq!(outcome.passes, Some(passes), "{scores:?}");
        assert_eq!(outcome.bonus, Some(bonus), "{scores:?}");
        assert!(outcome.missing.is_empty());
    }
    Ok(())
}

#[test]
fn a_scorecard_keeps_the_weights_it_was_created_with() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let strict = ScoreWeights {
        visit_frequency: 40.0,
        brand_promotion: 20.0,
        terminal_image: 20.0,
        service_attitude: 20.0,
        pass_mark: 85.0,
        bonus_mark: 95.0,
    };
    let card = db.create_scorecard(NewScorecard {
        weights: strict,
        ..november("am-li")
    })?;
    // The configuration changes back to the defaults for later scorecards.
    let later = db.create_scorecard(november("am-zhou"))?;
    assert_eq!(db.scorecard(&card)?.weights, strict);
    assert_eq!(db.scorecard(&later)?.weights, ScoreWeights::default());
    db.score_dimension(&card, ScoreDimension::VisitFrequency, 35.0)?;
    let err = db
        .score_dimension(&card, ScoreDimension::BrandPromotion, 25.0)
        .expect_err("brand promotion weighs 20 here");
    assert!(
        err.to_string().ends_with("score `25` is outside 0..=20"),
        "{err}"
    );
    score_all(&db, &card, [40.0, 15.0, 15.0, 14.0])?;
    assert_eq!(db.scorecard_outcome(&card)?.passes, Some(false), "84 < 85");
    Ok(())
}

#[test]
fn malformed_months_and_weights_are_refused() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    for month in [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-11",
        "2026/11",
        "2026-11-01",
        "",
    ] {
        let err = db
            .create_scorecard(NewScorecard {
                month: month.into(),
                ..november("am-li")
            })
            .expect_err(month);
        assert_eq!(
            err.to_string(),
            format!("invalid `month`: `{month}` is not a month like `2026-11`")
        );
    }
    let bad_weights = [
        ScoreWeights {
            service_attitude: 20.0,
            ..ScoreWeights::default()
        },
        ScoreWeights {
            pass_mark: 95.0,
            ..ScoreWeights::default()
        },
        ScoreWeights {
            visit_frequency: 25.05,
            ..ScoreWeights::default()
        },
    ];
    for weights in bad_weights {
        let err = db
            .create_scorecard(NewScorecard {
                weights,
                ..november("am-li")
            })
            .expect_err("must refuse");
        assert!(matches!(err, Error::InvalidField { .. }), "{err}");
    }
    let err = db
        .create_scorecard(november("sup-wang"))
        .expect_err("nobody scores themselves");
    assert!(matches!(&err, Error::InvalidField { field, .. } if field == "manager"));
    assert!(
        db.document_ids(fieldsync_core::DocKind::Scorecard)?
            .is_empty()
    );
    Ok(())
}

#[test]
fn scorecards_of_finds_a_managers_month_and_a_second_one_is_refused() -> fieldsync_core::Result<()>
{
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let card = db.create_scorecard(november("am-li"))?;
    let october = db.create_scorecard(NewScorecard {
        month: "2026-10".into(),
        ..november("am-li")
    })?;
    assert_eq!(db.scorecards_of("am-li", "2026-11")?, vec![card.clone()]);
    assert_eq!(db.scorecards_of("am-li", "2026-10")?, vec![october]);
    assert!(db.scorecards_of("am-zhou", "2026-11")?.is_empty());
    let err = db
        .create_scorecard(november("am-li"))
        .expect_err("one per manager and month");
    assert!(err.to_string().contains(card.as_str()), "{err}");
    assert!(db.scorecards_of("am-li", "November").is_err());
    Ok(())
}

#[test]
fn two_supervisors_scoring_concurrently_both_show_as_a_conflict() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (wang, _) = open(&dir, "sup-wang");
    let (zhao, _) = open(&dir, "sup-zhao");
    let card = wang.create_scorecard(november("am-li"))?;
    send(&wang, &zhao, &card)?;

    // Both offline: each scores brand promotion differently, and something else.
    wang.score_dimension(&card, ScoreDimension::BrandPromotion, 20.0)?;
    wang.score_dimension(&card, ScoreDimension::VisitFrequency, 25.0)?;
    zhao.score_dimension(&card, ScoreDimension::BrandPromotion, 22.0)?;
    zhao.score_dimension(&card, ScoreDimension::TerminalImage, 18.0)?;
    send(&wang, &zhao, &card)?;
    send(&zhao, &wang, &card)?;

    for db in [&wang, &zhao] {
        let s = db.scorecard(&card)?;
        let brand = s.scores[1].1.as_ref().expect("scored");
        assert!(brand.is_conflict());
        let mut values: Vec<(f64, &str)> = brand.all().map(|w| (w.value, w.by.as_str())).collect();
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(values, vec![(20.0, "sup-wang"), (22.0, "sup-zhao")]);
        assert_eq!(s.scores[0].1.as_ref().map(|v| *v.value()), Some(25.0));
        assert_eq!(s.scores[2].1.as_ref().map(|v| *v.value()), Some(18.0));
        let outcome = db.scorecard_outcome(&card)?;
        assert_eq!(outcome.conflicts, vec![ScoreDimension::BrandPromotion]);
        assert_eq!(outcome.missing, vec![ScoreDimension::ServiceAttitude]);
    }
    assert_eq!(
        wang.scorecard(&card)?.scores[1],
        zhao.scorecard(&card)?.scores[1],
        "every device shows the same current value"
    );
    // Scoring again after seeing both settles it.
    wang.score_dimension(&card, ScoreDimension::BrandPromotion, 21.0)?;
    send(&wang, &zhao, &card)?;
    assert!(zhao.scorecard_outcome(&card)?.conflicts.is_empty());
    Ok(())
}

#[test]
fn evidence_written_on_two_phones_merges() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (wang, _) = open(&dir, "sup-wang");
    let (zhao, _) = open(&dir, "sup-zhao");
    let card = wang.create_scorecard(november("am-li"))?;
    wang.set_scorecard_evidence(
        &card,
        ScoreDimension::TerminalImage,
        "store 12: faded sign.",
    )?;
    send(&wang, &zhao, &card)?;
    wang.set_scorecard_evidence(
        &card,
        ScoreDimension::TerminalImage,
        "store 12: faded sign. store 40: tidy.",
    )?;
    zhao.set_scorecard_evidence(&card, ScoreDimension::ServiceAttitude, "owners praise him")?;
    send(&wang, &zhao, &card)?;
    send(&zhao, &wang, &card)?;
    let s = wang.scorecard(&card)?;
    assert_eq!(s.evidence[2].1, "store 12: faded sign. store 40: tidy.");
    assert_eq!(s.evidence[3].1, "owners praise him");
    assert_eq!(s.evidence, zhao.scorecard(&card)?.evidence);
    Ok(())
}

#[test]
fn only_the_account_manager_acknowledges_a_complete_scorecard_and_then_scores_are_final()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (sup, _) = open(&dir, "sup-wang");
    let (am, am_clock) = open(&dir, "am-li");
    let card = sup.create_scorecard(november("am-li"))?;
    score_all(&sup, &card, [24.0, 23.0, 22.0, 20.0])?;
    sup.score_dimension(&card, ScoreDimension::ServiceAttitude, 21.0)?;
    let err = sup
        .acknowledge_scorecard(&card, None)
        .expect_err("a supervisor does not acknowledge for the manager");
    assert!(err.to_string().contains("only `am-li`"), "{err}");

    let partial = sup.create_scorecard(NewScorecard {
        month: "2026-10".into(),
        ..november("am-li")
    })?;
    sup.score_dimension(&partial, ScoreDimension::VisitFrequency, 20.0)?;
    send(&sup, &am, &partial)?;
    let err = am
        .acknowledge_scorecard(&partial, None)
        .expect_err("not scored yet");
    assert!(err.to_string().contains("`brand_promotion`"), "{err}");

    send(&sup, &am, &card)?;
    am_clock.advance_minutes(90);
    am.acknowledge_scorecard(&card, Some("agree, will fix store 12"))?;
    send(&am, &sup, &card)?;
    let ack = sup.scorecard(&card)?.acknowledgement.expect("acknowledged");
    assert_eq!(ack.by, "am-li");
    assert_eq!(ack.at, t("2026-11-30T11:30:00+08:00"));
    assert_eq!(ack.comment.as_deref(), Some("agree, will fix store 12"));
    assert_eq!(ack.total, 90.0);
    let err = sup
        .score_dimension(&card, ScoreDimension::BrandPromotion, 10.0)
        .expect_err("final once acknowledged");
    assert!(err.to_string().contains("final"), "{err}");
    Ok(())
}
