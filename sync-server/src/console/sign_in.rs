//! Signing in to the console with a one-time code, signing out, and the language switch.
//!
//! `admin console-code USER` (or the demo) makes a code for a supervisor or admin; the
//! sign-in form trades it for a session cookie. Attempts are throttled by source address;
//! every sign-in, refusal and sign-out is written to the audit trail (`admin audit`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{attr, esc, page};
use super::i18n::{LANG_COOKIE, Lang, t};
use super::session::{
    FORM_COOKIE, Refused, SESSION_COOKIE, Signed, cookie, may_open, new_secret, same_secret,
    secure, set_cookie,
};
use super::{CODE_VALID_FOR_MS, Console, SESSION_MS};
use crate::AppState;
use crate::auth::{hash_secret, new_code, typed_code};
use crate::error::{AppError, AppResult};
use crate::storage::SyncStorage;
use crate::storage::audit::AuditEntry;
use crate::storage::console_sessions::{NewSession, SignIn};

/// Makes a one-time console code for `user`, who must be a supervisor or an admin.
pub fn issue_code(storage: &dyn SyncStorage, user: &str, now: i64) -> AppResult<String> {
    let found = storage
        .user(user)?
        .ok_or_else(|| AppError::NotFound(format!("no user `{user}`")))?;
    if !may_open(found.role) {
        return Err(AppError::BadRequest(format!(
            "`{user}` is a {}: the console is for supervisors and admins only",
            found.role
        )));
    }
    let code = new_code();
    storage.add_console_code(user, &hash_secret(&code), now, now + CODE_VALID_FOR_MS)?;
    Ok(code)
}

/// `GET /console/sign-in`: the form, with a fresh form token in a cookie and a field.
pub async fn form(
    axum::Extension(console): axum::Extension<Arc<Console>>,
    headers: HeaderMap,
) -> Response {
    form_page(&console, &headers, None, StatusCode::OK)
}

fn form_page(
    console: &Console,
    headers: &HeaderMap,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let lang = Lang::of(headers);
    let token = new_secret();
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<form class=\"sign-in\" method=\"post\" action=\"/console/sign-in\">{error}\
         <label for=\"code\">{}</label><input type=\"text\" id=\"code\" name=\"code\" \
         autocomplete=\"one-time-code\" autofocus required>\
         <input type=\"hidden\" name=\"form\" value=\"{}\">\
         <button type=\"submit\" id=\"submit\">{}</button><p class=\"note\">{}</p></form>",
        esc(t(lang, "code")),
        attr(&token),
        esc(t(lang, "sign_in")),
        esc(t(lang, "code_help")),
    );
    let cookie = set_cookie(FORM_COOKIE, &token, 3600, secure(console, headers));
    (
        status,
        [(header::SET_COOKIE, cookie)],
        page(lang, t(lang, "sign_in"), None, &body),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    code: String,
    #[serde(default)]
    form: String,
}

