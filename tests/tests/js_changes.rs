//! Changes written by JavaScript Automerge (`@automerge/automerge` 3.5.0), as a client
//! built from `docs/protocol.md` alone writes them, pushed to a real server on 127.0.0.1
//! with hand-built CBOR requests ([`JsClient`]), beside a core phone of the same account
//! manager (core's `SyncClient`).
//!
//! What the protocol promises such a client ("Documents", "Conventions"): plain strings
//! written as `new A.ImmutableString(...)` and the text fields as JavaScript strings (Text)
//! are accepted and read by every other client; a JavaScript string where a plain string
//! belongs is Text, which the server refuses naming the field ("must be a plain string,
//! not an automerge text"); a change time left to Automerge JavaScript is in seconds and is
//! refused (`clock`, `change.time`, "before 2020").
//!
//! Needs Node.js and `npm ci` in `tests/js-client` (scripts/test runs it): without them the
//! tests fail, saying how to install them.
//!
//! Found by it (December 2026): a header written as Text was not refused as protocol.md
//! says. `kind` was refused as "`kind` is required: the changes do not create document
//! …", `id` as "`changes` they belong to another document than …" (field `changes`); the
//! server's replica now checks the header's type first (`header_object` in
//! `core/src/sync/replica.rs`).
//!
//! Shown to guard the refusals: with `write.mjs` writing `{"text": ...}` values as
//! `ImmutableString` too, `strings_javascript_writes_as_automerge_text_are_refused_naming_each_field`
//! failed: both counts were accepted ("its document is not refused"), and each visit was
//! refused for `brand_promotion` ("must be automerge text") instead of its own field.

