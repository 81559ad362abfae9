//! A new phone's first sync sends what the phone needs to be used first (every store, shelf
//! display, task and complaint of its scope, and this week's visits and counts), says when
//! that part is whole, then sends the history; interrupted anywhere, it resumes and ends
//! with every document (docs/protocol.md, "A first sync").
//!
//! The phones' clocks decide when a visit or a count happened: the "old" phone works 40
//! days before today (real time: the server splits by its own clock), the "recent" one today.

use std::collections::{BTreeMap, BTreeSet};

use fieldsync_core::fixtures::{device, routine_visit, sample_count, sample_store};
use fieldsync_core::protocol::{FeedCursor, Part, SyncResponse};
use fieldsync_core::{DocKind, LocalStore, Role, SyncPhase, SyncProgress, Timestamp};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::client_device::ClientDevice;
use fieldsync_tests::in_process::InProcessServer;
use fieldsync_tests::routes::Instances;
use fieldsync_tests::{Backend, on_sqlite_and_postgres};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY_MS: i64 = 86_400_000;
const KINDS: [DocKind; 4] = [
    DocKind::Store,
    DocKind::ShelfDisplay,
    DocKind::Visit,
    DocKind::InventoryCount,
];

/// A territory of `am-li` on a server: 4 stores with their displays, a visit and a count
/// in each store 40 days ago and another pair today. Returns the server, the ids of the
/// documents first use needs, those of the history, and a phone holding all of them.
struct Territory {
    server: Instances,
    needed: BTreeSet<String>,
    history: BTreeSet<String>,
    old: LocalStore,
    old_token: String,
    dir: tempfile::TempDir,
}

impl Territory {
    async fn new(backend: Backend) -> Result<Territory, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let server = Instances::open(backend, dir.path(), "first_order", Limits::default())?;
        for (id, role) in [
            ("am-li", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ] {
            let user = User {
                id: id.into(),
                role,
                name: id.into(),
            };
            server.storage.add_user(&user, 0)?;
        }
        let admin = AdminDevice::open_with_clock(
            dir.path(),
            server.storage.as_ref(),
            fieldsync_core::fixtures::office_clock(),
        )?;
        let stores = (0..4)
            .map(|n| admin.local.create_store(sample_store("am-li", n)))
            .collect::<Result<Vec<_>, _>>()?;
        admin.push()?;
        let mut needed: BTreeSet<String> = stores.iter().map(ToString::to_string).collect();
        let mut history = BTreeSet::new();

        let now = Timestamp::now();
        let then = Timestamp(now.0 - 40 * DAY_MS);
        let token = server.enroll("am-li").await?;
        let (old, clock) = device(dir.path().join("old.db"), "am-li", then)?;
        server.sync_phone(&token, &old).await?;
        for store in &stores {
            needed.insert(old.create_shelf_display(store)?.to_string());
            history.insert(old.create_visit(routine_visit(store, then))?.to_string());
            history.insert(
                old.create_inventory_count(sample_count(store, 30))?
                    .to_string(),
            );
        }
        server.sync_phone(&token, &old).await?;
        clock.set(now);
        for store in &stores {
            needed.insert(old.create_visit(routine_visit(store, now))?.to_string());
            needed.insert(
                old.create_inventory_count(sample_count(store, 30))?
                    .to_string(),
            );
        }
        server.sync_phone(&token, &old).await?;
        Ok(Territory {
            server,
            needed,
            history,
            old,
            old_token: token,
            dir,
        })
    }

    /// A new phone of `am-li`, enrolled: its token and its store.
    async fn new_phone(
        &self,
        name: &str,
    ) -> Result<(String, LocalStore), Box<dyn std::error::Error>> {
        let token = self.server.enroll("am-li").await?;
        let path = self.dir.path().join(format!("{name}.db"));
        let (phone, _) = device(path, "am-li", Timestamp::now())?;
        Ok((token, phone))
    }
}

/// Every document of the territory's kinds a phone holds, with its sorted heads.
fn holdings(
    phone: &LocalStore,
) -> Result<BTreeMap<String, Vec<String>>, Box<dyn std::error::Error>> {
    let mut held = BTreeMap::new();
    for kind in KINDS {
        for id in phone.document_ids(kind)? {
            let mut heads = phone.heads(&id)?;
            heads.sort();
            held.insert(id.to_string(), heads);
        }
    }
    Ok(held)
}

