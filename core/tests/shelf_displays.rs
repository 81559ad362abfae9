//! Shelf displays: checks, price tags (R2), concurrent verdicts, and the shelf's history.

use fieldsync_core::fixtures::{at, device, exchange, sample_store};
use fieldsync_core::{
    DisplayCheck, DisplayStandard, LocalStore, ProductOnDisplay, Result, StandardCheck, Verdict,
};

fn products(tagged: usize, missing: usize) -> Vec<ProductOnDisplay> {
    (0..tagged + missing)
        .map(|i| ProductOnDisplay {
            sku: format!("sku-{i:03}"),
            name: format!("Brand {i}"),
            price_tag: i >= missing,
        })
        .collect()
}

#[test]
fn a_full_check_records_every_standard_and_the_missing_tags() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let display = db.create_shelf_display(&store)?;
    let standards = DisplayStandard::ALL
        .into_iter()
        .map(|standard| StandardCheck {
            standard,
            verdict: if standard == DisplayStandard::TidyCounter {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            note: String::new(),
            photos: vec![],
        })
        .collect();
    db.record_display_check(
        &display,
        &DisplayCheck {
            standards,
            products: products(10, 3),
            ..Default::default()
        },
    )?;
    let shelf = db.shelf_display(&display)?;
    assert_eq!(
        shelf.standards.iter().filter(|(_, v)| v.is_some()).count(),
        8
    );
    assert_eq!(shelf.failed_standards(), vec![DisplayStandard::TidyCounter]);
    assert_eq!(
        shelf.missing_price_tags(),
        vec!["sku-000", "sku-001", "sku-002"]
    );
    assert!(
        !shelf.violates_price_tag_rule(),
        "3 missing tags are allowed"
    );
    Ok(())
}

#[test]
fn three_missing_price_tags_pass_and_four_break_r2() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let three = db.create_store(sample_store("am-li", 1))?;
    let four = db.create_store(sample_store("am-li", 2))?;
    for (store, missing) in [(&three, 3), (&four, 4)] {
        let display = db.create_shelf_display(store)?;
        db.record_display_check(
            &display,
            &DisplayCheck {
                products: products(6, missing),
                ..Default::default()
            },
        )?;
    }
    let findings = db.stores_missing_price_tags("am-li")?;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!((&findings[0].store_id, findings[0].missing), (&four, 4));
    // Fixing one tag brings the store back within the rule.
    let display = LocalStore::shelf_display_id(&four);
    let fixed = ProductOnDisplay {
        sku: "sku-000".into(),
        name: "Brand 0".into(),
        price_tag: true,
    };
    db.record_display_check(
        &display,
        &DisplayCheck {
            products: vec![fixed],
            ..Default::default()
        },
    )?;
    assert!(db.stores_missing_price_tags("am-li")?.is_empty());
    Ok(())
}

#[test]
fn two_concurrent_verdicts_on_one_standard_both_survive_as_a_conflict() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (am, am_clock) = device(
        dir.path().join("am.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (market, market_clock) = device(
        dir.path().join("mk.db"),
        "mk-zhao",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = am.create_store(sample_store("am-li", 1))?;
    let display = am.create_shelf_display(&store)?;
    exchange(&am, &market)?;

    am_clock.set(at("2026-11-23T10:00:00+08:00"));
    am.mark_display_standard(
        &display,
        DisplayStandard::TidyCounter,
        Verdict::Pass,
        "fine",
    )?;
    market_clock.set(at("2026-11-23T10:05:00+08:00"));
    market.mark_display_standard(
        &display,
        DisplayStandard::TidyCounter,
        Verdict::Fail,
        "cartons on the counter",
    )?;
    exchange(&am, &market)?;
    exchange(&market, &am)?;

    let seen_by_am = am.shelf_display(&display)?;
    let seen_by_market = market.shelf_display(&display)?;
    assert_eq!(
        seen_by_am, seen_by_market,
        "both devices show the same merge"
    );
    let verdicts = seen_by_am
        .standard(DisplayStandard::TidyCounter)
        .expect("checked");
    assert!(verdicts.is_conflict());
    let mut all: Vec<(String, Verdict, String)> = verdicts
        .all()
        .map(|w| (w.by.clone(), w.value.verdict, w.value.note.clone()))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        all,
        vec![
            ("am-li".into(), Verdict::Pass, "fine".into()),
            (
                "mk-zhao".into(),
                Verdict::Fail,
                "cartons on the counter".into()
            )
        ]
    );
    // A later verdict by anyone who has seen both resolves the conflict.
    am.mark_display_standard(
        &display,
        DisplayStandard::TidyCounter,
        Verdict::Fail,
        "agreed",
    )?;
    assert!(
        !am.shelf_display(&display)?
            .standard(DisplayStandard::TidyCounter)
            .expect("checked")
            .is_conflict()
    );
    Ok(())
}

