//! A supervisor's phone holds a working set of the district, not all of it: every store and
//! shelf display with the visits and counts of the last weeks; older ones come on demand,
//! in one round trip, and leave again by the app's rule; documents that age out of the
//! working set leave the phone, and the server never sends a change of one it let go
//! (docs/protocol.md, "The working set"). Real server processes, on both backends.
//!
//! The server's clock decides what is recent, so the account manager's phone records its
//! visits and counts at real instants in the past.

use std::collections::BTreeSet;
use std::time::Duration;

use fieldsync_core::fixtures::{routine_visit, sample_count};
use fieldsync_core::{DocId, DocKind, LocalStore, Role, Timestamp};
use fieldsync_tests::device::Device;
use fieldsync_tests::district::{District, StoreRow};
use fieldsync_tests::{Backend, on_sqlite_and_postgres};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

fn held(phone: &LocalStore, kind: DocKind) -> Result<BTreeSet<DocId>, Box<dyn std::error::Error>> {
    Ok(phone.document_ids(kind)?.into_iter().collect())
}

/// `am-li`'s two stores (and `am-zhao`'s one), imported with their shelf displays, and in each of
/// li's stores a visit and a count made `days_ago` for every entry of `days_ago`. Returns
/// the district, li's phone, and the visits and counts made each day, in that order.
async fn district_with_history(
    backend: Backend,
    days_ago: &[i64],
) -> Result<(District, Device, Vec<BTreeSet<DocId>>), Box<dyn std::error::Error>> {
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("am-zhao", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ],
        &[
            StoreRow::new(1, "am-li"),
            StoreRow::new(2, "am-li"),
            StoreRow::new(3, "am-zhao"),
        ],
    )?;
    let now = Timestamp::now().0;
    let first = days_ago.iter().max().copied().unwrap_or(0);
    let li = district
        .enroll("am-li", "li", Timestamp(now - first * DAY_MS))
        .await?;
    li.sync().await?;
    let stores = li.local().document_ids(DocKind::Store)?;
    assert_eq!(stores.len(), 2, "li's two stores");
    let mut made = Vec::new();
    for days in days_ago {
        let at = Timestamp(now - days * DAY_MS);
        li.clock().set(at);
        let mut docs = BTreeSet::new();
        for store in &stores {
            docs.insert(li.local().create_visit(routine_visit(store, at))?);
            docs.insert(li.local().create_inventory_count(sample_count(store, 5))?);
        }
        li.sync().await?;
        made.push(docs);
    }
    li.clock().set(Timestamp(now));
    Ok((district, li, made))
}

/// A supervisor's phone whose app holds `weeks` of visits and counts, synced once.
async fn supervisor(district: &District, weeks: u32) -> Result<Device, Box<dyn std::error::Error>> {
    let mut wang = district
        .enroll("sup-wang", "wang", Timestamp::now())
        .await?;
    wang.configure(|c| c.working_weeks = Some(weeks))?;
    wang.sync().await?;
    Ok(wang)
}

/// The visits and counts a phone holds.
fn activity(phone: &LocalStore) -> Result<BTreeSet<DocId>, Box<dyn std::error::Error>> {
    let mut docs = held(phone, DocKind::Visit)?;
    docs.extend(held(phone, DocKind::InventoryCount)?);
    Ok(docs)
}

