//! Stamped entries and the versions of a field.
//!
//! A stamped entry is one JSON object in one string, `{"v": …, "by": user, "at": ms}` plus
//! the fields that belong with the value (a verdict's note), so writing it is one Automerge
//! operation and concurrent writes conflict as whole entries. [`Fields::parse`] is the one
//! function every reader uses to read one, on the phone and on the server alike: the author
//! the server checks is the author every device shows.

mod json;

use std::collections::HashMap;

use automerge::ScalarValue;

use super::Stamp;
use super::read::{scalar_f64, scalar_i64, scalar_str};
use crate::time::Timestamp;

/// One value of a field, with who wrote it and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Written<T> {
    pub value: T,
    pub by: String,
    pub at: Timestamp,
}

/// Every value a field holds. Usually one; several when people set it concurrently offline.
/// `current` is the value every device shows (Automerge picks it the same way everywhere);
/// `others` are the concurrent values it won over, for an app to show as a conflict.
#[derive(Clone, Debug, PartialEq)]
pub struct Versions<T> {
    pub current: Written<T>,
    pub others: Vec<Written<T>>,
}

impl<T> Versions<T> {
    pub fn is_conflict(&self) -> bool {
        !self.others.is_empty()
    }

    pub fn value(&self) -> &T {
        &self.current.value
    }

    /// Every value, the current one first.
    pub fn all(&self) -> impl Iterator<Item = &Written<T>> {
        std::iter::once(&self.current).chain(self.others.iter())
    }

    pub(crate) fn map<U>(self, f: impl Fn(T) -> U) -> Versions<U> {
        let conv = |w: Written<T>| Written {
            value: f(w.value),
            by: w.by,
            at: w.at,
        };
        Versions {
            current: conv(self.current),
            others: self.others.into_iter().map(conv).collect(),
        }
    }
}

/// The fields of one stamped entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Fields(HashMap<String, ScalarValue>);

impl Fields {
    /// Reads an entry as stored; `None` when the string is not an entry.
    pub(crate) fn parse(text: &str) -> Option<Fields> {
        serde_json::from_str::<json::EntryJson>(text)
            .ok()
            .map(|e| Fields(e.0))
    }

    /// What `Fields::parse(text)?.i64(key)` gives, without building the other fields: `None`
    /// when the text is not an entry, `Some(None)` when the entry has no integer at `key`.
    /// For the index of a count, which reads one field of every line.
    pub(crate) fn parse_i64(text: &str, key: &str) -> Option<Option<i64>> {
        struct OneField<'k>(&'k str);
        impl<'de> serde::de::DeserializeSeed<'de> for OneField<'_> {
            type Value = Option<serde_json::Value>;
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> std::result::Result<Self::Value, D::Error> {
                deserializer.deserialize_map(self)
            }
        }
        impl<'de> serde::de::Visitor<'de> for OneField<'_> {
            type Value = Option<serde_json::Value>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut found = None;
                let mut seen: Vec<std::borrow::Cow<'de, str>> = Vec::with_capacity(4);
                // Bounded by the entries of the object; a key twice is no entry, as in
                // `Fields::parse`.
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if seen.contains(&k) {
                        return Err(serde::de::Error::custom("a key twice"));
                    }
                    seen.push(k.clone());
                    if k == self.0 {
                        found = Some(map.next_value::<serde_json::Value>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(found)
            }
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let value = serde::de::DeserializeSeed::deserialize(OneField(key), &mut de).ok()?;
        de.end().ok()?;
        Some(value.and_then(|v| scalar_i64(&json_to_scalar(&v))))
    }

    /// The entry with its author and time taken out.
    pub(super) fn written(self) -> Written<Fields> {
        let (by, at) = (
            self.str("by").unwrap_or_default(),
            Timestamp(self.i64("at").unwrap_or(0)),
        );
        Written {
            value: self,
            by,
            at,
        }
    }

    pub(crate) fn str(&self, key: &str) -> Option<String> {
        self.0.get(key).and_then(scalar_str)
    }

    /// The value at `key`, as parsed.
    pub(crate) fn get(&self, key: &str) -> Option<&ScalarValue> {
        self.0.get(key)
    }

    /// Every key of the entry with its value.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &ScalarValue)> {
        self.0.iter()
    }

    pub(crate) fn i64(&self, key: &str) -> Option<i64> {
        self.0.get(key).and_then(scalar_i64)
    }

    pub(crate) fn f64(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(scalar_f64)
    }

    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        match self.0.get(key) {
            Some(ScalarValue::Boolean(b)) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn time(&self, key: &str) -> Option<Timestamp> {
        self.i64(key).map(Timestamp)
    }
}

