//! A past month or day reads the store as it was then (docs/adr/0034), at the edges the
//! rest of the suite leaves: R7's follow-ups of November after the rating is cleared in
//! December; R2's breaches of November after the store moves to another territory; R3 in
//! the console's violations over time after the terminal is declassified, as the monthly
//! report counts it; and R5's check of a day made by a client that writes no
//! `checked.<user>` mark, after a later check. Each test's comment cites the line of
//! `domain.md`, `protocol.md` or the ADR it holds the code to.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ROOT, ScalarValue};
use chrono::NaiveDate;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{
    DisplayCheck, DocId, Error, FieldCalendar, FollowUpAction, IncomingChange, LocalStore,
    NewCountLine, NewInventoryCount, NewStore, PriceTagsOverTime, ProductOnDisplay, Pusher,
    Replica, Result, StoreClassification, TerminalRating, Timestamp,
};

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

fn set_clock(db: &LocalStore, when: &str) -> Result<()> {
    let when = at(when);
    db.set_clock(std::sync::Arc::new(move || when))
}

/// Am-li's phone (standing in for the admin device, which holds every store), its clock at
/// `start`.
fn li(dir: &tempfile::TempDir, start: &str) -> Result<LocalStore> {
    Ok(device(dir.path().join("a.db"), "am-li", at(start))?.0)
}

fn november() -> (Timestamp, Timestamp) {
    let cal = FieldCalendar::default();
    (
        cal.start_of(day("2026-11-01")),
        cal.start_of(day("2026-12-01")),
    )
}

/// The last instant of November 2026 in the district.
fn end_of_november() -> Timestamp {
    Timestamp(november().1.0 - 1)
}

// R7 (domain.md: "Follow-up: excellent → personalised guidance every month"), over a past
// month as ADR 0034 decided it: "R7: the stores held by the manager, functional and rated
// at the end of the day asked, with that rating and its stamp (the notice must answer the
// rating of then)". A terminal declassified in December loses its rating (a rating is
// only for a functional terminal), which deletes the field: the deletion holds from
// December on, and the store's periods keep November's rating for November.
#[test]
fn novembers_follow_up_stays_after_the_terminal_is_declassified_and_its_rating_cleared_in_december()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = li(&dir, "2026-10-01T09:00:00+08:00")?;
    let store = db.create_store(NewStore {
        functional_terminal: true,
        rating: Some(TerminalRating::Excellent),
        ..sample_store("am-li", 1)
    })?;
    let follow_ups = |d: &str| -> Result<Vec<FollowUpAction>> {
        Ok(db
            .terminal_follow_ups("am-li", day(d))?
            .iter()
            .map(|f| f.action)
            .collect())
    };
    set_clock(&db, "2026-11-30T18:00:00+08:00")?;
    assert_eq!(follow_ups("2026-11-30")?, [FollowUpAction::MonthlyGuidance]);
    set_clock(&db, "2026-12-02T09:00:00+08:00")?;
    db.update_store_classification(
        &store,
        StoreClassification {
            functional_terminal: Some(false),
            rating: Some(None),
            ..StoreClassification::default()
        },
    )?;
    assert_eq!(
        follow_ups("2026-12-02")?,
        [],
        "December: no longer a terminal"
    );
    assert_eq!(
        follow_ups("2026-11-30")?,
        [FollowUpAction::MonthlyGuidance],
        "November is judged on November's rating, which the store had then"
    );
    // A store of schema 13 derived no rating in any period of a store whose rating was
    // cleared: schema 14 derives its periods again when it opens.
    drop(db);
    let path = dir.path().join("a.db");
    rusqlite::Connection::open(&path)?.execute_batch(
        "UPDATE store_period SET rating = NULL, rating_at = NULL; DROP TABLE photo_blocked; DROP TABLE photo_docs; PRAGMA user_version = 13;",
    )?;
    let db = device(&path, "am-li", at("2026-12-02T09:00:00+08:00"))?.0;
    let novembers: Vec<FollowUpAction> = db
        .terminal_follow_ups("am-li", day("2026-11-30"))?
        .iter()
        .map(|f| f.action)
        .collect();
    assert_eq!(novembers, [FollowUpAction::MonthlyGuidance]);
    Ok(())
}

