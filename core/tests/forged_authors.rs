//! Authors that read two ways are refused: a stamped entry listing a key twice (the first
//! value to one reader, the last to another), a change message that is not the JSON object
//! `{"by", "what"}` or names its author twice.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ROOT, ScalarValue};
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{DocId, Error, IncomingChange, Pusher, Replica, Result};

/// A store the admin made, as the server holds it, and its changes.
fn stored_store() -> Result<(DocId, Replica, Vec<Vec<u8>>, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let (admin, _) = device(
        dir.path().join("admin.db"),
        "admin-chen",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = admin.create_store(sample_store("am-li", 1))?;
    let created = admin.export_changes(&store, &[])?;
    let mut replica = Replica::empty(&store);
    verdict(&mut replica, "admin-chen", created.clone())?.expect("the import is valid");
    Ok((store, replica, created, dir))
}

/// One change on top of `history` by a new actor: `key` set to `value`, with `message`.
fn forged(history: &[Vec<u8>], key: &str, value: &str, message: Option<&str>) -> Result<Vec<u8>> {
    let mut doc = AutoCommit::new();
    let changes = history
        .iter()
        .map(|c| automerge::Change::try_from(c.as_slice()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid("change", e.to_string()))?;
    doc.apply_changes(changes)?;
    doc.set_actor(ActorId::random());
    doc.put(ROOT, key, ScalarValue::Str(value.into()))?;
    let mut options = CommitOptions::default().with_time(at("2026-11-23T11:00:00+08:00").0);
    if let Some(message) = message {
        options = options.with_message(message.to_owned());
    }
    doc.commit_with(options);
    Ok(doc
        .get_last_local_change()
        .ok_or_else(|| Error::invalid("change", "none made"))?
        .raw_bytes()
        .to_vec())
}

/// The rule and field a push of `changes` by `user` breaks, if any.
fn verdict(
    replica: &mut Replica,
    user: &str,
    changes: Vec<Vec<u8>>,
) -> Result<std::result::Result<(), (String, String)>> {
    let incoming = changes
        .iter()
        .map(|c| IncomingChange::parse(c))
        .collect::<Result<Vec<_>>>()?;
    let pusher = Pusher {
        user,
        received_at: at("2026-11-23T12:00:00+08:00").0,
    };
    Ok(replica
        .apply(&incoming, &pusher)?
        .map(drop)
        .map_err(|v| (v.rule.to_owned(), v.field)))
}

const PHONE: &str = r#"{"v":"13900000009","by":"am-li","at":1795402800000}"#;

#[test]
fn a_stamped_entry_that_names_its_author_twice_is_refused_whichever_comes_first() -> Result<()> {
    let (_, replica, history, _dir) = stored_store()?;
    let message = Some(r#"{"by":"am-li","what":"update contact"}"#);
    for entry in [
        r#"{"v":"13900000009","by":"am-wang","by":"am-li","at":1795402800000}"#,
        r#"{"v":"13900000009","by":"am-li","by":"am-wang","at":1795402800000}"#,
        r#"{"v":"13900000009","v":"13900000008","by":"am-li","at":1795402800000}"#,
    ] {
        let mut server = replica.clone();
        let change = forged(&history, "phone", entry, message)?;
        let refused = verdict(&mut server, "am-li", vec![change])?;
        assert!(
            matches!(&refused, Err((rule, field)) if rule == "schema" && field.starts_with("phone")),
            "{entry}: {refused:?}"
        );
    }
    let mut server = replica.clone();
    let change = forged(&history, "phone", PHONE, message)?;
    assert_eq!(verdict(&mut server, "am-li", vec![change])?, Ok(()));
    Ok(())
}

#[test]
fn a_change_message_must_be_the_senders_json_object_or_absent() -> Result<()> {
    let (_, replica, history, _dir) = stored_store()?;
    for (message, field) in [
        ("by: am-wang", "change.message"),
        (r#"{"by":"am-wang","by":"am-li"}"#, "change.message"),
        (
            r#"{"by":"am-li","what":"x","author":"am-wang"}"#,
            "change.message",
        ),
        (r#"["am-li"]"#, "change.message"),
        (
            r#"{"by":"am-wang","what":"update contact"}"#,
            "change.message.by",
        ),
    ] {
        let mut server = replica.clone();
        let change = forged(&history, "phone", PHONE, Some(message))?;
        let refused = verdict(&mut server, "am-li", vec![change])?;
        assert_eq!(
            refused,
            Err(("stamp_author".to_owned(), field.to_owned())),
            "{message}"
        );
    }
    for message in [
        Some(r#"{"by":"am-li","what":"update contact"}"#),
        Some(r#"{"by":"am-li"}"#),
        None,
    ] {
        let mut server = replica.clone();
        let change = forged(&history, "phone", PHONE, message)?;
        assert_eq!(
            verdict(&mut server, "am-li", vec![change])?,
            Ok(()),
            "{message:?}"
        );
    }
    Ok(())
}