/// Pulls pages of `max_bytes` until the feed says no more (at most 400): the pages.
async fn pull_all(
    territory: &Territory,
    token: &str,
    phone: &LocalStore,
    max_bytes: u64,
) -> Result<Vec<SyncResponse>, Box<dyn std::error::Error>> {
    let mut pages = Vec::new();
    for _ in 0..400 {
        let page = territory.server.pull_page(token, phone, max_bytes).await?;
        let more = page.more;
        pages.push(page);
        if !more {
            return Ok(pages);
        }
    }
    Err("the feed did not end in 400 pages".into())
}

async fn a_first_sync_sends_every_document_first_use_needs_before_any_history_and_says_when_on(
    backend: Backend,
) -> TestResult {
    let territory = Territory::new(backend).await?;
    let (token, phone) = territory.new_phone("new").await?;
    let pages = pull_all(&territory, &token, &phone, 2_000).await?;

    let order: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.changes.iter().map(|d| d.doc.as_str()))
        .collect();
    let last_needed = order
        .iter()
        .rposition(|d| territory.needed.contains(*d))
        .ok_or("no needed document arrived")?;
    let first_history = order
        .iter()
        .position(|d| territory.history.contains(*d))
        .ok_or("no history arrived")?;
    assert!(
        last_needed < first_history,
        "every needed document ({last_needed}) comes before the history ({first_history})"
    );
    let flagged: Vec<usize> = (0..pages.len())
        .filter(|&n| pages.get(n).is_some_and(|p| p.first_use))
        .collect();
    assert_eq!(flagged.len(), 1, "one response says first use is ready");
    let ready = flagged[0];
    let arrived_by = |page: usize| -> BTreeSet<&str> {
        pages
            .iter()
            .take(page + 1)
            .flat_map(|p| p.changes.iter().map(|d| d.doc.as_str()))
            .collect()
    };
    let by_ready = arrived_by(ready);
    assert!(
        territory
            .needed
            .iter()
            .all(|d| by_ready.contains(d.as_str())),
        "every needed document arrived by the response that says so"
    );
    let before_ready = if ready == 0 {
        BTreeSet::new()
    } else {
        arrived_by(ready - 1)
    };
    assert!(
        !territory
            .needed
            .iter()
            .all(|d| before_ready.contains(d.as_str())),
        "the flag comes with the response that completes the needed part, not later"
    );
    assert!(
        pages.len() > ready + 1,
        "with small pages the history follows in pages of its own"
    );
    assert_eq!(
        holdings(&phone)?,
        holdings(&territory.old)?,
        "the new phone ends with every document"
    );
    Ok(())
}

on_sqlite_and_postgres!(
    a_first_sync_sends_every_document_first_use_needs_before_any_history_and_says_when_on:
    a_first_sync_sends_every_document_first_use_needs_before_any_history_and_says_when,
    a_first_sync_sends_every_document_first_use_needs_before_any_history_and_says_when_on_postgres
);

async fn a_first_sync_interrupted_in_its_history_resumes_with_what_changed_meanwhile_on(
    backend: Backend,
) -> TestResult {
    let territory = Territory::new(backend).await?;
    let (token, phone) = territory.new_phone("new").await?;
    // Small pages until the history has begun.
    for _ in 0..100 {
        territory.server.pull_page(&token, &phone, 1_500).await?;
        let cursor = phone.sync_cursor()?.unwrap_or_default();
        if let Ok(FeedCursor::Ordered {
            part: Part::History,
            after,
            ..
        }) = FeedCursor::parse(Some(&cursor))
            && !after.is_empty()
        {
            break;
        }
    }
    let cursor = phone.sync_cursor()?.unwrap_or_default();
    assert!(
        cursor.starts_with('r'),
        "stopped inside the history: `{cursor}`"
    );

    // Meanwhile the old phone adds a note to every visit, old and new, and records one more.
    for id in territory.old.document_ids(DocKind::Visit)? {
        territory.old.append_visit_notes(&id, " seen again")?;
    }
    let store = territory
        .old
        .document_ids(DocKind::Store)?
        .into_iter()
        .next()
        .ok_or("no store")?;
    let late = territory
        .old
        .create_visit(routine_visit(&store, Timestamp::now()))?;
    territory
        .server
        .sync_phone(&territory.old_token, &territory.old)
        .await?;

    pull_all(&territory, &token, &phone, 1_500).await?;
    assert!(
        phone.visit(&late).is_ok(),
        "the visit made meanwhile arrived"
    );
    assert_eq!(
        holdings(&phone)?,
        holdings(&territory.old)?,
        "every change made meanwhile arrived"
    );
    let cursor = phone.sync_cursor()?.unwrap_or_default();
    assert!(
        matches!(FeedCursor::parse(Some(&cursor)), Ok(FeedCursor::Log(_))),
        "the pass ended in the log: `{cursor}`"
    );
    Ok(())
}

