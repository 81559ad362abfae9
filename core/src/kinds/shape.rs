//! The shape of a document, declared as data, and the walk that holds a document to it.
//!
//! Each kind declares its fields once ([`Field`]: the key, the Automerge type, whether it
//! is required, the value's limits). [`check`] walks the whole document, every value of
//! every key (a key two devices set concurrently holds several values, and readers show
//! them all), and refuses the first thing no reader could read: a missing required field,
//! a value of another type, a code outside its set, a number out of range, a string too
//! long, a key the kind does not have, a stamped entry that does not parse. The walk is
//! bounded by the size of the document: it visits each value once.

mod walk;

pub(crate) use walk::check;

use crate::ids::DocId;
use crate::kinds::RuleViolation;

/// What a value must be.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ty {
    /// A plain string (never Automerge Text) of `min..=max` characters, no control
    /// characters but line breaks and tabs.
    Str {
        min: usize,
        max: usize,
    },
    /// A plain string from a closed set of codes.
    Code(&'static [&'static str]),
    /// A document id in canonical form (lower-case, hyphenated UUID).
    Id,
    /// A user id: 1 to 64 letters, digits, `-`, `_` or `.`.
    User,
    /// An integer in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    /// A number (float or integer) in `min..=max`, finite.
    Num {
        min: f64,
        max: f64,
    },
    Bool,
    /// Milliseconds since the Unix epoch, within the years fieldsync can have recorded.
    Time,
    /// Collaborative text (an Automerge Text object) of at most `max` characters.
    Text {
        max: usize,
    },
    /// A map with the given fields.
    Map(&'static [Field]),
    /// A map whose keys follow `key` and whose values are all `value`; at most `max` keys.
    MapOf {
        key: KeyRule,
        value: &'static Ty,
        max: usize,
    },
    /// A stamped entry: a plain string holding one JSON object with these fields plus
    /// `by` (the author, a user id) and `at` (the device time, a [`Ty::Time`]).
    Entry(&'static [Field]),
    /// Inside an entry: a comma-separated list of at most `max` items following `item`.
    List {
        item: KeyRule,
        max: usize,
    },
}

/// What a free key must look like.
#[derive(Clone, Copy, Debug)]
pub(crate) enum KeyRule {
    /// A product code: 1 to 64 characters, no commas, no control characters, not blank.
    Sku,
    /// A photo's content hash: `sha256:` and 64 lower-case hex digits.
    PhotoHash,
    /// A document id in canonical form.
    Id,
    /// A user id.
    User,
    /// One of these codes.
    Code(&'static [&'static str]),
}

/// Which keys a field covers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Key {
    /// Exactly this key.
    Is(&'static str),
    /// Every key made of this prefix and a rest that follows the rule.
    Prefix(&'static str, KeyRule),
}

/// One field of a kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub key: Key,
    pub ty: Ty,
    pub required: bool,
}

/// A required field.
pub(crate) const fn req(key: &'static str, ty: Ty) -> Field {
    Field {
        key: Key::Is(key),
        ty,
        required: true,
    }
}

/// An optional field.
pub(crate) const fn opt(key: &'static str, ty: Ty) -> Field {
    Field {
        key: Key::Is(key),
        ty,
        required: false,
    }
}

/// Optional fields under every key `prefix<rest>` whose rest follows `rule`.
pub(crate) const fn prefixed(prefix: &'static str, rule: KeyRule, ty: Ty) -> Field {
    Field {
        key: Key::Prefix(prefix, rule),
        ty,
        required: false,
    }
}

/// The earliest time any document can hold: 2020-01-01T00:00:00Z. Nothing fieldsync
/// records predates it.
pub(crate) const EARLIEST_MS: i64 = 1_577_836_800_000;
/// The latest time any document can hold: 2100-01-01T00:00:00Z (deadlines lie ahead, but
/// not that far).
pub(crate) const LATEST_MS: i64 = 4_102_444_800_000;

fn refuse(field: &str, reason: impl Into<String>) -> RuleViolation {
    RuleViolation::at("schema", field, reason)
}

/// At most 40 characters of `text`, for messages: refused input is named, never echoed whole.
pub(crate) fn quote(text: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = text.chars().take(MAX).collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// Whether `c` is drawn as nothing, or as a blank: format characters (zero-width spaces
/// and joiners, direction marks, embeddings, overrides and isolates, the soft hyphen, word
/// joiners, the byte-order mark, tags), variation selectors, and the fillers and blank
/// patterns that render empty. Two product codes that differ by one look the same.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Whether `text` shows nothing: only whitespace and invisible characters. (Direction
/// controls inside text are kept: text pasted on Android carries them around numbers and
/// names; the console shows them as codes, docs/adr/0032.)
pub(crate) fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

impl KeyRule {
    pub(crate) fn accepts(self, key: &str) -> bool {
        match self {
            KeyRule::Sku => {
                !is_blank(key)
                    && key.chars().count() <= 64
                    && !key.contains(',')
                    && !key.chars().any(|c| c.is_control() || is_invisible(c))
            }
            KeyRule::PhotoHash => key.strip_prefix("sha256:").is_some_and(|hex| {
                hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
            }),
            KeyRule::Id => canonical_id(key),
            KeyRule::User => user_id(key),
            KeyRule::Code(codes) => codes.contains(&key),
        }
    }

    /// What a key must be, as a refusal and the protocol's tables say it.
    pub(crate) fn describe(self) -> String {
        match self {
            KeyRule::Sku => {
                "a product code (1 to 64 characters, not blank, no commas, control or invisible characters)"
                    .into()
            }
            KeyRule::PhotoHash => "a `sha256:<64 lower-case hex digits>` content hash".into(),
            KeyRule::Id => "a document id (lower-case hyphenated UUID)".into(),
            KeyRule::User => "a user id (1 to 64 ASCII letters, digits, `-`, `_` or `.`)".into(),
            KeyRule::Code(codes) => {
                let quoted: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
                format!("one of {}", quoted.join(", "))
            }
        }
    }
}

/// Whether `text` is a document id exactly as fieldsync writes one.
pub(crate) fn canonical_id(text: &str) -> bool {
    DocId::parse("id", text).is_ok_and(|id| id.as_str() == text)
}

/// Whether `text` is a user id (the server's `validate_user_id` accepts the same).
pub(crate) fn user_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_code_holds_nothing_invisible_and_a_blank_text_shows_nothing() {
        for sku in [
            "6901028\u{200B}",
            "\u{202E}8201096",
            "6901028\u{E0020}",
            "6901028\u{FE0F}",
            "6901028\u{061C}",
            "69\u{00AD}01028",
            "\u{3164}",
            " ",
            "a,b",
            "69010\u{7}28",
        ] {
            assert!(!KeyRule::Sku.accepts(sku), "{}", sku.escape_unicode());
        }
        for sku in ["6901028", "6901028001", "ZH-soft.20"] {
            assert!(KeyRule::Sku.accepts(sku), "{sku}");
        }
        for blank in [
            "",
            "  ",
            "\u{200B}\u{200B}",
            "\u{3164}",
            "\u{2800} \u{FEFF}",
        ] {
            assert!(is_blank(blank), "{}", blank.escape_unicode());
        }
        // Text pasted on Android wraps numbers and names in direction isolates: it shows.
        for shown in ["\u{2068}李伟\u{2069}", "a\u{200B}", "138 0000 0000"] {
            assert!(!is_blank(shown), "{}", shown.escape_unicode());
        }
    }
}
