//! The write rules judged case by case: who may edit a store's fields, write or comment on
//! a visit, record each visit kind, and write or acknowledge a scorecard; and that where
//! [`reads_touched`] says the touched fields are not read, they change no verdict.

use super::*;

fn store(territory: &str) -> DocSummary {
    DocSummary {
        kind: DocKind::Store,
        store_id: Some("s1".into()),
        territory: Some(territory.into()),
        demo_street: Some(false),
        visitor: None,
        visit_kind: None,
        manager: None,
        happened_at: None,
    }
}

fn effect(keys: &[&str], _by: &[&str]) -> Effect {
    Effect {
        touched: keys.iter().map(|k| k.to_string()).collect(),
    }
}

fn am(user: &str, in_scope: bool) -> Writer<'_> {
    Writer {
        user,
        role: Role::AccountManager,
        store_in_scope: in_scope,
    }
}

/// A document of `kind` about store `s1` (visitor and manager `am-li`).
fn summary(kind: DocKind) -> DocSummary {
    DocSummary {
        kind,
        visitor: Some("am-li".into()),
        manager: Some("am-li".into()),
        ..store("am-li")
    }
}

#[test]
fn where_the_rules_do_not_read_the_touched_fields_no_touched_fields_change_a_verdict() {
    let every_field = [
        "territory",
        "phone",
        "comments",
        "acknowledgement",
        "visitor",
        "standards",
        "lines",
        "status",
        "tier",
    ];
    let roles = [
        Role::AccountManager,
        Role::MarketTeam,
        Role::Supervisor,
        Role::Admin,
    ];
    let mut skipped = 0;
    for kind in DocKind::ALL {
        let doc = summary(kind);
        for before in [None, Some(&doc)] {
            if reads_touched(before) {
                continue;
            }
            for role in roles {
                for user in ["am-li", "sup-zhao"] {
                    for store_in_scope in [true, false] {
                        let writer = Writer {
                            user,
                            role,
                            store_in_scope,
                        };
                        let none = check(before, &doc, &effect(&[], &[user]), &writer);
                        let all = check(before, &doc, &effect(&every_field, &[user]), &writer);
                        assert_eq!(none, all, "{kind:?}, before {before:?}, {role:?} {user}");
                        skipped += 1;
                    }
                }
            }
        }
    }
    // Creations of every kind, and edits of displays, counts, tasks and complaints.
    assert_eq!(skipped, (7 + 4) * 4 * 2 * 2);
}

#[test]
fn an_account_manager_edits_contact_fields_of_their_store_but_not_its_territory() {
    let s = store("am-li");
    assert_eq!(
        check(
            Some(&s),
            &s,
            &effect(&["phone"], &["am-li"]),
            &am("am-li", true)
        ),
        Ok(())
    );
    let err = check(
        Some(&s),
        &store("am-li"),
        &effect(&["territory", "phone"], &["am-li"]),
        &am("am-li", true),
    );
    assert_eq!(err.map_err(|v| v.rule), Err("store_contact_only"));
    let err = check(
        Some(&s),
        &s,
        &effect(&["phone"], &["am-wu"]),
        &Writer {
            user: "am-wu",
            role: Role::AccountManager,
            store_in_scope: false,
        },
    );
    assert_eq!(err.map_err(|v| v.rule), Err("store_not_writable"));
}

#[test]
fn only_supervisors_write_scorecards_and_the_manager_only_acknowledges() {
    let card = DocSummary {
        kind: DocKind::Scorecard,
        store_id: None,
        territory: None,
        demo_street: None,
        visitor: None,
        visit_kind: None,
        manager: Some("am-li".into()),
        happened_at: None,
    };
    let sup = Writer {
        user: "sup-wang",
        role: Role::Supervisor,
        store_in_scope: true,
    };
    assert_eq!(
        check(None, &card, &effect(&["scores"], &["sup-wang"]), &sup),
        Ok(())
    );
    assert_eq!(
        check(
            Some(&card),
            &card,
            &effect(&["acknowledgement"], &["am-li"]),
            &am("am-li", true)
        ),
        Ok(())
    );
    let err = check(
        Some(&card),
        &card,
        &effect(&["scores"], &["am-li"]),
        &am("am-li", true),
    );
    assert_eq!(err.map_err(|v| v.rule), Err("scorecard_supervisor_only"));
    let err = check(
        None,
        &card,
        &effect(&["scores"], &["admin-chen"]),
        &Writer {
            user: "admin-chen",
            role: Role::Admin,
            store_in_scope: true,
        },
    );
    assert_eq!(err.map_err(|v| v.rule), Err("scorecard_supervisor_only"));
}

