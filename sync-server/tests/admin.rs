//! The admin tools through the library: store import (bad rows, re-import), reassignment
//! as the phones' feeds see it, and the demo district. The compliance report is `report.rs`.

#[path = "support/district.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod district;

use std::collections::BTreeSet;
use std::sync::Arc;

use district::{District, Fallible, HEADER, TestResult};
use fieldsync_core::fixtures::{ManualClock, at};
use fieldsync_core::{DisplayStandard, DocKind, LocalStore, Role, Verdict};
use fieldsync_server::admin::import::{BadRow, ImportReport, import_stores};
use fieldsync_server::admin::{AdminDevice, enrollment_code};
use fieldsync_server::demo::{self, Seeded};
use fieldsync_server::error::AppError;
use fieldsync_server::storage::SyncStorage;
use fieldsync_server::{AppState, Limits, SqliteStorage, app};

fn bad_cells(report: &ImportReport) -> Vec<(u64, Option<&str>)> {
    report
        .bad
        .iter()
        .map(|b: &BadRow| (b.line, b.column.as_deref()))
        .collect()
}

/// A file with two good rows (one with a quoted address over two lines) and bad ones.
fn mixed_file() -> String {
    [
        // BOM, as spreadsheet programs write it.
        format!("\u{feff}{HEADER}"),
        // line 2: good
        "330102100001,惠民便利店,王建国,13800000001,延安路1号,30.2590,120.1640,B,C,2,B,120,0,0,,am-li".into(),
        // line 3: a phone that is not one
        "330102100002,Store 2,Owner,12ab,Road 2,30.26,120.16,B,C,2,B,120,0,0,,am-li".into(),
        // line 4: a latitude and a format that cannot be read
        "330102100003,Store 3,Owner,,Road 3,north,120.16,W,C,2,B,120,0,0,,am-li".into(),
        // line 5: a supervisor is not a territory
        "330102100004,Store 4,Owner,,Road 4,30.26,120.16,B,C,2,B,120,0,0,,sup-wang".into(),
        // line 6: the licence of line 2 again
        "330102100001,Store 1 again,Owner,,Road 1,30.26,120.16,B,C,2,B,120,0,0,,am-wu".into(),
        // lines 7-8: good, lower-case codes, an address over two lines
        "330102100005,金叶烟酒,Owner,,\"Road 5\nUnit 2\",30.26,120.17,y,c,1,a,400,yes,1,good,am-wu"
            .into(),
        // line 9: a rating on a store that is not a functional terminal (core refuses it)
        "330102100006,Store 6,Owner,,Road 6,30.26,120.16,B,C,2,B,120,0,0,excellent,am-li".into(),
        // line 10: a field short
        "330102100007,Store 7,Owner,,Road 7,30.26,120.16,B,C,2,B,120,0,0,am-li".into(),
        // line 11: a negative volume (core refuses it)
        "330102100008,Store 8,Owner,,Road 8,30.26,120.16,B,C,2,B,-5,0,0,,am-li".into(),
    ]
    .join("\n")
}

#[test]
fn an_import_keeps_the_good_rows_and_reports_each_bad_row_with_its_line_and_column() -> TestResult {
    let district = District::new()?;
    let report = district.import(&mixed_file())?;
    assert_eq!(report.imported, 2, "{report}");
    assert_eq!(
        bad_cells(&report),
        vec![
            (3, Some("phone")),
            (4, Some("lat")),
            (4, Some("format")),
            (5, Some("territory")),
            (6, Some("licence")),
            (9, Some("rating")),
            (10, None),
            (11, Some("monthly_volume")),
        ],
        "{report}"
    );
    assert_eq!(report.bad_lines(), 7);
    let printed = report.to_string();
    assert!(
        printed.contains("line 6, column `licence`: licence `330102100001` is on line 2 already"),
        "{printed}"
    );
    assert!(
        printed.contains("line 5, column `territory`: `sup-wang` is not an account manager"),
        "{printed}"
    );

    assert_eq!(
        district.stored(DocKind::Store)?,
        2,
        "nothing of a bad row reaches the server"
    );
    assert_eq!(
        district.stored(DocKind::ShelfDisplay)?,
        2,
        "each store comes with its shelf display"
    );
    let admin = district.admin()?;
    let id = admin.find_store("330102100005")?;
    let store = admin.local.store(&id)?;
    assert_eq!(store.address, "Road 5\nUnit 2");
    assert_eq!(
        (store.code(), store.demo_street, store.territory.as_str()),
        ("CY1".to_owned(), true, "am-wu")
    );
    Ok(())
}