/// `POST /console/sign-in`: trades a code for a session.
pub async fn sign_in(
    State(state): State<AppState>,
    axum::Extension(console): axum::Extension<Arc<Console>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = Lang::of(&headers);
    let source = peer.map(|axum::Extension(ConnectInfo(a))| a.ip());
    let source_text = source.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
    let storage = state.storage.clone();
    let audit = move |storage: &dyn SyncStorage, action: &str, user: &str, why: &str| {
        let entry = AuditEntry {
            at: chrono::Utc::now().timestamp_millis(),
            actor: user.to_owned(),
            action: action.to_owned(),
            subject: user.to_owned(),
            detail: format!("{why} (from {source_text})"),
        };
        if let Err(e) = storage.record_audit(&entry) {
            tracing::error!(error = %e, "cannot record a console sign-in in the audit trail");
        }
    };
    if console.sign_ins.take(&source).is_err() {
        // A flood is recorded once a minute, not once an attempt: refusing it must not
        // cost the database a write each time (no token is needed to send it).
        if console.flood_notes.take(&()).is_ok() {
            let storage = storage.clone();
            let _ = tokio::task::spawn_blocking(move || {
                audit(
                    storage.as_ref(),
                    "console-refused",
                    "-",
                    "too many sign-in attempts; more this minute are not recorded",
                )
            })
            .await;
        }
        return form_page(
            &console,
            &headers,
            Some(t(lang, "refused_throttle")),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let form_ok = cookie(&headers, FORM_COOKIE)
        .is_some_and(|c| !form.form.is_empty() && same_secret(&c, &form.form));
    if !form_ok {
        return form_page(
            &console,
            &headers,
            Some(t(lang, "refused_form")),
            StatusCode::FORBIDDEN,
        );
    }
    let code_hash = hash_secret(&typed_code(&form.code));
    let now = chrono::Utc::now().timestamp_millis();
    let session = new_secret();
    let csrf = new_secret();
    let session_hash = hash_secret(&session);
    let refusals = console.clone();
    let outcome = tokio::task::spawn_blocking(move || -> AppResult<Result<String, &str>> {
        let session = NewSession {
            hash: &session_hash,
            csrf: &csrf,
            now,
            expires_at: now + SESSION_MS,
        };
        match storage.open_console_session(&code_hash, session, may_open)? {
            SignIn::Opened { user } => {
                audit(storage.as_ref(), "console-sign-in", &user, "signed in");
                Ok(Ok(user))
            }
            SignIn::Refused { user, role } => {
                audit(
                    storage.as_ref(),
                    "console-refused",
                    &user,
                    &format!("a {role} may not open the console"),
                );
                Ok(Err("refused_role"))
            }
            SignIn::NoCode => {
                // Anyone can send these, from as many addresses as they have: at most so
                // many are recorded a minute, so that they cannot fill the trail.
                if refusals.refusal_notes.take(&()).is_ok() {
                    audit(
                        storage.as_ref(),
                        "console-refused",
                        "-",
                        "unknown, used or expired code",
                    );
                }
                Ok(Err("refused_code"))
            }
        }
    })
    .await;
    match outcome {
        Ok(Ok(Ok(_user))) => {
            let secure = secure(&console, &headers);
            let mut response = Redirect::to("/console").into_response();
            let headers = response.headers_mut();
            for value in [
                set_cookie(SESSION_COOKIE, &session, SESSION_MS / 1000, secure),
                set_cookie(FORM_COOKIE, "", 0, secure),
            ] {
                if let Ok(v) = value.parse() {
                    headers.append(header::SET_COOKIE, v);
                }
            }
            response
        }
        Ok(Ok(Err(key))) => form_page(
            &console,
            &headers,
            Some(t(lang, key)),
            StatusCode::FORBIDDEN,
        ),
        Ok(Err(e)) => e.into_response(),
        Err(e) => AppError::internal(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/sign-out`: ends the session (with the session's CSRF token).
pub async fn sign_out(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Refused> {
    signed.check_csrf(&form.csrf)?;
    let storage = state.storage.clone();
    let hash = signed.session_hash.clone();
    let user = signed.user.id.clone();
    tokio::task::spawn_blocking(move || -> AppResult<()> {
        let now = chrono::Utc::now().timestamp_millis();
        storage.end_console_session(&hash, now)?;
        storage.record_audit(&AuditEntry {
            at: now,
            actor: user.clone(),
            action: "console-sign-out".into(),
            subject: user,
            detail: "signed out".into(),
        })
    })
    .await
    .map_err(AppError::internal)??;
    let secure = secure(&signed.console, &headers);
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", 0, secure),
        )],
        Redirect::to("/console/sign-in"),
    )
        .into_response())
}

/// `GET /console/lang/{zh|en}`: keeps the language in a cookie and goes back to the
/// overview (a preference, not a change of data: no CSRF token needed).
pub async fn switch_language(Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let Some(lang) = Lang::parse(&lang) else {
        return AppError::NotFound(format!("no language `{lang}`")).into_response();
    };
    let value = match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    };
    (
        [(
            header::SET_COOKIE,
            format!("{LANG_COOKIE}={value}; Path=/console; Max-Age=31536000; SameSite=Strict"),
        )],
        Redirect::to(&back_to(&headers)),
    )
        .into_response()
}

/// Where the language switch leads: back to the console page it was clicked on (the path
/// and query of the `Referer`, never another site), else the overview.
fn back_to(headers: &HeaderMap) -> String {
    headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<axum::http::Uri>().ok())
        .and_then(|uri| uri.path_and_query().map(|pq| pq.as_str().to_owned()))
        .filter(|pq| {
            (pq == "/console" || pq.starts_with("/console/") || pq.starts_with("/console?"))
                && !pq.starts_with("/console/lang/")
                && !pq.starts_with("/console/sign-")
        })
        .unwrap_or_else(|| "/console".to_owned())
}
