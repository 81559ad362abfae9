//! An entry's JSON read straight into its fields, as `serde_json::Value` and
//! [`super::json_to_scalar`] would read it, without building the value first.

use std::collections::HashMap;

use automerge::ScalarValue;

/// A JSON object read straight into an entry's fields: what reading it as a
/// `serde_json::Value` and converting each value with [`super::json_to_scalar`] gives
/// (arrays, objects and null read as null), without building the value first, except that
/// an object listing a key twice is no entry (it reads two ways). Every stamp of every
/// document is read through it.
pub(super) struct EntryJson(pub(super) HashMap<String, ScalarValue>);

impl<'de> serde::Deserialize<'de> for EntryJson {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_map(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> serde::de::Visitor<'de> for EntryVisitor {
    type Value = EntryJson;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<EntryJson, A::Error> {
        let mut fields = HashMap::with_capacity(map.size_hint().unwrap_or(4));
        // Bounded by the entries of the object.
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<JsonScalar>()?;
            // A key twice reads two ways (the first value to one reader, the last to
            // another): such an entry is no entry.
            if fields.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("`{key}` twice")));
            }
            fields.insert(key, value.0);
        }
        Ok(EntryJson(fields))
    }
}

/// One value of an entry, as [`super::json_to_scalar`] converts it.
struct JsonScalar(ScalarValue);

impl<'de> serde::Deserialize<'de> for JsonScalar {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> serde::de::Visitor<'de> for ScalarVisitor {
    type Value = JsonScalar;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> std::result::Result<JsonScalar, E> {
        Ok(JsonScalar(ScalarValue::Boolean(b)))
    }

    fn visit_i64<E>(self, i: i64) -> std::result::Result<JsonScalar, E> {
        Ok(JsonScalar(ScalarValue::Int(i)))
    }

    fn visit_u64<E>(self, u: u64) -> std::result::Result<JsonScalar, E> {
        Ok(JsonScalar(match i64::try_from(u) {
            Ok(i) => ScalarValue::Int(i),
            Err(_) => ScalarValue::F64(u as f64),
        }))
    }

    fn visit_f64<E>(self, f: f64) -> std::result::Result<JsonScalar, E> {
        Ok(JsonScalar(ScalarValue::F64(f)))
    }

    fn visit_str<E>(self, s: &str) -> std::result::Result<JsonScalar, E> {
        Ok(JsonScalar(ScalarValue::Str(s.into())))
    }

    fn visit_unit<E>(self) -> std::result::Result<JsonScalar, E> {
        Ok(JsonScalar(ScalarValue::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<JsonScalar, A::Error> {
        // Bounded by the array's items.
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(JsonScalar(ScalarValue::Null))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<JsonScalar, A::Error> {
        // Bounded by the object's entries.
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(JsonScalar(ScalarValue::Null))
    }
}
