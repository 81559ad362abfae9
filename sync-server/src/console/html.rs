//! HTML for the console's pages: escaping, the page frame, the embedded stylesheet and the
//! headers every console answer carries.
//!
//! Every value that comes from a document, a user or a request goes through [`esc`] (or
//! [`attr`]) before it meets markup: a store named `<script>` is shown as text, and a
//! direction control in a device's text as its code.

use std::fmt::Write as _;

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use super::i18n::{Lang, t};

/// The console's stylesheet, embedded in the binary.
const STYLESHEET: &str = include_str!("console.css");

/// Text made safe to put between tags or in a quoted attribute.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Direction controls would let a device's text reorder what follows it on the
            // page (a name shown reversed, a figure pulled into it): shown, not obeyed.
            '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&c.escape_unicode().to_string());
            }
            c => out.push(c),
        }
    }
    out
}

/// A value for a quoted attribute (the same escaping: quotes are escaped too).
pub fn attr(text: &str) -> String {
    esc(text)
}

/// A path segment for a link: ids are letters, digits, `-`, `_`, `.` and `:`; anything
/// else is percent-encoded.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Who is signed in, for the page header and its sign-out form.
#[derive(Clone, Debug)]
pub struct Viewer<'a> {
    pub name: &'a str,
    pub csrf: &'a str,
}

/// A whole page: the frame with navigation, then `body` (already escaped markup).
pub fn page(lang: Lang, title: &str, viewer: Option<&Viewer<'_>>, body: &str) -> Html<String> {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · {}</title><link rel=\"stylesheet\" href=\"/console/assets/console.css\">\
         </head><body><header><span class=\"brand\">{}</span>",
        lang.code(),
        esc(title),
        esc(t(lang, "console")),
        esc(t(lang, "console")),
    );
    if let Some(v) = viewer {
        let _ = write!(
            out,
            "<nav><a href=\"/console\">{}</a><a href=\"/console/fleet\">{}</a>\
             <a href=\"/console/assessment\">{}</a></nav>",
            esc(t(lang, "overview")),
            esc(t(lang, "fleet")),
            esc(t(lang, "assessment")),
        );
        let _ = write!(
            out,
            "<span class=\"who\">{}</span><form method=\"post\" action=\"/console/sign-out\" \
             class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" id=\"sign-out\">{}</button></form>",
            esc(v.name),
            attr(v.csrf),
            esc(t(lang, "sign_out")),
        );
    }
    let other = lang.other();
    let _ = write!(
        out,
        "<a class=\"lang\" href=\"/console/lang/{}\">{}</a></header><main><h1>{}</h1>{body}\
         </main></body></html>",
        other.code(),
        esc(other.name()),
        esc(title),
    );
    Html(out)
}

/// `GET /console/assets/console.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Headers on every console answer: no scripts at all, no framing, nothing cached that
/// shows district data, no guessing of content types.
pub async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let is_asset = request.uri().path().starts_with("/console/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // What `frame-ancestors` says, for browsers that do not read it.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A table from a header row and rows of cells that are markup already, in a box that
/// scrolls sideways when the table is wider than the screen.
pub fn table(id: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "<div class=\"scroll\"><table id=\"{}\"><thead><tr>",
        attr(id)
    );
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A time in the district's zone, `YYYY-MM-DD HH:MM`.
pub fn when(calendar: &fieldsync_core::FieldCalendar, at: fieldsync_core::Timestamp) -> String {
    calendar.local(at).format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_value_is_escaped_into_text() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(segment("a b/<c>"), "a%20b%2F%3Cc%3E");
        assert_eq!(
            esc("shop \u{202E}gnp.exe\u{2066}x\u{2069}"),
            "shop \\u{202e}gnp.exe\\u{2066}x\\u{2069}",
            "direction controls are shown, not obeyed"
        );
        assert_eq!(segment("store:0191-ab"), "store:0191-ab");
    }
}