use fieldsync_core::{
    DisplayStandard, DocId, LocalStore, Role, Store, Timestamp, Verdict, VisitKind,
};
use fieldsync_tests::device::Device;
use fieldsync_tests::district::{District, StoreRow, licence};
use fieldsync_tests::js_client::JsClient;
use serde_json::{Value as Json, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const LI: &str = "am-li";
/// What a refusal says of Text where a plain string belongs (protocol.md, "Conventions").
const NOT_PLAIN: &str = "must be a plain string, not an automerge text";
/// ... and where a stamped entry (a plain string holding JSON) belongs.
const NOT_ENTRY: &str = "must be a stamped entry (a string holding JSON), not an automerge text";

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Li's store, her core phone and her JavaScript client, both synced.
struct Field {
    district: District,
    phone: Device,
    js: JsClient,
    store: Store,
}

async fn field() -> Fallible<Field> {
    let district = District::start(&[(LI, Role::AccountManager)], &[StoreRow::new(1, LI)])?;
    let phone = district.enroll(LI, "li-phone", Timestamp(now())).await?;
    phone.sync().await?;
    let store_id = phone
        .local()
        .store_by_licence(&licence(1))?
        .ok_or("the phone holds Li's store")?;
    let store = phone.local().store(&store_id)?;
    let mut js = JsClient::enroll(&district, LI, "li-js").await?;
    js.pull().await?;
    Ok(Field {
        district,
        phone,
        js,
        store,
    })
}

/// A routine visit's fields as a JavaScript client writes them, copying the store's
/// location as it holds it. Strings are plain strings; `notes` and `brand_promotion` are
/// Text.
fn visit_fields(store: &Store, check_in: i64) -> Json {
    json!({
        "store_id": store.id.as_str(),
        "visitor": LI,
        "visit_kind": "routine",
        "store_lat": store.location.lat,
        "store_lng": store.location.lng,
        "store_datum": store.location.datum.code(),
        "geofence_m": store.geofence_m,
        "check_in": { "at": check_in },
        "notes": { "text": "shelf tidy, written in JavaScript" },
        "brand_promotion": { "text": "" },
        "photos": {},
        "comments": {},
        "training": {},
    })
}

fn hash(change: &[u8]) -> Fallible<String> {
    Ok(automerge::Change::from_bytes(change.to_vec())?
        .hash()
        .to_string())
}

fn message(what: &str) -> String {
    json!({ "by": LI, "what": what }).to_string()
}

/// A stamped entry's JSON, by Li at `at`.
fn entry(mut fields: Json, at: i64) -> String {
    fields["by"] = json!(LI);
    fields["at"] = json!(at);
    fields.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_with_its_display_check_and_count_written_by_javascript_automerge_is_accepted_and_read_alike_by_a_core_phone()
-> TestResult {
    let Field {
        district,
        phone,
        mut js,
        store,
    } = field().await?;
    let t = now();
    let (visit, count) = (DocId::new(), DocId::new());
    let display = LocalStore::shelf_display_id(&store.id);
    assert!(
        !js.base(display.as_str()).is_empty(),
        "the JS client holds the display"
    );
    let mut fields = visit_fields(&store, t - 600_000);
    fields["shelf_display_id"] = json!(display.as_str());
    fields["inventory_count_id"] = json!(count.as_str());
    let written = js
        .write(json!({
            "time": t,
            "message": message("visit"),
            "docs": [
                { "id": visit.as_str(), "kind": "visit", "fields": fields },
                { "id": count.as_str(), "kind": "inventory_count", "fields": {
                    "store_id": store.id.as_str(),
                    "started_by": LI,
                    "started_at": t - 300_000,
                    "book": { "6901028": 40, "6901029": 12 },
                    "names": { "6901028": "Zhonghua soft", "6901029": "Furongwang hard" },
                    "counted": { "6901028": entry(json!({ "v": 37 }), t) },
                } },
                { "id": display.as_str(), "base": js.base(display.as_str()), "fields": {
                    "standard.price_tag_box":
                        entry(json!({ "v": "pass", "note": "box in place", "photos": "" }), t),
                    "checked.am-li": entry(json!({}), t),
                } },
            ],
        }))
        .await?;
    let answer = js.push(&written).await?.accepted()?;
    for (doc, change) in &written {
        let accepted = answer
            .accepted
            .iter()
            .find(|a| &a.doc == doc)
            .ok_or_else(|| format!("`{doc}` is not in `accepted`: {answer:?}"))?;
        assert_eq!(
            accepted.heads,
            vec![hash(change)?],
            "`{doc}`'s head is the JS change"
        );
        assert!(district.database().has_change(&hash(change)?)?);
    }

    let report = phone.sync().await?;
    assert!(
        report.rejected.is_empty() && report.damaged.is_empty(),
        "{report:?}"
    );
    let read = phone.local().visit(&visit)?;
    assert_eq!(read.store_id, store.id);
    assert_eq!(read.visitor, LI);
    assert_eq!(read.kind, VisitKind::Routine);
    assert_eq!(read.check_in.at, Timestamp(t - 600_000));
    assert_eq!(read.notes, "shelf tidy, written in JavaScript");
    assert_eq!(read.shelf_display_id.as_ref(), Some(&display));
    assert_eq!(read.inventory_count_id.as_ref(), Some(&count));

    let read = phone.local().inventory_count(&count)?;
    assert_eq!(
        (read.started_by.as_str(), read.started_at),
        (LI, Timestamp(t - 300_000))
    );
    let lines: Vec<(&str, &str, i64, Option<i64>)> = read
        .lines
        .iter()
        .map(|l| {
            (
                l.sku.as_str(),
                l.name.as_str(),
                l.book,
                l.counted.as_ref().map(|c| *c.value()),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("6901028", "Zhonghua soft", 40, Some(37)),
            ("6901029", "Furongwang hard", 12, None)
        ]
    );

    let read = phone.local().shelf_display(&display)?;
    let (_, check) = read
        .standards
        .iter()
        .find(|(s, _)| *s == DisplayStandard::PriceTagBox)
        .ok_or("the display lists the price tag box")?;
    let check = check.as_ref().ok_or("the price tag box is checked")?;
    assert_eq!(check.value().verdict, Verdict::Pass);
    assert_eq!(check.value().note, "box in place");
    assert_eq!(
        (check.current.by.as_str(), check.current.at),
        (LI, Timestamp(t))
    );
    assert!(read.confirmed.iter().any(|c| c.by == LI), "{read:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_edit_of_a_visit_a_core_phone_wrote_merges_with_the_phones_concurrent_edit_of_another_field()
-> TestResult {
    // The district is kept to the end: dropping it stops the server.
    let Field {
        district: _district,
        phone,
        mut js,
        store,
    } = field().await?;
    let check_in = phone.clock().now();
    let visit = phone.local().create_visit(fieldsync_core::NewVisit {
        store_id: store.id.clone(),
        kind: VisitKind::Routine,
        check_in: fieldsync_core::CheckPoint {
            at: check_in,
            gps: None,
        },
        complaint_id: None,
    })?;
    phone.sync().await?;
    js.pull().await?;
    let base = js.base(visit.as_str());
    assert!(!base.is_empty(), "the JS client received the phone's visit");

    // Concurrently: the phone checks out offline, the JS client writes the notes (Text the
    // phone created, edited in place with `A.updateText`).
    let check_out = Timestamp(check_in.0 + 60_000);
    phone.clock().set(check_out);
    phone.local().check_out_visit(
        &visit,
        fieldsync_core::CheckPoint {
            at: check_out,
            gps: None,
        },
    )?;
    let written = js
        .write(json!({
            "time": now(),
            "message": message("edit notes"),
            "docs": [{ "id": visit.as_str(), "base": base, "fields": {
                "notes": { "text": "price tags fixed, noted in JavaScript" },
            } }],
        }))
        .await?;
    js.push(&written).await?.accepted()?;
    let report = phone.sync().await?;
    assert!(
        report.rejected.is_empty() && report.damaged.is_empty(),
        "{report:?}"
    );

    let read = phone.local().visit(&visit)?;
    assert_eq!(read.notes, "price tags fixed, noted in JavaScript");
    assert_eq!(read.check_out.map(|c| c.at), Some(check_out));
    // The JS client receives the phone's check-out and holds the same document.
    js.pull().await?;
    let mut merged = automerge::AutoCommit::new();
    for change in js.base(visit.as_str()) {
        merged.load_incremental(&hex::decode(change)?)?;
    }
    let mut on_phone = automerge::AutoCommit::new();
    on_phone.load_incremental(&phone.local().export_changes(&visit, &[])?.concat())?;
    assert_eq!(merged.get_heads(), on_phone.get_heads());
    Ok(())
}

/// Every header and code field of a visit, and a count's name and stamped entry, each
/// written once as a JavaScript string (Automerge Text) in a visit or count that is right
/// in every other field: one push, one refused document per field, each naming its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_javascript_writes_as_automerge_text_are_refused_naming_each_field() -> TestResult {
    let Field {
        district,
        mut js,
        store,
        ..
    } = field().await?;
    let t = now();
    let visit_fields = visit_fields(&store, t - 600_000);
    let mut docs = Vec::new();
    let mut expected = Vec::new();
    for field in [
        "kind",
        "id",
        "store_id",
        "visitor",
        "visit_kind",
        "store_datum",
    ] {
        let id = DocId::new();
        let mut fields = visit_fields.clone();
        let right = match field {
            "kind" => json!("visit"),
            "id" => json!(id.as_str()),
            _ => fields[field].clone(),
        };
        fields[field] = json!({ "text": right });
        docs.push(json!({ "id": id.as_str(), "kind": "visit", "fields": fields }));
        expected.push((id, field.to_owned(), NOT_PLAIN));
    }
    let count_fields = json!({
        "store_id": store.id.as_str(),
        "started_by": LI,
        "started_at": t,
        "book": { "6901028": 40 },
        "names": { "6901028": "Zhonghua soft" },
        "counted": { "6901028": entry(json!({ "v": 37 }), t) },
    });
    for (map, sku, says) in [
        ("names", "6901028", NOT_PLAIN),
        ("counted", "6901028", NOT_ENTRY),
    ] {
        let id = DocId::new();
        let mut fields = count_fields.clone();
        fields[map][sku] = json!({ "text": fields[map][sku].clone() });
        docs.push(json!({ "id": id.as_str(), "kind": "inventory_count", "fields": fields }));
        expected.push((id, format!("{map}.{sku}"), says));
    }
    let written = js
        .write(json!({ "time": t, "message": message("visits"), "docs": docs }))
        .await?;
    let (status, error) = js
        .push(&written)
        .await?
        .refused("JavaScript Text where plain strings belong")?;
    assert_eq!(
        (status, error.error.as_str()),
        (403, "write_rule"),
        "{error:?}"
    );
    let rejected = error.rejected;
    // Every field is checked before the test fails, so that one run lists them all.
    let mut wrong = Vec::new();
    for (id, field, says) in &expected {
        let Some(rejection) = rejected.iter().find(|r| r.doc == id.as_str()) else {
            wrong.push(format!("`{field}` as Text: its document is not refused"));
            continue;
        };
        let names_it = rejection.message.contains(&format!("`{field}`"));
        if (rejection.rule.as_str(), rejection.field.as_str()) != ("schema", field.as_str())
            || !names_it
            || !rejection.message.contains(says)
        {
            wrong.push(format!("`{field}` as Text: {rejection:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(rejected.len(), expected.len(), "{rejected:?}");
    for (_, change) in &written {
        assert!(
            !district.database().has_change(&hash(change)?)?,
            "nothing is stored"
        );
    }
    Ok(())
}

/// protocol.md ("Conventions", Times): Automerge JavaScript records a change's time in
/// seconds unless given one, which reads as 1970 and is refused (`clock`, `change.time`,
/// "before 2020"). The same visit with `time: Date.now()` is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_change_left_with_automerges_time_in_seconds_is_refused_naming_change_time()
-> TestResult {
    let Field {
        district,
        mut js,
        store,
        ..
    } = field().await?;
    let t = now();
    let visit = DocId::new();
    let fields = visit_fields(&store, t - 600_000);
    let docs = json!([{ "id": visit.as_str(), "kind": "visit", "fields": fields }]);
    let written = js
        .write(json!({ "message": message("visit"), "docs": docs }))
        .await?;
    let [(_, change)] = written.as_slice() else {
        return Err(format!("one change: {written:?}").into());
    };
    let seconds = automerge::Change::from_bytes(change.clone())?.timestamp();
    assert!(
        (t / 1000 - 600..=t / 1000 + 600).contains(&seconds),
        "JavaScript's own time is in seconds: {seconds}"
    );
    let (status, error) = js.push(&written).await?.refused("a time in seconds")?;
    assert_eq!(
        (status, error.error.as_str()),
        (403, "write_rule"),
        "{error:?}"
    );
    let rejected = error.rejected;
    let [rejection] = rejected.as_slice() else {
        return Err(format!("one document refused: {rejected:?}").into());
    };
    assert_eq!(rejection.doc, visit.as_str());
    assert_eq!(
        (rejection.rule.as_str(), rejection.field.as_str()),
        ("clock", "change.time"),
        "{rejection:?}"
    );
    assert!(rejection.message.contains("before 2020"), "{rejection:?}");
    assert!(!district.database().has_change(&hash(change)?)?);

    let written = js
        .write(json!({ "time": now(), "message": message("visit"), "docs": docs }))
        .await?;
    js.push(&written).await?.accepted()?;
    Ok(())
}
