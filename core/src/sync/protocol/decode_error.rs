//! Why a CBOR message could not be read, as one sentence for a client team: the key a
//! value of the wrong type was under (``working_set.since``, ``push[0].doc``), what came
//! there and what belongs; an empty, cut short or malformed body said so.

use serde::Deserialize;

use crate::error::Error;

/// Where in a body that `T` refused the refusal is (``working_set.since``,
/// ``push[0].changes[2]``), read again only once the fast read failed; `None` at the top.
pub(super) fn key_of<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<String> {
    let path = ciborium::from_reader::<RefusedAt<T>, _>(bytes).ok()?.0?;
    (path != ".").then_some(path)
}

/// Reads a `T` tracking where it is, and keeps only where `T` refused a value (ciborium
/// does not export its deserializer for `serde_path_to_error` to wrap from outside).
struct RefusedAt<T>(Option<String>, std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for RefusedAt<T> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let at = serde_path_to_error::deserialize::<D, T>(deserializer)
            .err()
            .map(|e| e.path().to_string());
        Ok(RefusedAt(at, std::marker::PhantomData))
    }
}

/// The sentence for a body ciborium could not read as a `what`; `key` says where a value
/// was refused (read only for a refusal that does not name its key itself).
pub(super) fn cbor_error(
    what: &str,
    e: ciborium::de::Error<std::io::Error>,
    key: impl FnOnce() -> Option<String>,
) -> Error {
    match e {
        // Well-formed CBOR whose value a type refused naming it (``"`device.pending_edits`
        // must not be negative"``): that sentence as it is.
        ciborium::de::Error::Semantic(_, message) if message.starts_with('`') => {
            Error::invalid(what, message)
        }
        // Serde's own sentence, without the parser's wrapping (``missing field `push` ``),
        // after the key it is about: a client team finds the bug at once.
        ciborium::de::Error::Semantic(_, message) => {
            let key = key();
            match (message.strip_prefix("missing field "), key) {
                (Some(field), None) => {
                    Error::invalid(what, format!("it lacks {field}, which is required"))
                }
                (Some(field), Some(key)) => {
                    Error::invalid(what, format!("`{key}` lacks {field}, which is required"))
                }
                (None, None) => Error::invalid(what, format!("not a valid CBOR {what}: {message}")),
                (None, Some(key)) => match message.strip_prefix("invalid type: ") {
                    Some(found) => {
                        Error::invalid(what, format!("`{key}` has the wrong type: {found}"))
                    }
                    None => Error::invalid(what, format!("`{key}`: {message}")),
                },
            }
        }
        // The body ends inside a value: an empty body, or one cut short.
        ciborium::de::Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::invalid(
                what,
                format!("not a valid CBOR {what}: the body is empty or ends inside a value"),
            )
        }
        ciborium::de::Error::Io(e) => Error::invalid(what, format!("not a valid CBOR {what}: {e}")),
        ciborium::de::Error::Syntax(at) => Error::invalid(
            what,
            format!("not a valid CBOR {what}: malformed CBOR at byte {at}"),
        ),
        ciborium::de::Error::RecursionLimitExceeded => Error::invalid(
            what,
            format!("not a valid CBOR {what}: its values nest too deep"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde_bytes::ByteBuf;

    use super::super::{PROTOCOL_VERSION, SyncRequest, WorkingSet, decode, encode};

    #[test]
    fn a_float_where_an_integer_belongs_is_refused_naming_its_key_and_what_came() {
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            working_set: Some(WorkingSet {
                weeks: 5,
                since: Some(1_700_000_000_000),
            }),
            ..SyncRequest::default()
        };
        let mut value = ciborium::Value::serialized(&request).expect("a map");
        if let ciborium::Value::Map(entries) = &mut value
            && let Some((_, ciborium::Value::Map(set))) = entries
                .iter_mut()
                .find(|(k, _)| k.as_text() == Some("working_set"))
        {
            set.retain(|(k, _)| k.as_text() != Some("since"));
            set.push(("since".into(), ciborium::Value::Float(1_700_000_000_000.0)));
        }
        let bytes = encode(&value);
        let err = decode::<SyncRequest>("sync request", &bytes).expect_err("a float");
        assert_eq!(
            err.to_string(),
            "invalid `sync request`: `working_set.since` has the wrong type: floating point `1700000000000.0`, expected integer"
        );
        // A document of the push lacking its id: where, and which key.
        #[derive(Serialize)]
        struct Nameless {
            changes: Vec<ByteBuf>,
        }
        #[derive(Serialize)]
        struct Push {
            protocol: u32,
            push: Vec<Nameless>,
        }
        let bytes = encode(&Push {
            protocol: 1,
            push: vec![Nameless {
                changes: Vec::new(),
            }],
        });
        let err = decode::<SyncRequest>("sync request", &bytes).expect_err("no doc");
        assert_eq!(
            err.to_string(),
            "invalid `sync request`: `push[0]` lacks `doc`, which is required"
        );
    }
}
