//! A week in the field on a real server: five devices edit offline, the same records
//! concurrently, and sync in a different order every day; at the end every device and the
//! server hold identical documents and no edit is missing.
//!
//! The district (seeded with the admin CLI: `add-user`, `import-stores`): `am-li`'s
//! territory holds a demo-street functional terminal (store 1, whose shelf display everyone
//! touches), a functional terminal (store 2, where the week's count is) and a plain store;
//! `am-zhao`'s a demo-street store and a plain one. Devices: `am-li`'s phone and tablet,
//! `am-zhao`'s phone, the market team's phone (`mkt-chen`, demo street only) and the
//! supervisor's phone (`sup-wang`, everything).
//!
//! On Tuesday, after Monday's syncs, the same things are edited concurrently: the tidy
//! counter standard of store 1's display by `am-li`, the market team and the supervisor
//! (three verdicts); one count line by `am-li` and the supervisor (two quantities); the
//! notes of `am-li`'s Monday visit on his phone and on his tablet (only the visitor writes
//! notes). The market phone stays offline from Wednesday to Friday with an edit pending.
//!
//! [`fieldsync_tests::end_state::check_converged`] then compares every device with the
//! server (scope, heads, typed values, every recorded edit in every history, receipts,
//! each change stored and logged once), and the concurrent values must all be visible
//! through `Versions::all()` and the merged notes.
//!
//! Shown to catch a lost edit: the test ends by making one more edit on `am-li`'s phone
//! that is never synced, and the same check must then report it missing on the server and
//! on the other devices, the phone's receipt not on the server, and different heads.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Instant;

use fieldsync_core::fixtures::at;
use fieldsync_core::{
    CheckPoint, DisplayCheck, DisplayStandard, DocId, LocalStore, NewCountLine, NewInventoryCount,
    NewVisit, ProductOnDisplay, Role, Timestamp, Verdict, VisitKind,
};
use fieldsync_tests::Backend;
use fieldsync_tests::device::Device;
use fieldsync_tests::district::{District, StoreRow};
use fieldsync_tests::end_state::{Converged, Ledger, check_converged};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T08:30:00+08:00";
const DAY_MS: i64 = 24 * 3_600_000;

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Syncs each device in turn; a failure names the device.
async fn sync_in_order(devices: &[&Device]) -> TestResult {
    for device in devices {
        device
            .sync()
            .await
            .map_err(|e| format!("{} failed to sync: {e}", device.name))?;
    }
    Ok(())
}

/// Every device's clock to 08:30 on day `day` (0 = Monday).
fn morning(devices: &[&Device], day: i64) {
    for device in devices {
        device.clock().set(Timestamp(at(MONDAY).0 + day * DAY_MS));
    }
}

/// Moves one device's clock on by `minutes` (edits of one device get increasing times).
fn later(device: &Device, minutes: i64) {
    device.clock().advance_minutes(minutes);
}

fn visit_at(store: &DocId, device: &Device) -> NewVisit {
    NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: device.clock().now(),
            gps: None,
        },
        complaint_id: None,
    }
}

fn mark(
    standard: DisplayStandard,
    verdict: Verdict,
    note: &'static str,
) -> impl FnOnce(&LocalStore, &DocId) -> fieldsync_core::Result<()> {
    move |local, id| local.mark_display_standard(id, standard, verdict, note)
}

fn assert_converged(district: &District, devices: &[&Device], ledger: &Ledger) -> Converged {
    match check_converged(&district.database(), devices, ledger) {
        Ok(converged) => converged,
        Err(problems) => panic!(
            "{} problems after the week:\n{}",
            problems.len(),
            problems.join("\n")
        ),
    }
}

