//! Valid edits, and the attacks only the whole document or its history shows: value rules
//! across fields, illegal task moves, author fields rewritten, write rules broken, change
//! times that cannot be and commit messages naming someone else.

use serde_json::json;

use super::entries::{DIMENSIONS, templates};
use super::{
    Draft, Expect, HOUR, HUGE, LI, OVER_TEXT, Op, Rand, SUP, Sender, Target, Val, View, WU, Y2001,
    Y2100, append, del, message, no, ok, others, photo_hash, pick, s, set, stamped,
};
use fieldsync_core::DocId;
use rand::Rng;

/// A valid edit of the document: a stamped entry its sender may write, or an edit of its
/// plain fields and texts; the worked task's next legal move.
#[rustfmt::skip]
pub(super) fn valid(rng: &mut Rand, v: &View) -> Option<Draft> {
    use Sender::{Li, Sup};
    let n = rng.random_range(0..10_000);
    let note = format!(" seen {n}.");
    let sender = v.either(rng);
    let mut plain = match v.target {
        Target::Visit => vec![
            ok("notes appended", Li, vec![append(&["notes"], note)]),
            ok("brand promotion appended", Li, vec![append(&["brand_promotion"], " tags up.")]),
            ok("checked out now", Li, vec![set(&["check_out"], Val::Map), set(&["check_out", "at"], Val::Int(v.clock()))]),
            ok("linked to the store's display", Li, vec![set(&["shelf_display_id"], s(v.facts.display.to_string()))]),
        ],
        Target::Count => {
            let line = format!("sku-00{}", rng.random_range(1..=5));
            vec![
                ok("a line renamed", sender, vec![set(&["names", &line], s(format!("Product {n}")))]),
                ok("a book quantity corrected", sender, vec![set(&["book", &line], Val::Int(rng.random_range(0..=100)))]),
            ]
        }
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => {
            if v.target == Target::TaskWork && let Some(d) = next_move(rng, v) {
                return Some(d);
            }
            vec![
                ok("title changed", sender, vec![set(&["title"], s(format!("Fix the price tags ({n})")))]),
                ok("description appended", sender, vec![append(&["description"], note)]),
            ]
        }
        Target::Complaint => vec![ok("description appended", sender, vec![append(&["description"], note)])],
        Target::CardOpen => vec![ok("evidence appended", Sup, vec![append(&["evidence", *pick(rng, DIMENSIONS)], note)])],
        _ => Vec::new(),
    };
    let entries: Vec<_> = templates(rng, v).into_iter().filter(|t| t.valid).collect();
    if !entries.is_empty() && (plain.is_empty() || rng.random_bool(0.6)) {
        let t = pick(rng, &entries);
        return Some(ok(format!("`{}` written", t.name()), t.sender, vec![t.put(s(t.stamped(v)))]));
    }
    (!plain.is_empty()).then(|| plain.swap_remove(rng.random_range(0..plain.len())))
}

/// The worked task's next legal move, by whom the state machine wants: the assignee works
/// and submits it (with an after photo), the supervisor reopens it (never verifies it, so
/// that it goes round again).
fn next_move(rng: &mut Rand, v: &View) -> Option<Draft> {
    let (state, assignee, photos) = v.task();
    if assignee != LI {
        return None;
    }
    let (to, sender, note) = match state.as_str() {
        "open" | "reopened" => ("in_progress", Sender::Li, None),
        "in_progress" if photos == 0 => {
            let photo = json!({"caption": "after"});
            let at = ["photos", &photo_hash(rng)];
            let op = set(&at, stamped(photo, LI, v.clock()));
            return Some(ok("an after photo added", Sender::Li, vec![op]));
        }
        "in_progress" => ("submitted", Sender::Li, None),
        "submitted" => ("reopened", Sender::Sup, Some("the tags are still missing")),
        _ => return None,
    };
    let what = format!("moved from `{state}` to `{to}`");
    Some(ok(
        what,
        sender,
        vec![state_op(to, note, sender, v.clock())],
    ))
}

fn state_op(to: &str, note: Option<&str>, by: Sender, at: i64) -> Op {
    let fields = match note {
        Some(note) => json!({"v": to, "note": note}),
        None => json!({"v": to}),
    };
    set(&["state"], stamped(fields, by.user(), at))
}

