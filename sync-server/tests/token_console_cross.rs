//! An attacker's probes of where device tokens and console sessions meet (scratch, session
//! of the token review): a device token on the console, a console session or sign-in code on
//! the sync API, a code of one kind at the other's door, a cookie chosen before sign-in, a
//! session after sign-out.

#[path = "support/console.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::protocol::{self, SyncRequest};
use fieldsync_server::admin::enrollment_code;
use fieldsync_server::auth::hash_secret;
use fieldsync_server::console::sign_in::issue_code;
use support::{Console, TestResult, hidden, now};

fn pull() -> Vec<u8> {
    protocol::encode(&SyncRequest {
        protocol: 1,
        cursor: None,
        push: vec![],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    })
}

async fn sync_with(
    console: &Console,
    token: &str,
) -> Result<StatusCode, Box<dyn std::error::Error>> {
    let request = Request::post("/v1/sync")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, protocol::CONTENT_TYPE)
        .body(Body::from(pull()))?;
    Ok(console.send(request).await?.status)
}

async fn enroll_with(
    console: &Console,
    code: &str,
) -> Result<StatusCode, Box<dyn std::error::Error>> {
    let body = serde_json::json!({"code": code, "device_name": "x"}).to_string();
    let request = Request::post("/v1/enroll")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))?;
    Ok(console.send(request).await?.status)
}

#[tokio::test]
async fn device_tokens_and_console_sessions_and_their_codes_open_only_their_own_doors() -> TestResult
{
    let console = Console::new(100)?;
    // A supervisor's phone, enrolled.
    let code = enrollment_code(console.storage.as_ref(), "sup-wang", now())?;
    let token = "the-supervisors-device-token";
    console
        .storage
        .enroll(&hash_secret(&code), "phone", &hash_secret(token), now())?;
    assert_eq!(sync_with(&console, token).await?, StatusCode::OK);

    // The device token on the console: as a bearer header, and as the session cookie.
    let request = Request::get("/console")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())?;
    let page = console.send(request).await?;
    assert_ne!(
        page.status,
        StatusCode::OK,
        "a device token opened the console"
    );
    let page = console
        .get("/console", &format!("fieldsync_console={token}"))
        .await?;
    assert_ne!(page.status, StatusCode::OK, "a device token as the cookie");

    // A console session on the sync API.
    let (cookie, csrf) = console.signed_in("sup-wang").await?;
    let session = cookie.trim_start_matches("fieldsync_console=");
    assert_eq!(
        sync_with(&console, session).await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sync_with(&console, &csrf).await?, StatusCode::UNAUTHORIZED);

    // A console code at enrollment, an enrollment code at the console.
    let console_code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    assert_eq!(
        enroll_with(&console, &console_code).await?,
        StatusCode::UNAUTHORIZED
    );
    let enroll_code = enrollment_code(console.storage.as_ref(), "sup-wang", now())?;
    let answer = console.sign_in_with(&enroll_code).await?;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    // Both still work at their own door (they were not spent by the wrong one).
    assert_eq!(enroll_with(&console, &enroll_code).await?, StatusCode::OK);
    assert_eq!(
        console.sign_in_with(&console_code).await?.status,
        StatusCode::SEE_OTHER
    );
    // An enrollment code replayed.
    assert_eq!(
        enroll_with(&console, &enroll_code).await?,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn a_session_cookie_chosen_before_sign_in_is_never_the_session_and_sign_out_ends_it()
-> TestResult {
    let console = Console::new(100)?;
    let planted = "0".repeat(64);
    // The victim's browser carries a cookie the attacker chose, and signs in.
    let form = console
        .get("/console/sign-in", &format!("fieldsync_console={planted}"))
        .await?;
    let form_token = form
        .cookie("fieldsync_console_form")
        .ok_or("no form cookie")?;
    let field = hidden(&form.body, "form").ok_or("no form field")?;
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    let answer = console
        .post(
            "/console/sign-in",
            &format!("fieldsync_console={planted}; fieldsync_console_form={form_token}"),
            &format!("code={code}&form={field}"),
        )
        .await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let issued = answer.cookie("fieldsync_console").ok_or("a session")?;
    assert_ne!(issued, planted);
    let page = console
        .get("/console", &format!("fieldsync_console={planted}"))
        .await?;
    assert_ne!(
        page.status,
        StatusCode::OK,
        "the planted cookie is a session"
    );

    // Sign-out without the CSRF token is refused; with it, the cookie is dead.
    let cookie = format!("fieldsync_console={issued}");
    let page = console.get("/console", &cookie).await?;
    let csrf = hidden(&page.body, "csrf").ok_or("csrf")?;
    let out = console.post("/console/sign-out", &cookie, "csrf=").await?;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    let out = console
        .post("/console/sign-out", &cookie, &format!("csrf={csrf}"))
        .await?;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let page = console.get("/console", &cookie).await?;
    assert_ne!(page.status, StatusCode::OK, "a session after sign-out");
    // A form token of one visitor does not sign another in (login CSRF).
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    let answer = console
        .post(
            "/console/sign-in",
            "fieldsync_console_form=forged",
            &format!("code={code}&form={field}"),
        )
        .await?;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    Ok(())
}

/// From a peer that is not a trusted proxy, `X-Forwarded-For` chooses nothing: enrollment
/// attempts, each naming another address and another code, are throttled as one source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_from_an_untrusted_peer_do_not_dodge_the_enrollment_throttle()
-> TestResult {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use fieldsync_server::{AppState, Limits, SqliteStorage, serve};
    let dir = tempfile::tempdir()?;
    let storage = Arc::new(SqliteStorage::open(&dir.path().join("fieldsync.db"))?);
    let state = AppState {
        storage,
        limits: Limits {
            enroll_per_source_per_minute: 1,
            ..Limits::default()
        },
        metrics: None,
    };
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<SocketAddr>();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        state,
        "127.0.0.1:0".parse()?,
        move |addr| {
            let _ = ready_tx.send(addr);
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let addr = ready_rx.await?;
    let client = reqwest::Client::new();
    let mut throttled_at = None;
    for n in 0..320u32 {
        let status = client
            .post(format!("http://{addr}/v1/enroll"))
            .header(
                "x-forwarded-for",
                format!("203.0.{}.{}", n / 250, n % 250 + 1),
            )
            .header("content-type", "application/json")
            .body(
                serde_json::json!({"code": format!("GUESS-{n:04}-XXXX"), "device_name": "x"})
                    .to_string(),
            )
            .send()
            .await?
            .status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            throttled_at = Some(n);
            break;
        }
    }
    assert_eq!(throttled_at, Some(300), "the per-source burst is 300");
    Ok(())
}
