//! What a phone tells the server about itself in a sync request (`SyncRequest::device`):
//! what the server cannot see from its own tables, for the supervision console's fleet page.
//!
//! Every field is optional, and the whole object too: a client that sends none of it still
//! syncs. The server treats all of it as untrusted, for display only: a value of the wrong
//! type or out of its bounds refuses the request with a 400 naming the field (so a client
//! team finds its bug at once), and nothing in it changes what is stored or sent. Unknown
//! keys are ignored, so later clients may add fields. See docs/protocol.md, "The device
//! report".

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// The longest `app_version`, in characters.
pub const MAX_APP_VERSION_CHARS: usize = 64;
/// The largest count a report may carry (pending edits, documents).
pub const MAX_REPORTED_COUNT: u64 = 1_000_000_000;
/// The latest `device_time` accepted: 9999-12-31T23:59:59.999Z, in ms since the epoch.
/// (Earlier than 1970 is refused too: a clock that far off is a bug, not a drift.)
pub const MAX_DEVICE_TIME: i64 = 253_402_300_799_999;

/// The device's own account of itself, as of when it built the request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeviceReport {
    /// The app's version as its builders name it (`2.4.1 (381)`): 1 to 64 characters, no
    /// control characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Local edits the server has not confirmed yet, rejected documents' edits excluded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_edits: Option<u64>,
    /// Documents with such edits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_documents: Option<u64>,
    /// Documents the server refused whose edits stay on the phone, waiting for someone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_documents: Option<u64>,
    /// The device's clock when it built the request, in ms since the epoch (UTC): the
    /// server subtracts its own receive time to show the clock's drift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_time: Option<i64>,
}

impl DeviceReport {
    /// Refuses an `app_version` the server would refuse (empty, too long, control
    /// characters): a client checks its setting once rather than fail every sync.
    pub fn check_app_version(version: &str) -> Result<()> {
        let field = "device.app_version";
        let chars = version.chars().count();
        if chars == 0 || chars > MAX_APP_VERSION_CHARS {
            return Err(Error::invalid(
                field,
                format!("must be 1 to {MAX_APP_VERSION_CHARS} characters (got {chars})"),
            ));
        }
        if version.chars().any(char::is_control) {
            return Err(Error::invalid(field, "must not hold control characters"));
        }
        Ok(())
    }
}

/// Reads the report through a generic CBOR value, so that a value of the wrong type is
/// refused naming its field (`device.pending_edits`) rather than with serde's anonymous
/// "invalid type".
impl<'de> Deserialize<'de> for DeviceReport {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = ciborium::Value::deserialize(deserializer)?;
        from_value(value).map_err(|e| match e {
            Error::InvalidField { field, reason } => {
                D::Error::custom(format!("`{field}` {reason}"))
            }
            other => D::Error::custom(other.to_string()),
        })
    }
}

fn from_value(value: ciborium::Value) -> Result<DeviceReport> {
    let ciborium::Value::Map(entries) = value else {
        return Err(Error::invalid("device", "must be a map"));
    };
    let mut report = DeviceReport::default();
    for (key, value) in entries {
        // A key that is not text is nobody's field: ignored like an unknown one.
        let Some(key) = key.as_text().map(str::to_owned) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "app_version" => {
                let text = value
                    .as_text()
                    .ok_or_else(|| Error::invalid("device.app_version", "must be a text string"))?;
                DeviceReport::check_app_version(text)?;
                report.app_version = Some(text.to_owned());
            }
            "pending_edits" => report.pending_edits = Some(count(&key, &value)?),
            "pending_documents" => report.pending_documents = Some(count(&key, &value)?),
            "rejected_documents" => report.rejected_documents = Some(count(&key, &value)?),
            "device_time" => {
                let field = "device.device_time";
                let ms = integer(field, &value)?;
                if !(0..=i128::from(MAX_DEVICE_TIME)).contains(&ms) {
                    return Err(Error::invalid(
                        field,
                        format!(
                            "must be ms since 1970-01-01 UTC, at most {MAX_DEVICE_TIME} (got {ms})"
                        ),
                    ));
                }
                report.device_time = Some(ms as i64);
            }
            _ => {}
        }
    }
    Ok(report)
}