/// A value rule across fields, a state change, an author field or a write rule broken.
pub(super) fn rule(rng: &mut Rand, v: &View) -> Option<Draft> {
    let mut out = match v.target {
        Target::Store => store(v),
        Target::Visit => visit(v),
        Target::Display => display(rng, v),
        Target::Count => count(rng, v),
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => task(rng, v),
        Target::Complaint => complaint(rng, v),
        Target::CardOpen | Target::CardAcknowledged => scorecard(rng, v),
    };
    if !matches!(
        v.target,
        Target::Store | Target::CardOpen | Target::CardAcknowledged
    ) {
        let sender = if v.target == Target::Visit {
            Sender::Li
        } else {
            v.either(rng)
        };
        let store = v.facts.store.to_string();
        out.extend([
            no(
                "`store_id` another store's",
                sender,
                vec![set(&["store_id"], s(v.facts.other_store.to_string()))],
            ),
            no(
                "`store_id` in upper case",
                sender,
                vec![set(&["store_id"], s(store.to_uppercase()))],
            ),
            no(
                "`store_id` without hyphens",
                sender,
                vec![set(&["store_id"], s(store.replace('-', "")))],
            ),
        ]);
    }
    (!out.is_empty()).then(|| out.swap_remove(rng.random_range(0..out.len())))
}

#[rustfmt::skip]
fn store(v: &View) -> Vec<Draft> {
    let at = v.clock();
    vec![
        no("the territory re-stamped by its account manager", Sender::Li, vec![set(&["territory"], stamped(json!({"v": LI}), LI, at))]),
        no("the monthly volume set by the account manager", Sender::Li, vec![set(&["monthly_volume"], stamped(json!({"v": 500}), LI, at))]),
        no("the rating set by the account manager", Sender::Li, vec![set(&["rating"], stamped(json!({"v": "excellent"}), LI, at))]),
        no("the name and the tier set by the account manager", Sender::Li, vec![
            set(&["name"], stamped(json!({"v": "Store 1"}), LI, at)), set(&["tier"], stamped(json!({"v": "A"}), LI, at)),
        ]),
        no("the name set by a supervisor", Sender::Sup, vec![set(&["name"], stamped(json!({"v": "Sup's store"}), SUP, at))]),
    ]
}