#[test]
fn a_header_that_lacks_a_column_refuses_the_whole_file() -> TestResult {
    let district = District::new()?;
    let header = HEADER.replace(",tier", "");
    let err = district
        .import(&format!(
            "{header}\n330102100001,S,O,,A,30.2,120.1,B,C,2,120,0,0,,am-li"
        ))
        .expect_err("refused");
    assert!(err.to_string().contains("lacks `tier`"), "{err}");
    assert_eq!(district.stored(DocKind::Store)?, 0);
    Ok(())
}

#[test]
fn importing_the_same_file_again_creates_nothing_and_lists_its_rows_as_existing() -> TestResult {
    let district = District::new()?;
    let file = mixed_file();
    let first = district.import(&file)?;
    let again = district.import(&file)?;
    assert_eq!(again.imported, 0, "{again}");
    assert_eq!(
        again
            .existing
            .iter()
            .map(|e| (e.line, e.differs.is_empty()))
            .collect::<Vec<_>>(),
        vec![(2, true), (7, true)],
        "{again}"
    );
    assert_eq!(
        bad_cells(&again),
        bad_cells(&first),
        "bad rows stay bad, and are reported again"
    );
    assert_eq!(district.stored(DocKind::Store)?, 2);
    assert_eq!(district.stored(DocKind::ShelfDisplay)?, 2);

    // A changed row is not applied: it is listed with the columns that differ.
    let changed = file.replace("13800000001", "13900000009");
    let third = district.import(&changed)?;
    let listed = third.existing.first().map(|e| (e.line, e.differs.clone()));
    assert_eq!(listed, Some((2, vec!["phone"])));
    assert!(
        third
            .to_string()
            .contains("differs in `phone` (not updated)")
    );
    assert_eq!(district.stored(DocKind::Store)?, 2);
    Ok(())
}

#[test]
fn an_admin_device_whose_database_was_lost_still_finds_the_stores_it_imported() -> TestResult {
    let district = District::new()?;
    let file = mixed_file();
    district.import(&file)?;
    // A phone updates a display, so the server holds changes that build on the admin's.
    let phone = district.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    district.sync(&phone)?;
    let store = phone
        .local
        .store_by_licence("330102100001")?
        .ok_or("the phone has the store")?;
    phone.local.mark_display_standard(
        &LocalStore::shelf_display_id(&store),
        DisplayStandard::TidyCounter,
        Verdict::Pass,
        "",
    )?;
    district.sync(&phone)?;

    for name in [
        "admin-device.db",
        "admin-device.db-wal",
        "admin-device.db-shm",
    ] {
        let path = district.dir.join(name);
        if path.exists() {
            std::fs::remove_file(path)?;
        }
    }
    let again = district.import(&file)?;
    assert_eq!(
        (again.imported, again.existing.len()),
        (0, 2),
        "the new admin database learns the old one's stores from the server: {again}"
    );
    assert_eq!(district.stored(DocKind::Store)?, 2);
    Ok(())
}