/// A shelf display of `store` checked with `missing` products lacking their price tag.
fn display_missing(db: &LocalStore, store: &DocId, missing: usize) -> Result<DocId> {
    let display = db.create_shelf_display(store)?;
    db.record_display_check(
        &display,
        &DisplayCheck {
            products: (0..missing)
                .map(|n| ProductOnDisplay {
                    sku: format!("69010280{n:02}"),
                    name: format!("Product {n}"),
                    price_tag: false,
                })
                .collect(),
            ..DisplayCheck::default()
        },
    )?;
    Ok(display)
}

// R2 in a past month's report (`r2_price_tag_violations`: "displays that broke R2 at the
// end of `--day` (a past month: its last day), read as they were then", ADR 0030; ADR
// 0034: "A past month reads the store as it was then"; ADR 0029: a past month's report
// gives the same figures "whether it runs before or after a store moves"). The display and
// its store's territory are both read as they were: a store moved to Wu in December leaves
// November's violation in Li's November row, and Wu, who held no store then, has none.
#[test]
fn a_novembers_price_tag_violation_stays_with_the_manager_who_held_the_store_in_november()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = li(&dir, "2026-10-01T09:00:00+08:00")?;
    let store = db.create_store(sample_store("am-li", 1))?;
    set_clock(&db, "2026-11-20T10:00:00+08:00")?;
    display_missing(&db, &store, 4)?;
    let breaches = |manager: &str| -> Result<usize> {
        let mut memo = PriceTagsOverTime::default();
        Ok(db.price_tag_breaches_at(manager, &[end_of_november()], &mut memo)?[0])
    };
    assert_eq!(breaches("am-li")?, 1);
    set_clock(&db, "2026-12-02T09:00:00+08:00")?;
    db.reassign_store(&store, "am-wu")?;
    assert_eq!(
        (breaches("am-li")?, breaches("am-wu")?),
        (1, 0),
        "November's violation was in Li's territory; Wu held no store then"
    );
    Ok(())
}

// R3 in the console's "violations over time" (ADR 0021: "R3: inventory counts at
// functional terminals finished in the month over 10% error"), a past month as ADR 0034
// decided for R3 ("the counts of stores that were the manager's ... and functional
// terminals when the count was finished"). The chart (`period_events`) and `admin report`
// (`count_findings_finished_in`) read the terminal as it was when the count was finished:
// once it is declassified in December, both keep November's count over the limit.
#[test]
fn novembers_count_over_the_limit_stays_in_novembers_violations_after_the_terminal_is_declassified()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = li(&dir, "2026-10-01T09:00:00+08:00")?;
    let store = db.create_store(NewStore {
        functional_terminal: true,
        ..sample_store("am-li", 1)
    })?;
    set_clock(&db, "2026-11-20T10:00:00+08:00")?;
    db.record_inventory_count(
        NewInventoryCount {
            store_id: store.clone(),
            lines: vec![NewCountLine {
                sku: "6901028001".into(),
                name: "Zhonghua".into(),
                book: 100,
            }],
        },
        &[("6901028001".into(), 80)],
        true,
    )?;
    let (from, to) = november();
    assert_eq!(db.period_events("am-li", from, to)?.counts_over_limit, 1);
    set_clock(&db, "2026-12-02T09:00:00+08:00")?;
    db.update_store_classification(
        &store,
        StoreClassification {
            functional_terminal: Some(false),
            ..StoreClassification::default()
        },
    )?;
    assert_eq!(
        db.count_findings_finished_in("am-li", from, to)?.len(),
        1,
        "the report keeps November's finding"
    );
    assert_eq!(
        db.period_events("am-li", from, to)?.counts_over_limit,
        1,
        "the chart's November bar keeps it too"
    );
    Ok(())
}

