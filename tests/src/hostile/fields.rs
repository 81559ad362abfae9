//! Plain fields: what each kind holds besides its stamped entries, as the spec's tables
//! list it, and the attacks on them: a value of another Automerge type, a required field
//! deleted, a field the kind does not have, the header rewritten.

use serde_json::json;

use super::{Draft, LI, Op, Rand, Sender, Target, Val, View, del, no, path, pick, s, set};
use fieldsync_core::DocId;
use rand::Rng;

/// An Automerge type a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    /// A plain string (also ids, user ids and codes).
    Str,
    Int,
    /// f64 or int.
    Num,
    Bool,
    Text,
    Map,
    /// A stamped entry: a plain string holding JSON.
    Entry,
}

/// The fields of the target (its header, plain fields and stamped entries), each with its
/// type and whether it is required.
#[rustfmt::skip]
fn fields(v: &View) -> Vec<(Vec<String>, Ty, bool)> {
    use Ty::*;
    let header: &[(&[&str], Ty, bool)] = &[(&["schema"], Int, true), (&["kind"], Str, true), (&["id"], Str, true)];
    let of_kind: &[(&[&str], Ty, bool)] = match v.target {
        Target::Store => &[
            (&["licence"], Entry, true), (&["name"], Entry, true), (&["owner"], Entry, true),
            (&["phone"], Entry, true), (&["address"], Entry, true), (&["lat"], Entry, true),
            (&["lng"], Entry, true), (&["geofence_m"], Entry, true), (&["format"], Entry, true),
            (&["market"], Entry, true), (&["size"], Entry, true), (&["tier"], Entry, true),
            (&["monthly_volume"], Entry, true), (&["demo_street"], Entry, true),
            (&["functional"], Entry, true), (&["territory"], Entry, true), (&["rating"], Entry, false),
            (&["datum"], Entry, false),
        ],
        Target::Visit => &[
            (&["store_id"], Str, true), (&["visitor"], Str, true), (&["visit_kind"], Str, true),
            (&["store_lat"], Num, true), (&["store_lng"], Num, true), (&["geofence_m"], Num, true),
            (&["store_datum"], Str, false), (&["check_in"], Map, true), (&["check_in", "at"], Int, true),
            (&["check_in", "datum"], Str, false), (&["check_in", "lat"], Num, false),
            (&["check_in", "lng"], Num, false), (&["check_in", "accuracy_m"], Num, false),
            (&["check_in", "distance_m"], Num, false), (&["check_in", "in_range"], Bool, false),
            (&["notes"], Text, false), (&["brand_promotion"], Text, false), (&["photos"], Map, false),
            (&["comments"], Map, false), (&["training"], Map, false), (&["shelf_display_id"], Str, false),
        ],
        Target::Display => &[
            (&["store_id"], Str, true), (&["standard.tidy_counter"], Entry, false),
            (&["product.6901028"], Entry, false), (&["new_product_zone"], Entry, false),
            (&["checked.am-li"], Entry, false),
        ],
        Target::Count => &[
            (&["store_id"], Str, true), (&["started_by"], Str, true), (&["started_at"], Int, true),
            (&["book"], Map, true), (&["book", "sku-001"], Int, false), (&["names"], Map, false),
            (&["names", "sku-001"], Str, false), (&["counted"], Map, false),
            (&["counted", "sku-001"], Entry, false), (&["finished"], Entry, false),
        ],
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => &[
            (&["store_id"], Str, true), (&["title"], Str, true), (&["description"], Text, false),
            (&["assignee"], Str, true), (&["deadline"], Int, true), (&["created_by"], Str, true),
            (&["created_at"], Int, true), (&["state"], Entry, true), (&["photos"], Map, false),
            (&["answers_rating_at"], Int, false),
        ],
        Target::Complaint => &[
            (&["store_id"], Str, true), (&["complaint_kind"], Str, true), (&["received_at"], Int, true),
            (&["received_by"], Str, true), (&["description"], Text, false), (&["urban"], Bool, true),
            (&["on_site_applies"], Bool, true), (&["events"], Map, false),
            (&["events", "on_site"], Entry, false),
        ],
        Target::CardOpen | Target::CardAcknowledged => &[
            (&["manager"], Str, true), (&["month"], Str, true), (&["supervisor"], Str, true),
            (&["weights"], Map, true), (&["weights", "visit_frequency"], Num, true),
            (&["weights", "brand_promotion"], Num, true), (&["weights", "terminal_image"], Num, true),
            (&["weights", "service_attitude"], Num, true), (&["weights", "pass_mark"], Num, true),
            (&["weights", "bonus_mark"], Num, true), (&["scores"], Map, true),
            (&["scores", "visit_frequency"], Entry, false), (&["evidence"], Map, false),
            (&["evidence", "visit_frequency"], Text, false), (&["acknowledgement"], Entry, false),
        ],
    };
    header.iter().chain(of_kind).map(|(p, t, r)| (path(p), *t, *r)).collect()
}

