//! `POST /v1/fetch` gives a device only documents of its scope, and refuses what it cannot
//! answer with a sentence naming what was wrong; a sync's `working_set` is checked the same
//! way (docs/protocol.md, "The working set", "Fetching on demand"). Through the routes, on
//! both backends.

use axum::http::StatusCode;
use fieldsync_core::fixtures::{device, routine_visit, sample_store};
use fieldsync_core::protocol::{
    self, FetchRequest, FetchResponse, PROTOCOL_VERSION, SyncRequest, WorkingSet,
};
use fieldsync_core::{DocId, Role, Timestamp};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::routes::Instances;
use fieldsync_tests::{Backend, on_sqlite_and_postgres};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Setup {
    server: Instances,
    li: String,
    zhao: String,
    li_store: DocId,
    zhao_store: DocId,
    li_visit: DocId,
    _dir: tempfile::TempDir,
}

async fn setup(backend: Backend) -> Result<Setup, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "fetch_refusals", Limits::default())?;
    for id in ["am-li", "am-zhao"] {
        let user = User {
            id: id.into(),
            role: Role::AccountManager,
            name: id.into(),
        };
        server.storage.add_user(&user, 0)?;
    }
    let admin = AdminDevice::open_with_clock(
        dir.path(),
        server.storage.as_ref(),
        fieldsync_core::fixtures::office_clock(),
    )?;
    let li_store = admin.local.create_store(sample_store("am-li", 1))?;
    let zhao_store = admin.local.create_store(sample_store("am-zhao", 2))?;
    admin.push()?;
    let li = server.enroll("am-li").await?;
    let zhao = server.enroll("am-zhao").await?;
    let (phone, _) = device(dir.path().join("li.db"), "am-li", Timestamp::now())?;
    server.sync_phone(&li, &phone).await?;
    let li_visit = phone.create_visit(routine_visit(
        &li_store,
        Timestamp(Timestamp::now().0 - 200 * 86_400_000),
    ))?;
    server.sync_phone(&li, &phone).await?;
    Ok(Setup {
        server,
        li,
        zhao,
        li_store,
        zhao_store,
        li_visit,
        _dir: dir,
    })
}

async fn fetch(
    setup: &Setup,
    token: &str,
    request: FetchRequest,
) -> Result<(StatusCode, Vec<u8>), Box<dyn std::error::Error>> {
    let request = FetchRequest {
        protocol: PROTOCOL_VERSION,
        ..request
    };
    Ok(setup
        .server
        .post_cbor("/v1/fetch", token, protocol::encode(&request))
        .await?)
}

