//! The walk that holds a whole document to the fields of its kind, every value of every
//! key, refusing the first thing no reader could read.

use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};

use super::{EARLIEST_MS, Field, Key, LATEST_MS, Ty, canonical_id, quote, refuse, req, user_id};
use crate::doc::{Doc, Fields, MapItem as Item};
use crate::kinds::RuleViolation;

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
    walker.map(&automerge::ROOT, None, &[&HEADER, fields])
}

/// Where a value sits, from the root: rendered as a dotted path only for a refusal (a
/// document of thousands of values is walked without building a string per value).
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    key: &'a str,
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        f.write_str(&quote(self.key))
    }
}

fn at_key<'a>(parent: Option<&'a Path<'a>>, key: &'a str) -> Path<'a> {
    Path { parent, key }
}

struct Walker<'a> {
    doc: &'a Doc,
}

impl Walker<'_> {
    fn map(
        &self,
        obj: &ObjId,
        path: Option<&Path<'_>>,
        fields: &[&[Field]],
    ) -> Result<(), RuleViolation> {
        let map = self.doc.map(obj);
        let all = || fields.iter().flat_map(|f| f.iter());
        for field in all() {
            if let (Key::Is(key), true) = (field.key, field.required)
                && map.get(key).is_none()
            {
                return Err(refuse(&at_key(path, key).to_string(), "is required"));
            }
        }
        for item in &map.items {
            let key = item.key.as_str();
            let at = at_key(path, key);
            let Some(field) = all().find(|f| matches(f.key, key)) else {
                return Err(refuse(&at.to_string(), "is not a field of this document"));
            };
            self.values(obj, item, &at, &field.ty)?;
        }
        Ok(())
    }

    /// Every value of one key: the one every device shows, or all of them when devices set
    /// the key concurrently.
    fn values(
        &self,
        obj: &ObjId,
        item: &Item,
        at: &Path<'_>,
        ty: &Ty,
    ) -> Result<(), RuleViolation> {
        if item.conflict {
            let values = self
                .doc
                .am
                .get_all(obj, item.key.as_str())
                .map_err(|e| refuse(&at.to_string(), e.to_string()))?;
            for (value, id) in values {
                self.value(&value, &id, at, ty)?;
            }
            return Ok(());
        }
        let id = item.id.clone().unwrap_or(automerge::ROOT);
        self.value(&item.value, &id, at, ty)
    }

    fn value(
        &self,
        value: &Value,
        id: &ObjId,
        at: &Path<'_>,
        ty: &Ty,
    ) -> Result<(), RuleViolation> {
        let am = &self.doc.am;
        match (ty, value) {
            (Ty::Map(fields), Value::Object(ObjType::Map)) => self.map(id, Some(at), &[fields]),
            (Ty::MapOf { key, value, max }, Value::Object(ObjType::Map)) => {
                let map = self.doc.map(id);
                if map.items.len() > *max {
                    return Err(refuse(
                        &at.to_string(),
                        format!("holds more than {max} entries"),
                    ));
                }
                for item in &map.items {
                    let k = item.key.as_str();
                    let here = at_key(Some(at), k);
                    if !key.accepts(k) {
                        return Err(refuse(
                            &here.to_string(),
                            format!("the key is not {}", key.describe()),
                        ));
                    }
                    self.values(id, item, &here, value)?;
                }
                Ok(())
            }
            (Ty::Text { max }, Value::Object(ObjType::Text)) => {
                if am.length(id) > *max {
                    return Err(refuse(
                        &at.to_string(),
                        format!("is longer than {max} characters"),
                    ));
                }
                plain_text(am, id, &at.to_string())
            }
            (Ty::Entry(fields), Value::Scalar(s)) => match s.as_ref() {
                ScalarValue::Str(text) => entry(text, at, fields),
                _ => Err(refuse(
                    &at.to_string(),
                    "must be a stamped entry (a string holding JSON)",
                )),
            },
            (_, Value::Scalar(s)) => scalar(s, at, ty),
            (_, Value::Object(found)) => Err(refuse(
                &at.to_string(),
                format!("must be {}, not an automerge {found}", expected(ty)),
            )),
        }
    }
}

