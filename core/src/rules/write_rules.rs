//! Who may write what: the server's write rules, checked on what changes *do*.
//!
//! The server applies a device's new changes to a copy of the document, judges it whole as
//! its kind (`crate::kinds`: shape, values, the author of every stamp, device times, state
//! changes), then asks [`check`] with what it sees: the document before and after (its
//! [`DocSummary`]), the root fields the changes touched, and who sent them.

use std::collections::BTreeSet;

use crate::ids::{DocKind, Role};
use crate::kinds::RuleViolation;
use crate::kinds::visit::VisitKind;

/// What the server knows of a document, read from its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocSummary {
    pub kind: DocKind,
    /// The store the document is about (the store itself for a store document).
    pub store_id: Option<String>,
    /// A store document's territory (account manager) and demo-street flag.
    pub territory: Option<String>,
    pub demo_street: Option<bool>,
    /// A visit's visitor.
    pub visitor: Option<String>,
    /// A visit's kind (`visit_kind`): only one role records each kind.
    pub visit_kind: Option<VisitKind>,
    /// A scorecard's scored account manager.
    pub manager: Option<String>,
    /// When a visit checked in or a count began, as its content says (ms since the
    /// epoch). It orders a first sync (docs/protocol.md, "A first sync") and is never
    /// a permission: a forged value only moves a document earlier or later in a download.
    pub happened_at: Option<i64>,
}

/// The device sending changes, as the server authenticated it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Writer<'a> {
    pub user: &'a str,
    pub role: Role,
    /// Whether the document's store was in the writer's read scope before these changes.
    pub store_in_scope: bool,
}

/// What a set of changes does to a document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// Root fields whose value changed, conflicted or was removed.
    pub touched: BTreeSet<String>,
}

/// A refusal about the whole document or write (no field).
fn refuse(
    rule: &'static str,
    message: impl Into<String>,
) -> std::result::Result<(), RuleViolation> {
    refuse_at(rule, "", message)
}

/// A refusal about one field: `reason` follows the field's name in the message.
fn refuse_at(
    rule: &'static str,
    field: &str,
    reason: impl Into<String>,
) -> std::result::Result<(), RuleViolation> {
    Err(RuleViolation::at(rule, field, reason))
}

const STORE_CONTACT_FIELDS: [&str; 4] = ["name", "owner", "phone", "address"];

/// Whether [`check`] reads [`Effect::touched`] for a document that was `before` (`None`:
/// the changes create it): only for edits of stores, visits and scorecards, where who may
/// write depends on which fields changed. Otherwise a server need not work the touched
/// fields out (Automerge's diff, about a tenth of a push's work).
pub fn reads_touched(before: Option<&DocSummary>) -> bool {
    before.is_some_and(|b| matches!(b.kind, DocKind::Store | DocKind::Visit | DocKind::Scorecard))
}

/// Checks a write. `before` is `None` when the changes create the document.
pub fn check(
    before: Option<&DocSummary>,
    after: &DocSummary,
    effect: &Effect,
    writer: &Writer<'_>,
) -> std::result::Result<(), RuleViolation> {
    if let Some(before) = before {
        if before.kind != after.kind {
            return refuse_at(
                "kind_fixed",
                "kind",
                format!(
                    "cannot change: a {} cannot become a {}",
                    before.kind, after.kind
                ),
            );
        }
        if before.store_id != after.store_id {
            return refuse_at(
                "store_fixed",
                "store_id",
                "cannot change: the store a document is about is fixed",
            );
        }
    }
    let only = |allowed: &[&str]| effect.touched.iter().all(|k| allowed.contains(&k.as_str()));
    let privileged = matches!(writer.role, Role::Supervisor | Role::Admin);
    match after.kind {
        DocKind::Store => match (writer.role, before) {
            (Role::Admin, _) => Ok(()),
            (_, None) => refuse("store_admin_only", "only an admin creates stores"),
            (Role::AccountManager, Some(_))
                if writer.store_in_scope && only(&STORE_CONTACT_FIELDS) =>
            {
                Ok(())
            }
            (Role::AccountManager, Some(_)) if writer.store_in_scope => {
                let forbidden = not_allowed(&effect.touched, &STORE_CONTACT_FIELDS);
                refuse_at(
                    "store_contact_only",
                    forbidden.first().map_or("", String::as_str),
                    format!(
                        "is not a contact field: an account manager edits only {} (this change writes {})",
                        quoted(&STORE_CONTACT_FIELDS.map(String::from)),
                        quoted(&forbidden)
                    ),
                )
            }
            _ => refuse(
                "store_not_writable",
                format!("a {} does not edit this store", writer.role),
            ),
        },
        DocKind::Visit => {
            let visitor = after.visitor.as_deref().unwrap_or_default();
            if before.is_some_and(|b| b.visitor != after.visitor) {
                return refuse_at(
                    "visit_visitor_fixed",
                    "visitor",
                    "cannot change: the visitor of a visit is fixed",
                );
            }
            if visitor == writer.user {
                if before.is_none() && !(writer.store_in_scope || privileged) {
                    return refuse("store_scope", "the store is not in the visitor's scope");
                }
                let kind_changed = before.is_none_or(|b| b.visit_kind != after.visit_kind);
                match after.visit_kind {
                    Some(kind) if kind_changed && kind.recorded_by() != writer.role => refuse_at(
                        "visit_kind_role",
                        "visit_kind",
                        format!(
                            "`{}` is recorded only by role `{}`, not `{}`",
                            kind.code(),
                            kind.recorded_by(),
                            writer.role
                        ),
                    ),
                    _ => Ok(()),
                }
            } else if before.is_some() && writer.role == Role::Supervisor && only(&["comments"]) {
                Ok(())
            } else {
                refuse(
                    "visit_visitor_only",
                    format!(
                        "a visit is written by its visitor `{visitor}` (supervisors may comment)"
                    ),
                )
            }
        }
        DocKind::ShelfDisplay | DocKind::InventoryCount | DocKind::Task | DocKind::Complaint => {
            if writer.store_in_scope || privileged {
                Ok(())
            } else {
                refuse(
                    "store_scope",
                    format!(
                        "the store of this {} is not in `{}`'s scope",
                        after.kind, writer.user
                    ),
                )
            }
        }
        DocKind::Scorecard => {
            let manager = after.manager.as_deref().unwrap_or_default();
            let acknowledging =
                before.is_some() && manager == writer.user && only(&["acknowledgement"]);
            if writer.role == Role::Supervisor || acknowledging {
                Ok(())
            } else {
                refuse(
                    "scorecard_supervisor_only",
                    "only supervisors write scorecards (the scored manager acknowledges)",
                )
            }
        }
    }
}

/// The fields of `touched` not in `allowed`, in order.
fn not_allowed(touched: &BTreeSet<String>, allowed: &[&str]) -> Vec<String> {
    touched
        .iter()
        .filter(|k| !allowed.contains(&k.as_str()))
        .cloned()
        .collect()
}

fn quoted(fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|k| format!("`{k}`")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests;