/// Shown to guard the working set's boundary: with the window left out of the first
/// sync's pass (`part_condition` ignoring the floor), the phone held the 60-day-old visits
/// and the test failed at "nothing older".
async fn a_working_set_holds_every_store_and_display_and_the_recent_weeks_and_the_rest_comes_on_demand_on(
    backend: Backend,
) -> TestResult {
    let (district, li, made) = district_with_history(backend, &[60, 3]).await?;
    let (old, recent) = (&made[0], &made[1]);
    let started = Timestamp::now().0;
    let mut wang = supervisor(&district, 5).await?;

    assert_eq!(held(wang.local(), DocKind::Store)?.len(), 3, "every store");
    assert_eq!(
        held(wang.local(), DocKind::ShelfDisplay)?.len(),
        3,
        "every shelf display"
    );
    assert_eq!(
        &activity(wang.local())?,
        recent,
        "the visits and counts of the last 5 weeks, nothing older"
    );
    let since = wang
        .local()
        .working_since()?
        .ok_or("no working_since kept")?;
    let expected = started - 5 * WEEK_MS;
    assert!(
        (expected - 60_000..=expected + 600_000).contains(&since),
        "the working set starts 5 weeks before the server's now: {since} against {expected}"
    );

    // Later changes of old documents are not sent; those of recent ones are.
    let old_visit = old
        .iter()
        .find(|id| li.local().visit(id).is_ok())
        .ok_or("no old visit")?
        .clone();
    let recent_visit = recent
        .iter()
        .find(|id| li.local().visit(id).is_ok())
        .ok_or("no recent visit")?
        .clone();
    li.local().append_visit_notes(&old_visit, "seen again")?;
    li.local().append_visit_notes(&recent_visit, "seen again")?;
    li.sync().await?;
    wang.sync().await?;
    assert!(
        wang.local()
            .visit(&recent_visit)?
            .notes
            .contains("seen again")
    );
    assert!(
        wang.local().visit(&old_visit).is_err(),
        "the old visit is not on the phone"
    );

    // On demand, in one round trip: by id (an unknown id is listed missing) ...
    let unknown = DocId::parse("id", "01a20b3f-ee45-72dd-98de-d03f0aca810b")?;
    let fetched = wang
        .client()
        .fetch_documents(&[old_visit.clone(), unknown.clone()])
        .await?;
    assert_eq!(fetched.stored.merged, 1);
    assert_eq!(fetched.stored.kept_as_fetched, 1, "kept as fetched");
    assert_eq!(fetched.missing, vec![unknown.to_string()]);
    assert!(
        wang.local().visit(&old_visit)?.notes.contains("seen again"),
        "the fetched visit is whole and current"
    );
    // ... and a store's history before a date.
    let store = li.local().visit(&old_visit)?.store_id;
    let history = wang
        .client()
        .fetch_store_history(&store, None, Some(started - 30 * DAY_MS), None)
        .await?;
    let of_store: BTreeSet<DocId> = old
        .iter()
        .filter(|id| {
            li.local()
                .visit(id)
                .map(|v| v.store_id == store)
                .unwrap_or(false)
                || li
                    .local()
                    .inventory_count(id)
                    .map(|c| c.store_id == store)
                    .unwrap_or(false)
        })
        .cloned()
        .collect();
    assert_eq!(
        of_store.len(),
        2,
        "a visit and a count of that store, 60 days ago"
    );
    assert_eq!(history.stored.merged, 2, "the store's old visit and count");
    assert!(history.next.is_none());
    for id in &of_store {
        assert!(wang.local().is_fetched(id)?, "{id} kept as fetched");
    }

    // They stay through syncs until the app's rule lets them go.
    wang.configure(|c| c.keep_fetched = Duration::from_secs(3600))?;
    wang.clock().set(Timestamp(started + 1_800_000));
    wang.sync().await?;
    assert!(
        wang.local().visit(&old_visit).is_ok(),
        "kept within the hour"
    );
    wang.clock().set(Timestamp(started + 2 * 3_600_000));
    wang.sync().await?;
    assert!(
        wang.local().visit(&old_visit).is_err(),
        "let go after the hour"
    );
    assert_eq!(&activity(wang.local())?, recent);
    Ok(())
}

on_sqlite_and_postgres!(
    a_working_set_holds_every_store_and_display_and_the_recent_weeks_and_the_rest_comes_on_demand_on:
    a_working_set_holds_every_store_and_display_and_the_recent_weeks_and_the_rest_comes_on_demand,
    a_working_set_holds_every_store_and_display_and_the_recent_weeks_and_the_rest_comes_on_demand_on_postgres
);

/// Shown to guard "never a change of a document the phone let go": with the window left
/// out of the log's query (`page` without `window_condition`), the supervisor's sync after
/// li's note failed ("they depend on change ... which this device does not have").
async fn documents_that_age_out_of_the_working_set_leave_the_phone_and_their_later_changes_are_not_sent_on(
    backend: Backend,
) -> TestResult {
    let (district, li, made) = district_with_history(backend, &[40, 20]).await?;
    let (older, newer) = (&made[0], &made[1]);
    let mut wang = supervisor(&district, 8).await?;
    let everything: BTreeSet<DocId> = older.union(newer).cloned().collect();
    assert_eq!(activity(wang.local())?, everything, "8 weeks hold both");

    // The supervisor comments on an older visit offline, then the app narrows to 4 weeks.
    let commented = older
        .iter()
        .find(|id| wang.local().visit(id).is_ok())
        .ok_or("no older visit")?
        .clone();
    wang.local()
        .comment_on_visit(&commented, "checked by the supervisor")?;
    wang.configure(|c| c.working_weeks = Some(4))?;
    let report = wang.sync().await?;
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(
        &activity(wang.local())?,
        newer,
        "what happened 40 days ago left the phone; 20 days ago stays"
    );
    li.sync().await?;
    assert!(
        li.local()
            .visit(&commented)?
            .comments
            .iter()
            .any(|c| c.text == "checked by the supervisor"),
        "the comment made before it left reached the server"
    );

    // Later changes of what left are not sent: the supervisor's syncs go on.
    li.local().append_visit_notes(&commented, " and again")?;
    li.sync().await?;
    wang.sync().await?;
    assert!(wang.local().visit(&commented).is_err());
    assert_eq!(&activity(wang.local())?, newer);

    // The app asking for more weeks again does not bring them back by itself.
    wang.configure(|c| c.working_weeks = Some(10))?;
    wang.sync().await?;
    assert_eq!(&activity(wang.local())?, newer);
    Ok(())
}