/// Text is characters only, as a plain string is: no block markers (a map hidden in the
/// text, which `length` counts as one character), no marks (names and values beside the
/// characters, which no reader shows), and no control characters but line breaks and tabs.
/// What passes is what the readers show, and is bounded by the text's length.
fn plain_text(am: &impl ReadDoc, id: &ObjId, at: &str) -> Result<(), RuleViolation> {
    let unreadable =
        |e: automerge::AutomergeError| refuse(at, format!("is not readable text: {e}"));
    if !am.marks(id).map_err(unreadable)?.is_empty() {
        return Err(refuse(at, "must be plain text: it holds marks"));
    }
    for span in am.spans(id).map_err(unreadable)? {
        match span {
            automerge::iter::Span::Block(_) => {
                return Err(refuse(at, "must be plain text: it holds a block marker"));
            }
            automerge::iter::Span::Text { text, .. } => {
                if text
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
                {
                    return Err(refuse(at, "must not hold control characters"));
                }
            }
        }
    }
    Ok(())
}

fn matches(key: Key, candidate: &str) -> bool {
    match key {
        Key::Is(k) => k == candidate,
        Key::Prefix(prefix, rule) => candidate
            .strip_prefix(prefix)
            .is_some_and(|rest| rule.accepts(rest)),
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
fn entry(text: &str, at: &Path<'_>, fields: &[Field]) -> Result<(), RuleViolation> {
    const STAMP: [Field; 2] = [req("by", Ty::User), req("at", Ty::Time)];
    let Some(parsed) = Fields::parse(text) else {
        return Err(refuse(
            &at.to_string(),
            "is not a stamped entry (a JSON object)",
        ));
    };
    for field in STAMP.iter().chain(fields) {
        if let (Key::Is(key), true) = (field.key, field.required)
            && parsed
                .get(key)
                .is_none_or(|v| matches!(v, ScalarValue::Null))
        {
            return Err(refuse(&at_key(Some(at), key).to_string(), "is required"));
        }
    }
    for (key, value) in parsed.iter() {
        let here = at_key(Some(at), key);
        let Some(field) = STAMP.iter().chain(fields).find(|f| matches(f.key, key)) else {
            return Err(refuse(&here.to_string(), "is not a field of this entry"));
        };
        if matches!(value, ScalarValue::Null) && !field.required {
            continue;
        }
        scalar(value, &here, &field.ty)?;
    }
    Ok(())
}

fn scalar(s: &ScalarValue, at: &Path<'_>, ty: &Ty) -> Result<(), RuleViolation> {
    let refuse = |at: &Path<'_>, reason: &str| refuse(&at.to_string(), reason);
    let wrong = || refuse(at, &format!("must be {}", expected(ty)));
    match ty {
        Ty::Str { min, max } => {
            let ScalarValue::Str(text) = s else {
                return Err(wrong());
            };
            let len = text.chars().count();
            if len < *min || len > *max {
                return Err(refuse(
                    at,
                    &format!("must be {min} to {max} characters, not {len}"),
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
            if *min > 0 && super::is_blank(text) {
                return Err(refuse(at, "must not be blank"));
            }
            Ok(())
        }
        Ty::Code(codes) => match s {
            ScalarValue::Str(text) if codes.contains(&text.as_str()) => Ok(()),
            ScalarValue::Str(text) => Err(refuse(
                at,
                &format!("`{}` is not one of `{}`", quote(text), codes.join("`, `")),
            )),
            _ => Err(wrong()),
        },
        Ty::Id => match s {
            ScalarValue::Str(text) if canonical_id(text) => Ok(()),
            ScalarValue::Str(text) => Err(refuse(
                at,
                &format!(
                    "`{}` is not a document id in canonical form (lower-case hyphenated UUID)",
                    quote(text)
                ),
            )),
            _ => Err(wrong()),
        },
        Ty::User => match s {
            ScalarValue::Str(text) if user_id(text) => Ok(()),
            ScalarValue::Str(text) => {
                Err(refuse(at, &format!("`{}` is not a user id", quote(text))))
            }
            _ => Err(wrong()),
        },
        Ty::Int { min, max } => {
            let n = integer(s).ok_or_else(wrong)?;
            if n < *min || n > *max {
                return Err(refuse(at, &format!("`{n}` is outside {min}..={max}")));
            }
            Ok(())
        }
        Ty::Num { min, max } => {
            let n = match s {
                ScalarValue::F64(f) => *f,
                _ => integer(s).ok_or_else(wrong)? as f64,
            };
            if !n.is_finite() || n < *min || n > *max {
                return Err(refuse(at, &format!("`{n}` is outside {min}..={max}")));
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
                    &format!("`{n}` is not a time between 2020 and 2100 (milliseconds)"),
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
                return Err(refuse(at, &format!("lists more than {max} items")));
            }
            match items.iter().find(|i| !item.accepts(i)) {
                Some(bad) => Err(refuse(
                    at,
                    &format!("`{}` is not {}", quote(bad), item.describe()),
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