#[rustfmt::skip]
fn visit(v: &View) -> Vec<Draft> {
    use Sender::{Li, Sup};
    let (at, now) = (v.clock(), v.at.now);
    let check_in = v.int(&["check_in", "at"]).unwrap_or(at);
    let lat = v.scalar(&["check_in", "lat"]).and_then(|s| s.as_f64()).unwrap_or(30.27);
    let in_range = matches!(v.scalar(&["check_in", "in_range"]), Some(automerge::ScalarValue::Boolean(true)));
    let check_out = |t: i64| vec![set(&["check_out"], Val::Map), set(&["check_out", "at"], Val::Int(t))];
    vec![
        no("checked out an hour before the check-in", Li, check_out(check_in - HOUR)),
        no("checked out an hour ahead of the server", Li, check_out(now + HOUR)),
        no("a training activity on a routine visit", Li, vec![set(&["training", "brand_display"], stamped(json!({"v": "shelf work"}), LI, at))]),
        no("a complaint named by a routine visit", Li, vec![set(&["complaint_id"], s(v.facts.complaint.to_string()))]),
        no("the visitor changed to another user", Li, vec![set(&["visitor"], s(WU))]),
        no("the visitor changed by a supervisor to himself", Sup, vec![set(&["visitor"], s(SUP))]),
        no("the store moved under the fix", Li, vec![set(&["store_lat"], Val::F64(lat + 0.3))]),
        no("`check_in.in_range` flipped", Li, vec![set(&["check_in", "in_range"], Val::Bool(!in_range))]),
        no("`check_in.distance_m` 5 km", Li, vec![set(&["check_in", "distance_m"], Val::F64(5_000.0))]),
        no("half a fix: `check_in.lat` deleted", Li, vec![del(&["check_in", "lat"])]),
        no("`check_in.lat` 200", Li, vec![set(&["check_in", "lat"], Val::F64(200.0))]),
        no("`check_in.lat` NaN", Li, vec![set(&["check_in", "lat"], Val::F64(f64::NAN))]),
        no("`check_in.lat` infinite", Li, vec![set(&["check_in", "lat"], Val::F64(f64::INFINITY))]),
        no("`check_in.accuracy_m` negative", Li, vec![set(&["check_in", "accuracy_m"], Val::F64(-1.0))]),
        no("`check_in.datum` `bd09`", Li, vec![set(&["check_in", "datum"], s("bd09"))]),
        no("`store_datum` `WGS84`", Li, vec![set(&["store_datum"], s("WGS84"))]),
        no("`check_in.at` an hour ahead of the server", Li, vec![set(&["check_in", "at"], Val::Int(now + HOUR))]),
        no("`check_in.at` in 2001", Li, vec![set(&["check_in", "at"], Val::Int(Y2001))]),
        no("the check-in moved a day earlier by the visitor", Li, vec![set(&["check_in", "at"], Val::Int(check_in - 24 * HOUR))]),
        no("51 photos in one change", Li, (0..51).map(|i| set(&["photos", &format!("sha256:{i:064x}")], stamped(json!({"caption": "x"}), LI, at))).collect()),
        no("`store_lng` 200", Li, vec![set(&["store_lng"], Val::F64(200.0))]),
        no("`geofence_m` 1", Li, vec![set(&["geofence_m"], Val::F64(1.0))]),
        no("`visit_kind` banana", Li, vec![set(&["visit_kind"], s("banana"))]),
        no("`visit_kind` in upper case", Li, vec![set(&["visit_kind"], s("ROUTINE"))]),
        no("`visit_kind` with a trailing space", Li, vec![set(&["visit_kind"], s("routine "))]),
        no("notes appended by a supervisor", Sup, vec![append(&["notes"], "sup was here")]),
        no("a comment by the supervisor stamped as the visitor's", Sup, vec![set(&["comments", &DocId::new().to_string()], stamped(json!({"text": "ok"}), LI, at))]),
        no("a comment under a key that is not an id", Sup, vec![set(&["comments", "not-an-id"], stamped(json!({"text": "ok"}), SUP, at))]),
        no("a photo under a key that is not a hash", Li, vec![set(&["photos", "sha256:ABC"], stamped(json!({"caption": "x"}), LI, at))]),
        no(format!("{OVER_TEXT} characters appended to the notes"), Li, vec![append(&["notes"], "x".repeat(OVER_TEXT))]),
        no("a plain string as the notes", Li, vec![set(&["notes"], s("notes"))]),
        no("`shelf_display_id` in upper case", Li, vec![set(&["shelf_display_id"], s(v.facts.display.to_string().to_uppercase()))]),
    ]
}

#[rustfmt::skip]
fn display(rng: &mut Rand, v: &View) -> Vec<Draft> {
    let sender = v.either(rng);
    let (by, at) = (sender.user(), v.clock());
    let other = if sender == Sender::Li { SUP } else { LI };
    let mut out = vec![
        no(format!("`checked.{other}` written by {by}"), sender, vec![set(&[&format!("checked.{other}")], stamped(json!({}), by, at))]),
        no("a product key with a comma", sender, vec![set(&["product.a,b"], stamped(json!({"v": true}), by, at))]),
    ];
    if rng.random_bool(0.2) {
        let products = (0..501).map(|i| set(&[&format!("product.bulk-{i}")], stamped(json!({"v": true}), by, at)));
        out.push(no("501 products in one change", sender, products.collect()));
    }
    out
}