/// One change by another client on top of `history`: each `(key, value)` put at the root
/// as a plain string, committed at `when` with the message of `user`.
fn client_change(
    history: &[Vec<u8>],
    puts: &[(String, String)],
    user: &str,
    when: Timestamp,
) -> Result<Vec<u8>> {
    let mut doc = AutoCommit::new();
    let changes = history
        .iter()
        .map(|c| automerge::Change::try_from(c.as_slice()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid("change", e.to_string()))?;
    doc.apply_changes(changes)?;
    doc.set_actor(ActorId::random());
    for (key, value) in puts {
        doc.put(ROOT, key.as_str(), ScalarValue::Str(value.as_str().into()))?;
    }
    let message = format!(r#"{{"by":"{user}","what":"price tags"}}"#);
    doc.commit_with(
        CommitOptions::default()
            .with_time(when.0)
            .with_message(message),
    );
    Ok(doc
        .get_last_local_change()
        .ok_or_else(|| Error::invalid("change", "none made"))?
        .raw_bytes()
        .to_vec())
}

// R5's daily check of a past day (ADR 0034: "R5's daily check of a day: ... where the
// manager's latest check of a store is later than the day, the display's history ...
// decides whether one fell on the day"). The protocol does not ask a check to write the
// mark (protocol.md, shelf_display: `checked.<user>` is optional), and the server accepts a
// check that only writes `product.<sku>` entries. A check is any entry its checker stamped
// on the day, both in the display's index (today's reading) and in its history (a past
// day's, once a later check hid it from the index): 30 November reads as checked before
// and after the manager checks the store again on 1 December.
#[test]
fn a_demo_street_store_checked_on_a_day_by_a_client_that_writes_no_mark_stays_checked_for_that_day_after_a_later_check()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = li(&dir, "2026-10-01T09:00:00+08:00")?;
    let store = db.create_store(NewStore {
        demo_street: true,
        ..sample_store("am-li", 1)
    })?;
    set_clock(&db, "2026-11-20T10:00:00+08:00")?;
    let display = display_missing(&db, &store, 1)?;
    // Monday 30 November: Li's check from another client: the product's tag is back.
    let history = db.export_changes(&display, &[])?;
    let monday = at("2026-11-30T10:00:00+08:00");
    let puts = vec![(
        "product.6901028000".to_owned(),
        format!(
            r#"{{"v":true,"name":"Product 0","by":"am-li","at":{}}}"#,
            monday.0
        ),
    )];
    let change = client_change(&history, &puts, "am-li", monday)?;
    let mut server = Replica::empty(&display);
    let pusher = Pusher {
        user: "am-li",
        received_at: monday.0,
    };
    let parse = |c: &[Vec<u8>]| {
        c.iter()
            .map(|x| IncomingChange::parse(x))
            .collect::<Result<Vec<_>>>()
    };
    assert!(server.apply(&parse(&history)?, &pusher)?.is_ok());
    let accepted = server.apply(&parse(std::slice::from_ref(&change))?, &pusher)?;
    assert!(accepted.is_ok(), "the server accepts it: {accepted:?}");
    db.merge_changes(&display, &[change])?;
    set_clock(&db, "2026-11-30T18:00:00+08:00")?;
    assert_eq!(
        db.demo_street_unchecked("am-li", day("2026-11-30"))?,
        [],
        "checked on 30 November"
    );
    // Tuesday 1 December: Li checks it again on the phone.
    set_clock(&db, "2026-12-01T10:00:00+08:00")?;
    db.mark_display_standard(
        &display,
        fieldsync_core::DisplayStandard::TidyCounter,
        fieldsync_core::Verdict::Pass,
        "",
    )?;
    assert_eq!(
        db.demo_street_unchecked("am-li", day("2026-11-30"))?,
        [],
        "30 November stays checked after the check of 1 December"
    );
    Ok(())
}
