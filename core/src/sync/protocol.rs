//! The sync protocol's messages, shared by the client in this crate and the server, so the
//! two cannot drift apart. `docs/protocol.md` is the specification; this is its code.
//!
//! Bodies are CBOR (RFC 8949) with byte strings for changes, compressed on the wire with
//! the HTTP `Content-Encoding` the peer accepts. Errors are JSON (see [`ErrorBody`]).

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::{Error, Result};

pub mod blobs;
mod device_report;

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
}

/// Where a device's feed stands: what the `cursor` string of a [`SyncResponse`] says.
///
/// A client treats the string as opaque and sends it back as given; the server parses it.
/// Numeric cursors (`"1234"`) are positions in the server's log; a first sync instead
/// pages through the device's scope document by document, first what a new phone needs to
/// be used (`"n<upto>:<since>:<doc>"`), then the rest (`"r<upto>:<since>:<doc>"`); servers
/// before that ordering gave `"d<upto>:<doc>"`, which still reads (docs/protocol.md, "A
/// first sync").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedCursor {
    /// Every row of the log up to this position was processed.
    Log(u64),
    /// Inside a first sync's pass in id order: every document in scope whose id sorts at
    /// or before `after` arrived with all its changes up to log position `upto`; the rest
    /// of the pass and then the log after `upto` remain.
    Documents { upto: u64, after: String },
    /// Inside a first sync's ordered pass: every document of the pass's current part
    /// ([`Part`]) whose id sorts at or before `after` (`""`: none yet) arrived with all
    /// its changes up to `upto`; visits and counts that happened before `since` (ms since
    /// the epoch) are history. The rest of the part, the later part, then the log after
    /// `upto` remain.
    Ordered {
        upto: u64,
        since: i64,
        part: Part,
        after: String,
    },
}

/// The two parts of a first sync's ordered pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// What a new phone needs to be used: every store, shelf display, scorecard, task and
    /// complaint, and the visits and counts that happened since the pass's `since`.
    FirstUse,
    /// The history: visits and counts that happened before `since`.
    History,
}

impl FeedCursor {
    /// Reads a cursor a server gave; `None` (a first sync) is the start of the log.
    pub fn parse(cursor: Option<&str>) -> Result<FeedCursor> {
        let Some(text) = cursor else {
            return Ok(FeedCursor::Log(0));
        };
        let bad = || {
            Error::invalid(
                "cursor",
                format!(
                    "`{}` is not one this server gave",
                    crate::kinds::shape::quote(text)
                ),
            )
        };
        if let Some(rest) = text.strip_prefix('d') {
            let (upto, after) = rest.split_once(':').ok_or_else(bad)?;
            let upto = upto.parse::<u64>().map_err(|_| bad())?;
            if after.is_empty() {
                return Err(bad());
            }
            return Ok(FeedCursor::Documents {
                upto,
                after: after.to_owned(),
            });
        }
        let part = match text.as_bytes().first() {
            Some(b'n') => Some(Part::FirstUse),
            Some(b'r') => Some(Part::History),
            _ => None,
        };
        if let Some(part) = part {
            let rest = text.get(1..).ok_or_else(bad)?;
            let (upto, rest) = rest.split_once(':').ok_or_else(bad)?;
            let (since, after) = rest.split_once(':').ok_or_else(bad)?;
            return Ok(FeedCursor::Ordered {
                upto: upto.parse::<u64>().map_err(|_| bad())?,
                since: since.parse::<i64>().map_err(|_| bad())?,
                part,
                after: after.to_owned(),
            });
        }
        text.parse::<u64>().map(FeedCursor::Log).map_err(|_| bad())
    }

    /// The log position this cursor has fully processed up to (for a pass, none of the log
    /// after `upto`).
    pub fn position(&self) -> u64 {
        match self {
            FeedCursor::Log(seq) => *seq,
            FeedCursor::Documents { upto, .. } | FeedCursor::Ordered { upto, .. } => *upto,
        }
    }
}

impl Default for FeedCursor {
    /// The start of the log: a first sync.
    fn default() -> Self {
        FeedCursor::Log(0)
    }
}

impl std::fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedCursor::Log(seq) => write!(f, "{seq}"),
            FeedCursor::Documents { upto, after } => write!(f, "d{upto}:{after}"),
            FeedCursor::Ordered {
                upto,
                since,
                part,
                after,
            } => {
                let letter = match part {
                    Part::FirstUse => 'n',
                    Part::History => 'r',
                };
                write!(f, "{letter}{upto}:{since}:{after}")
            }
        }
    }
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
    /// In a first sync: once this response is stored, the device holds what it needs to
    /// be used (docs/protocol.md, "A first sync"); the history may still be coming.
    /// Absent (false) in every other response.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_use: bool,
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

/// Decodes a CBOR message; `what` names it in the error.
pub fn decode<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T> {
    ciborium::from_reader(bytes).map_err(|e| match e {
        // Well-formed CBOR whose value a type refused naming it (``"`device.pending_edits`
        // must not be negative"``): that sentence as it is.
        ciborium::de::Error::Semantic(_, message) if message.starts_with('`') => {
            Error::invalid(what, message)
        }
        e => Error::invalid(what, format!("not a valid CBOR {what}: {e}")),
    })
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
            device: None,
        };
        let bytes = encode(&request);
        // 100 bytes of change plus framing: a byte string, not an array of integers (which
        // would take two bytes per value above 23).
        assert!(bytes.len() < 190, "{} bytes", bytes.len());
        assert_eq!(decode::<SyncRequest>("sync request", &bytes)?, request);
        Ok(())
    }

    #[test]
    fn cursors_of_both_kinds_read_back_as_written_and_old_numeric_cursors_still_parse() -> Result<()>
    {
        for cursor in [
            FeedCursor::Log(0),
            FeedCursor::Log(42),
            FeedCursor::Documents {
                upto: 7,
                after: "01a20b3f-ee45-72dd-98de-d03f0aca810b".into(),
            },
            FeedCursor::Ordered {
                upto: 7,
                since: 1_764_000_000_000,
                part: Part::FirstUse,
                after: String::new(),
            },
            FeedCursor::Ordered {
                upto: 0,
                since: -5,
                part: Part::History,
                after: "01a20b3f-ee45-72dd-98de-d03f0aca810b".into(),
            },
        ] {
            assert_eq!(FeedCursor::parse(Some(&cursor.to_string()))?, cursor);
        }
        assert_eq!(FeedCursor::parse(None)?, FeedCursor::Log(0));
        assert_eq!(FeedCursor::parse(Some("1234"))?, FeedCursor::Log(1234));
        for bad in [
            "", "x", "-1", "d", "d12", "d12:", "dx:abc", "12:abc", "n", "n12", "n12:", "n12:x:",
            "nx:5:", "r:5:a", "r-1:5:a", "n 12:5:a", "r12:5", "N12:5:a",
        ] {
            assert!(FeedCursor::parse(Some(bad)).is_err(), "{bad}");
        }
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