on_sqlite_and_postgres!(
    documents_that_age_out_of_the_working_set_leave_the_phone_and_their_later_changes_are_not_sent_on:
    documents_that_age_out_of_the_working_set_leave_the_phone_and_their_later_changes_are_not_sent,
    documents_that_age_out_of_the_working_set_leave_the_phone_and_their_later_changes_are_not_sent_on_postgres
);

/// Without a working set nothing changes: an account manager's phone holds its whole
/// territory, old visits included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_without_a_working_set_holds_its_whole_scope() -> TestResult {
    let (district, li, _) = district_with_history(Backend::Sqlite, &[60, 3]).await?;
    let other = district
        .enroll("am-li", "li-tablet", Timestamp::now())
        .await?;
    other.sync().await?;
    assert_eq!(activity(other.local())?, activity(li.local())?);
    assert_eq!(other.local().working_since()?, None);
    Ok(())
}

/// Shown to guard the working set of a store that enters the scope: with the window left
/// out of `store_changes`, zhao's phone received the 60-day-old visit and count of the
/// store he was given, and the test failed at "not its old ones".
async fn a_store_entering_the_scope_brings_its_recent_documents_into_the_working_set_and_not_its_old_ones_on(
    backend: Backend,
) -> TestResult {
    let (district, li, made) = district_with_history(backend, &[60, 3]).await?;
    let (old, recent) = (&made[0], &made[1]);
    let mut zhao = district.enroll("am-zhao", "zhao", Timestamp::now()).await?;
    zhao.configure(|c| c.working_weeks = Some(5))?;
    zhao.sync().await?;
    assert!(
        activity(zhao.local())?.is_empty(),
        "zhao's own store has no visits"
    );

    let office = chrono::Utc::now().to_rfc3339();
    district.server.admin(&[
        "--edit-time",
        &office,
        "reassign",
        &fieldsync_tests::district::licence(1),
        "am-zhao",
    ])?;
    zhao.sync().await?;
    let given: Vec<DocId> = held(zhao.local(), DocKind::Store)?
        .into_iter()
        .filter(|s| li.local().store(s).is_ok())
        .collect();
    assert_eq!(given.len(), 1, "the store he was given");
    let of_given = |docs: &BTreeSet<DocId>| -> BTreeSet<DocId> {
        docs.iter()
            .filter(|id| {
                li.local().visit(id).is_ok_and(|v| v.store_id == given[0])
                    || li
                        .local()
                        .inventory_count(id)
                        .is_ok_and(|c| c.store_id == given[0])
            })
            .cloned()
            .collect()
    };
    assert_eq!(
        activity(zhao.local())?,
        of_given(recent),
        "its recent visit and count, not its old ones"
    );
    // The old ones are his now: on demand.
    let history = zhao
        .client()
        .fetch_store_history(&given[0], None, None, None)
        .await?;
    assert_eq!(
        history.stored.merged, 4,
        "the store's visits and counts, old and recent"
    );
    assert_eq!(history.stored.kept_as_fetched, of_given(old).len());
    Ok(())
}

on_sqlite_and_postgres!(
    a_store_entering_the_scope_brings_its_recent_documents_into_the_working_set_and_not_its_old_ones_on:
    a_store_entering_the_scope_brings_its_recent_documents_into_the_working_set_and_not_its_old_ones,
    a_store_entering_the_scope_brings_its_recent_documents_into_the_working_set_and_not_its_old_ones_on_postgres
);

/// A `working_since` ahead of the server's clock (as an instance whose clock once ran a
/// day ahead would have handed out) used to hide every visit and count before it from the
/// phone for good. The server answers it `409`, and core's client syncs again from the
/// start: a visit made meanwhile arrives, and the phone's `working_since` is the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_since_ahead_of_the_servers_clock_makes_the_phone_sync_from_the_start_and_hides_nothing()
-> TestResult {
    let (district, li, _) = district_with_history(Backend::Sqlite, &[3]).await?;
    let wang = supervisor(&district, 5).await?;
    let ahead = Timestamp::now().0 + DAY_MS;
    let closed = wang.close()?;
    rusqlite::Connection::open(closed.path())?.execute(
        "UPDATE meta SET value = CAST(?1 AS BLOB) WHERE key = 'working_since'",
        [ahead],
    )?;
    let wang = closed.open()?;
    assert_eq!(wang.local().working_since()?, Some(ahead));

    let store = held(li.local(), DocKind::Store)?
        .into_iter()
        .next()
        .ok_or("li has a store")?;
    let visit = li
        .local()
        .create_visit(routine_visit(&store, Timestamp::now()))?;
    li.sync().await?;
    wang.sync().await?;
    assert!(
        held(wang.local(), DocKind::Visit)?.contains(&visit),
        "the visit made today reached the supervisor"
    );
    let since = wang.local().working_since()?.ok_or("a working set")?;
    assert!(
        since <= Timestamp::now().0,
        "the server's own `working_since`: {since}"
    );
    assert_eq!(activity(wang.local())?, activity(li.local())?);
    Ok(())
}