async fn a_field_week_of_concurrent_offline_edits_synced_in_varying_orders_converges_with_no_edit_lost_on(
    backend: Backend,
) -> TestResult {
    let started = Instant::now();
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("am-zhao", Role::AccountManager),
            ("mkt-chen", Role::MarketTeam),
            ("sup-wang", Role::Supervisor),
        ],
        &[
            StoreRow::new(1, "am-li").demo().terminal(),
            StoreRow::new(2, "am-li").terminal(),
            StoreRow::new(3, "am-li"),
            StoreRow::new(4, "am-zhao").demo(),
            StoreRow::new(5, "am-zhao"),
        ],
    )?;
    let monday = at(MONDAY);
    let li = district.enroll("am-li", "li-phone", monday).await?;
    let tablet = district.enroll("am-li", "li-tablet", monday).await?;
    let zhao = district.enroll("am-zhao", "zhao-phone", monday).await?;
    let chen = district.enroll("mkt-chen", "chen-phone", monday).await?;
    let wang = district.enroll("sup-wang", "wang-phone", monday).await?;
    let all = [&li, &tablet, &zhao, &chen, &wang];
    sync_in_order(&all).await?;

    let demo_li = li.store_numbered(1)?;
    let terminal_li = li.store_numbered(2)?;
    let plain_li = li.store_numbered(3)?;
    let demo_zhao = zhao.store_numbered(4)?;
    let plain_zhao = zhao.store_numbered(5)?;
    let shared_display = LocalStore::shelf_display_id(&demo_li);
    let zhao_display = LocalStore::shelf_display_id(&demo_zhao);
    let mut ledger = Ledger::default();

    // Monday: first visits, a count started, both demo displays checked.
    morning(&all, 0);
    let monday_visit = ledger.create(&li, "li's Monday visit", |l| {
        l.create_visit(visit_at(&demo_li, &li))
    })?;
    later(&li, 5);
    ledger.edit(&li, &shared_display, "li: price-tag box pass", |l| {
        mark(DisplayStandard::PriceTagBox, Verdict::Pass, "box in place")(l, &shared_display)
    })?;
    later(&li, 60);
    let count = ledger.create(&li, "li starts the count", |l| {
        l.create_inventory_count(NewInventoryCount {
            store_id: terminal_li.clone(),
            lines: ["sku-a", "sku-b", "sku-c"]
                .iter()
                .zip([50, 30, 20])
                .map(|(sku, book)| NewCountLine {
                    sku: (*sku).into(),
                    name: format!("product {sku}"),
                    book,
                })
                .collect(),
        })
    })?;
    later(&li, 5);
    ledger.edit(&li, &count, "li counts sku-a", |l| {
        l.set_counted(&count, "sku-a", 48)
    })?;
    let zhao_visit = ledger.create(&zhao, "zhao's Monday visit", |l| {
        l.create_visit(visit_at(&plain_zhao, &zhao))
    })?;
    later(&zhao, 10);
    ledger.edit(&zhao, &zhao_visit, "zhao: notes", |l| {
        l.set_visit_notes(&zhao_visit, "restocked the carton shelf. ")
    })?;
    later(&zhao, 60);
    ledger.edit(&zhao, &zhao_display, "zhao: products on display", |l| {
        l.record_display_check(
            &zhao_display,
            &DisplayCheck {
                products: vec![
                    ProductOnDisplay {
                        sku: "sku-a".into(),
                        name: "product sku-a".into(),
                        price_tag: true,
                    },
                    ProductOnDisplay {
                        sku: "sku-b".into(),
                        name: "product sku-b".into(),
                        price_tag: false,
                    },
                ],
                ..DisplayCheck::default()
            },
        )
    })?;
    later(&chen, 120);
    ledger.edit(&chen, &zhao_display, "chen: unified display pass", |l| {
        mark(
            DisplayStandard::UnifiedDisplay,
            Verdict::Pass,
            "walkthrough",
        )(l, &zhao_display)
    })?;
    sync_in_order(&[&li, &zhao, &chen, &tablet, &wang]).await?;

    // Tuesday: the same standard, the same count line and the same visit's notes, each
    // edited on several devices that have not seen each other's edit.
    morning(&all, 1);
    ledger.edit(&li, &shared_display, "li: tidy counter pass", |l| {
        mark(DisplayStandard::TidyCounter, Verdict::Pass, "counter tidy")(l, &shared_display)
    })?;
    ledger.edit(&chen, &shared_display, "chen: tidy counter fail", |l| {
        mark(
            DisplayStandard::TidyCounter,
            Verdict::Fail,
            "cartons stacked on the counter",
        )(l, &shared_display)
    })?;
    later(&chen, 3);
    ledger.edit(
        &chen,
        &shared_display,
        "chen: bright storefront pass",
        |l| {
            mark(
                DisplayStandard::BrightStorefront,
                Verdict::Pass,
                "new lightbox",
            )(l, &shared_display)
        },
    )?;
    ledger.edit(&wang, &shared_display, "wang: tidy counter n/a", |l| {
        mark(
            DisplayStandard::TidyCounter,
            Verdict::NotApplicable,
            "counter being refitted",
        )(l, &shared_display)
    })?;
    later(&li, 20);
    ledger.edit(&li, &count, "li counts sku-b as 29", |l| {
        l.set_counted(&count, "sku-b", 29)
    })?;
    later(&wang, 20);
    ledger.edit(&wang, &count, "wang counts sku-b as 31", |l| {
        l.set_counted(&count, "sku-b", 31)
    })?;
    later(&li, 20);
    ledger.edit(&li, &monday_visit, "li's phone: notes", |l| {
        l.append_visit_notes(&monday_visit, "phone: owner asks for slim packs. ")
    })?;
    later(&tablet, 30);
    ledger.edit(&tablet, &monday_visit, "li's tablet: notes", |l| {
        l.append_visit_notes(&monday_visit, "tablet: price-tag box replaced. ")
    })?;
    ledger.edit(&zhao, &zhao_visit, "zhao: more notes", |l| {
        l.append_visit_notes(&zhao_visit, "owner wants a new lightbox. ")
    })?;
    sync_in_order(&[&wang, &chen, &tablet, &zhao, &li]).await?;

    // Wednesday: the market phone goes offline until Friday with an edit pending.
    morning(&all, 2);
    ledger.edit(&chen, &shared_display, "chen: pack display pass", |l| {
        mark(DisplayStandard::PackDisplay, Verdict::Pass, "packs faced")(l, &shared_display)
    })?;
    ledger.edit(&wang, &zhao_visit, "wang comments on zhao's visit", |l| {
        l.comment_on_visit(&zhao_visit, "good notes, follow the lightbox up")
    })?;
    later(&li, 15);
    ledger.edit(&li, &monday_visit, "li checks out", |l| {
        l.check_out_visit(
            &monday_visit,
            CheckPoint {
                at: li.clock().now(),
                gps: None,
            },
        )
    })?;
    later(&li, 5);
    ledger.edit(&li, &count, "li counts sku-c", |l| {
        l.set_counted(&count, "sku-c", 20)
    })?;
    ledger.edit(&zhao, &zhao_display, "zhao: sku-b tagged now", |l| {
        l.record_display_check(
            &zhao_display,
            &DisplayCheck {
                products: vec![ProductOnDisplay {
                    sku: "sku-b".into(),
                    name: "product sku-b".into(),
                    price_tag: true,
                }],
                ..DisplayCheck::default()
            },
        )
    })?;
    let tablet_visit = ledger.create(&tablet, "li's visit from the tablet", |l| {
        l.create_visit(visit_at(&plain_li, &tablet))
    })?;
    later(&tablet, 10);
    ledger.edit(&tablet, &tablet_visit, "tablet: notes", |l| {
        l.set_visit_notes(&tablet_visit, "quiet day, no stock issues")
    })?;
    sync_in_order(&[&zhao, &li, &wang, &tablet]).await?;

    // Thursday.
    morning(&all, 3);
    ledger.edit(&li, &monday_visit, "li links the display", |l| {
        l.link_visit(&monday_visit, Some(&shared_display), None)
    })?;
    ledger.edit(&tablet, &tablet_visit, "tablet: photo", |l| {
        l.add_visit_photo(
            &tablet_visit,
            &format!("sha256:{}", "ab".repeat(32)),
            "shelf",
        )
    })?;
    ledger.edit(&wang, &monday_visit, "wang comments on li's visit", |l| {
        l.comment_on_visit(&monday_visit, "checked the counter myself")
    })?;
    later(&zhao, 45);
    ledger.edit(&zhao, &zhao_visit, "zhao checks out", |l| {
        l.check_out_visit(
            &zhao_visit,
            CheckPoint {
                at: zhao.clock().now(),
                gps: None,
            },
        )
    })?;
    sync_in_order(&[&tablet, &wang, &li, &zhao]).await?;

    // Friday: the market phone is back; everyone syncs, then once more to pull the rest.
    morning(&all, 4);
    ledger.edit(&chen, &zhao_display, "chen: carton display pass", |l| {
        mark(
            DisplayStandard::CartonDisplay,
            Verdict::Pass,
            "cartons faced",
        )(l, &zhao_display)
    })?;
    ledger.edit(&li, &monday_visit, "li's phone: Friday notes", |l| {
        l.append_visit_notes(&monday_visit, "phone: follow-up on Friday. ")
    })?;
    sync_in_order(&[&chen, &li, &tablet, &zhao, &wang]).await?;
    sync_in_order(&[&wang, &zhao, &tablet, &li, &chen]).await?;

    let converged = assert_converged(&district, &all, &ledger);

    // The concurrent values, as every device that holds them shows them.
    for device in [&li, &tablet, &chen, &wang] {
        let display = device.local().shelf_display(&shared_display)?;
        let tidy = display
            .standard(DisplayStandard::TidyCounter)
            .ok_or("no tidy counter verdict")?;
        let verdicts: BTreeSet<(String, &str)> = tidy
            .all()
            .map(|w| (w.by.clone(), w.value.verdict.code()))
            .collect();
        assert_eq!(
            verdicts,
            BTreeSet::from([
                ("am-li".to_owned(), Verdict::Pass.code()),
                ("mkt-chen".to_owned(), Verdict::Fail.code()),
                ("sup-wang".to_owned(), Verdict::NotApplicable.code()),
            ]),
            "{}: the three concurrent verdicts on the tidy counter",
            device.name
        );
        assert!(tidy.is_conflict());
    }
    for device in [&li, &tablet, &wang] {
        let counted = device.local().inventory_count(&count)?;
        let line = counted
            .lines
            .iter()
            .find(|l| l.sku == "sku-b")
            .and_then(|l| l.counted.as_ref())
            .ok_or("sku-b was never counted")?;
        let values: BTreeSet<(String, i64)> = line.all().map(|w| (w.by.clone(), w.value)).collect();
        assert_eq!(
            values,
            BTreeSet::from([("am-li".to_owned(), 29), ("sup-wang".to_owned(), 31)]),
            "{}: both concurrent counts of sku-b",
            device.name
        );
        let visit = device.local().visit(&monday_visit)?;
        for part in [
            "phone: owner asks for slim packs. ",
            "tablet: price-tag box replaced. ",
            "phone: follow-up on Friday. ",
        ] {
            assert!(
                visit.notes.contains(part),
                "{}: notes `{}` lack `{part}`",
                device.name,
                visit.notes
            );
        }
        assert_eq!(visit.comments.len(), 1, "{}", device.name);
    }
    for device in [&zhao, &wang] {
        let visit = device.local().visit(&zhao_visit)?;
        assert_eq!(
            visit.notes,
            "restocked the carton shelf. owner wants a new lightbox. "
        );
        assert_eq!(visit.comments.len(), 1);
    }
    report(&format!(
        "field week: {} edits on 5 devices, {} documents, {} device copies compared, {} changes stored, {:.1} s",
        converged.edits,
        converged.documents,
        converged.copies,
        converged.stored_changes,
        started.elapsed().as_secs_f64()
    ));

    // The check can fail: one more edit that is never synced is reported lost.
    ledger.edit(&li, &monday_visit, "a note never synced", |l| {
        l.append_visit_notes(&monday_visit, "never synced. ")
    })?;
    let problems = check_converged(&district.database(), &all, &ledger)
        .expect_err("an edit that never left the phone must be reported");
    let text = problems.join("\n");
    for expected in [
        "server: acknowledged change",
        "li-tablet: lacks `a note never synced` by li-phone",
        "wang-phone: lacks `a note never synced` by li-phone",
        "li-phone: 1 documents wait for the server",
        "SavedOnPhone, not on the server",
        "has heads",
    ] {
        assert!(text.contains(expected), "`{expected}` not in:\n{text}");
    }
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(a_field_week_of_concurrent_offline_edits_synced_in_varying_orders_converges_with_no_edit_lost_on: a_field_week_of_concurrent_offline_edits_synced_in_varying_orders_converges_with_no_edit_lost, a_field_week_of_concurrent_offline_edits_synced_in_varying_orders_converges_with_no_edit_lost_on_postgres);