#[test]
fn reassigning_a_store_by_licence_moves_it_with_its_display_from_one_feed_to_the_other()
-> TestResult {
    let district = District::new()?;
    district.import(&mixed_file())?;
    let li = district.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let wu = district.phone("am-wu", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    district.sync(&li)?;
    district.sync(&wu)?;
    let store = li
        .local
        .store_by_licence("330102100001")?
        .ok_or("am-li has the store")?;
    let display = LocalStore::shelf_display_id(&store);
    assert!(wu.local.store(&store).is_err());

    let admin = district.admin()?;
    let err = admin
        .reassign("330102100001", "sup-wang")
        .expect_err("a supervisor holds no territory");
    assert!(matches!(err, AppError::BadRequest(_)), "{err}");
    let err = admin.reassign("999", "am-wu").expect_err("no such store");
    assert!(matches!(err, AppError::NotFound(_)), "{err}");
    let said = admin.reassign("330102100001", "am-wu")?;
    assert!(said.contains("from `am-li` to `am-wu`"), "{said}");
    drop(admin);

    let to_wu = district.sync(&wu)?;
    assert_eq!(wu.local.store(&store)?.territory, "am-wu");
    assert!(
        wu.local.shelf_display(&display).is_ok(),
        "the display moves too"
    );
    assert!(to_wu.removed.is_empty());
    let to_li = district.sync(&li)?;
    assert_eq!(
        to_li.removed.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([store.to_string(), display.to_string()]),
        "the old manager is told both are gone"
    );

    let again = district.admin()?.reassign(store.as_str(), "am-wu")?;
    assert!(
        again.contains("already"),
        "by document id, and idempotent: {again}"
    );
    Ok(())
}

#[tokio::test]
async fn the_demo_district_has_about_a_thousand_stores_codes_that_enroll_and_seeds_only_once()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = Arc::new(SqliteStorage::open(&dir.path().join("fieldsync.db"))?);
    let Seeded::New(district) = demo::seed(dir.path(), storage.as_ref())? else {
        return Err("an empty database is seeded".into());
    };
    let stores = storage
        .documents()?
        .iter()
        .filter(|(_, kind)| kind == "store")
        .count();
    assert_eq!(stores, demo::DEMO_STORES as usize);
    assert_eq!(district.import.imported, stores);
    assert!(
        dir.path().join(demo::DEMO_CSV).exists(),
        "the file is there to read"
    );
    let roles: std::collections::HashSet<Role> =
        district.users.iter().map(|(u, _)| u.role).collect();
    assert_eq!(roles.len(), 3, "account managers, market team, supervisor");

    let instructions = Seeded::New(district).instructions("127.0.0.1:7878".parse()?);
    assert!(instructions.contains("curl -s -X POST http://127.0.0.1:7878/v1/enroll"));
    // The printed code of am-li enrolls a device.
    let code = instructions
        .lines()
        .find(|l| l.trim_start().starts_with("am-li "))
        .and_then(|l| l.split("code ").nth(1))
        .ok_or("am-li's code is printed")?
        .trim()
        .to_owned();
    let router = app(AppState {
        storage: storage.clone(),
        limits: Limits::default(),
        metrics: None,
    });
    use tower::ServiceExt;
    let response = router
        .oneshot(
            axum::http::Request::post("/v1/enroll")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    serde_json::json!({"code": code, "device_name": "demo phone"}).to_string(),
                ))?,
        )
        .await?;
    assert_eq!(response.status(), axum::http::StatusCode::OK);

    match demo::seed(dir.path(), storage.as_ref())? {
        Seeded::Existing { users } => assert_eq!(users, 6),
        Seeded::New(_) => return Err("a second start seeds again".into()),
    }
    assert_eq!(
        storage
            .documents()?
            .iter()
            .filter(|(_, kind)| kind == "store")
            .count(),
        stores
    );
    // A code for a demo user can still be made the usual way.
    enrollment_code(storage.as_ref(), "am-li", 0)?;
    Ok(())
}

