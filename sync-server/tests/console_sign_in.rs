//! The console's sign-in through its routes (no socket): a one-time code traded once for
//! an `HttpOnly`, `SameSite=Strict` cookie (`Secure` behind TLS), account managers and the
//! market team refused with one message, requests without the session or with a forged
//! CSRF token refused, attempts throttled, and all of it in the audit trail.

#[path = "support/console.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::Role;
use fieldsync_server::console::sign_in::issue_code;
use fieldsync_server::storage::User;
use fieldsync_server::storage::console_sessions::AccessEnded;
use support::{Backend, Console, TestResult, now};

#[tokio::test]
async fn a_supervisor_signs_in_once_with_a_code_and_gets_an_http_only_strict_cookie() -> TestResult
{
    let console = Console::new(100)?;
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    let answer = console.sign_in_with(&code).await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), Some("/console"));
    let set = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("fieldsync_console="))
        .ok_or("no session cookie")?;
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(set.contains(flag), "`{flag}` missing from `{set}`");
    }
    assert!(!set.contains("Secure"), "no TLS here: `{set}`");
    let cookie = set.split(';').next().ok_or("cookie")?.to_owned();
    let page = console.get("/console", &cookie).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"overview\""), "{}", page.body);
    // The same code a second time is refused.
    let again = console.sign_in_with(&code).await?;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.body.contains("登录码无效"), "{}", again.body);
    let trail = console.storage.audit(0)?;
    let actions: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.action.as_str(), e.subject.as_str()))
        .collect();
    assert!(
        actions.contains(&("console-sign-in", "sup-wang")),
        "{actions:?}"
    );
    assert!(actions.contains(&("console-refused", "-")), "{actions:?}");
    Ok(())
}

#[tokio::test]
async fn a_code_typed_in_lower_case_with_spaces_for_dashes_signs_in() -> TestResult {
    let console = Console::new(100)?;
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    // `+` is a space in a form's body.
    let typed = code.to_lowercase().replace('-', "+");
    let answer = console.sign_in_with(&typed).await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), Some("/console"));
    Ok(())
}

#[tokio::test]
async fn behind_a_tls_proxy_the_session_cookie_is_marked_secure() -> TestResult {
    let console = Console::new(100)?;
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    let form = console.get("/console/sign-in", "").await?;
    let token = form
        .cookie("fieldsync_console_form")
        .ok_or("no form cookie")?;
    let request = Request::post("/console/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("fieldsync_console_form={token}"))
        .header("x-forwarded-proto", "https")
        .body(Body::from(format!("code={code}&form={token}")))?;
    let answer = console.send(request).await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(
        answer
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("fieldsync_console=") && c.ends_with("; Secure")),
        "{:?}",
        answer.set_cookies()
    );
    Ok(())
}

#[tokio::test]
async fn account_manager_and_market_team_codes_are_refused_with_one_message_and_audited()
-> TestResult {
    let console = Console::new(100)?;
    assert!(
        issue_code(console.storage.as_ref(), "am-li", now()).is_err(),
        "the admin command will not make one"
    );
    for user in ["am-li", "mk-zhao"] {
        // A code stored for them anyway (an older tool, a hand-edited database).
        let code = format!("CODE-{user}");
        console.storage.add_console_code(
            user,
            &fieldsync_server::auth::hash_secret(&code),
            now(),
            now() + 60_000,
        )?;
        let answer = console.sign_in_with(&code).await?;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(
            answer.body.contains("控制台仅供督察考评小组和管理员使用"),
            "{}",
            answer.body
        );
        assert!(answer.cookie("fieldsync_console").is_none());
    }
    let refused: Vec<String> = console
        .storage
        .audit(0)?
        .into_iter()
        .filter(|e| e.action == "console-refused")
        .map(|e| e.subject)
        .collect();
    assert_eq!(refused, ["am-li", "mk-zhao"]);
    Ok(())
}

#[tokio::test]
async fn requests_without_the_session_or_with_a_forged_csrf_token_are_refused() -> TestResult {
    let console = Console::new(100)?;
    for path in [
        "/console",
        "/console/fleet",
        "/console/assessment.csv",
        "/console/manager/am-li",
    ] {
        let answer = console.get(path, "").await?;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(answer.location(), Some("/console/sign-in"), "{path}");
        let forged = console.get(path, "fieldsync_console=00ff").await?;
        assert_eq!(
            forged.status,
            StatusCode::SEE_OTHER,
            "{path} with a made-up session"
        );
    }
    let no_cookie = console.post("/console/sign-out", "", "csrf=x").await?;
    assert_eq!(no_cookie.status, StatusCode::UNAUTHORIZED);
    let (cookie, csrf) = console.signed_in("sup-wang").await?;
    let forged = console
        .post("/console/sign-out", &cookie, "csrf=forged")
        .await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.body.contains("csrf"), "{}", forged.body);
    let missing = console.post("/console/sign-out", &cookie, "").await?;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(
        console.get("/console", &cookie).await?.status,
        StatusCode::OK,
        "still signed in"
    );
    // A sign-in form posted without its form cookie is refused too.
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    let bare = console
        .post("/console/sign-in", "", &format!("code={code}&form=abc"))
        .await?;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    // Signing out with the right token ends the session for good.
    let out = console
        .post("/console/sign-out", &cookie, &format!("csrf={csrf}"))
        .await?;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        console.get("/console", &cookie).await?.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        console
            .storage
            .audit(0)?
            .iter()
            .any(|e| e.action == "console-sign-out")
    );
    Ok(())
}

