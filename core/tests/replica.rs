//! The server's view of documents: strict parsing, what changes do, and the write rules.

use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{
    CheckPoint, DocKind, Effect, IncomingChange, NewVisit, Pusher, Replica, Result, Role,
    RuleViolation, StoreClassification, StoreContact, ValueTier, VisitKind, Writer, check_write,
};

fn incoming(changes: Vec<Vec<u8>>) -> Result<Vec<IncomingChange>> {
    changes.iter().map(|c| IncomingChange::parse(c)).collect()
}

/// Applies changes pushed by `user`, received on 2026-11-23 at noon (Beijing time).
fn push(
    replica: &mut Replica,
    user: &str,
    changes: Vec<Vec<u8>>,
) -> Result<std::result::Result<Effect, RuleViolation>> {
    let pusher = Pusher {
        user,
        received_at: at("2026-11-23T12:00:00+08:00").0,
    };
    replica.apply(&incoming(changes)?, &pusher)
}

#[test]
fn the_server_sees_which_fields_a_push_touched_and_refuses_stamps_in_another_name() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (admin, _) = device(
        dir.path().join("admin.db"),
        "admin-chen",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (am, _) = device(
        dir.path().join("am.db"),
        "am-li",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    let store = admin.create_store(sample_store("am-li", 1))?;
    let created = admin.export_changes(&store, &[])?;
    am.merge_changes(&store, &created)?;

    let mut replica = Replica::empty(&store);
    let effect = push(&mut replica, "admin-chen", created)?.expect("valid");
    let summary = replica.summary()?.expect("a store");
    assert_eq!(
        (summary.kind, summary.territory.as_deref()),
        (DocKind::Store, Some("am-li"))
    );
    assert!(effect.touched.contains("territory"));
    let admin_writer = Writer {
        user: "admin-chen",
        role: Role::Admin,
        store_in_scope: true,
    };
    assert_eq!(check_write(None, &summary, &effect, &admin_writer), Ok(()));

    // The account manager fixes the phone number: allowed.
    let heads = am.heads(&store)?;
    am.update_store_contact(
        &store,
        StoreContact {
            phone: Some("13900000009".into()),
            ..Default::default()
        },
    )?;
    let before = replica.summary()?;
    let effect = push(&mut replica, "am-li", am.export_changes(&store, &heads)?)?.expect("valid");
    assert_eq!(
        effect
            .touched
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        vec!["phone"]
    );
    let am_writer = Writer {
        user: "am-li",
        role: Role::AccountManager,
        store_in_scope: true,
    };
    assert_eq!(
        check_write(
            before.as_ref(),
            &replica.summary()?.expect("store"),
            &effect,
            &am_writer
        ),
        Ok(())
    );

    // ... but raising the store's tier is refused, whatever the app claims.
    let heads = am.heads(&store)?;
    am.update_store_classification(
        &store,
        StoreClassification {
            tier: Some(ValueTier::A),
            ..Default::default()
        },
    )?;
    let mut copy = replica.clone();
    let tier_change = am.export_changes(&store, &heads)?;
    let effect = push(&mut copy, "am-li", tier_change.clone())?.expect("a valid store");
    let verdict = check_write(
        replica.summary()?.as_ref(),
        &copy.summary()?.expect("store"),
        &effect,
        &am_writer,
    );
    assert_eq!(verdict.map_err(|v| v.rule), Err("store_contact_only"));

    // A device signed in as one user but stamping edits as another is refused.
    let mut copy = replica.clone();
    let verdict = push(&mut copy, "am-wu", tier_change)?;
    assert_eq!(verdict.map_err(|v| v.rule), Err("stamp_author"));
    Ok(())
}

#[test]
fn changes_with_a_gap_or_of_garbage_are_refused_by_the_server_replica() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (am, _) = device(
        dir.path().join("am.db"),
        "am-li",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    let store = am.create_store(sample_store("am-li", 1))?;
    let visit = am.create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at("2026-11-23T10:00:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    let first = am.heads(&visit)?;
    am.set_visit_notes(&visit, "a")?;
    am.set_visit_notes(&visit, "ab")?;
    let mut gap = am.export_changes(&visit, &first)?;
    gap.remove(0);
    let mut replica = Replica::load(
        &visit,
        am.export_changes(&visit, &[])?
            .iter()
            .take(1)
            .map(Vec::as_slice),
    )?;
    assert!(
        push(&mut replica, "am-li", gap).is_err(),
        "a missing predecessor is refused"
    );
    assert!(IncomingChange::parse(b"\x85\x6f\x4a\x83 not really").is_err());
    let mut visit_replica = Replica::empty(&visit);
    let effect =
        push(&mut visit_replica, "am-li", am.export_changes(&visit, &[])?)?.expect("a valid visit");
    let summary = visit_replica.summary()?.expect("visit");
    assert_eq!(summary.visitor.as_deref(), Some("am-li"));
    assert!(effect.touched.contains("notes"));
    Ok(())
}
