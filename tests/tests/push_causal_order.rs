//! A push may list a document's changes in any order; the server stores and logs them each
//! after the changes it builds on, so that another device reading the log a page at a time
//! never receives a change before one it depends on (docs/protocol.md, "Pulling": "within a
//! document, each change after those it builds on"). Found by a review writing a client
//! from the spec: a push of `[c3, c2, c1]` was logged so, and a device pulling small pages
//! got c3 alone, which the reference client refuses without moving its cursor, forever.
//! Through the routes, on both backends.

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use fieldsync_core::fixtures::{device, routine_visit, sample_store};
use fieldsync_core::protocol::{self, SyncRequest, SyncResponse};
use fieldsync_core::{DocId, IncomingChange, Role, Timestamp};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::routes::{Instances, outbox_request};
use fieldsync_tests::{Backend, on_sqlite_and_postgres};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn a_push_in_reverse_causal_order_reaches_a_device_pulling_small_pages_in_causal_order_on(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "push_causal_order", Limits::default())?;
    let user = User {
        id: "am-li".into(),
        role: Role::AccountManager,
        name: "Li".into(),
    };
    server.storage.add_user(&user, 0)?;
    let admin = AdminDevice::open_with_clock(
        dir.path(),
        server.storage.as_ref(),
        fieldsync_core::fixtures::office_clock(),
    )?;
    let store = admin.local.create_store(sample_store("am-li", 1))?;
    admin.push()?;
    // Two phones of Li's: the first writes, the second reads. Both hold the store first, so
    // that what follows travels through the log, page by page.
    let (writer_token, reader_token) =
        (server.enroll("am-li").await?, server.enroll("am-li").await?);
    let (writer, _) = device(dir.path().join("writer.db"), "am-li", Timestamp::now())?;
    let (reader, _) = device(dir.path().join("reader.db"), "am-li", Timestamp::now())?;
    server.sync_phone(&writer_token, &writer).await?;
    server.sync_phone(&reader_token, &reader).await?;

    let visit = writer.create_visit(routine_visit(&store, Timestamp::now()))?;
    for note in ["shelf 3 empty", "restocked by noon", "manager informed"] {
        writer.append_visit_notes(&visit, note)?;
    }
    let mut batch = writer.outbox_batch(10)?;
    assert_eq!(batch.len(), 1, "the visit alone");
    assert!(batch[0].changes.len() >= 4, "a create and three edits");
    batch[0].changes.reverse();
    let request = outbox_request(&batch, writer.sync_cursor()?);
    let (status, _, body) = server.sync(&writer_token, &request).await?;
    assert_eq!(
        status,
        StatusCode::OK,
        "the server is tolerant of the order: {}",
        String::from_utf8_lossy(&body)
    );

    // The reader pulls one change's worth at a time, checking each response as a client
    // applies it: every change after those it builds on, none missing.
    let mut held: HashMap<String, HashSet<String>> = HashMap::new();
    let mut cursor = reader.sync_cursor()?;
    let mut received = 0;
    for page in 0.. {
        assert!(page < 50, "the pulls end");
        let request = SyncRequest {
            max_response_bytes: Some(1),
            ..outbox_request(&[], cursor.clone())
        };
        let (status, _, body) = server.sync(&reader_token, &request).await?;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let response: SyncResponse = protocol::decode("sync response", &body)?;
        for doc in &response.changes {
            let holds = held.entry(doc.doc.clone()).or_default();
            for bytes in &doc.changes {
                let change = IncomingChange::parse(bytes)?;
                let missing: Vec<String> = change
                    .deps()
                    .into_iter()
                    .filter(|d| !holds.contains(d))
                    .collect();
                assert!(
                    missing.is_empty(),
                    "response {page}: change `{}` of `{}` came before {missing:?}, which it builds on",
                    change.hash(),
                    doc.doc
                );
                holds.insert(change.hash());
                received += 1;
            }
            let id = DocId::parse("doc", &doc.doc)?;
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            reader.merge_changes(&id, &changes)?;
        }
        reader.set_sync_cursor(&response.cursor)?;
        cursor = Some(response.cursor);
        if !response.more {
            break;
        }
    }
    assert_eq!(received, batch[0].changes.len(), "every change, once");
    assert_eq!(reader.visit(&visit)?.notes, writer.visit(&visit)?.notes);
    Ok(())
}

on_sqlite_and_postgres!(
    a_push_in_reverse_causal_order_reaches_a_device_pulling_small_pages_in_causal_order_on:
    a_push_in_reverse_causal_order_reaches_a_device_pulling_small_pages_in_causal_order,
    a_push_in_reverse_causal_order_reaches_a_device_pulling_small_pages_in_causal_order_on_postgres
);