#[rustfmt::skip]
fn count(rng: &mut Rand, v: &View) -> Vec<Draft> {
    let sender = v.either(rng);
    let (by, at, now) = (sender.user(), v.clock(), v.at.now);
    let mut out = vec![
        no("a line counted that is not in the book", sender, vec![set(&["counted", "sku-999"], stamped(json!({"v": 3}), by, at))]),
        no("a name for a line that is not in the book", sender, vec![set(&["names", "sku-999"], s("ghost"))]),
        no("a book quantity of -500", sender, vec![set(&["book", "sku-001"], Val::Int(-500))]),
        no("a book quantity of 10,000,001", sender, vec![set(&["book", "sku-001"], Val::Int(10_000_001))]),
        no("a book quantity as a string", sender, vec![set(&["book", "sku-001"], s("10"))]),
        no("a book line whose sku has a comma", sender, vec![set(&["book", "a,b"], Val::Int(1))]),
        no("finished with a line uncounted", sender, vec![set(&["finished"], stamped(json!({"v": true}), by, at))]),
        no("`started_by` another user", sender, vec![set(&["started_by"], s(WU))]),
        no("`started_at` an hour ahead of the server", sender, vec![set(&["started_at"], Val::Int(now + HOUR))]),
        no("`started_at` in 2001", sender, vec![set(&["started_at"], Val::Int(Y2001))]),
        no(format!("a {HUGE}-character line name"), sender, vec![set(&["names", "sku-001"], s("x".repeat(HUGE)))]),
        no("the book deleted", sender, vec![del(&["book"])]),
    ];
    if rng.random_bool(0.2) {
        let lines = (0..1_001).map(|i| set(&["book", &format!("bulk-{i}")], Val::Int(1)));
        out.push(no("1,001 book lines in one change", sender, lines.collect()));
    }
    if sender == Sender::Sup {
        out.push(no("`started_by` rewritten to the sender (the count was started by am-li)", sender, vec![set(&["started_by"], s(SUP))]));
    }
    out
}

#[rustfmt::skip]
fn task(rng: &mut Rand, v: &View) -> Vec<Draft> {
    use Sender::{Li, Sup};
    let (state, assignee, photos) = v.task();
    let (at, now) = (v.clock(), v.at.now);
    let created = v.int(&["created_at"]).unwrap_or(at);
    let sender = v.either(rng);
    let mv = |to: &str, by: Sender, note: Option<&str>| state_op(to, note, by, at);
    let display = v.facts.display.to_string().to_uppercase();
    let mut out = vec![
        no(format!("`{state}` → `verified` by the assignee"), Li, vec![mv("verified", Li, None)]),
        no(format!("`{state}` → `open` by the assignee"), Li, vec![mv("open", Li, None)]),
        no(format!("`{state}` → `in_progress` by a supervisor"), Sup, vec![mv("in_progress", Sup, None)]),
        no(format!("`{state}` → `submitted` by a supervisor"), Sup, vec![mv("submitted", Sup, Some("done"))]),
        no("state `banana`", sender, vec![mv("banana", sender, None)]),
        no("state `Open`", sender, vec![mv("Open", sender, None)]),
        no("state ` in_progress`", Li, vec![mv(" in_progress", Li, None)]),
        no(format!("`{state}` moved by the assignee, stamped as the supervisor's"), Li, vec![mv("in_progress", Sup, None)]),
        no("state deleted", sender, vec![del(&["state"])]),
        no("`created_by` another user", sender, vec![set(&["created_by"], s(WU))]),
        no("`created_at` an hour ahead of the server", sender, vec![set(&["created_at"], Val::Int(now + HOUR))]),
        no("the deadline a day before creation", sender, vec![set(&["deadline"], Val::Int(created - 24 * HOUR))]),
        no("the deadline as a string", sender, vec![set(&["deadline"], s("2026-12-01"))]),
        no("the deadline in 2001", sender, vec![set(&["deadline"], Val::Int(Y2001))]),
        no("`answers_rating_at` in 2100", sender, vec![set(&["answers_rating_at"], Val::Int(Y2100 + 1))]),
        no("`origin_kind` without `origin_id`", sender, vec![set(&["origin_kind"], s("visit"))]),
        no("`origin_kind` `store`", sender, vec![set(&["origin_kind"], s("store")), set(&["origin_id"], s(v.facts.store.to_string()))]),
        no("`origin_id` in upper case", sender, vec![set(&["origin_kind"], s("shelf_display")), set(&["origin_id"], s(display))]),
        no("an empty title", sender, vec![set(&["title"], s(""))]),
        no("a blank title", sender, vec![set(&["title"], s("  \t "))]),
        no(format!("a {HUGE}-character title"), sender, vec![set(&["title"], s("x".repeat(HUGE)))]),
        no("a title with an escape sequence", sender, vec![set(&["title"], s("\u{1b}[31mred"))]),
        no(format!("{OVER_TEXT} characters appended to the description"), sender, vec![append(&["description"], "x".repeat(OVER_TEXT))]),
        no("a photo under a key that is not a hash", Li, vec![set(&["photos", "IMG_0001.jpg"], stamped(json!({"caption": "x"}), LI, at))]),
        no("the assignee changed to a name with a space", sender, vec![set(&["assignee"], s("am wu"))]),
    ];
    if sender == Li {
        out.push(no("`created_by` rewritten to the sender (the task was created by sup-liu)", Li, vec![set(&["created_by"], s(LI))]));
    }
    if state == "submitted" {
        out.push(no("`submitted` → `reopened` without a note", Sup, vec![mv("reopened", Sup, None)]));
        out.push(no("`submitted` → `reopened` with a blank note", Sup, vec![mv("reopened", Sup, Some("   "))]));
        if assignee == LI {
            out.push(no("the assignee reassigns the task to am-wu and verifies it, in one change", Li,
                vec![set(&["assignee"], s(WU)), mv("verified", Li, None)]));
        }
    }
    if assignee == LI {
        let deadline = v.int(&["deadline"]).unwrap_or(at);
        out.push(no("the assignee moves the deadline a week later", Li, vec![set(&["deadline"], Val::Int(deadline + 7 * 24 * HOUR))]));
    }
    if state == "submitted" && photos > 0 && assignee == LI {
        out.push(no("the assignee deletes the after photos of the submitted task", Li, vec![set(&["photos"], Val::Map)]));
    }
    if state == "in_progress" && photos == 0 && assignee == LI {
        out.push(no("`in_progress` → `submitted` without an after photo", Li, vec![mv("submitted", Li, None)]));
    }
    out
}

