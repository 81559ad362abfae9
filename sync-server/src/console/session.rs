//! Console sessions: the cookie, the extractor that turns it into a signed-in supervisor
//! or admin, and the CSRF check every POST makes.
//!
//! The cookie holds 32 random bytes (hex); the database keeps their SHA-256 only, with the
//! session's CSRF token and expiry. The cookie is `HttpOnly`, `SameSite=Strict`, scoped to
//! `/console`, and `Secure` when the server is configured so or the request came through a
//! TLS proxy. A session whose user is no longer a supervisor or admin is refused.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use fieldsync_core::Role;

use super::Console;
use super::i18n::{Lang, t};
use crate::AppState;
use crate::auth::{hash_secret, new_token};
use crate::storage::User;
use crate::storage::console_sessions::ConsoleSession;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "fieldsync_console";
/// The cookie that carries the sign-in form's CSRF token before there is a session.
pub const FORM_COOKIE: &str = "fieldsync_console_form";

/// The value of cookie `name` in the request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// Whether the session cookie is to be marked `Secure` for this request.
pub fn secure(console: &Console, headers: &HeaderMap) -> bool {
    console.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for a console cookie that lives `max_age_secs` (0: remove it).
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/console; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// A new session id or form token: 32 random bytes, hex.
pub fn new_secret() -> String {
    new_token()
}

/// Equal secrets, compared without stopping at the first difference.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (hash_secret(a), hash_secret(b));
    a.iter().zip(&b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a role may open the console.
pub fn may_open(role: Role) -> bool {
    matches!(role, Role::Supervisor | Role::Admin)
}

/// A signed-in supervisor or admin.
#[derive(Clone, Debug)]
pub struct Signed {
    pub user: User,
    pub session: ConsoleSession,
    /// The hash of the session cookie (for sign-out).
    pub session_hash: Vec<u8>,
    pub lang: Lang,
    pub console: Arc<Console>,
}

impl Signed {
    /// The header's view of who is signed in.
    pub fn viewer(&self) -> super::html::Viewer<'_> {
        super::html::Viewer {
            name: &self.user.name,
            csrf: &self.session.csrf,
        }
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), Refused> {
        if same_secret(presented, &self.session.csrf) {
            Ok(())
        } else {
            tracing::warn!(user = %self.user.id, "console form with a forged or stale csrf token");
            Err(Refused::Forbidden(
                "the form's csrf token is not this session's".into(),
            ))
        }
    }
}

/// Why a console request was not served.
#[derive(Debug)]
pub enum Refused {
    /// No live session: a page request goes to the sign-in page, anything else gets 401.
    NotSignedIn { page: bool },
    /// Signed in, but not allowed (wrong role, forged CSRF token).
    Forbidden(String),
    /// The server failed.
    Internal(crate::error::AppError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NotSignedIn { page: true } => Redirect::to("/console/sign-in").into_response(),
            Refused::NotSignedIn { page: false } => json(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "not signed in to the console: open /console/sign-in",
            ),
            Refused::Forbidden(why) => json(StatusCode::FORBIDDEN, "forbidden", &why),
            Refused::Internal(e) => e.into_response(),
        }
    }
}

/// A refusal as the server's other errors are: `{ "error": code, "message": text }`.
fn json(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": code, "message": message })),
    )
        .into_response()
}

impl From<crate::error::AppError> for Refused {
    fn from(e: crate::error::AppError) -> Self {
        Refused::Internal(e)
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let page = parts.method == axum::http::Method::GET;
        let console = parts
            .extensions
            .get::<Arc<Console>>()
            .cloned()
            .ok_or_else(|| {
                Refused::Internal(crate::error::AppError::Internal(
                    "the console's state is missing from the router".into(),
                ))
            })?;
        let lang = Lang::of(&parts.headers);
        let value = cookie(&parts.headers, SESSION_COOKIE)
            .filter(|v| !v.is_empty())
            .ok_or(Refused::NotSignedIn { page })?;
        let session_hash = hash_secret(&value);
        let storage = state.storage.clone();
        let now = chrono::Utc::now().timestamp_millis();
        let lookup = session_hash.clone();
        let found = tokio::task::spawn_blocking(move || {
            let Some(session) = storage.console_session(&lookup, now)? else {
                return Ok(None);
            };
            let user = storage.user(&session.user_id)?;
            Ok::<_, crate::error::AppError>(user.map(|u| (session, u)))
        })
        .await
        .map_err(crate::error::AppError::internal)??;
        let (session, user) = found.ok_or(Refused::NotSignedIn { page })?;
        if !may_open(user.role) {
            return Err(Refused::Forbidden(t(lang, "refused_role").into()));
        }
        Ok(Signed {
            user,
            session,
            session_hash,
            lang,
            console,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name_among_several_headers_and_pairs() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            "a=1; fieldsync_console=abc".parse().expect("value"),
        );
        headers.append(header::COOKIE, "fieldsync_lang=en".parse().expect("value"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "fieldsync_lang").as_deref(), Some("en"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert!(same_secret("x", "x") && !same_secret("x", "y"));
        let set = set_cookie(SESSION_COOKIE, "v", 60, true);
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.ends_with("Secure")
        );
    }
}
