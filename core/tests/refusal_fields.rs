//! Every refusal names the field a client wrote, by its path from the document's root, as
//! `docs/protocol.md` ("What the server does with a push") promises a client team: a time
//! in a nested map or in an entry of a map, a change time in seconds, a header, and the
//! write rules about one field.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ROOT, ReadDoc};
use fieldsync_core::fixtures::{at, device, sample_count, sample_store};
use fieldsync_core::{
    CheckPoint, DocId, DocKind, DocSummary, Effect, IncomingChange, NewVisit, Pusher, Replica,
    Result, Role, RuleViolation, VisitKind, Writer, check_write,
};

const NOON: &str = "2026-11-23T12:00:00+08:00";

/// Applies `changes` as pushed by `user` at noon; the violation, if any.
fn push(replica: &mut Replica, user: &str, changes: &[Vec<u8>]) -> Result<Option<RuleViolation>> {
    let incoming = changes
        .iter()
        .map(|c| IncomingChange::parse(c))
        .collect::<Result<Vec<_>>>()?;
    let pusher = Pusher {
        user,
        received_at: at(NOON).0,
    };
    Ok(replica.apply(&incoming, &pusher)?.err())
}

/// The document the changes make, and a change that edits it with `edit` at `time`.
fn edited(
    changes: &[Vec<u8>],
    time: i64,
    edit: impl FnOnce(&mut AutoCommit) -> std::result::Result<(), automerge::AutomergeError>,
) -> std::result::Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut doc = AutoCommit::load(&changes.concat())?;
    edit(&mut doc)?;
    let hash = doc
        .commit_with(
            CommitOptions::default()
                .with_time(time)
                .with_message(r#"{"by":"am-li","what":"edit"}"#.to_owned()),
        )
        .ok_or("no change")?;
    Ok(doc
        .get_change_by_hash(&hash)
        .ok_or("no change")?
        .raw_bytes()
        .to_vec())
}

/// Li's phone, ten minutes before noon, with a store of hers.
fn li_with_a_store(dir: &tempfile::TempDir) -> Result<(fieldsync_core::LocalStore, DocId)> {
    let (li, _) = device(
        dir.path().join("li.db"),
        "am-li",
        at("2026-11-23T11:50:00+08:00"),
    )?;
    let store = li.create_store(sample_store("am-li", 1))?;
    Ok((li, store))
}

fn field_of(v: Option<RuleViolation>) -> (String, String) {
    v.map(|v| (v.rule.to_owned(), v.field)).unwrap_or_default()
}

#[test]
fn a_time_refused_in_a_nested_map_or_an_entry_of_a_map_is_named_by_its_whole_path()
-> std::result::Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (li, store) = li_with_a_store(&dir)?;
    let visit = li.create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at("2026-11-23T11:50:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    let count = li.record_inventory_count(sample_count(&store, 2), &[], false)?;
    let ahead = at("2026-11-23T12:20:00+08:00").0;
    let now = at(NOON).0;

    let made = li.export_changes(&visit, &[])?;
    let mut replica = Replica::empty(&visit);
    assert_eq!(push(&mut replica, "am-li", &made)?, None);
    let change = edited(&made, now, |doc| {
        let (_, check_in) = doc
            .get(ROOT, "check_in")?
            .ok_or(automerge::AutomergeError::Fail)?;
        doc.put(&check_in, "at", ahead)
    })?;
    let v = push(&mut replica.clone(), "am-li", &[change])?;
    assert_eq!(field_of(v), ("clock".into(), "check_in.at".into()));

    let made = li.export_changes(&count, &[])?;
    let mut replica = Replica::empty(&count);
    assert_eq!(push(&mut replica, "am-li", &made)?, None);
    let entry = format!(r#"{{"v":3,"by":"am-li","at":{ahead}}}"#);
    let change = edited(&made, now, |doc| {
        let counted = match doc.get(ROOT, "counted")? {
            Some((_, id)) => id,
            None => doc.put_object(ROOT, "counted", automerge::ObjType::Map)?,
        };
        doc.put(&counted, "sku-001", entry.as_str())
    })?;
    let v = push(&mut replica.clone(), "am-li", &[change])?;
    assert_eq!(field_of(v), ("clock".into(), "counted.sku-001.at".into()));

    // A change time in seconds, as Automerge JavaScript writes by default.
    let change = edited(&made, now / 1000, |doc| {
        let names = match doc.get(ROOT, "names")? {
            Some((_, id)) => id,
            None => doc.put_object(ROOT, "names", automerge::ObjType::Map)?,
        };
        doc.put(&names, "sku-001", "Product one")
    })?;
    let v = push(&mut replica.clone(), "am-li", &[change])?.ok_or("refused")?;
    assert_eq!((v.rule, v.field.as_str()), ("clock", "change.time"));
    assert!(v.message.contains("before 2020"), "{}", v.message);
    Ok(())
}

#[test]
fn a_document_without_its_schema_or_with_another_kind_is_refused_naming_that_header_field()
-> std::result::Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (li, store) = li_with_a_store(&dir)?;
    let count = li.record_inventory_count(sample_count(&store, 2), &[], false)?;
    let made = li.export_changes(&count, &[])?;
    for (key, field) in [("schema", "schema"), ("kind", "kind")] {
        let mut replica = Replica::empty(&count);
        let change = edited(&made, at(NOON).0, |doc| doc.delete(ROOT, key))?;
        let mut both = made.clone();
        both.push(change);
        let v = push(&mut replica, "am-li", &both)?;
        assert_eq!(
            field_of(v),
            ("schema".into(), field.into()),
            "{key} deleted"
        );
    }
    Ok(())
}