#[rustfmt::skip]
fn complaint(rng: &mut Rand, v: &View) -> Vec<Draft> {
    let received = v.int(&["received_at"]).unwrap_or(v.clock());
    let sender = v.either(rng);
    let (at, now) = (v.clock(), v.at.now);
    let event = |when: i64| stamped(json!({"when": when, "note": "x"}), sender.user(), at);
    let mut out = vec![
        no("a `replaced` event on a complaint", sender, vec![set(&["events", "replaced"], event(at))]),
        no("a `callback` without `handled`", sender, vec![set(&["events", "callback"], event(at))]),
        no("`on_site` a day before the receipt", sender, vec![set(&["events", "on_site"], event(received - 24 * HOUR))]),
        no("`on_site` an hour ahead of the server", sender, vec![set(&["events", "on_site"], event(now + HOUR))]),
        no("a refund due on a complaint", sender, vec![set(&["refund_due"], Val::Int(received + 24 * HOUR))]),
        no("the on-site clock on a rural complaint", sender, vec![set(&["urban"], Val::Bool(false)), set(&["on_site_applies"], Val::Bool(true))]),
        no("`received_by` another user", sender, vec![set(&["received_by"], s(WU))]),
        no("`received_at` an hour ahead of the server", sender, vec![set(&["received_at"], Val::Int(now + HOUR))]),
        no("`received_at` a float", sender, vec![set(&["received_at"], Val::F64(received as f64))]),
        no("the receipt moved an hour later (the clocks start later)", sender, vec![set(&["received_at"], Val::Int(received + HOUR))]),
        no("`complaint_kind` banana", sender, vec![set(&["complaint_kind"], s("banana"))]),
        no("`complaint_kind` capitalised", sender, vec![set(&["complaint_kind"], s("Complaint"))]),
        no(format!("{OVER_TEXT} characters appended to the description"), sender, vec![append(&["description"], "x".repeat(OVER_TEXT))]),
    ];
    if sender == Sender::Sup {
        out.push(no("`received_by` rewritten to the sender (the complaint was received by am-li)", sender, vec![set(&["received_by"], s(SUP))]));
    }
    out
}

