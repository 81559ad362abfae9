//! A new phone stores its first sync's visits, counts and shelf displays as their changes
//! came, with the index rows the server derived when it accepted them, and builds each
//! document the first time something reads it (docs/protocol.md, "Index rows on a first
//! sync"; ADR 0035). What it ends with must be exactly what a phone that builds every
//! document holds: the same index rows, conflicts and heads, the same documents read, and
//! its edits of a document it never built reach the others.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use fieldsync_core::fixtures::{device, routine_visit, sample_count, sample_store};
use fieldsync_core::protocol::{self, SyncRequest, SyncResponse};
use fieldsync_core::{
    DisplayStandard, DocId, DocKind, FEED_INDEX_VERSION, Role, Timestamp, Verdict,
};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::district::{District, StoreRow};
use fieldsync_tests::routes::{Instances, outbox_request};
use fieldsync_tests::{Backend, on_sqlite_and_postgres};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY_MS: i64 = 86_400_000;

/// Every row of the phone's index tables and of what it records per document, sorted, one
/// string a row: what two phones holding the same documents must hold alike.
fn index_rows(path: &std::path::Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let queries = [
        "SELECT 'doc', id, kind, store_id, hex(heads) FROM documents",
        "SELECT 'visit', * FROM visit_index",
        "SELECT 'count', * FROM count_index",
        "SELECT 'display', * FROM display_index",
        "SELECT 'check', * FROM display_check_index",
        "SELECT 'conflict', * FROM conflict_index",
        "SELECT 'server_heads', doc_id, hex(server_heads) FROM outbox",
    ];
    let mut rows = Vec::new();
    for sql in queries {
        let mut stmt = conn.prepare(sql)?;
        let columns = stmt.column_count();
        let mut query = stmt.query([])?;
        while let Some(row) = query.next()? {
            let cells = (0..columns)
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        other => format!("{other:?}"),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    Ok(rows)
}

/// How many documents the phone stores unbuilt: changes as they came, no snapshot.
fn unbuilt(path: &std::path::Path) -> Result<i64, Box<dyn std::error::Error>> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row(
        "SELECT count(*) FROM documents WHERE snapshot IS NULL AND kind IN ('visit', 'inventory_count', 'shelf_display')",
        [],
        |r| r.get(0),
    )?)
}

