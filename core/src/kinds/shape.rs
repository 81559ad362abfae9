//! The shape of a document, declared as data, and the walk that holds a document to it.
//!
//! Each kind declares its fields once ([`Field`]: the key, the Automerge type, whether it
//! is required, the value's limits). [`check`] walks the whole document, every value of
//! every key (a key two devices set concurrently holds several values, and readers show
//! them all), and refuses the first thing no reader could read: a missing required field,
//! a value of another type, a code outside its set, a number out of range, a string too
//! long, a key the kind does not have, a stamped entry that does not parse. The walk is
//! bounded by the size of the document: it visits each value once.

use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};

use crate::doc::{Doc, Fields};
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

impl KeyRule {
    pub(crate) fn accepts(self, key: &str) -> bool {
        match self {
            KeyRule::Sku => {
                !key.trim().is_empty()
                    && key.chars().count() <= 64
                    && !key.contains(',')
                    && !key.chars().any(char::is_control)
            }
            KeyRule::PhotoHash => key.strip_prefix("sha256:").is_some_and(|hex| {
                hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
            }),
            KeyRule::Id => canonical_id(key),
            KeyRule::User => user_id(key),
            KeyRule::Code(codes) => codes.contains(&key),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            KeyRule::Sku => "a product code (1 to 64 characters, no commas)",
            KeyRule::PhotoHash => "a `sha256:<64 hex digits>` content hash",
            KeyRule::Id => "a document id (lower-case hyphenated UUID)",
            KeyRule::User => "a user id",
            KeyRule::Code(_) => "one of its codes",
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

/// Holds the document to the fields of its kind (the header `schema`, `kind`, `id` is
/// checked by [`Doc::check_header`] and allowed here).
pub(crate) fn check(doc: &Doc, fields: &[Field]) -> Result<(), RuleViolation> {
    const HEADER: [Field; 3] = [
        req(
            "schema",
            Ty::Int {
                min: 1,
                max: crate::doc::DOC_SCHEMA_VERSION,
            },
        ),
        req("kind", Ty::Str { min: 1, max: 32 }),
        req("id", Ty::Id),
    ];
    let walker = Walker { doc };
    walker.map(&automerge::ROOT, "", &[&HEADER, fields])
}

struct Walker<'a> {
    doc: &'a Doc,
}

impl Walker<'_> {
    fn map(&self, obj: &ObjId, path: &str, fields: &[&[Field]]) -> Result<(), RuleViolation> {
        let am = &self.doc.am;
        let all = || fields.iter().flat_map(|f| f.iter());
        for field in all() {
            if let (Key::Is(key), true) = (field.key, field.required)
                && am.get(obj, key).ok().flatten().is_none()
            {
                return Err(refuse(&join(path, key), "is required"));
            }
        }
        for key in am.keys(obj) {
            let at = join(path, &key);
            let Some(field) = all().find(|f| matches(f.key, &key)) else {
                return Err(refuse(&at, "is not a field of this document"));
            };
            let values = am
                .get_all(obj, key.as_str())
                .map_err(|e| refuse(&at, e.to_string()))?;
            for (value, id) in values {
                self.value(&value, &id, &at, &field.ty)?;
            }
        }
        Ok(())
    }

    fn value(&self, value: &Value, id: &ObjId, at: &str, ty: &Ty) -> Result<(), RuleViolation> {
        let am = &self.doc.am;
        match (ty, value) {
            (Ty::Map(fields), Value::Object(ObjType::Map)) => self.map(id, at, &[fields]),
            (Ty::MapOf { key, value, max }, Value::Object(ObjType::Map)) => {
                let mut count = 0;
                for k in am.keys(id) {
                    count += 1;
                    if count > *max {
                        return Err(refuse(at, format!("holds more than {max} entries")));
                    }
                    let here = join(at, &k);
                    if !key.accepts(&k) {
                        return Err(refuse(&here, format!("the key is not {}", key.describe())));
                    }
                    let values = am
                        .get_all(id, k.as_str())
                        .map_err(|e| refuse(&here, e.to_string()))?;
                    for (v, vid) in values {
                        self.value(&v, &vid, &here, value)?;
                    }
                }
                Ok(())
            }
            (Ty::Text { max }, Value::Object(ObjType::Text)) => {
                if am.length(id) > *max {
                    return Err(refuse(at, format!("is longer than {max} characters")));
                }
                Ok(())
            }
            (Ty::Entry(fields), Value::Scalar(s)) => match s.as_ref() {
                ScalarValue::Str(text) => entry(text, at, fields),
                _ => Err(refuse(
                    at,
                    "must be a stamped entry (a string holding JSON)",
                )),
            },
            (_, Value::Scalar(s)) => scalar(s, at, ty),
            (_, Value::Object(found)) => Err(refuse(
                at,
                format!("must be {}, not an automerge {found}", expected(ty)),
            )),
        }
    }
}

fn matches(key: Key, candidate: &str) -> bool {
    match key {
        Key::Is(k) => k == candidate,
        Key::Prefix(prefix, rule) => candidate
            .strip_prefix(prefix)
            .is_some_and(|rest| rule.accepts(rest)),
    }
}

fn join(path: &str, key: &str) -> String {
    let key = quote(key);
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

fn expected(ty: &Ty) -> &'static str {
    match ty {
        Ty::Str { .. } | Ty::Code(_) | Ty::Id | Ty::User => "a plain string",
        Ty::Int { .. } => "an integer",
        Ty::Num { .. } => "a number",
        Ty::Bool => "a boolean",
        Ty::Time => "an integer of milliseconds",
        Ty::Text { .. } => "automerge text",
        Ty::Map(_) | Ty::MapOf { .. } => "a map",
        Ty::Entry(_) => "a stamped entry (a string holding JSON)",
        Ty::List { .. } => "a comma-separated string",
    }
}

/// Holds a stamped entry to its fields: it must parse as every reader parses it
/// ([`Fields::parse`]), name its author and time, and hold nothing else.
fn entry(text: &str, at: &str, fields: &[Field]) -> Result<(), RuleViolation> {
    const STAMP: [Field; 2] = [req("by", Ty::User), req("at", Ty::Time)];
    let Some(parsed) = Fields::parse(text) else {
        return Err(refuse(at, "is not a stamped entry (a JSON object)"));
    };
    for field in STAMP.iter().chain(fields) {
        if let (Key::Is(key), true) = (field.key, field.required)
            && parsed
                .get(key)
                .is_none_or(|v| matches!(v, ScalarValue::Null))
        {
            return Err(refuse(&format!("{at}.{key}"), "is required"));
        }
    }
    for (key, value) in parsed.iter() {
        let here = format!("{at}.{}", quote(key));
        let Some(field) = STAMP.iter().chain(fields).find(|f| matches(f.key, key)) else {
            return Err(refuse(&here, "is not a field of this entry"));
        };
        if matches!(value, ScalarValue::Null) && !field.required {
            continue;
        }
        scalar(value, &here, &field.ty)?;
    }
    Ok(())
}

fn scalar(s: &ScalarValue, at: &str, ty: &Ty) -> Result<(), RuleViolation> {
    let wrong = || refuse(at, format!("must be {}", expected(ty)));
    match ty {
        Ty::Str { min, max } => {
            let ScalarValue::Str(text) = s else {
                return Err(wrong());
            };
            let len = text.chars().count();
            if len < *min || len > *max {
                return Err(refuse(
                    at,
                    format!("must be {min} to {max} characters, not {len}"),
                ));
            }
            // Line breaks and tabs belong in an address or a note; no other control
            // character belongs anywhere (they rewrite terminals and CSV files).
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
            {
                return Err(refuse(at, "must not hold control characters"));
            }
            if *min > 0 && text.trim().is_empty() {
                return Err(refuse(at, "must not be blank"));
            }
            Ok(())
        }
        Ty::Code(codes) => match s {
            ScalarValue::Str(text) if codes.contains(&text.as_str()) => Ok(()),
            ScalarValue::Str(text) => Err(refuse(
                at,
                format!("`{}` is not one of `{}`", quote(text), codes.join("`, `")),
            )),
            _ => Err(wrong()),
        },
        Ty::Id => match s {
            ScalarValue::Str(text) if canonical_id(text) => Ok(()),
            ScalarValue::Str(text) => Err(refuse(
                at,
                format!(
                    "`{}` is not a document id in canonical form (lower-case hyphenated UUID)",
                    quote(text)
                ),
            )),
            _ => Err(wrong()),
        },
        Ty::User => match s {
            ScalarValue::Str(text) if user_id(text) => Ok(()),
            ScalarValue::Str(text) => {
                Err(refuse(at, format!("`{}` is not a user id", quote(text))))
            }
            _ => Err(wrong()),
        },
        Ty::Int { min, max } => {
            let n = integer(s).ok_or_else(wrong)?;
            if n < *min || n > *max {
                return Err(refuse(at, format!("`{n}` is outside {min}..={max}")));
            }
            Ok(())
        }
        Ty::Num { min, max } => {
            let n = match s {
                ScalarValue::F64(f) => *f,
                _ => integer(s).ok_or_else(wrong)? as f64,
            };
            if !n.is_finite() || n < *min || n > *max {
                return Err(refuse(at, format!("`{n}` is outside {min}..={max}")));
            }
            Ok(())
        }
        Ty::Bool => match s {
            ScalarValue::Boolean(_) => Ok(()),
            _ => Err(wrong()),
        },
        Ty::Time => {
            let n = integer(s).ok_or_else(wrong)?;
            if !(EARLIEST_MS..=LATEST_MS).contains(&n) {
                return Err(refuse(
                    at,
                    format!("`{n}` is not a time between 2020 and 2100 (milliseconds)"),
                ));
            }
            Ok(())
        }
        Ty::List { item, max } => {
            let ScalarValue::Str(text) = s else {
                return Err(wrong());
            };
            let items: Vec<&str> = text.split(',').filter(|p| !p.is_empty()).collect();
            if items.len() > *max {
                return Err(refuse(at, format!("lists more than {max} items")));
            }
            match items.iter().find(|i| !item.accepts(i)) {
                Some(bad) => Err(refuse(
                    at,
                    format!("`{}` is not {}", quote(bad), item.describe()),
                )),
                None => Ok(()),
            }
        }
        Ty::Text { .. } | Ty::Map(_) | Ty::MapOf { .. } | Ty::Entry(_) => Err(wrong()),
    }
}

/// An integer as Automerge or JSON holds one (never a counter: counters add up on merge,
/// which no field of fieldsync means).
fn integer(s: &ScalarValue) -> Option<i64> {
    match s {
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Some(*i),
        ScalarValue::Uint(u) => i64::try_from(*u).ok(),
        _ => None,
    }
}
