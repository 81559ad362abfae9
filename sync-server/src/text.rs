//! Text that came from outside, as the server repeats it: error messages quote at most a
//! short prefix of any input, names may not hold control characters, and what the admin
//! commands print of a name is escaped, so a terminal never runs what a client sent.

/// Most characters of an input quoted in a message.
pub const QUOTE_CHARS: usize = 64;
/// Most characters of a whole message.
const MESSAGE_CHARS: usize = 2_000;

/// Most characters of a refusal's field path: room for every path a valid document has
/// (`photos.sha256:<64 hex digits>.caption` is 86), while a key no document may hold is
/// still cut.
pub const FIELD_CHARS: usize = 160;

/// `text` if short, else its first `QUOTE_CHARS` characters, `…` and its length in bytes.
pub fn prefix(text: &str) -> String {
    cut(text, QUOTE_CHARS)
}

/// A refusal's field path as a client can use it: whole up to [`FIELD_CHARS`], else cut as
/// [`prefix`] cuts.
pub fn field_path(text: &str) -> String {
    cut(text, FIELD_CHARS)
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
    }
}

/// A message with every backtick-quoted part cut to a short prefix (messages put values in
/// backticks), control characters escaped, and the whole at most 2,000 characters.
pub fn shorten_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MESSAGE_CHARS + 64));
    // Odd-numbered parts are inside backticks.
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(&escape_controls(&prefix(part)));
        } else {
            out.push_str(&escape_controls(part));
        }
    }
    match out.char_indices().nth(MESSAGE_CHARS) {
        None => out,
        Some((end, _)) => format!("{}…", &out[..end]),
    }
}

/// Whether `c` could move a terminal's cursor, change its colours, or reorder what it
/// shows: ASCII and C1 controls, and the invisible direction marks and overrides.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character written as `\u{…}` (and tab, newline, return as
/// `\t`, `\n`, `\r`): for printing names in the admin commands' tables.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if is_unsafe(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Refuses a name that holds a control character, naming the field.
pub fn check_name(field: &str, name: &str) -> Result<(), String> {
    match name.chars().find(|&c| is_unsafe(c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "`{field}` must not contain control characters (found `{}`)",
            c.escape_unicode()
        )),
    }
}

/// A request's source address as a log shows it (`unknown` when the listener gave none).
pub fn source(ip: Option<std::net::IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_quoted_input_comes_back_as_a_short_prefix_with_its_size() {
        let id = "x".repeat(300_000);
        let message = shorten_quotes(&format!("`{id}` is not a document id"));
        assert!(message.len() < 200, "{}", message.len());
        assert!(message.starts_with(&format!("`{}… (300000 bytes)`", "x".repeat(64))));
        assert!(message.ends_with(" is not a document id"));
        assert_eq!(shorten_quotes("`am-li` is fine"), "`am-li` is fine");
    }

    #[test]
    fn a_field_path_a_valid_document_can_have_comes_back_whole_and_a_huge_key_is_cut() {
        let photo = format!("photos.sha256:{}.caption", "a".repeat(64));
        assert_eq!(field_path(&photo), photo);
        let huge = format!("standard.{}", "k".repeat(100_000));
        let cut = field_path(&huge);
        assert!(cut.chars().count() < FIELD_CHARS + 20, "{cut}");
        assert!(cut.ends_with("(100009 bytes)"), "{cut}");
    }

    #[test]
    fn a_long_message_without_quotes_is_cut_too() {
        assert!(shorten_quotes(&"y".repeat(10_000)).chars().count() <= MESSAGE_CHARS + 1);
        assert_eq!(
            prefix("李".repeat(65).as_str()).chars().take(64).count(),
            64
        );
    }

    #[test]
    fn names_with_escapes_or_nul_are_refused_and_printed_escaped() {
        let name = "phone\u{1b}[31mred\u{0}\u{202e}";
        let refused = check_name("device_name", name).expect_err("control characters");
        assert!(refused.contains("`device_name`"), "{refused}");
        assert!(refused.contains("\\u{1b}"), "{refused}");
        assert_eq!(escape_controls(name), "phone\\u{1b}[31mred\\u{0}\\u{202e}");
        assert!(check_name("device_name", "Li's phone 李").is_ok());
        assert_eq!(escape_controls("Li's phone 李"), "Li's phone 李");
    }
}