async fn a_new_phone_stores_from_the_servers_rows_what_building_every_document_stores(
    backend: Backend,
) -> TestResult {
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ],
        &[StoreRow::new(1, "am-li"), StoreRow::new(2, "am-li")],
    )?;
    let now = Timestamp::now().0;
    let li = district
        .enroll("am-li", "li", Timestamp(now - 40 * DAY_MS))
        .await?;
    let tablet = district
        .enroll("am-li", "tablet", Timestamp(now - 40 * DAY_MS))
        .await?;
    li.sync().await?;
    let stores = li.local().document_ids(DocKind::Store)?;
    let displays = li.local().document_ids(DocKind::ShelfDisplay)?;
    assert_eq!(
        (stores.len(), displays.len()),
        (2, 2),
        "li's two stores, each with its display"
    );
    let mut counts = Vec::new();
    for days in [40, 3, 0] {
        let at = Timestamp(now - days * DAY_MS);
        li.clock().set(at);
        for store in &stores {
            li.local().create_visit(routine_visit(store, at))?;
            counts.push(li.local().create_inventory_count(sample_count(store, 5))?);
        }
        for display in &displays {
            li.local().mark_display_standard(
                display,
                DisplayStandard::PriceTags,
                Verdict::Fail,
                "faded",
            )?;
        }
        li.sync().await?;
    }
    // Two phones count one line and check one display apart: conflicts the rows must carry.
    tablet.clock().set(Timestamp(now));
    tablet.sync().await?;
    let count = counts.last().ok_or("a count")?;
    tablet.local().set_counted(count, "sku-001", 7)?;
    tablet.local().mark_display_standard(
        &displays[0],
        DisplayStandard::PriceTags,
        Verdict::Pass,
        "",
    )?;
    li.local().set_counted(count, "sku-001", 9)?;
    li.local().mark_display_standard(
        &displays[0],
        DisplayStandard::PriceTags,
        Verdict::Fail,
        "torn",
    )?;
    tablet.sync().await?;
    li.sync().await?;

    let fast = district.enroll("am-li", "fast", Timestamp(now)).await?;
    let mut built = district.enroll("am-li", "built", Timestamp(now)).await?;
    built.configure(|c| c.server_index_rows = false)?;
    fast.sync().await?;
    built.sync().await?;
    let documents = 2 * 3 * 2 + 2;
    assert_eq!(
        unbuilt(fast.path())?,
        documents,
        "every visit, count and display came with its rows and was stored unbuilt"
    );
    assert_eq!(
        unbuilt(built.path())?,
        0,
        "the phone that asked for no rows built them all"
    );
    let rows = index_rows(fast.path())?;
    assert!(
        rows.iter().any(|r| r.starts_with("conflict|")),
        "the counted line in conflict is listed: {rows:#?}"
    );
    assert_eq!(
        rows,
        index_rows(built.path())?,
        "the same rows as building every document"
    );

    // Read and edited without ever having been built, they are what the builder holds.
    assert_eq!(
        fast.local().inventory_count(count)?,
        built.local().inventory_count(count)?
    );
    assert_eq!(
        fast.local().shelf_display(&displays[0])?,
        built.local().shelf_display(&displays[0])?
    );
    let visits: BTreeSet<DocId> = fast
        .local()
        .document_ids(DocKind::Visit)?
        .into_iter()
        .collect();
    for visit in &visits {
        assert_eq!(fast.local().visit(visit)?, built.local().visit(visit)?);
    }
    fast.local().set_counted(count, "sku-001", 8)?;
    fast.sync().await?;
    built.sync().await?;
    li.sync().await?;
    let line = |c: fieldsync_core::InventoryCount| {
        c.lines
            .iter()
            .find(|l| l.sku == "sku-001")
            .and_then(|l| l.counted.as_ref().map(|v| v.current.value))
    };
    assert_eq!(line(built.local().inventory_count(count)?), Some(8));
    assert_eq!(line(li.local().inventory_count(count)?), Some(8));
    assert_eq!(fast.local().heads(count)?, li.local().heads(count)?);
    Ok(())
}

on_sqlite_and_postgres!(
    a_new_phone_stores_from_the_servers_rows_what_building_every_document_stores:
    a_new_phone_stores_from_the_servers_rows_what_building_every_document_stores_on_sqlite,
    a_new_phone_stores_from_the_servers_rows_what_building_every_document_stores_on_postgres
);

/// A pull from `cursor` of at most `max_bytes`, asking for index rows or not.
fn pull(cursor: Option<String>, max_bytes: u64, index: bool) -> SyncRequest {
    SyncRequest {
        max_response_bytes: Some(max_bytes),
        index_version: index.then_some(FEED_INDEX_VERSION),
        ..outbox_request(&[], cursor)
    }
}

async fn pulled(
    server: &Instances,
    token: &str,
    request: &SyncRequest,
) -> Result<SyncResponse, Box<dyn std::error::Error>> {
    let (status, _, body) = server.sync(token, request).await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    Ok(protocol::decode("sync response", &body)?)
}

