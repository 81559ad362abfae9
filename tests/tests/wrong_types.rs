//! A key of a sync or fetch request with a value of the wrong type refuses the request
//! naming the key (docs/protocol.md, "Transport": "a key it defines with a value of the
//! wrong type refuses the request naming the key"; a float where an integer belongs,
//! "`400`, naming the field"). Found by a review writing a client from the spec: only
//! `device.*` named its key, every other refusal said serde's "invalid type: floating point
//! `1700000000000.0`, expected integer" and left the client team to guess where. Through the
//! routes, on both backends.

use axum::http::StatusCode;
use ciborium::Value;
use fieldsync_core::protocol::{ErrorBody, PROTOCOL_VERSION};
use fieldsync_core::{DocId, Role};
use fieldsync_server::Limits;
use fieldsync_server::storage::User;
use fieldsync_tests::routes::Instances;
use fieldsync_tests::{Backend, on_sqlite_and_postgres};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A request's keys and values, in order.
type Request = [(&'static str, Value)];

/// A float where JavaScript's CBOR libraries put a large integer.
fn float() -> Value {
    Value::Float(1_700_000_000_000.0)
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
}

/// A valid sync request that pushes one (never read) change and asks for a working set.
fn sync_request() -> Vec<(&'static str, Value)> {
    let push = map(vec![
        ("doc", text(DocId::new().as_str())),
        (
            "changes",
            Value::Array(vec![Value::Bytes(vec![0x85, 0x6f])]),
        ),
        ("index", Value::Null),
    ]);
    vec![
        ("protocol", Value::Integer(PROTOCOL_VERSION.into())),
        ("cursor", Value::Null),
        ("push", Value::Array(vec![push])),
        ("max_response_bytes", Value::Integer(100_000.into())),
        (
            "device",
            map(vec![("pending_edits", Value::Integer(0.into()))]),
        ),
        (
            "working_set",
            map(vec![
                ("weeks", Value::Integer(5.into())),
                ("since", Value::Integer(1_700_000_000_000i64.into())),
            ]),
        ),
        ("index_version", Value::Integer(1.into())),
    ]
}

fn fetch_request() -> Vec<(&'static str, Value)> {
    vec![
        ("protocol", Value::Integer(PROTOCOL_VERSION.into())),
        ("ids", Value::Array(vec![text(DocId::new().as_str())])),
        ("store", Value::Null),
        ("from", Value::Integer(1_700_000_000_000i64.into())),
        ("before", Value::Integer(1_800_000_000_000i64.into())),
        ("after", Value::Null),
        ("max_response_bytes", Value::Integer(100_000.into())),
    ]
}

/// `request` with the value at `path` (keys, and `0` for an array's first item) replaced.
fn with(request: &Request, path: &[&str], value: Value) -> Vec<u8> {
    fn put(at: &mut Value, path: &[&str], value: Value) {
        let Some((first, rest)) = path.split_first() else {
            *at = value;
            return;
        };
        let next = match at {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.as_text() == Some(first))
                .map(|(_, v)| v),
            Value::Array(items) => items.get_mut(first.parse::<usize>().unwrap_or(0)),
            _ => None,
        };
        put(next.expect("a key of the request"), rest, value);
    }
    let mut whole = map(request.to_vec());
    put(&mut whole, path, value);
    let mut bytes = Vec::new();
    ciborium::into_writer(&whole, &mut bytes).expect("in memory");
    bytes
}

async fn a_value_of_the_wrong_type_is_refused_naming_its_key_on(backend: Backend) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "wrong_types", Limits::default())?;
    let user = User {
        id: "am-li".into(),
        role: Role::AccountManager,
        name: "Li".into(),
    };
    server.storage.add_user(&user, 0)?;
    let token = server.enroll("am-li").await?;

    let sync = sync_request();
    let fetch = fetch_request();
    // (route, request, where, the wrong value, the key the refusal must name)
    let cases: Vec<(&str, &Request, Vec<&str>, Value, &str)> = vec![
        ("/v1/sync", &sync, vec!["protocol"], float(), "`protocol`"),
        (
            "/v1/sync",
            &sync,
            vec!["cursor"],
            Value::Integer(42.into()),
            "`cursor`",
        ),
        ("/v1/sync", &sync, vec!["push"], text("all"), "`push`"),
        ("/v1/sync", &sync, vec!["push", "0"], text("d"), "`push[0]`"),
        (
            "/v1/sync",
            &sync,
            vec!["push", "0", "doc"],
            Value::Integer(7.into()),
            "`push[0].doc`",
        ),
        (
            "/v1/sync",
            &sync,
            vec!["push", "0", "changes"],
            text("c"),
            "`push[0].changes`",
        ),
        (
            "/v1/sync",
            &sync,
            vec!["push", "0", "changes", "0"],
            text("c"),
            "`push[0].changes[0]`",
        ),
        (
            "/v1/sync",
            &sync,
            vec!["push", "0", "index"],
            float(),
            "`push[0].index`",
        ),
        (
            "/v1/sync",
            &sync,
            vec!["max_response_bytes"],
            float(),
            "`max_response_bytes`",
        ),
        ("/v1/sync", &sync, vec!["device"], text("phone"), "`device`"),
        (
            "/v1/sync",
            &sync,
            vec!["device", "pending_edits"],
            float(),
            "`device.pending_edits`",
        ),
        (
            "/v1/sync",
            &sync,
            vec!["working_set"],
            Value::Bool(true),
            "`working_set`",
        ),
        (
            "/v1/sync",
            &sync,
            vec!["working_set", "weeks"],
            float(),
            "`working_set.weeks`",
        ),
        (
            "/v1/sync",
            &sync,
            vec!["working_set", "since"],
            float(),
            "`working_set.since`",
        ),
        (
            "/v1/sync",
            &sync,
            vec!["index_version"],
            text("1"),
            "`index_version`",
        ),
        ("/v1/fetch", &fetch, vec!["protocol"], float(), "`protocol`"),
        ("/v1/fetch", &fetch, vec!["ids"], text("x"), "`ids`"),
        (
            "/v1/fetch",
            &fetch,
            vec!["ids", "0"],
            Value::Integer(3.into()),
            "`ids[0]`",
        ),
        (
            "/v1/fetch",
            &fetch,
            vec!["store"],
            Value::Integer(3.into()),
            "`store`",
        ),
        ("/v1/fetch", &fetch, vec!["from"], float(), "`from`"),
        ("/v1/fetch", &fetch, vec!["before"], float(), "`before`"),
        (
            "/v1/fetch",
            &fetch,
            vec!["after"],
            Value::Bool(false),
            "`after`",
        ),
        (
            "/v1/fetch",
            &fetch,
            vec!["max_response_bytes"],
            float(),
            "`max_response_bytes`",
        ),
    ];
    for (route, request, path, value, key) in cases {
        let (status, body) = server
            .post_cbor(route, &token, with(request, &path, value))
            .await?;
        let refusal: ErrorBody = serde_json::from_slice(&body)?;
        assert_eq!(
            (status, refusal.error.as_str()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{route} {path:?}: {}",
            refusal.message
        );
        assert!(
            refusal.message.contains(key),
            "{route} {path:?}: `{}` names {key}",
            refusal.message
        );
    }
    Ok(())
}

on_sqlite_and_postgres!(
    a_value_of_the_wrong_type_is_refused_naming_its_key_on:
    a_value_of_the_wrong_type_is_refused_naming_its_key,
    a_value_of_the_wrong_type_is_refused_naming_its_key_on_postgres
);
