//! An account manager's first sync against a server holding other territories: the pass
//! reads the documents of its territory's stores and its own scorecards (drawn by index, not
//! by scanning the district: `feed::scope_ids`), each once, and nothing of another
//! territory, however the pages fall.
//!
//! Shown to catch what it guards, once, in a scratch edit (reverted): without the
//! scorecards' branch of the account manager's pass, the new phone lacked its scorecard.

use std::collections::BTreeSet;

use fieldsync_core::fixtures::{device, routine_visit, sample_store};
use fieldsync_core::{LocalStore, NewScorecard, Role, ScoreWeights, Timestamp};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::routes::Instances;
use fieldsync_tests::{Backend, on_sqlite_and_postgres};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Pulls pages of `max_bytes` until the feed says no more (at most 400): every document
/// sent, in the order sent.
async fn first_sync(
    server: &Instances,
    token: &str,
    phone: &LocalStore,
    max_bytes: u64,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut sent = Vec::new();
    for _ in 0..400 {
        let page = server.pull_page(token, phone, max_bytes).await?;
        sent.extend(page.changes.iter().map(|d| d.doc.clone()));
        if !page.more {
            return Ok(sent);
        }
    }
    Err("the feed did not end in 400 pages".into())
}

async fn an_account_managers_first_sync_holds_its_territory_and_scorecards_and_nothing_else_on(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "territory_pass", Limits::default())?;
    for (id, role) in [
        ("am-li", Role::AccountManager),
        ("am-zhao", Role::AccountManager),
        ("sup-wang", Role::Supervisor),
    ] {
        let name = id.to_owned();
        server.storage.add_user(
            &User {
                id: id.into(),
                role,
                name,
            },
            0,
        )?;
    }
    let admin = AdminDevice::open_with_clock(
        dir.path(),
        server.storage.as_ref(),
        fieldsync_core::fixtures::office_clock(),
    )?;
    let mut stores = Vec::new();
    for n in 0..6 {
        // Alternate territories, so that their documents' ids interleave.
        let manager = if n % 2 == 0 { "am-li" } else { "am-zhao" };
        stores.push((manager, admin.local.create_store(sample_store(manager, n))?));
    }
    admin.push()?;

    let now = Timestamp::now();
    let mut expected: BTreeSet<String> = stores
        .iter()
        .filter(|(m, _)| *m == "am-li")
        .map(|(_, s)| s.to_string())
        .collect();
    for manager in ["am-li", "am-zhao"] {
        let token = server.enroll(manager).await?;
        let (phone, _) = device(dir.path().join(format!("{manager}.db")), manager, now)?;
        server.sync_phone(&token, &phone).await?;
        for (_, store) in stores.iter().filter(|(m, _)| *m == manager) {
            for _ in 0..3 {
                let visit = phone.create_visit(routine_visit(store, now))?;
                if manager == "am-li" {
                    expected.insert(visit.to_string());
                }
            }
        }
        server.sync_phone(&token, &phone).await?;
    }
    let token = server.enroll("sup-wang").await?;
    let (supervisor, _) = device(dir.path().join("sup.db"), "sup-wang", now)?;
    server.sync_phone(&token, &supervisor).await?;
    for manager in ["am-li", "am-zhao"] {
        let scorecard = supervisor.create_scorecard(NewScorecard {
            manager: manager.into(),
            month: "2026-11".into(),
            weights: ScoreWeights::default(),
        })?;
        if manager == "am-li" {
            expected.insert(scorecard.to_string());
        }
    }
    server.sync_phone(&token, &supervisor).await?;

    // Pages of one or two documents, then one page for all.
    for (name, max_bytes) in [("small", 600), ("large", 1 << 20)] {
        let token = server.enroll("am-li").await?;
        let (phone, _) = device(dir.path().join(format!("li-{name}.db")), "am-li", now)?;
        let sent = first_sync(&server, &token, &phone, max_bytes).await?;
        let once: BTreeSet<String> = sent.iter().cloned().collect();
        assert_eq!(once.len(), sent.len(), "each document once ({name} pages)");
        assert_eq!(
            once, expected,
            "the territory's stores and visits and its scorecard ({name} pages)"
        );
    }
    Ok(())
}

on_sqlite_and_postgres!(
    an_account_managers_first_sync_holds_its_territory_and_scorecards_and_nothing_else_on:
    an_account_managers_first_sync_against_a_district_holds_its_territory_and_scorecards_and_nothing_else,
    an_account_managers_first_sync_against_a_district_holds_its_territory_and_scorecards_and_nothing_else_on_postgres
);
