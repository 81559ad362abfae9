//! Supervisors have every store in their scope, but not stores that do not exist: a
//! task, a count or a shelf display about no store would be no one's (no account
//! manager's scope holds it, no rule counts it). Found by a review acting as a supervisor
//! with a crafted client. (Admins are exempt: the office's import sends stores and their
//! displays in batches, in any order.)

use axum::http::StatusCode;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::{DocChanges, ErrorBody, SyncRequest};
use fieldsync_core::{NewTask, Role};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T09:00:00+08:00";

fn server_with_users(dir: &std::path::Path, label: &str) -> Fallible<Instances> {
    let server = Instances::open(Backend::Sqlite, dir, label, Limits::default())?;
    for (id, role) in [
        ("am-li", Role::AccountManager),
        ("sup-liu", Role::Supervisor),
    ] {
        server.storage.add_user(
            &User {
                id: id.into(),
                role,
                name: id.into(),
            },
            0,
        )?;
    }
    Ok(server)
}

#[tokio::test]
async fn a_supervisors_task_about_a_store_the_server_does_not_hold_is_refused_naming_store_id()
-> Fallible<()> {
    // The task is made on a district that has the store, then pushed to one that does not.
    let (with, without) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let district = server_with_users(with.path(), "with_store")?;
    let store = {
        let admin = AdminDevice::open(with.path(), district.storage.as_ref())?;
        let store = admin.local.create_store(sample_store("am-li", 1))?;
        admin.push()?;
        store
    };
    let token = district.enroll("sup-liu").await?;
    let (sup, _) = device(with.path().join("sup.db"), "sup-liu", at(MONDAY))?;
    district.sync_phone(&token, &sup).await?;
    let task = sup.create_task(NewTask {
        store_id: store.clone(),
        title: "fix the price tags".into(),
        description: String::new(),
        assignee: "am-li".into(),
        deadline: at("2026-12-04T18:00:00+08:00"),
        origin: None,
    })?;
    let changes = sup.export_changes(&task, &[])?;

    let other = server_with_users(without.path(), "without_store")?;
    let other_token = other.enroll("sup-liu").await?;
    let request = SyncRequest {
        protocol: 1,
        cursor: None,
        push: vec![DocChanges {
            doc: task.to_string(),
            changes: changes.into_iter().map(Into::into).collect(),
            index: None,
        }],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, _, body) = other.sync(&other_token, &request).await?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let refusal: ErrorBody = serde_json::from_slice(&body)?;
    let rejected = &refusal.rejected[0];
    assert_eq!(
        (rejected.rule.as_str(), rejected.field.as_str()),
        ("store_scope", "store_id"),
        "{rejected:?}"
    );
    assert_eq!(
        rejected.message,
        format!("`store_id` names no store: `{store}`")
    );
    assert!(other.storage.document_changes(task.as_str())?.is_empty());

    // The same push where the store exists is taken.
    let (status, _, body) = district.sync(&token, &request).await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    Ok(())
}