on_sqlite_and_postgres!(
    a_first_sync_interrupted_in_its_history_resumes_with_what_changed_meanwhile_on:
    a_first_sync_interrupted_in_its_history_resumes_with_what_changed_meanwhile,
    a_first_sync_interrupted_in_its_history_resumes_with_what_changed_meanwhile_on_postgres
);

async fn a_cursor_of_the_pass_by_id_that_older_servers_gave_still_ends_with_every_document_on(
    backend: Backend,
) -> TestResult {
    let territory = Territory::new(backend).await?;
    let (token, phone) = territory.new_phone("new").await?;
    // Where the old phone's feed stands is the end of the log; `0` sorts before every id.
    let (old_token, watcher) = territory.new_phone("watcher").await?;
    pull_all(&territory, &old_token, &watcher, 4 << 20).await?;
    let end = watcher.sync_cursor()?.unwrap_or_default();
    phone.set_sync_cursor(&format!("d{end}:0"))?;
    let pages = pull_all(&territory, &token, &phone, 2_000).await?;
    assert!(
        pages.iter().all(|p| !p.first_use),
        "a pass by id has no first-use part"
    );
    assert_eq!(holdings(&phone)?, holdings(&territory.old)?);
    Ok(())
}

on_sqlite_and_postgres!(
    a_cursor_of_the_pass_by_id_that_older_servers_gave_still_ends_with_every_document_on:
    a_cursor_of_the_pass_by_id_that_older_servers_gave_still_ends_with_every_document,
    a_cursor_of_the_pass_by_id_that_older_servers_gave_still_ends_with_every_document_on_postgres
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reports_first_use_ready_once_the_phone_holds_every_needed_document()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let server = InProcessServer::start(&dir.path().join("server"), None).await?;
    server.add_user("am-li", Role::AccountManager)?;
    let stores = {
        let admin = server.admin()?;
        let stores = (0..4)
            .map(|n| admin.local.create_store(sample_store("am-li", n)))
            .collect::<Result<Vec<_>, _>>()?;
        admin.push()?;
        stores
    };
    let now = Timestamp::now();
    let then = Timestamp(now.0 - 40 * DAY_MS);
    let old = ClientDevice::enroll(
        &server,
        dir.path(),
        "am-li",
        Role::AccountManager,
        "old",
        then,
    )
    .await?;
    old.sync().await?;
    let mut needed: BTreeSet<String> = stores.iter().map(ToString::to_string).collect();
    for store in &stores {
        needed.insert(old.local.create_shelf_display(store)?.to_string());
        for _ in 0..3 {
            old.local.create_visit(routine_visit(store, then))?;
        }
    }
    old.sync().await?;
    old.clock.set(now);
    for store in &stores {
        needed.insert(
            old.local
                .create_visit(routine_visit(store, now))?
                .to_string(),
        );
    }
    old.sync().await?;

    let new = ClientDevice::enroll(
        &server,
        dir.path(),
        "am-li",
        Role::AccountManager,
        "new",
        now,
    )
    .await?
    .with_limits(2_000, 1_000)?;
    let local = new.local.clone();
    let at_ready: std::sync::Mutex<Option<(BTreeSet<String>, bool)>> = Default::default();
    new.sync_reporting(&|p: SyncProgress| {
        let mut slot = at_ready.lock().unwrap_or_else(|e| e.into_inner());
        if p.first_use_ready && slot.is_none() {
            let held = KINDS
                .iter()
                .flat_map(|k| local.document_ids(*k).unwrap_or_default())
                .map(|id| id.to_string())
                .collect();
            *slot = Some((held, p.phase == SyncPhase::Done));
        }
    })
    .await?;
    let (held, at_end) = at_ready
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .ok_or("first use was never reported ready")?;
    assert!(
        needed.iter().all(|d| held.contains(d)),
        "when ready, the phone holds every needed document"
    );
    assert!(!at_end, "ready is reported before the sync ends");
    let total = KINDS
        .iter()
        .map(|k| new.local.document_ids(*k).map(|ids| ids.len()))
        .sum::<Result<usize, _>>()?;
    assert!(
        held.len() < total,
        "ready came before the history ({} of {total} held)",
        held.len()
    );
    Ok(())
}