async fn another_territorys_documents_are_answered_as_documents_that_do_not_exist_on(
    backend: Backend,
) -> TestResult {
    let setup = setup(backend).await?;
    let unknown = DocId::new();
    // Ids: someone else's and unknown ones are listed alike, and nothing of them is sent.
    let (status, body) = fetch(
        &setup,
        &setup.zhao,
        FetchRequest {
            ids: vec![
                setup.li_visit.to_string(),
                setup.li_store.to_string(),
                unknown.to_string(),
                setup.zhao_store.to_string(),
            ],
            ..FetchRequest::default()
        },
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    let answer: FetchResponse = protocol::decode("fetch response", &body)?;
    let sent: Vec<&str> = answer.documents.iter().map(|d| d.doc.as_str()).collect();
    assert_eq!(
        sent,
        vec![setup.zhao_store.as_str()],
        "only zhao's own store"
    );
    assert_eq!(
        answer.missing,
        vec![
            setup.li_visit.to_string(),
            setup.li_store.to_string(),
            unknown.to_string()
        ]
    );
    // A store's history: refused with one sentence whether the store is li's or unknown.
    let mut sentences = Vec::new();
    for store in [&setup.li_store, &unknown] {
        let (status, body) = fetch(
            &setup,
            &setup.zhao,
            FetchRequest {
                store: Some(store.to_string()),
                ..FetchRequest::default()
            },
        )
        .await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let text = String::from_utf8(body)?;
        sentences.push(text.replace(store.as_str(), "STORE"));
    }
    assert_eq!(sentences[0], sentences[1], "the same answer: {sentences:?}");
    assert!(
        sentences[0].contains("in this device's scope"),
        "{}",
        sentences[0]
    );
    // The owner gets the 200-day-old visit of the store's history, in one round trip.
    let (status, body) = fetch(
        &setup,
        &setup.li,
        FetchRequest {
            store: Some(setup.li_store.to_string()),
            before: Some(Timestamp::now().0 - 100 * 86_400_000),
            ..FetchRequest::default()
        },
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    let answer: FetchResponse = protocol::decode("fetch response", &body)?;
    let sent: Vec<&str> = answer.documents.iter().map(|d| d.doc.as_str()).collect();
    assert_eq!(sent, vec![setup.li_visit.as_str()]);
    assert!(answer.documents[0].happened_at.is_some());
    Ok(())
}

on_sqlite_and_postgres!(
    another_territorys_documents_are_answered_as_documents_that_do_not_exist_on:
    another_territorys_documents_are_answered_as_documents_that_do_not_exist,
    another_territorys_documents_are_answered_as_documents_that_do_not_exist_on_postgres
);

async fn a_malformed_fetch_or_working_set_is_refused_naming_what_was_wrong_on(
    backend: Backend,
) -> TestResult {
    let setup = setup(backend).await?;
    let id = setup.li_visit.to_string();
    let store = Some(setup.li_store.to_string());
    let cases: Vec<(FetchRequest, StatusCode, &str)> = vec![
        (FetchRequest::default(), StatusCode::BAD_REQUEST, "`ids`"),
        (
            FetchRequest {
                ids: vec![id.clone()],
                store: store.clone(),
                ..FetchRequest::default()
            },
            StatusCode::BAD_REQUEST,
            "not both",
        ),
        (
            FetchRequest {
                ids: vec![id.clone(); 101],
                ..FetchRequest::default()
            },
            StatusCode::PAYLOAD_TOO_LARGE,
            "101 ids",
        ),
        (
            FetchRequest {
                ids: vec![id.clone()],
                from: Some(0),
                ..FetchRequest::default()
            },
            StatusCode::BAD_REQUEST,
            "go with a `store`",
        ),
        (
            FetchRequest {
                ids: vec![format!(" {id}")],
                ..FetchRequest::default()
            },
            StatusCode::BAD_REQUEST,
            "`ids`",
        ),
        (
            FetchRequest {
                store: Some("store-1; DROP TABLE docs".into()),
                ..FetchRequest::default()
            },
            StatusCode::BAD_REQUEST,
            "`store`",
        ),
        (
            FetchRequest {
                store: store.clone(),
                from: Some(5),
                before: Some(5),
                ..FetchRequest::default()
            },
            StatusCode::BAD_REQUEST,
            "`from`",
        ),
        (
            FetchRequest {
                store: store.clone(),
                after: Some("last".into()),
                ..FetchRequest::default()
            },
            StatusCode::BAD_REQUEST,
            "`after`",
        ),
    ];
    for (request, status, words) in cases {
        let (got, body) = fetch(&setup, &setup.li, request.clone()).await?;
        let text = String::from_utf8_lossy(&body);
        assert_eq!(got, status, "{request:?}: {text}");
        assert!(text.contains(words), "{request:?}: `{text}` names {words}");
    }
    let (status, body) = setup
        .server
        .post_cbor("/v1/fetch", &setup.li, b"\xa1\x61x".to_vec())
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("fetch request"));

    for (working, words) in [
        (
            WorkingSet {
                weeks: 0,
                since: None,
            },
            "`working_set.weeks`",
        ),
        (
            WorkingSet {
                weeks: 521,
                since: None,
            },
            "`working_set.weeks`",
        ),
        (
            WorkingSet {
                weeks: 5,
                since: Some(-1),
            },
            "`working_set.since`",
        ),
    ] {
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            working_set: Some(working),
            ..SyncRequest::default()
        };
        let (status, _, body) = setup.server.sync(&setup.li, &request).await?;
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{working:?}: {text}");
        assert!(text.contains(words), "{working:?}: `{text}` names {words}");
    }
    Ok(())
}

on_sqlite_and_postgres!(
    a_malformed_fetch_or_working_set_is_refused_naming_what_was_wrong_on:
    a_malformed_fetch_or_working_set_is_refused_naming_what_was_wrong,
    a_malformed_fetch_or_working_set_is_refused_naming_what_was_wrong_on_postgres
);

async fn a_fetch_by_id_larger_than_the_response_lists_what_did_not_fit_as_unsent_on(
    backend: Backend,
) -> TestResult {
    let setup = setup(backend).await?;
    let asked = vec![setup.li_store.to_string(), setup.li_visit.to_string()];
    let (status, body) = fetch(
        &setup,
        &setup.li,
        FetchRequest {
            ids: asked.clone(),
            max_response_bytes: Some(1),
            ..FetchRequest::default()
        },
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    let answer: FetchResponse = protocol::decode("fetch response", &body)?;
    let sent: Vec<String> = answer.documents.iter().map(|d| d.doc.clone()).collect();
    assert_eq!(sent, vec![asked[0].clone()], "at least one document, whole");
    assert_eq!(answer.unsent, vec![asked[1].clone()]);
    assert!(answer.missing.is_empty());
    Ok(())
}

on_sqlite_and_postgres!(
    a_fetch_by_id_larger_than_the_response_lists_what_did_not_fit_as_unsent_on:
    a_fetch_by_id_larger_than_the_response_lists_what_did_not_fit_as_unsent,
    a_fetch_by_id_larger_than_the_response_lists_what_did_not_fit_as_unsent_on_postgres
);