async fn index_rows_go_only_to_a_first_sync_that_asks_and_only_with_every_change_of_a_document(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "index_rows", Limits::default())?;
    let user = User {
        id: "am-li".into(),
        role: Role::AccountManager,
        name: "am-li".into(),
    };
    server.storage.add_user(&user, 0)?;
    let admin = AdminDevice::open_with_clock(
        dir.path(),
        server.storage.as_ref(),
        fieldsync_core::fixtures::office_clock(),
    )?;
    let stores = (0..2)
        .map(|n| admin.local.create_store(sample_store("am-li", n)))
        .collect::<Result<Vec<_>, _>>()?;
    admin.push()?;
    let token = server.enroll("am-li").await?;
    let (li, _) = device(dir.path().join("li.db"), "am-li", Timestamp::now())?;
    server.sync_phone(&token, &li).await?;
    let mut with_rows = BTreeSet::new();
    for store in &stores {
        with_rows.insert(li.create_shelf_display(store)?.to_string());
        for _ in 0..6 {
            with_rows.insert(
                li.create_visit(routine_visit(store, Timestamp::now()))?
                    .to_string(),
            );
            with_rows.insert(
                li.create_inventory_count(sample_count(store, 5))?
                    .to_string(),
            );
        }
    }
    server.sync_phone(&token, &li).await?;
    let new = server.enroll("am-li").await?;

    let plain = pulled(&server, &new, &pull(None, 64 << 20, false)).await?;
    assert!(
        plain.changes.iter().all(|d| d.index.is_none()),
        "a request without `index_version` gets none"
    );
    let other = SyncRequest {
        index_version: Some(FEED_INDEX_VERSION + 1),
        ..pull(None, 64 << 20, true)
    };
    assert!(
        pulled(&server, &new, &other)
            .await?
            .changes
            .iter()
            .all(|d| d.index.is_none()),
        "nor does one asking for another version"
    );
    let whole = pulled(&server, &new, &pull(None, 64 << 20, true)).await?;
    let indexed: BTreeSet<String> = whole
        .changes
        .iter()
        .filter(|d| d.index.is_some())
        .map(|d| d.doc.clone())
        .collect();
    assert_eq!(
        indexed, with_rows,
        "every visit, count and display, and no store"
    );

    // A document changed after the pass began comes without rows in the pass (its rows
    // are of heads the pass does not send), then its new change comes from the log.
    let first = pulled(&server, &new, &pull(None, 2_000, true)).await?;
    assert!(first.more, "a pass of several pages");
    let sent_first: BTreeSet<String> = first.changes.iter().map(|d| d.doc.clone()).collect();
    let later = li
        .document_ids(DocKind::InventoryCount)?
        .into_iter()
        .rev()
        .find(|id| !sent_first.contains(&id.to_string()))
        .ok_or("a count the first page did not send")?;
    li.set_counted(&later, "sku-001", 4)?;
    server.sync_phone(&token, &li).await?;
    let mut cursor = Some(first.cursor.clone());
    let mut entries = first.changes;
    for _ in 0..400 {
        let page = pulled(&server, &new, &pull(cursor.clone(), 2_000, true)).await?;
        entries.extend(page.changes);
        cursor = Some(page.cursor);
        if !page.more {
            break;
        }
    }
    let of_later: Vec<_> = entries
        .iter()
        .filter(|d| d.doc == later.to_string())
        .collect();
    assert_eq!(
        of_later.len(),
        2,
        "in the pass, then its change from the log"
    );
    assert!(
        of_later.iter().all(|d| d.index.is_none()),
        "never with rows"
    );
    assert!(
        entries
            .iter()
            .filter(|d| d.doc != later.to_string() && with_rows.contains(&d.doc))
            .all(|d| d.index.is_some()),
        "every other document of the pass came with its rows"
    );

    // After the pass: a sync from a numeric cursor sends changes without rows.
    li.set_counted(&later, "sku-002", 1)?;
    server.sync_phone(&token, &li).await?;
    let after = pulled(&server, &new, &pull(cursor, 64 << 20, true)).await?;
    assert!(!after.changes.is_empty());
    assert!(after.changes.iter().all(|d| d.index.is_none()));
    Ok(())
}

on_sqlite_and_postgres!(
    index_rows_go_only_to_a_first_sync_that_asks_and_only_with_every_change_of_a_document:
    index_rows_go_only_to_a_first_sync_that_asks_and_only_with_every_change_of_a_document_on_sqlite,
    index_rows_go_only_to_a_first_sync_that_asks_and_only_with_every_change_of_a_document_on_postgres
);