/// JavaScript Automerge 3 writes a plain JavaScript string as Text: a header so written is
/// refused as a plain string, naming it, not read as a missing kind or another document's
/// changes (both were said before the header was checked first).
#[test]
fn a_header_written_as_automerge_text_is_refused_as_not_a_plain_string_naming_it()
-> std::result::Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (li, store) = li_with_a_store(&dir)?;
    let count = li.record_inventory_count(sample_count(&store, 2), &[], false)?;
    let made = li.export_changes(&count, &[])?;
    for key in ["kind", "id"] {
        let mut replica = Replica::empty(&count);
        let change = edited(&made, at(NOON).0, |doc| {
            let value = doc
                .get(ROOT, key)?
                .map(|(v, _)| v.to_string())
                .unwrap_or_default();
            let text = doc.put_object(ROOT, key, automerge::ObjType::Text)?;
            doc.splice_text(&text, 0, 0, value.trim_matches('"'))
        })?;
        let mut both = made.clone();
        both.push(change);
        let v = push(&mut replica, "am-li", &both)?.ok_or("refused")?;
        assert_eq!((v.rule, v.field.as_str()), ("schema", key), "{}", v.message);
        assert!(
            v.message
                .contains("must be a plain string, not an automerge text"),
            "{}",
            v.message
        );
    }
    Ok(())
}

#[test]
fn the_write_rules_about_one_field_name_it() {
    let summary = |kind: DocKind, visit_kind: Option<VisitKind>| DocSummary {
        kind,
        store_id: Some("s1".into()),
        territory: Some("am-li".into()),
        demo_street: Some(false),
        visitor: Some("am-li".into()),
        visit_kind,
        manager: None,
        happened_at: None,
    };
    let li = Writer {
        user: "am-li",
        role: Role::AccountManager,
        store_in_scope: true,
    };
    let touched = |keys: &[&str]| Effect {
        touched: keys.iter().map(|k| (*k).to_owned()).collect(),
    };
    let store = summary(DocKind::Store, None);
    let v = check_write(
        Some(&store),
        &store,
        &touched(&["tier", "phone", "demo_street"]),
        &li,
    )
    .expect_err("not a contact field");
    assert_eq!(
        (v.rule, v.field.as_str()),
        ("store_contact_only", "demo_street")
    );
    let walk = summary(DocKind::Visit, Some(VisitKind::MarketWalkthrough));
    let v = check_write(None, &walk, &touched(&[]), &li).expect_err("another role's kind");
    assert_eq!(
        (v.rule, v.field.as_str()),
        ("visit_kind_role", "visit_kind")
    );
    let visit = summary(DocKind::Visit, Some(VisitKind::Routine));
    let count = summary(DocKind::InventoryCount, None);
    let v = check_write(Some(&visit), &count, &touched(&[]), &li).expect_err("kind changed");
    assert_eq!((v.rule, v.field.as_str()), ("kind_fixed", "kind"));
}

#[test]
fn a_count_finished_with_false_is_refused_naming_finished_v_and_one_finished_with_true_is_taken()
-> std::result::Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (li, store) = li_with_a_store(&dir)?;
    let counted = [("sku-000".to_owned(), 20), ("sku-001".to_owned(), 21)];
    let count = li.record_inventory_count(sample_count(&store, 2), &counted, false)?;
    let made = li.export_changes(&count, &[])?;
    let mut replica = Replica::empty(&count);
    assert_eq!(push(&mut replica, "am-li", &made)?, None);
    let now = at(NOON).0;
    let finished = |v: bool| {
        let entry = format!(r#"{{"v":{v},"by":"am-li","at":{now}}}"#);
        edited(&made, now, move |doc| {
            doc.put(ROOT, "finished", entry.as_str())
        })
    };
    // Every line is counted: only the value of `v` decides.
    let v = push(&mut replica.clone(), "am-li", &[finished(false)?])?;
    assert_eq!(field_of(v), ("value".into(), "finished.v".into()));
    assert_eq!(push(&mut replica, "am-li", &[finished(true)?])?, None);
    Ok(())
}