#[test]
fn a_visit_is_written_by_its_visitor_and_supervisors_only_comment() {
    let visit = DocSummary {
        kind: DocKind::Visit,
        store_id: Some("s1".into()),
        territory: None,
        demo_street: None,
        visitor: Some("am-li".into()),
        visit_kind: Some(VisitKind::Routine),
        manager: None,
        happened_at: None,
    };
    assert_eq!(
        check(None, &visit, &effect(&["notes"], &[]), &am("am-li", true)),
        Ok(())
    );
    let sup = Writer {
        user: "sup-wang",
        role: Role::Supervisor,
        store_in_scope: true,
    };
    assert_eq!(
        check(
            Some(&visit),
            &visit,
            &effect(&["comments"], &["sup-wang"]),
            &sup
        ),
        Ok(())
    );
    let err = check(Some(&visit), &visit, &effect(&["notes"], &[]), &sup);
    assert_eq!(err.map_err(|v| v.rule), Err("visit_visitor_only"));
    let err = check(
        Some(&visit),
        &visit,
        &effect(&["notes"], &[]),
        &am("am-wu", true),
    );
    assert_eq!(err.map_err(|v| v.rule), Err("visit_visitor_only"));
}

#[test]
fn each_visit_kind_is_recorded_only_by_its_role_and_no_visit_changes_kind_into_anothers() {
    let roles = [
        Role::AccountManager,
        Role::MarketTeam,
        Role::Supervisor,
        Role::Admin,
    ];
    let visit = |kind: VisitKind| DocSummary {
        kind: DocKind::Visit,
        visitor: Some("u1".into()),
        visit_kind: Some(kind),
        ..store("am-li")
    };
    let mut refused = 0;
    for kind in VisitKind::ALL {
        for role in roles {
            let writer = Writer {
                user: "u1",
                role,
                store_in_scope: true,
            };
            let created = check(None, &visit(kind), &effect(&[], &[]), &writer);
            for from in VisitKind::ALL {
                let touched = effect(&["visit_kind"], &[]);
                let changed = check(Some(&visit(from)), &visit(kind), &touched, &writer);
                let expected = if from == kind { &Ok(()) } else { &created };
                assert_eq!(&changed, expected, "{from:?} -> {kind:?} by {role:?}");
            }
            if kind.recorded_by() == role {
                assert_eq!(created, Ok(()), "{kind:?} by {role:?}");
            } else {
                let v = created.expect_err("another role's kind is refused");
                assert_eq!(v.rule, "visit_kind_role");
                assert!(v.message.contains(kind.code()), "{}", v.message);
                assert!(v.message.contains(role.code()), "{}", v.message);
                refused += 1;
            }
        }
    }
    // Six kinds, each open to one role of four; admins record none.
    assert_eq!(refused, 6 * 3);
}

#[test]
fn a_visit_of_its_roles_kind_stays_editable_by_its_visitor_after_the_role_changed() {
    let visit = DocSummary {
        kind: DocKind::Visit,
        visitor: Some("u1".into()),
        visit_kind: Some(VisitKind::Routine),
        ..store("am-li")
    };
    let now_a_supervisor = Writer {
        user: "u1",
        role: Role::Supervisor,
        store_in_scope: true,
    };
    let notes = effect(&["notes"], &[]);
    assert_eq!(
        check(Some(&visit), &visit, &notes, &now_a_supervisor),
        Ok(())
    );
}