#[test]
fn a_store_reassigned_by_the_admin_cli_while_the_server_runs_stays_reassigned() -> TestResult {
    let district = District::new()?;
    // Each admin command is a process of its own: a fresh storage on the same database.
    // The office works on the district's time: the import before the phones start, the
    // move after Li's edit.
    let office = ManualClock::starting_at(at("2026-11-22T09:00:00+08:00"));
    let admin_command = |command: &dyn Fn(&AdminDevice<'_>) -> Fallible<()>| -> TestResult {
        let cli = SqliteStorage::open(&district.dir.join("fieldsync.db"))?;
        command(&AdminDevice::open_with_clock(
            &district.dir,
            &cli,
            office.clock(),
        )?)
    };
    admin_command(&|admin| {
        import_stores(admin, mixed_file().as_bytes())?;
        Ok(())
    })?;
    let li = district.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let wu = district.phone("am-wu", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    district.sync(&li)?;
    district.sync(&wu)?;
    let store = li
        .local
        .store_by_licence("330102100001")?
        .ok_or("am-li has the store")?;
    let contact = |phone: &str| fieldsync_core::StoreContact {
        phone: Some(phone.into()),
        ..Default::default()
    };
    // The server stores (and caches) an edit of the store by its manager.
    li.local
        .update_store_contact(&store, contact("13800000002"))?;
    district.sync(&li)?;

    office.set(at("2026-11-23T12:00:00+08:00"));
    admin_command(&|admin| {
        admin.reassign("330102100001", "am-wu")?;
        Ok(())
    })?;
    li.clock.set(at("2026-11-23T13:00:00+08:00"));
    wu.clock.set(at("2026-11-23T13:00:00+08:00"));
    // Li, offline since the move, edits the phone number again and syncs.
    li.local
        .update_store_contact(&store, contact("13800000003"))?;
    district.sync(&li)?;

    district.sync(&wu)?;
    assert_eq!(wu.local.store(&store)?.territory, "am-wu");
    wu.local
        .update_store_contact(&store, contact("13800000004"))?;
    district.sync(&wu)?;
    let to_li = district.sync(&li)?;
    assert!(
        !to_li.changes.iter().any(|d| d.doc == store.as_str()),
        "the old manager no longer receives the store's changes"
    );
    let back_to_wu = {
        let admin_storage = SqliteStorage::open(&district.dir.join("fieldsync.db"))?;
        let admin = AdminDevice::open_with_clock(&district.dir, &admin_storage, office.clock())?;
        admin.pull()?;
        admin.local.store(&store)?.territory
    };
    assert_eq!(back_to_wu, "am-wu");
    Ok(())
}

#[test]
fn an_import_with_a_datum_column_keeps_each_rows_datum_and_refuses_an_unknown_one() -> TestResult {
    let district = District::new()?;
    let report = district.import(
        &[
            format!("{HEADER},datum"),
            // line 2: picked on an Amap map
            "S1,S1,O,,A,39.90245,116.42703,B,C,2,B,100,0,0,,am-li,gcj02".into(),
            // line 3: empty is WGS-84
            "S2,S2,O,,A,39.90105,116.42079,B,C,2,B,100,0,0,,am-li,".into(),
            // line 4: Baidu's BD-09 is not supported
            "S3,S3,O,,A,39.90,116.42,B,C,2,B,100,0,0,,am-li,bd09".into(),
        ]
        .join("\n"),
    )?;
    assert_eq!(report.imported, 2, "{report}");
    assert_eq!(bad_cells(&report), vec![(4, Some("datum"))], "{report}");
    let admin = district.admin()?;
    let datum = |licence: &str| -> Fallible<fieldsync_core::Datum> {
        Ok(admin
            .local
            .store(&admin.find_store(licence)?)?
            .location
            .datum)
    };
    assert_eq!(datum("S1")?, fieldsync_core::Datum::Gcj02);
    assert_eq!(datum("S2")?, fieldsync_core::Datum::Wgs84);
    Ok(())
}