#[tokio::test]
async fn sign_in_attempts_beyond_the_limit_are_throttled() -> TestResult {
    let console = Console::new(2)?;
    let statuses = [
        console.sign_in_with("WRONG-1").await?.status,
        console.sign_in_with("WRONG-2").await?.status,
        console.sign_in_with("WRONG-3").await?.status,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_flood_of_throttled_sign_ins_writes_one_audit_row_a_minute_not_one_an_attempt()
-> TestResult {
    let console = Console::new(1)?;
    // Bounded: 50 attempts, every one after the first refused by the throttle.
    for attempt in 0..50 {
        let status = console
            .sign_in_with(&format!("WRONG-{attempt}"))
            .await?
            .status;
        let expected = if attempt == 0 {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(status, expected, "attempt {attempt}");
    }
    let throttled: Vec<_> = console
        .storage
        .audit(0)?
        .into_iter()
        .filter(|e| e.detail.contains("too many sign-in attempts"))
        .collect();
    assert_eq!(throttled.len(), 1, "{throttled:?}");
    Ok(())
}

#[test]
fn revoking_a_supervisors_console_access_ends_their_sessions_and_voids_their_codes_on_sqlite()
-> TestResult {
    revoking_console_access(Backend::Sqlite)
}

#[test]
fn revoking_a_supervisors_console_access_ends_their_sessions_and_voids_their_codes_on_postgres()
-> TestResult {
    revoking_console_access(Backend::Postgres)
}

/// Outside any runtime: PostgreSQL's client blocks.
fn revoking_console_access(backend: Backend) -> TestResult {
    let console = Console::on(100, backend)?;
    let storage = console.storage.clone();
    storage.add_user(
        &User {
            id: "sup-chen".into(),
            role: Role::Supervisor,
            name: "sup-chen name".into(),
        },
        0,
    )?;
    let runtime = tokio::runtime::Runtime::new()?;
    let (wang, chen) = runtime.block_on(async {
        let wang = console.signed_in("sup-wang").await?.0;
        let wang_laptop = console.signed_in("sup-wang").await?.0;
        let chen = console.signed_in("sup-chen").await?.0;
        support::Fallible::Ok(([wang, wang_laptop], chen))
    })?;
    let spare = issue_code(storage.as_ref(), "sup-wang", now())?;
    let chens = issue_code(storage.as_ref(), "sup-chen", now())?;

    let ended = storage.end_console_access("sup-wang", now())?;
    assert_eq!(
        ended,
        AccessEnded {
            sessions: 2,
            codes: 1
        }
    );
    runtime.block_on(async {
        for cookie in &wang {
            let page = console.get("/console", cookie).await?;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
            assert_eq!(page.location(), Some("/console/sign-in"));
        }
        let voided = console.sign_in_with(&spare).await?;
        assert_eq!(voided.status, StatusCode::FORBIDDEN, "{}", voided.body);
        // Another supervisor keeps their session and their code.
        assert_eq!(console.get("/console", &chen).await?.status, StatusCode::OK);
        let theirs = console.sign_in_with(&chens).await?;
        assert_eq!(theirs.status, StatusCode::SEE_OTHER, "{}", theirs.body);
        TestResult::Ok(())
    })?;
    // Nothing is left to end the second time.
    assert_eq!(
        storage.end_console_access("sup-wang", now())?,
        AccessEnded::default()
    );
    Ok(())
}

#[tokio::test]
async fn wrong_codes_from_everywhere_never_lock_the_console_and_at_most_60_a_minute_are_recorded()
-> TestResult {
    // No limit per address: as if every attempt came from another one.
    let console = Console::new(0)?;
    // Bounded: 80 attempts.
    for attempt in 0..80 {
        let status = console
            .sign_in_with(&format!("WRONG-{attempt}"))
            .await?
            .status;
        assert_eq!(status, StatusCode::FORBIDDEN, "attempt {attempt}");
    }
    let recorded = console
        .storage
        .audit(0)?
        .into_iter()
        .filter(|e| e.detail.contains("unknown, used or expired code"))
        .count();
    assert_eq!(recorded, 60);
    // A supervisor with a good code still gets in.
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    let answer = console.sign_in_with(&code).await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    Ok(())
}