#[rustfmt::skip]
fn scorecard(rng: &mut Rand, v: &View) -> Vec<Draft> {
    use Sender::{Li, Sup};
    let at = v.clock();
    let dimension = *pick(rng, DIMENSIONS);
    let mut out = vec![
        no("a score written by the scored manager", Li, vec![set(&["scores", dimension], stamped(json!({"v": 25}), LI, at))]),
        no("acknowledged by the supervisor", Sup, vec![set(&["acknowledgement"], stamped(json!({"total": 80, "comment": "ok"}), SUP, at))]),
        no("acknowledged by the manager, stamped as the supervisor's", Li, vec![set(&["acknowledgement"], stamped(json!({"total": 80}), SUP, at))]),
        no("month `2026-13`", Sup, vec![set(&["month"], s("2026-13"))]),
        no("month `Nov2026`", Sup, vec![set(&["month"], s("Nov2026"))]),
        no("month `2026-1`", Sup, vec![set(&["month"], s("2026-1"))]),
        no(format!("a {HUGE}-character month"), Sup, vec![set(&["month"], s("x".repeat(HUGE)))]),
        no("the pass mark above the bonus mark", Sup, vec![set(&["weights", "pass_mark"], Val::F64(95.0))]),
        no("weights adding up to 105", Sup, vec![set(&["weights", "visit_frequency"], Val::F64(30.0))]),
        no("a negative weight", Sup, vec![set(&["weights", "visit_frequency"], Val::F64(-5.0))]),
        no("`supervisor` another user", Sup, vec![set(&["supervisor"], s(WU))]),
        no("evidence as a plain string", Sup, vec![set(&["evidence", dimension], s("photos"))]),
        no(format!("{OVER_TEXT} characters of evidence"), Sup, vec![append(&["evidence", dimension], "x".repeat(OVER_TEXT))]),
    ];
    if v.target == Target::CardOpen {
        out.push(no("acknowledged before every dimension is scored", Li, vec![set(&["acknowledgement"], stamped(json!({"total": 0}), LI, at))]));
    } else if v.scalar(&["acknowledgement"]).is_some() {
        out.extend([
            no("a score changed after the acknowledgement", Sup, vec![set(&["scores", dimension], stamped(json!({"v": 25}), SUP, at))]),
            no("the manager's acknowledgement deleted by the supervisor", Sup, vec![del(&["acknowledgement"])]),
            no("the pass mark raised after the acknowledgement", Sup, vec![set(&["weights", "pass_mark"], Val::F64(85.0))]),
        ]);
    }
    out
}

/// A valid edit whose change's time cannot be: before 2020, ahead of the server, or
/// before the change it builds on.
pub(super) fn device_time(rng: &mut Rand, v: &View) -> Option<Draft> {
    let mut d = valid(rng, v)?;
    let times = [
        (Y2001, "in 2001"),
        (0, "0"),
        (-HOUR, "before 1970"),
        (Y2100, "in 2100"),
        (v.at.now + HOUR, "an hour ahead of the server"),
        (v.latest - HOUR, "an hour before the change it builds on"),
    ];
    let (time, why) = *pick(rng, &times);
    d.what = format!("{} with the change's time {why}", d.what);
    d.expect = Expect::Refused;
    d.time = Some(time);
    Some(d)
}

/// A valid edit with another commit message: one naming someone else is refused, one
/// naming nobody may pass.
#[rustfmt::skip]
pub(super) fn commit_message(rng: &mut Rand, v: &View) -> Option<Draft> {
    use Expect::{Either, Refused};
    let mut d = valid(rng, v)?;
    let own = d.sender.user();
    let other = *pick(rng, &others(own));
    let choices: Vec<(String, Option<String>, Option<Expect>)> = vec![
        (format!("message by {other}"), Some(message(other, "x")), Some(Refused)),
        (format!("message by {other} after a space"), Some(format!(" {}", message(other, "x"))), Some(Refused)),
        ("message by own name in upper case".into(), Some(message(&own.to_uppercase(), "x")), Some(Refused)),
        (format!("message naming own, then {other}"), Some(format!("{{\"by\":\"{own}\",\"what\":\"x\",\"by\":\"{other}\"}}")), Some(Refused)),
        ("message by own name".into(), Some(message(own, "x")), None),
        ("no message".into(), None, None),
        ("a message of plain words".into(), Some("fixed it".into()), Some(Either)),
        (format!("message with `By` {other}"), Some(format!("{{\"By\":\"{other}\"}}")), Some(Either)),
    ];
    let (why, msg, expect) = pick(rng, &choices).clone();
    d.what = format!("{}, {why}", d.what);
    d.expect = expect.unwrap_or(d.expect);
    d.message = Some(msg);
    Some(d)
}
