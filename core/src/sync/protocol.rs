//! The sync protocol's messages, shared by the client in this crate and the server, so the
//! two cannot drift apart. `docs/protocol.md` is the specification; this is its code.
//!
//! Bodies are CBOR (RFC 8949) with byte strings for changes, compressed on the wire with
//! the HTTP `Content-Encoding` the peer accepts. Errors are JSON (see [`ErrorBody`]).

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::{Error, Result};

use self::decode_error::{cbor_error, key_of};

pub mod blobs;
mod cursor;
mod decode_error;
mod device_report;
mod working_set;

pub use cursor::{FeedCursor, MARK_LEN, Part, split_mark};
pub use working_set::{
    DEFAULT_WORKING_WEEKS, FetchRequest, FetchResponse, FetchedDoc, MAX_FETCH_IDS,
    MAX_WORKING_WEEKS, WorkingSet,
};

pub use device_report::{DeviceReport, MAX_APP_VERSION_CHARS, MAX_DEVICE_TIME, MAX_REPORTED_COUNT};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The media type of request and response bodies.
pub const CONTENT_TYPE: &str = "application/cbor";

/// The response header that names the protocol version a server speaks, sent with an
/// `unsupported_protocol` refusal: a client older than it must be updated.
pub const PROTOCOL_HEADER: &str = "fieldsync-protocol";

/// The response header of a successful sync that hands the device a new token, to use
/// from the next request on (docs/protocol.md, "Token rotation").
pub const TOKEN_HEADER: &str = "fieldsync-token";
/// When that new token expires, in milliseconds since the epoch.
pub const TOKEN_EXPIRES_HEADER: &str = "fieldsync-token-expires";

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
    /// What the device says about itself, for the console's fleet page only (optional;
    /// docs/protocol.md, "The device report").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceReport>,
    /// The part of its scope the device holds (docs/protocol.md, "The working set");
    /// absent: the whole scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_set: Option<WorkingSet>,
    /// The version of index rows the device can store in place of building a document
    /// (docs/protocol.md, "Index rows on a first sync"); absent: send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_version: Option<u32>,
}

/// Changes of one document, each one encoded Automerge change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DocChanges {
    pub doc: String,
    pub changes: Vec<ByteBuf>,
    /// In a response to a request with `index_version`, in a first sync's pass: the
    /// document's index rows, derived at the heads `changes` make (docs/protocol.md, "Index
    /// rows on a first sync"). Ignored in a push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<ByteBuf>,
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
    /// In a first sync: once this response is stored, the device holds what it needs to
    /// be used (docs/protocol.md, "A first sync"); the history may still be coming.
    /// Absent (false) in every other response.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_use: bool,
    /// For a request with a working set: from this instant on (ms since the epoch, by the
    /// server's clock) the device holds every visit and count of its scope once it stores
    /// this response. Send it back as `working_set.since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_since: Option<i64>,
    /// Visits and counts that left the device's working set: drop them once nothing of
    /// yours is pending (their later changes are no longer sent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub let_go: Vec<String>,
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
    /// For a quota (`429 quota`, or a document refused with rule `quota`): the limit's
    /// name as configured (`max_document_bytes`, `device_bytes_per_day`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The limit's value, in its unit (bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// Seconds until the push can go through (also the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// A document refused: by a write rule, or because what it would become is not a valid
/// document of its kind (docs/protocol.md, "Documents").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub doc: String,
    /// Why, as a stable code: `schema`, `value`, `transition`, `clock`, `stamp_author`,
    /// `quota`, or the name of a write rule (`store_scope`, ...).
    pub rule: String,
    /// The field that broke the rule, as a dotted path from the document's root
    /// (`check_in.at`, `counted.6901028.v`); empty when the rule concerns the whole document.
    #[serde(default)]
    pub field: String,
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

/// The `protocol` a CBOR request names, read before the rest of it, so that a request of
/// another version is answered as one (`unsupported_protocol`) whatever else its shape
/// holds; `None` when it names no version this way.
pub fn protocol_of(bytes: &[u8]) -> Option<u32> {
    #[derive(Deserialize)]
    struct Version {
        protocol: u32,
    }
    ciborium::from_reader::<Version, _>(bytes)
        .ok()
        .map(|v| v.protocol)
}

/// Decodes a CBOR message that is the whole of `bytes`; `what` names it in the error.
pub fn decode<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T> {
    let mut rest = bytes;
    let value = match ciborium::from_reader(&mut rest) {
        Ok(value) => value,
        Err(e) => {
            return Err(cbor_error(what, e, || key_of::<T>(bytes)));
        }
    };
    // One CBOR value is the whole body: bytes after it are a framing bug of the sender
    // (two requests in one body, a length off by some bytes), never ignored.
    if !rest.is_empty() {
        return Err(Error::invalid(
            what,
            format!(
                "not a valid CBOR {what}: {} bytes follow its value, which ends at byte {}",
                rest.len(),
                bytes.len() - rest.len()
            ),
        ));
    }
    Ok(value)
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
                index: None,
            }],
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
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
        for cut in [&bytes[..0], &bytes[..bytes.len() - 1]] {
            let message = decode::<SyncRequest>("sync request", cut)
                .expect_err("cut")
                .to_string();
            assert!(
                message.ends_with("the body is empty or ends inside a value"),
                "a sentence, not the parser's debug output: {message}"
            );
        }
    }

    #[test]
    fn bytes_after_a_requests_cbor_value_refuse_it_saying_how_many_and_where_it_ended() {
        let bytes = encode(&SyncRequest {
            protocol: 1,
            ..Default::default()
        });
        for extra in [vec![0u8], vec![0xa0], encode(&SyncRequest::default())] {
            let mut body = bytes.clone();
            body.extend_from_slice(&extra);
            let err = decode::<SyncRequest>("sync request", &body).expect_err("trailing bytes");
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid `sync request`: not a valid CBOR sync request: {} bytes follow its value, which ends at byte {}",
                    extra.len(),
                    bytes.len()
                )
            );
        }
    }

    #[test]
    fn a_request_without_push_is_refused_naming_push_without_the_parsers_wrapping() {
        #[derive(Serialize)]
        struct NoPush {
            protocol: u32,
        }
        let bytes = encode(&NoPush { protocol: 1 });
        let err = decode::<SyncRequest>("sync request", &bytes).expect_err("no push");
        assert_eq!(
            err.to_string(),
            "invalid `sync request`: it lacks `push`, which is required"
        );
    }
}