#[test]
fn two_phones_starting_a_stores_display_offline_start_the_same_document() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (am, _) = device(
        dir.path().join("am.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (market, _) = device(
        dir.path().join("mk.db"),
        "mk-zhao",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = am.create_store(sample_store("am-li", 1))?;
    exchange(&am, &market)?;
    let a = am.create_shelf_display(&store)?;
    let b = market.create_shelf_display(&store)?;
    assert_eq!(a, b);
    am.mark_display_standard(&a, DisplayStandard::PriceTagBox, Verdict::Pass, "")?;
    market.mark_display_standard(
        &b,
        DisplayStandard::BrightStorefront,
        Verdict::Fail,
        "sign broken",
    )?;
    exchange(&am, &market)?;
    exchange(&market, &am)?;
    let shelf = am.shelf_display(&a)?;
    assert!(shelf.standard(DisplayStandard::PriceTagBox).is_some());
    assert!(shelf.standard(DisplayStandard::BrightStorefront).is_some());
    assert_eq!(shelf, market.shelf_display(&b)?);
    Ok(())
}

#[test]
fn the_history_shows_the_shelf_as_it_was_on_a_past_date_and_who_changed_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-02T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let display = db.create_shelf_display(&store)?;
    db.mark_display_standard(
        &display,
        DisplayStandard::UnifiedDisplay,
        Verdict::Fail,
        "mixed brands",
    )?;
    clock.set(at("2026-11-20T09:00:00+08:00"));
    db.mark_display_standard(
        &display,
        DisplayStandard::UnifiedDisplay,
        Verdict::Pass,
        "rearranged",
    )?;

    let on_the_10th = db.shelf_display_as_of(&display, at("2026-11-10T23:59:59+08:00"))?;
    let then = on_the_10th
        .standard(DisplayStandard::UnifiedDisplay)
        .expect("checked by then");
    assert_eq!(
        (then.value().verdict, then.value().note.as_str()),
        (Verdict::Fail, "mixed brands")
    );
    let now = db.shelf_display(&display)?;
    assert_eq!(
        now.standard(DisplayStandard::UnifiedDisplay)
            .map(|v| v.value().verdict),
        Some(Verdict::Pass)
    );
    let before_creation = db.shelf_display_as_of(&display, at("2026-11-01T00:00:00+08:00"));
    assert!(
        before_creation.is_err()
            || before_creation.is_ok_and(|s| s.standards.iter().all(|(_, v)| v.is_none()))
    );

    let history = db.history(&display)?;
    let whats: Vec<&str> = history.iter().map(|h| h.what.as_str()).collect();
    assert_eq!(
        whats,
        vec![
            "create shelf_display",
            "check: unified_display fail",
            "check: unified_display pass"
        ]
    );
    assert!(history.iter().all(|h| h.by == "am-li"));
    Ok(())
}

#[test]
fn a_check_naming_a_product_twice_is_refused_and_nothing_is_written() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let display = db.create_shelf_display(&store)?;
    let heads = db.heads(&display)?;
    let mut twice = products(2, 0);
    twice.push(twice[0].clone());
    let err = db
        .record_display_check(
            &display,
            &DisplayCheck {
                products: twice,
                ..Default::default()
            },
        )
        .expect_err("must refuse");
    assert_eq!(
        err.to_string(),
        "invalid `products`: `sku-000` is listed twice"
    );
    assert_eq!(db.heads(&display)?, heads);
    assert!(
        db.create_shelf_display(&store).is_err(),
        "one display per store"
    );
    Ok(())
}

fn products_only(products: Vec<ProductOnDisplay>) -> DisplayCheck {
    DisplayCheck {
        products,
        ..Default::default()
    }
}