/// Values of another type than `ty` (never one the spec accepts for it: an int is a
/// number, a timestamp an int).
#[rustfmt::skip]
fn wrong_values(ty: Ty) -> Vec<Val> {
    let entry = json!({"v": "x", "by": LI, "at": 1_795_000_000_000_i64}).to_string();
    let mut out = vec![Val::Null, Val::Counter(1), Val::List, Val::Bytes];
    out.extend(match ty {
        Ty::Str => vec![Val::Int(7), Val::F64(1.5), Val::Bool(true), Val::Map, Val::Text(LI.into())],
        Ty::Int => vec![s("12"), Val::F64(12.5), Val::F64(12.0), Val::Bool(true), Val::Map, Val::Text("12".into())],
        Ty::Num => vec![s("30.27"), Val::Bool(false), Val::Map, Val::Text("30.27".into())],
        Ty::Bool => vec![Val::Int(1), Val::F64(1.0), s("true"), Val::Map, Val::Text("true".into())],
        Ty::Text => vec![s("a plain string"), Val::Int(1), Val::Map],
        Ty::Map => vec![s("{}"), Val::Int(0), Val::Text("{}".into())],
        Ty::Entry => vec![Val::Int(1), s("not an entry"), Val::Map, Val::Text(entry)],
    });
    out
}

/// Who may write the field (so that the write rules let the change reach the judge).
fn writer(rng: &mut Rand, v: &View, at: &[String]) -> Sender {
    match at.first().map(String::as_str) {
        Some("acknowledgement") => Sender::Li,
        Some("comments") => Sender::Sup,
        Some("name" | "owner" | "phone" | "address") if rng.random_bool(0.5) => Sender::Li,
        _ => v.writer(rng),
    }
}

pub(super) fn wrong_type(rng: &mut Rand, v: &View) -> Option<Draft> {
    let all = fields(v);
    let (at, ty, _) = pick(rng, &all);
    let value = pick(rng, &wrong_values(*ty)).clone();
    let what = format!("`{}` of another type ({ty:?} expected)", at.join("."));
    Some(no(
        what,
        writer(rng, v, at),
        vec![Op::Put(at.clone(), value)],
    ))
}

pub(super) fn missing(rng: &mut Rand, v: &View) -> Option<Draft> {
    let all: Vec<(Vec<String>, Ty, bool)> = fields(v).into_iter().filter(|f| f.2).collect();
    let (at, _, _) = pick(rng, &all);
    let what = format!("required `{}` deleted", at.join("."));
    Some(no(what, writer(rng, v, at), vec![Op::Delete(at.clone())]))
}

/// A key the kind does not have, at the root or in a map, holding a plain string or a
/// well-formed entry.
#[rustfmt::skip]
pub(super) fn unknown(rng: &mut Rand, v: &View) -> Option<Draft> {
    let mut keys: Vec<Vec<String>> =
        ["extra", "Notes", "store_id ", "ID", "by", "schema2", "kind\u{200b}", "__proto__"]
            .iter().map(|k| path(&[k])).collect();
    let more: &[&[&str]] = match v.target {
        Target::Visit => &[&["check_in", "extra"], &["photos", "sha256:ABC"], &["training", "banana"]],
        Target::Display => &[
            &["standard.banana"], &["standard."], &["standards.tidy_counter"], &["product."],
            &["product.a,b"], &["checked.am li"], &["checked."],
        ],
        Target::CardOpen | Target::CardAcknowledged => {
            &[&["weights", "extra"], &["scores", "banana"], &["evidence", "banana"]]
        }
        Target::Complaint => &[&["events", "banana"]],
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => &[&["photos", "IMG_0001.jpg"]],
        Target::Count => &[&["book", ""], &["counted", "a,b"]],
        Target::Store => &[],
    };
    keys.extend(more.iter().map(|p| path(p)));
    let at = pick(rng, &keys).clone();
    let sender = v.writer(rng);
    let entry = at.len() > 1 || at[0].contains('.');
    let value = if entry {
        super::stamped(json!({"v": "pass", "text": "x"}), sender.user(), v.clock())
    } else {
        s("x")
    };
    Some(no(format!("unknown field `{}`", at.join(".")), sender, vec![Op::Put(at, value)]))
}

/// The header rewritten: `schema`, `kind` and `id` never change.
#[rustfmt::skip]
pub(super) fn header(rng: &mut Rand, v: &View) -> Option<Draft> {
    let kind = v.target.kind().as_str();
    let other_kind = if kind == "task" { "visit" } else { "task" };
    let own_id = v.str(&["id"]).unwrap_or_default();
    let choices: Vec<(String, Op)> = vec![
        ("`schema` 2".into(), set(&["schema"], Val::Int(2))),
        ("`schema` 0".into(), set(&["schema"], Val::Int(0))),
        ("`schema` a string".into(), set(&["schema"], s("1"))),
        ("`schema` a float".into(), set(&["schema"], Val::F64(1.0))),
        (format!("`kind` `{other_kind}`"), set(&["kind"], s(other_kind))),
        ("`kind` in upper case".into(), set(&["kind"], s(kind.to_uppercase()))),
        ("`kind` deleted".into(), del(&["kind"])),
        ("`id` another document's".into(), set(&["id"], s(DocId::new().to_string()))),
        ("`id` in upper case".into(), set(&["id"], s(own_id.to_uppercase()))),
        ("`id` deleted".into(), del(&["id"])),
    ];
    let (what, op) = pick(rng, &choices).clone();
    Some(no(what, v.writer(rng), vec![op]))
}