fn integer(field: &str, value: &ciborium::Value) -> Result<i128> {
    value
        .as_integer()
        .map(i128::from)
        .ok_or_else(|| Error::invalid(field, "must be an integer"))
}

fn count(key: &str, value: &ciborium::Value) -> Result<u64> {
    let field = format!("device.{key}");
    let n = integer(&field, value)?;
    if n < 0 {
        return Err(Error::invalid(
            field,
            format!("must not be negative (got {n})"),
        ));
    }
    if n > i128::from(MAX_REPORTED_COUNT) {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_REPORTED_COUNT} (got {n})"),
        ));
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::protocol::{SyncRequest, decode, encode};
    use ciborium::Value;

    fn request_with(device: Value) -> Vec<u8> {
        let request = Value::Map(vec![
            (Value::Text("protocol".into()), Value::Integer(1.into())),
            (Value::Text("cursor".into()), Value::Null),
            (Value::Text("push".into()), Value::Array(vec![])),
            (Value::Text("max_response_bytes".into()), Value::Null),
            (Value::Text("device".into()), device),
        ]);
        encode(&request)
    }

    fn refusal(device: Value) -> String {
        match decode::<SyncRequest>("sync request", &request_with(device)) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("accepted: {r:?}"),
        }
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (Value::Text((*k).into()), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn a_report_round_trips_and_a_request_without_one_still_decodes() -> Result<()> {
        let report = DeviceReport {
            app_version: Some("2.4.1 (381)".into()),
            pending_edits: Some(12),
            pending_documents: Some(3),
            rejected_documents: Some(1),
            device_time: Some(1_764_000_000_000),
        };
        let request = SyncRequest {
            protocol: 1,
            device: Some(report.clone()),
            ..Default::default()
        };
        let back: SyncRequest = decode("sync request", &encode(&request))?;
        assert_eq!(back.device, Some(report));
        // What an old client sends: the four fields of protocol 1, no `device` key.
        let old = map(&[
            ("protocol", Value::Integer(1.into())),
            ("cursor", Value::Null),
            ("push", Value::Array(vec![])),
            ("max_response_bytes", Value::Null),
        ]);
        let back: SyncRequest = decode("sync request", &encode(&old))?;
        assert_eq!(back.device, None);
        Ok(())
    }

    #[test]
    fn unknown_keys_and_nulls_in_a_report_are_ignored() -> Result<()> {
        let bytes = request_with(map(&[
            ("battery", Value::Integer(40.into())),
            ("app_version", Value::Null),
            ("pending_edits", Value::Integer(2.into())),
        ]));
        let back: SyncRequest = decode("sync request", &bytes)?;
        assert_eq!(
            back.device,
            Some(DeviceReport {
                pending_edits: Some(2),
                ..Default::default()
            })
        );
        Ok(())
    }

    #[test]
    fn malformed_report_values_are_refused_naming_their_field() {
        let cases = [
            (
                map(&[("pending_edits", Value::Integer((-3).into()))]),
                "`device.pending_edits` must not be negative",
            ),
            (
                map(&[("pending_documents", Value::Text("7".into()))]),
                "`device.pending_documents` must be an integer",
            ),
            (
                map(&[("rejected_documents", Value::Integer(2_000_000_000.into()))]),
                "`device.rejected_documents` must be at most",
            ),
            (
                map(&[("app_version", Value::Text("x".repeat(65)))]),
                "`device.app_version` must be 1 to 64 characters (got 65)",
            ),
            (
                map(&[("app_version", Value::Text(String::new()))]),
                "`device.app_version` must be 1 to 64 characters (got 0)",
            ),
            (
                map(&[("app_version", Value::Text("1.0\n<b>".into()))]),
                "`device.app_version` must not hold control characters",
            ),
            (
                map(&[("app_version", Value::Integer(3.into()))]),
                "`device.app_version` must be a text string",
            ),
            (
                map(&[("device_time", Value::Integer((-1).into()))]),
                "`device.device_time` must be ms since 1970",
            ),
            (
                map(&[("device_time", Value::Float(1.5e12))]),
                "`device.device_time` must be an integer",
            ),
            (Value::Array(vec![]), "`device` must be a map"),
        ];
        for (device, expected) in cases {
            let message = refusal(device.clone());
            assert!(message.contains(expected), "{device:?}: {message}");
        }
    }
}
