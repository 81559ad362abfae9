//! The sync protocol's messages, shared by the client in this crate and the server, so the
//! two cannot drift apart. `docs/protocol.md` is the specification; this is its code.
//!
//! Bodies are CBOR (RFC 8949) with byte strings for changes, compressed on the wire with
//! the HTTP `Content-Encoding` the peer accepts. Errors are JSON (see [`ErrorBody`]).

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::{Error, Result};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The media type of request and response bodies.
pub const CONTENT_TYPE: &str = "application/cbor";

/// One round trip: what the device has that the server lacks, and where its feed stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub protocol: u32,
    /// The cursor of the last response the device stored; `None` on a first sync.
    pub cursor: Option<String>,
    /// New changes, per document.
    pub push: Vec<DocChanges>,
    /// The most bytes of changes the device wants back in this response (the server caps it).
    pub max_response_bytes: Option<u64>,
}

/// Changes of one document, each one encoded Automerge change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DocChanges {
    pub doc: String,
    pub changes: Vec<ByteBuf>,
}

/// The server's answer to a [`SyncRequest`] that it accepted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Pushed documents now durably stored, with the server's heads for each.
    pub accepted: Vec<Accepted>,
    /// Changes in the device's scope since its cursor, made by other devices, per document.
    pub changes: Vec<DocChanges>,
    /// Documents that left the device's scope: drop them once nothing of yours is pending.
    pub removed: Vec<String>,
    /// Store this, send it next time.
    pub cursor: String,
    /// More changes are waiting: sync again right away.
    pub more: bool,
}

/// A pushed document the server stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    pub doc: String,
    /// Hex hashes of the server's heads of the document after the push.
    pub heads: Vec<String>,
}

/// The JSON body of every 4xx and 5xx response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code (`unauthorized`, `bad_request`, `write_rule`, ...).
    pub error: String,
    /// A readable sentence.
    pub message: String,
    /// For `write_rule`: every document refused and the rule it broke.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejection>,
}

/// A document refused by a write rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub doc: String,
    pub rule: String,
    pub message: String,
}

/// What a device sends to enroll with a one-time code.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub code: String,
    pub device_name: String,
}

/// The device's credentials: the token is shown once and only its hash is stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device_id: String,
    pub token: String,
    pub user_id: String,
    pub role: String,
}

/// Encodes a message as CBOR.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail for these plain types.
    if let Err(e) = ciborium::into_writer(message, &mut out) {
        debug_assert!(false, "cbor encoding failed: {e}");
    }
    out
}

/// Decodes a CBOR message; `what` names it in the error.
pub fn decode<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T> {
    ciborium::from_reader(bytes)
        .map_err(|e| Error::invalid(what, format!("not a valid CBOR {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_and_changes_travel_as_byte_strings() -> Result<()> {
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: Some("42".into()),
            push: vec![DocChanges {
                doc: "d".into(),
                changes: vec![ByteBuf::from(vec![200u8; 100])],
            }],
            max_response_bytes: None,
        };
        let bytes = encode(&request);
        // 100 bytes of change plus framing: a byte string, not an array of integers (which
        // would take two bytes per value above 23).
        assert!(bytes.len() < 190, "{} bytes", bytes.len());
        assert_eq!(decode::<SyncRequest>("sync request", &bytes)?, request);
        Ok(())
    }

    #[test]
    fn a_truncated_message_is_refused_with_a_clear_error() {
        let bytes = encode(&SyncRequest {
            protocol: 1,
            ..Default::default()
        });
        let err = decode::<SyncRequest>("sync request", &bytes[..bytes.len() - 1])
            .expect_err("truncated");
        assert!(
            err.to_string()
                .starts_with("invalid `sync request`: not a valid CBOR sync request"),
            "{err}"
        );
    }
}
