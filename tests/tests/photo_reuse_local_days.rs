//! A photo's day in the table of photo uses, which `admin report` and `admin photo-reuse`
//! read to find an old photo passed off as new, is the district's local date (UTC+8): the
//! same photo used at 07:50 and at 08:10 one morning is one day's use, and a use at 07:30
//! the next morning is another day's. Before, the days were UTC dates, which turn at 08:00
//! local time (found by a review of the rules at their edges): the first two uses read as
//! two days and flagged the photo as reused, the third as the first's day. A database
//! whose days were UTC dates reads them again from the visits when it opens (SQLite
//! schema 16).
//!
//! Shown to catch what it guards, once, in a scratch edit (reverted): with the UTC day put
//! back in `photo_uses::local_day`, the photo was listed as reused after its first two
//! uses and the test failed there.

use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{CheckPoint, NewVisit, Role, VisitKind};
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{Limits, SqliteStorage};
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Each use of the photo as `admin report` lists it: (store, day).
fn uses_of(storage: &dyn SyncStorage, hash: &str) -> Fallible<Option<Vec<String>>> {
    Ok(storage
        .reused_photos()?
        .get(hash)
        .map(|uses| uses.iter().map(|u| u.day_text()).collect()))
}

#[tokio::test]
async fn a_photo_used_twice_one_morning_is_one_days_use_and_the_next_mornings_use_another()
-> Fallible<()> {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(Backend::Sqlite, dir.path(), "reuse_days", Limits::default())?;
    server.storage.add_user(
        &User {
            id: "am-li".into(),
            role: Role::AccountManager,
            name: "Li".into(),
        },
        0,
    )?;
    let store = {
        let admin = AdminDevice::open(dir.path(), server.storage.as_ref())?;
        let store = admin.local.create_store(sample_store("am-li", 1))?;
        admin.push()?;
        store
    };
    let token = server.enroll("am-li").await?;
    let (li, clock) = device(
        dir.path().join("li.db"),
        "am-li",
        at("2026-11-30T09:00:00+08:00"),
    )?;
    server.sync_phone(&token, &li).await?;
    let jpeg = sample_jpeg(320, 240, 5);
    // The photo's hash: the same bytes each time.
    let visit_with_the_photo = |when: &str| -> Fallible<String> {
        clock.set(at(when));
        let visit = li.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at(when),
                gps: None,
            },
            complaint_id: None,
        })?;
        let added = li.add_photo(
            &PhotoTarget::Visit(visit),
            PhotoSource::Bytes(&jpeg),
            &PhotoMeta {
                caption: "shelf".into(),
                taken_at: Some(at(when)),
                gps: None,
            },
        )?;
        Ok(added.hash)
    };

    // 07:50 and 08:10 on 1 December: 30 November and 1 December in UTC.
    let hash = visit_with_the_photo("2026-12-01T07:50:00+08:00")?;
    assert_eq!(visit_with_the_photo("2026-12-01T08:10:00+08:00")?, hash);
    server.sync_phone(&token, &li).await?;
    assert_eq!(
        uses_of(server.storage.as_ref(), &hash)?,
        None,
        "one store, one local day: not reused"
    );
    // 07:30 on 2 December: still 1 December in UTC.
    assert_eq!(visit_with_the_photo("2026-12-02T07:30:00+08:00")?, hash);
    server.sync_phone(&token, &li).await?;
    let days: Vec<String> = ["2026-12-01", "2026-12-01", "2026-12-02"]
        .map(String::from)
        .to_vec();
    assert_eq!(uses_of(server.storage.as_ref(), &hash)?, Some(days.clone()));

    // A database whose days an older server wrote (here: all wrong) reads them again from
    // the visits when it opens.
    let path = dir.path().join("fieldsync.db");
    drop(server);
    rusqlite::Connection::open(&path)?
        .execute_batch("UPDATE photo_uses SET day = 0; PRAGMA user_version = 15;")?;
    let reopened = SqliteStorage::open(&path)?;
    assert_eq!(uses_of(&reopened, &hash)?, Some(days));
    Ok(())
}