/// A stamped entry as stored: one JSON object in one string, so writing it is one
/// Automerge operation and concurrent writes conflict as whole entries.
pub(super) fn entry_json(fields: Vec<(&str, ScalarValue)>, stamp: &Stamp) -> String {
    let mut map = serde_json::Map::new();
    for (k, v) in fields {
        map.insert(k.to_owned(), scalar_to_json(&v));
    }
    map.insert("by".into(), serde_json::Value::from(stamp.by.as_str()));
    map.insert("at".into(), serde_json::Value::from(stamp.at.0));
    serde_json::Value::Object(map).to_string()
}

fn scalar_to_json(v: &ScalarValue) -> serde_json::Value {
    match v {
        ScalarValue::Str(s) => serde_json::Value::from(s.as_str()),
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => serde_json::Value::from(*i),
        ScalarValue::Uint(u) => serde_json::Value::from(*u),
        ScalarValue::F64(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or_default(),
        ScalarValue::Boolean(b) => serde_json::Value::from(*b),
        _ => serde_json::Value::Null,
    }
}

fn json_to_scalar(v: &serde_json::Value) -> ScalarValue {
    match v {
        serde_json::Value::String(s) => ScalarValue::Str(s.as_str().into()),
        serde_json::Value::Bool(b) => ScalarValue::Boolean(*b),
        serde_json::Value::Number(n) if n.is_f64() => {
            ScalarValue::F64(n.as_f64().unwrap_or_default())
        }
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(ScalarValue::Int)
            .unwrap_or_else(|| ScalarValue::F64(n.as_f64().unwrap_or_default())),
        _ => ScalarValue::Null,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use automerge::{ActorId, ROOT};

    use super::*;
    use crate::doc::Doc;
    use crate::error::Result;
    use crate::ids::{DocId, DocKind};

    fn stamp(by: &str, at: i64) -> Stamp {
        Stamp {
            by: by.into(),
            at: Timestamp(at),
        }
    }

    /// The entry parser as first written: through `serde_json::Value`.
    /// Whether the top-level object of `text` lists a key twice.
    fn has_a_key_twice(text: &str) -> bool {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = bool;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<bool, A::Error> {
                let mut keys = std::collections::HashSet::new();
                let mut twice = false;
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    twice |= !keys.insert(k);
                }
                Ok(twice)
            }
        }
        let mut de = serde_json::Deserializer::from_str(text);
        serde::Deserializer::deserialize_map(&mut de, Keys).unwrap_or(false)
    }

    fn parse_through_value(text: &str) -> Option<Fields> {
        if has_a_key_twice(text) {
            return None;
        }
        match serde_json::from_str::<serde_json::Value>(text).ok()? {
            serde_json::Value::Object(map) => Some(Fields(
                map.iter()
                    .map(|(k, v)| (k.clone(), json_to_scalar(v)))
                    .collect(),
            )),
            _ => None,
        }
    }

    fn json_piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("\"v\"".to_owned()),
            Just("\"by\"".to_owned()),
            Just("\"at\"".to_owned()),
            Just("\"sup-liu\"".to_owned()),
            Just("\"\\u0041\\n\"".to_owned()),
            Just("1".to_owned()),
            Just("-0".to_owned()),
            Just("1.0".to_owned()),
            Just("1e400".to_owned()),
            Just("18446744073709551615".to_owned()),
            Just("9223372036854775808".to_owned()),
            Just("-9223372036854775809".to_owned()),
            Just("true".to_owned()),
            Just("null".to_owned()),
            Just("[1,{\"a\":2}]".to_owned()),
            Just("{\"x\":{\"y\":[]}}".to_owned()),
            Just(":".to_owned()),
            Just(",".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just(" ".to_owned()),
            Just("\t\n".to_owned()),
            "[a-z\\\"{}:,0-9. ]{0,4}",
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        #[test]
        fn the_entry_parser_reads_every_text_as_reading_it_as_a_json_value_does(
            pieces in proptest::collection::vec(json_piece(), 0..14),
            wrap in proptest::bool::ANY,
        ) {
            let body = pieces.join("");
            let text = if wrap { format!("{{{body}}}") } else { body };
            proptest::prop_assert_eq!(Fields::parse(&text), parse_through_value(&text), "{}", text);
        }
    }

    #[test]
    fn the_entry_parser_agrees_with_the_json_value_reader_on_entries_written_by_hand() {
        for text in [
            r#"{"v":"ok","by":"am-wang","at":1700000000000}"#,
            r#" {"v":1,"by":"sup-liu","at":1,"by":"am-wang"}"#,
            r#"{"v":1.5e3,"n":null,"l":[1,2],"o":{"a":1},"big":18446744073709551615}"#,
            r#"{"v":"\u00e9\n","at":-0}"#,
            r#"{"v":1} x"#,
            r#"["v",1]"#,
            r#""v""#,
            "",
            "{",
        ] {
            assert_eq!(Fields::parse(text), parse_through_value(text), "{text}");
        }
    }

    #[test]
    fn reading_one_integer_of_an_entry_gives_what_parsing_the_whole_entry_gives() {
        for text in [
            r#"{"v":18,"by":"li","at":5}"#,
            r#"{"by":"li","v":-3}"#,
            r#"{"v":1.5}"#,
            r#"{"v":"18"}"#,
            r#"{"v":null}"#,
            r#"{"v":18446744073709551615}"#,
            r#"{"v":1,"v":2}"#,
            r#"{"by":{"nested":[1,2]},"v":7}"#,
            r#"{}"#,
            r#" {"v":4} "#,
            r#"[1]"#,
            r#"18"#,
            r#"{"v":1"#,
            r#"{"v":1} x"#,
        ] {
            assert_eq!(
                Fields::parse_i64(text, "v"),
                Fields::parse(text).map(|f| f.i64("v")),
                "{text}"
            );
        }
    }

    #[test]
    fn concurrent_stamped_writes_are_all_returned_with_the_same_winner_everywhere() -> Result<()> {
        let id = DocId::new();
        let mut a = Doc::create(
            id.clone(),
            DocKind::Store,
            &ActorId::random(),
            HashMap::new(),
            &stamp("a", 1),
        )?;
        let mut b = Doc::from_parts(
            id.clone(),
            DocKind::Store,
            a.am.fork().with_actor(ActorId::random()),
        );
        a.put_stamped(&ROOT, "phone", "111", &stamp("a", 10))?;
        a.commit(&stamp("a", 10), "a");
        b.put_stamped(&ROOT, "phone", "222", &stamp("b", 20))?;
        b.commit(&stamp("b", 20), "b");
        a.am.merge(&mut b.am)?;
        b.am.merge(&mut a.am)?;
        let (va, vb) = (
            a.stamped(&ROOT, "phone").expect("set"),
            b.stamped(&ROOT, "phone").expect("set"),
        );
        assert_eq!(va, vb);
        assert!(va.is_conflict());
        let mut who: Vec<&str> = va.all().map(|w| w.by.as_str()).collect();
        who.sort_unstable();
        assert_eq!(who, vec!["a", "b"]);
        Ok(())
    }
}