#[test]
fn a_check_writes_only_the_products_it_changes_and_their_stamps_say_who_changed_them() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let (am, am_clock) = device(
        dir.path().join("am.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (mk, mk_clock) = device(
        dir.path().join("mk.db"),
        "mk-zhao",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = am.create_store(sample_store("am-li", 1))?;
    let display = am.create_shelf_display(&store)?;
    // sku-000 missing, sku-001 and sku-002 tagged.
    am.record_display_check(&display, &products_only(products(2, 1)))?;
    exchange(&am, &mk)?;
    mk_clock.set(at("2026-11-30T10:00:00+08:00"));
    // A week later: sku-000 still missing, sku-001 lost its tag, sku-002 as it was.
    let mut seen = products(2, 1);
    seen[1].price_tag = false;
    let before = mk.history(&display)?.len();
    mk.record_display_check(&display, &products_only(seen))?;
    let shelf = mk.shelf_display(&display)?;
    let stamp = |sku: &str| {
        let p = shelf
            .products
            .iter()
            .find(|p| p.sku == sku)
            .expect("on display");
        (p.price_tag.current.by.clone(), p.price_tag.current.at)
    };
    let monday = at("2026-11-23T09:00:00+08:00");
    assert_eq!(
        stamp("sku-000"),
        ("am-li".to_owned(), monday),
        "missing since Monday"
    );
    assert_eq!(
        stamp("sku-001"),
        ("mk-zhao".to_owned(), at("2026-11-30T10:00:00+08:00"))
    );
    assert_eq!(stamp("sku-002"), ("am-li".to_owned(), monday));
    assert_eq!(shelf.missing_price_tags(), vec!["sku-000", "sku-001"]);
    // Each checker's latest check leaves its mark, whatever it changed (R5's daily check).
    let marks: Vec<(&str, fieldsync_core::Timestamp)> = shelf
        .confirmed
        .iter()
        .map(|w| (w.by.as_str(), w.at))
        .collect();
    assert_eq!(
        marks,
        vec![
            ("am-li", monday),
            ("mk-zhao", at("2026-11-30T10:00:00+08:00"))
        ]
    );
    // The check is one change in the history, and its description names every product.
    let history = mk.history(&display)?;
    assert_eq!(history.len(), before + 1);
    let last = history.last().expect("a change");
    assert!(last.what.contains("sku-002 tag present"), "{}", last.what);
    am_clock.set(at("2026-11-30T11:00:00+08:00"));
    exchange(&mk, &am)?;
    assert_eq!(am.shelf_display(&display)?, shelf);
    Ok(())
}

#[test]
fn a_check_that_finds_every_product_as_it_was_still_counts_as_a_check_of_the_day() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let demo = db.create_store(fieldsync_core::NewStore {
        demo_street: true,
        ..sample_store("am-li", 1)
    })?;
    let display = db.create_shelf_display(&demo)?;
    db.record_display_check(&display, &products_only(products(3, 1)))?;
    clock.set(at("2026-11-24T09:30:00+08:00"));
    let tuesday = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("a date");
    assert_eq!(db.demo_street_unchecked("am-li", tuesday)?.len(), 1);
    let heads = db.heads(&display)?;
    db.record_display_check(&display, &products_only(products(3, 1)))?;
    assert_ne!(db.heads(&display)?, heads, "the check is recorded");
    assert!(
        db.demo_street_unchecked("am-li", tuesday)?.is_empty(),
        "Tuesday's check is seen although it changed nothing"
    );
    let shelf = db.shelf_display(&display)?;
    let confirmed: Vec<(String, fieldsync_core::Timestamp)> = shelf
        .confirmed
        .iter()
        .map(|w| (w.by.clone(), w.at))
        .collect();
    assert_eq!(
        confirmed,
        vec![("am-li".to_owned(), at("2026-11-24T09:30:00+08:00"))]
    );
    // An empty check is no check: nothing is written.
    let heads = db.heads(&display)?;
    db.record_display_check(&display, &DisplayCheck::default())?;
    assert_eq!(db.heads(&display)?, heads);
    Ok(())
}

#[test]
fn a_product_in_conflict_is_written_by_the_next_check_even_with_the_winning_value() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (a, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (b, _) = device(
        dir.path().join("b.db"),
        "mk-zhao",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = a.create_store(sample_store("am-li", 1))?;
    let display = a.create_shelf_display(&store)?;
    exchange(&a, &b)?;
    let tagged = |tag: bool| {
        products_only(vec![ProductOnDisplay {
            sku: "sku-000".into(),
            name: "Brand 0".into(),
            price_tag: tag,
        }])
    };
    a.record_display_check(&display, &tagged(true))?;
    b.record_display_check(&display, &tagged(false))?;
    exchange(&a, &b)?;
    exchange(&b, &a)?;
    let winner = *a.shelf_display(&display)?.products[0].price_tag.value();
    assert!(
        a.shelf_display(&display)?.products[0]
            .price_tag
            .is_conflict()
    );
    a.record_display_check(&display, &tagged(winner))?;
    let settled = a.shelf_display(&display)?;
    assert!(!settled.products[0].price_tag.is_conflict());
    assert_eq!(settled.products[0].price_tag.current.by, "am-li");
    Ok(())
}
