//! R7's follow-up of an unqualified functional terminal: a rectification notice with a
//! deadline, that answers the rating, created in the quarter and not after the day asked.

use chrono::NaiveDate;
use fieldsync_core::fixtures::{ManualClock, at, device, sample_store};
use fieldsync_core::{
    DocId, Error, FollowUpAction, LocalStore, NewStore, NewTask, Result, StoreClassification,
    TaskOrigin, TerminalRating, Timestamp,
};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn rated(db: &LocalStore, n: u32, rating: TerminalRating) -> Result<DocId> {
    db.create_store(NewStore {
        functional_terminal: true,
        rating: Some(rating),
        ..sample_store("am-li", n)
    })
}

fn task(store: &DocId, title: &str, deadline: Timestamp, origin: Option<TaskOrigin>) -> NewTask {
    NewTask {
        store_id: store.clone(),
        title: title.into(),
        description: String::new(),
        assignee: "am-li".into(),
        deadline,
        origin,
    }
}

/// The rectification notice of `store`, answering its current rating, due in ten days.
fn notice(db: &LocalStore, clock: &ManualClock, store: &DocId) -> Result<DocId> {
    let rated_at = db.store(store)?.rated_at.expect("a rated store");
    db.create_task(task(
        store,
        "rectification notice",
        Timestamp(clock.now().0 + 10 * 86_400_000),
        Some(TaskOrigin::Rating { rated_at }),
    ))
}

/// Whether R7's notice for the only rated terminal shows done on `on`.
fn notice_done(db: &LocalStore, on: &str) -> Result<Option<bool>> {
    let follow = db.terminal_follow_ups("am-li", day(on))?;
    assert_eq!(follow.len(), 1);
    assert_eq!(follow[0].action, FollowUpAction::RectificationNotice);
    Ok(follow[0].done)
}

#[test]
fn an_unrelated_task_on_an_unqualified_terminal_is_not_its_rectification_notice() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let shop = rated(&db, 1, TerminalRating::Unqualified)?;
    clock.advance_minutes(30);
    db.create_task(task(
        &shop,
        "replace the light bulb over the counter",
        Timestamp(clock.now().0 + 3_600_000),
        None,
    ))?;
    assert_eq!(notice_done(&db, "2026-11-23")?, Some(false));

    let id = notice(&db, &clock, &shop)?;
    let read = db.task(&id)?;
    assert_eq!(
        read.origin,
        Some(TaskOrigin::Rating {
            rated_at: at("2026-11-23T09:00:00+08:00")
        })
    );
    assert_eq!(notice_done(&db, "2026-11-23")?, Some(true));
    Ok(())
}

#[test]
fn a_notice_created_after_the_day_asked_or_in_an_earlier_quarter_does_not_count() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-09-28T09:00:00+08:00"),
    )?;
    let shop = rated(&db, 1, TerminalRating::Unqualified)?;
    notice(&db, &clock, &shop)?; // in the third quarter
    assert_eq!(notice_done(&db, "2026-09-30")?, Some(true));
    assert_eq!(notice_done(&db, "2026-10-05")?, Some(false));

    clock.set(at("2026-10-12T09:00:00+08:00"));
    notice(&db, &clock, &shop)?;
    assert_eq!(
        notice_done(&db, "2026-10-09")?,
        Some(false),
        "not yet created on the day asked"
    );
    assert_eq!(notice_done(&db, "2026-10-12")?, Some(true));
    Ok(())
}

#[test]
fn a_notice_answers_one_rating_and_a_new_rating_needs_its_own() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-10-05T09:00:00+08:00"),
    )?;
    let shop = rated(&db, 1, TerminalRating::Unqualified)?;
    let first_rating = db.store(&shop)?.rated_at.expect("rated");
    notice(&db, &clock, &shop)?;
    assert_eq!(notice_done(&db, "2026-11-23")?, Some(true));

    // Rated again (a re-inspection in November): the October notice answers the old rating.
    clock.set(at("2026-11-20T09:00:00+08:00"));
    db.update_store_classification(
        &shop,
        StoreClassification {
            rating: Some(Some(TerminalRating::Unqualified)),
            ..StoreClassification::default()
        },
    )?;
    assert_eq!(notice_done(&db, "2026-11-23")?, Some(false));
    let stale = db
        .create_task(task(
            &shop,
            "notice",
            at("2026-12-01T09:00:00+08:00"),
            Some(TaskOrigin::Rating {
                rated_at: first_rating,
            }),
        ))
        .expect_err("the old rating is not the current one");
    assert!(
        matches!(&stale, Error::InvalidField { field, .. } if field == "origin.rated_at"),
        "{stale}"
    );
    notice(&db, &clock, &shop)?;
    assert_eq!(notice_done(&db, "2026-11-23")?, Some(true));
    Ok(())
}

#[test]
fn only_an_unqualified_rating_takes_a_rectification_notice() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let good = rated(&db, 1, TerminalRating::Good)?;
    let unrated = db.create_store(sample_store("am-li", 2))?;
    for store in [&good, &unrated] {
        let err = db
            .create_task(task(
                store,
                "notice",
                at("2026-12-01T09:00:00+08:00"),
                Some(TaskOrigin::Rating {
                    rated_at: clock.now(),
                }),
            ))
            .expect_err("no unqualified rating to answer");
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "origin"),
            "{err}"
        );
    }
    Ok(())
}
