//! Collaborative text is characters only: a change that hides a map in a visit's notes (a
//! block marker, counted as one character), puts marks beside them (names and values no
//! reader shows, outside the length limit) or writes a control character into them is
//! refused at push, naming the field; line breaks and tabs are text.
//!
//! Shown to catch what it guards, once, in a scratch edit (reverted): with the walk
//! checking the text's length only (as before), the mark, the block and the bell were all
//! accepted and the test failed at the first of them.

use automerge::marks::{ExpandMark, Mark};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, Value};
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{CheckPoint, Error, IncomingChange, NewVisit, Pusher, Replica, Result};
use fieldsync_core::{DocId, LocalStore, RuleViolation, VisitKind};

/// One change by a new actor of `am-li` on top of `history`, made by `edit` on the notes.
fn forged(
    history: &[Vec<u8>],
    edit: impl FnOnce(
        &mut AutoCommit,
        &automerge::ObjId,
    ) -> std::result::Result<(), automerge::AutomergeError>,
) -> Result<Vec<u8>> {
    let mut doc = AutoCommit::new();
    let changes = history
        .iter()
        .map(|c| automerge::Change::try_from(c.as_slice()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid("change", e.to_string()))?;
    doc.apply_changes(changes)?;
    doc.set_actor(ActorId::random());
    let Some((Value::Object(ObjType::Text), notes)) = doc.get(ROOT, "notes")? else {
        return Err(Error::invalid("notes", "the visit has no notes text"));
    };
    edit(&mut doc, &notes)?;
    doc.commit_with(
        CommitOptions::default()
            .with_time(at("2026-11-23T10:30:00+08:00").0)
            .with_message(r#"{"by":"am-li","what":"edit visit"}"#.to_owned()),
    );
    Ok(doc
        .get_last_local_change()
        .ok_or_else(|| Error::invalid("change", "none made"))?
        .raw_bytes()
        .to_vec())
}

/// Am-li's phone with a routine visit of her store begun at 10:00 on 23 November.
fn li_visiting(dir: &tempfile::TempDir) -> Result<(LocalStore, DocId)> {
    let (am, _) = device(
        dir.path().join("am.db"),
        "am-li",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    let store = am.create_store(sample_store("am-li", 1))?;
    let visit = am.create_visit(NewVisit {
        store_id: store,
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at("2026-11-23T10:00:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    Ok((am, visit))
}

fn push(replica: &mut Replica, change: Vec<u8>) -> Result<std::result::Result<(), RuleViolation>> {
    let pusher = Pusher {
        user: "am-li",
        received_at: at("2026-11-23T12:00:00+08:00").0,
    };
    Ok(replica
        .apply(&[IncomingChange::parse(&change)?], &pusher)?
        .map(drop))
}

#[test]
fn marks_block_markers_and_control_characters_in_collaborative_text_are_refused_naming_the_field()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (am, visit) = li_visiting(&dir)?;
    am.set_visit_notes(&visit, "shelf tidy")?;
    let history = am.export_changes(&visit, &[])?;
    let replica = Replica::load(&visit, history.iter().map(Vec::as_slice))?;

    type Edit = Box<
        dyn FnOnce(
            &mut AutoCommit,
            &automerge::ObjId,
        ) -> std::result::Result<(), automerge::AutomergeError>,
    >;
    let refused: Vec<(&str, Edit, &str)> = vec![
        (
            "a mark",
            Box::new(|doc, notes| {
                doc.mark(
                    notes,
                    Mark::new("comment".into(), "x".repeat(100_000), 0, 5),
                    ExpandMark::None,
                )
            }),
            "holds marks",
        ),
        (
            "a block marker",
            Box::new(|doc, notes| doc.split_block(notes, 5).map(drop)),
            "block marker",
        ),
        (
            "a bell",
            Box::new(|doc, notes| doc.splice_text(notes, 0, 0, "\u{7}")),
            "control characters",
        ),
        (
            "a carriage return",
            Box::new(|doc, notes| doc.splice_text(notes, 0, 0, "\r")),
            "control characters",
        ),
    ];
    for (what, edit, reason) in refused {
        let mut server = replica.clone();
        let verdict = push(&mut server, forged(&history, edit)?)?;
        let violation = verdict.expect_err(what);
        assert_eq!(
            (violation.rule, violation.field.as_str()),
            ("schema", "notes"),
            "{what}: {violation:?}"
        );
        assert!(violation.message.contains(reason), "{what}: {violation:?}");
    }

    let mut server = replica.clone();
    let lines = forged(&history, |doc, notes| {
        doc.splice_text(notes, 10, 0, "\n\tprice tags: 3 missing")
    })?;
    assert_eq!(
        push(&mut server, lines)?,
        Ok(()),
        "line breaks and tabs are text"
    );
    Ok(())
}

#[test]
fn a_note_pasted_with_windows_line_breaks_is_saved_with_line_feeds_and_a_bell_is_refused_on_the_phone()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (am, visit) = li_visiting(&dir)?;
    am.set_visit_notes(&visit, "shelf tidy\r\nprice tags: 3 missing\rcall back")?;
    assert_eq!(
        am.visit(&visit)?.notes,
        "shelf tidy\nprice tags: 3 missing\ncall back"
    );
    let refused = am
        .set_visit_notes(&visit, "ring\u{7}")
        .expect_err("a bell is no text");
    assert!(
        refused.to_string().contains("control characters"),
        "{refused}"
    );
    assert_eq!(
        am.visit(&visit)?.notes,
        "shelf tidy\nprice tags: 3 missing\ncall back",
        "nothing of the refused edit is kept"
    );
    Ok(())
}
