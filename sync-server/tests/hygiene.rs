//! What the server repeats of its input, and who may read its files: errors quote a short
//! prefix of any input, names with control characters are refused at the door and printed
//! escaped if an older server stored them, and the data folder is owner-only.

use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::protocol::{self, DocChanges, ErrorBody, SyncRequest};
use fieldsync_server::admin::enrollment_code;
use fieldsync_server::auth::hash_secret;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{AppState, Limits, SqliteStorage, app};
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn storage(dir: &std::path::Path) -> Fallible<Arc<SqliteStorage>> {
    let storage = Arc::new(SqliteStorage::open(&dir.join("fieldsync.db"))?);
    storage.add_user(
        &User {
            id: "am-li".into(),
            role: fieldsync_core::Role::AccountManager,
            name: "Li Wei".into(),
        },
        0,
    )?;
    Ok(storage)
}

async fn call(
    storage: Arc<SqliteStorage>,
    request: Request<Body>,
) -> Fallible<(StatusCode, ErrorBody)> {
    let router = app(AppState {
        storage,
        limits: Limits::default(),
        metrics: None,
    });
    let response = router.oneshot(request).await?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await?;
    Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()))
}

fn enroll_request(code: &str, name: &str) -> Fallible<Request<Body>> {
    let body = serde_json::json!({"code": code, "device_name": name}).to_string();
    Ok(Request::post("/v1/enroll")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))?)
}

#[tokio::test]
async fn an_error_about_a_300_kb_document_id_quotes_only_a_short_prefix_of_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = storage(dir.path())?;
    let code = enrollment_code(
        storage.as_ref(),
        "am-li",
        chrono::Utc::now().timestamp_millis(),
    )?;
    let enrolled = storage.enroll(&hash_secret(&code), "phone", &hash_secret("t0k3n"), 1)?;
    assert_eq!(enrolled.user_id, "am-li");
    let huge = "q".repeat(300_000);
    let push = SyncRequest {
        protocol: protocol::PROTOCOL_VERSION,
        cursor: None,
        push: vec![DocChanges {
            doc: huge.clone(),
            changes: vec![],
            index: None,
        }],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    let request = Request::post("/v1/sync")
        .header(header::AUTHORIZATION, "Bearer t0k3n")
        .header(header::CONTENT_TYPE, protocol::CONTENT_TYPE)
        .body(Body::from(protocol::encode(&push)))?;
    let (status, error) = call(storage.clone(), request).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.message.len() < 300, "{} bytes", error.message.len());
    assert!(
        error.message.contains("(300000 bytes)"),
        "{}",
        error.message
    );

    // The same for a path nobody serves.
    let path = format!("/{}", "p".repeat(30_000));
    let (status, error) = call(storage, Request::get(path).body(Body::empty())?).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error.message.len() < 300, "{} bytes", error.message.len());
    Ok(())
}

#[tokio::test]
async fn a_device_name_with_control_characters_is_refused_with_a_clear_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = storage(dir.path())?;
    let now = chrono::Utc::now().timestamp_millis();
    for name in ["red\u{1b}[31mphone", "nul\u{0}phone", "flip\u{202e}enohp"] {
        let code = enrollment_code(storage.as_ref(), "am-li", now)?;
        let (status, error) = call(storage.clone(), enroll_request(&code, name)?).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}");
        assert!(
            error
                .message
                .contains("`device_name` must not contain control characters"),
            "{}",
            error.message
        );
    }
    assert!(storage.devices()?.is_empty(), "no device was made");
    let code = enrollment_code(storage.as_ref(), "am-li", now)?;
    let (status, _) = call(storage, enroll_request(&code, "Li's phone 李")?).await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

#[test]
fn admin_devices_prints_a_stored_name_with_escapes_escaped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = storage(dir.path())?;
    // As an older server, which did not check names, stored it.
    let code = enrollment_code(
        storage.as_ref(),
        "am-li",
        chrono::Utc::now().timestamp_millis(),
    )?;
    storage.enroll(
        &hash_secret(&code),
        "evil\u{1b}[2J\u{0}",
        &hash_secret("t"),
        1,
    )?;
    drop(storage);
    let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["admin", "--data-dir"])
        .arg(dir.path())
        .arg("devices")
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)?;
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{0}'),
        "{text:?}"
    );
    assert!(text.contains("evil\\u{1b}[2J\\u{0}"), "{text:?}");
    Ok(())
}

#[cfg(unix)]
#[test]
fn the_data_folder_is_owner_only_and_its_database_files_are_read_write_for_the_owner_only()
-> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir()?;
    let data = parent.path().join("fieldsync-data");
    let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["admin", "--data-dir"])
        .arg(&data)
        .args(["add-user", "am-li", "account_manager", "Li Wei"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &std::path::Path| -> Fallible<u32> {
        Ok(std::fs::metadata(p)?.permissions().mode() & 0o777)
    };
    assert_eq!(mode(&data)?, 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(&data)? {
        let path = entry?.path();
        assert_eq!(mode(&path)?, 0o600, "{}", path.display());
        files += 1;
    }
    assert!(files >= 1, "the database is there");

    // A folder and database left open by an older server are tightened at the next start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755))?;
    std::fs::set_permissions(
        data.join("fieldsync.db"),
        std::fs::Permissions::from_mode(0o644),
    )?;
    let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["admin", "--data-dir"])
        .arg(&data)
        .arg("users")
        .output()?;
    assert!(out.status.success());
    assert_eq!(mode(&data)?, 0o700);
    assert_eq!(mode(&data.join("fieldsync.db"))?, 0o600);
    Ok(())
}
