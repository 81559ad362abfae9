//! Malicious changes to documents of every kind, as an attacker or a careless client would
//! make them from `docs/protocol.md` ("Documents") alone: the generator of
//! `tests/hostile_documents.rs` (issue 14's proof), and the district it attacks
//! ([`field`]).
//!
//! A [`Target`] is one document the server holds, made on a phone and synced. [`generate`]
//! draws ONE change to it, sent by a user the write rules let write it, from a family of
//! attacks or a valid edit (good changes must get through), and says what the server must
//! answer ([`Expect`]):
//! - `entries` (with `bad_values`): the stamped entries a phone writes, and their attacks:
//!   whitespace, case and author tricks in the stamp, impossible `at`s, unknown fields,
//!   bad values (wrong JSON types, numbers out of range, codes outside their sets,
//!   100,000 characters);
//! - `fields`: plain fields: a wrong Automerge type (a counter, Text, a map or a list
//!   where a scalar belongs), a required field deleted, an unknown field, the header;
//! - `rules`: valid edits, and what only the whole document or its history shows: value
//!   rules across fields, illegal task moves, author fields, write rules, impossible change
//!   times, forged commit messages;
//! - now and then a change on an older version of the document (a phone offline since),
//!   whose values then stand beside newer ones.
//!
//! [`Mutation::make`] makes the change on a fork of the document with a fresh actor. The
//! generator reads the document's state (a task's state, the latest change's time, the
//! check-in and receipt times) so that each expectation holds whatever was accepted
//! before; valid edits never make a later attack legal (the count's last line is never
//! counted, the open scorecard never fully scored, the open task never moved).

mod bad_values;
mod change;
mod entries;
pub mod field;
mod fields;
mod rules;
mod view;

use std::fmt;

use automerge::{AutoCommit, ChangeHash};
use fieldsync_core::{DocId, DocKind};
use rand::Rng;
use serde_json::{Value as Json, json};

use change::short;
pub use change::{Op, Val};
use view::View;

pub const LI: &str = "am-li";
/// Another account manager: a name to forge, never a sender.
pub const WU: &str = "am-wu";
pub const SUP: &str = "sup-liu";
pub const ADMIN: &str = "admin-chen";

/// 2001-01-01T00:00:00Z, before anything fieldsync records.
const Y2001: i64 = 978_307_200_000;
/// 2100-01-01T00:00:00Z, the latest time a document may hold.
const Y2100: i64 = 4_102_444_800_000;
const HOUR: i64 = 3_600_000;
/// The length of a huge plain string.
const HUGE: usize = 100_000;
/// One character more than a collaborative text holds (appending 100,000 characters to
/// Automerge Text costs a debug build a second on each side, for nothing more).
const OVER_TEXT: usize = 20_001;

/// The attacking devices: one of each user that writes documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sender {
    /// The account manager of the store's territory.
    Li,
    Sup,
    Admin,
}

impl Sender {
    pub const ALL: [Sender; 3] = [Sender::Li, Sender::Sup, Sender::Admin];

    pub fn user(self) -> &'static str {
        match self {
            Sender::Li => LI,
            Sender::Sup => SUP,
            Sender::Admin => ADMIN,
        }
    }
}

/// One document of every kind the server holds, the task and the scorecard in several states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Store,
    /// A routine visit with a GPS fix.
    Visit,
    Display,
    /// A count of `sku-001`..`sku-005`.
    Count,
    /// A task that stays `open`, without photos.
    TaskOpen,
    /// A task `in_progress` without an after photo.
    TaskNoPhoto,
    /// A task worked through its states by valid moves.
    TaskWork,
    /// A complaint of kind `complaint`.
    Complaint,
    /// A scorecard being scored, never fully.
    CardOpen,
    /// A fully scored scorecard its manager acknowledged.
    CardAcknowledged,
}

impl Target {
    pub const ALL: [Target; 10] = [
        Target::Store,
        Target::Visit,
        Target::Display,
        Target::Count,
        Target::TaskOpen,
        Target::TaskNoPhoto,
        Target::TaskWork,
        Target::Complaint,
        Target::CardOpen,
        Target::CardAcknowledged,
    ];

    pub fn kind(self) -> DocKind {
        match self {
            Target::Store => DocKind::Store,
            Target::Visit => DocKind::Visit,
            Target::Display => DocKind::ShelfDisplay,
            Target::Count => DocKind::InventoryCount,
            Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => DocKind::Task,
            Target::Complaint => DocKind::Complaint,
            Target::CardOpen | Target::CardAcknowledged => DocKind::Scorecard,
        }
    }
}

/// What the server must answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expect {
    /// 200: a valid edit.
    Accepted,
    /// 403 naming the document: the change is malicious.
    Refused,
    /// Either, as long as what is accepted reads: JSON whitespace and duplicate keys, which
    /// every reader parses alike, and commit messages that name nobody.
    Either,
}

/// One generated change and the answer it must get.
#[derive(Clone, Debug)]
pub struct Mutation {
    pub target: Target,
    pub family: &'static str,
    pub what: String,
    pub sender: Sender,
    pub ops: Vec<Op>,
    /// The change's time (ms).
    pub time: i64,
    pub message: Option<String>,
    pub expect: Expect,
    /// The change builds on this older version of the document (as a phone that was
    /// offline since), not on all of it: its values then stand beside newer ones.
    pub base: Option<Vec<ChangeHash>>,
}

/// What the generator knows of the district.
#[derive(Clone, Debug)]
pub struct Facts {
    /// The store every document is about (territory `am-li`).
    pub store: DocId,
    /// A store of another territory.
    pub other_store: DocId,
    pub display: DocId,
    pub complaint: DocId,
}

/// When a case happens.
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    /// The sending device's clock: the time of a valid change and of its stamps.
    pub clock: i64,
    /// The server's clock (the real one).
    pub now: i64,
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ops: Vec<String> = self.ops.iter().take(3).map(Op::to_string).collect();
        if self.ops.len() > 3 {
            ops.push(format!("… ({} operations)", self.ops.len()));
        }
        write!(
            f,
            "{:?} by `{}` [{}] {}: {} (time {}, message {}{}), expected {:?}",
            self.target,
            self.sender.user(),
            self.family,
            self.what,
            ops.join("; "),
            self.time,
            self.message.as_deref().map_or("none".into(), short),
            match &self.base {
                Some(heads) => format!(", on the version at {heads:?}"),
                None => String::new(),
            },
            self.expect
        )
    }
}

/// A change before its time and message are set.
struct Draft {
    what: String,
    sender: Sender,
    ops: Vec<Op>,
    expect: Expect,
    /// Another time than the device's clock.
    time: Option<i64>,
    /// Another message than the one a phone writes.
    message: Option<Option<String>>,
}

fn draft(what: impl Into<String>, sender: Sender, ops: Vec<Op>, expect: Expect) -> Draft {
    Draft {
        what: what.into(),
        sender,
        ops,
        expect,
        time: None,
        message: None,
    }
}

/// A change the server must refuse.
fn no(what: impl Into<String>, sender: Sender, ops: Vec<Op>) -> Draft {
    draft(what, sender, ops, Expect::Refused)
}

/// A valid edit.
fn ok(what: impl Into<String>, sender: Sender, ops: Vec<Op>) -> Draft {
    draft(what, sender, ops, Expect::Accepted)
}

fn path(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

fn set(keys: &[&str], value: Val) -> Op {
    Op::Put(path(keys), value)
}

fn del(keys: &[&str]) -> Op {
    Op::Delete(path(keys))
}

fn append(keys: &[&str], text: impl Into<String>) -> Op {
    Op::Append(path(keys), text.into())
}

fn s(text: impl Into<String>) -> Val {
    Val::Str(text.into())
}

/// A stamped entry: `fields` with `by` and `at` added.
fn stamped(fields: Json, by: &str, at: i64) -> Val {
    let mut entry = fields;
    entry["by"] = json!(by);
    entry["at"] = json!(at);
    Val::Str(entry.to_string())
}

fn pick<'a, T>(rng: &mut Rand, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn photo_hash(rng: &mut Rand) -> String {
    let hex: String = (0..64)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    format!("sha256:{hex}")
}

/// The message every phone writes: `{"by": user, "what": summary}`.
fn message(by: &str, what: &str) -> String {
    json!({"by": by, "what": what}).to_string()
}

/// Every user but `own`.
fn others(own: &str) -> Vec<&'static str> {
    [LI, WU, SUP, ADMIN]
        .into_iter()
        .filter(|u| *u != own)
        .collect()
}

/// The generator's source of randomness.
type Rand = dyn rand::RngCore;

type Family = fn(&mut Rand, &View) -> Option<Draft>;

/// The families of changes, with their weights.
const FAMILIES: [(&str, u32, Family); 10] = [
    ("valid edit", 24, rules::valid),
    ("stamp", 15, entries::stamp_trick),
    ("entry value", 14, entries::bad_value),
    ("wrong type", 12, fields::wrong_type),
    ("rule", 18, rules::rule),
    ("missing field", 5, fields::missing),
    ("unknown field", 5, fields::unknown),
    ("header", 2, fields::header),
    ("device time", 3, rules::device_time),
    ("commit message", 2, rules::commit_message),
];

/// Draws one change to `doc` (the server's copy of `target`).
pub fn generate(
    rng: &mut (dyn rand::RngCore + 'static),
    target: Target,
    doc: &mut AutoCommit,
    facts: &Facts,
    at: Moment,
) -> Mutation {
    let heads = doc.get_heads();
    let mut latest = heads
        .iter()
        .filter_map(|h| doc.get_change_by_hash(h).map(|c| c.timestamp()))
        .max()
        .unwrap_or(0);
    // Now and then an older version of the document to build on: a change of its history
    // that is not a head, with everything before it.
    let mut base = None;
    if rng.random_bool(STALE) {
        let older: Vec<(ChangeHash, i64)> = doc
            .get_changes(&[])
            .iter()
            .filter(|c| !heads.contains(&c.hash()))
            .map(|c| (c.hash(), c.timestamp()))
            .collect();
        if !older.is_empty() {
            let (hash, time) = older[rng.random_range(0..older.len())];
            base = Some(vec![hash]);
            latest = time;
        }
    }
    let v = View {
        doc: &*doc,
        target,
        facts,
        at,
        latest,
    };
    if let Some(base) = base {
        return stale(rng, &v, base);
    }
    let total: u32 = FAMILIES.iter().map(|(_, w, _)| w).sum();
    // Bounded: most families have a change for every document, valid edits always.
    for _ in 0..50 {
        let mut roll = rng.random_range(0..total);
        for (name, weight, family) in FAMILIES {
            if roll >= weight {
                roll -= weight;
                continue;
            }
            if let Some(d) = family(rng, &v) {
                return finish(target, name, d, &v);
            }
            break;
        }
    }
    let d = rules::valid(rng, &v)
        .unwrap_or_else(|| draft("nothing", Sender::Sup, Vec::new(), Expect::Either));
    finish(target, "valid edit", d, &v)
}

/// How often a change builds on an older version of the document.
const STALE: f64 = 0.08;

/// A change on an older version of the document: a valid edit (which may meet newer
/// values, or a task in another state), or an attack that the server judges the same on
/// any version (the stamp, the values, the types).
fn stale(rng: &mut Rand, v: &View, base: Vec<ChangeHash>) -> Mutation {
    let families: [Family; 4] = [
        rules::valid,
        entries::stamp_trick,
        entries::bad_value,
        fields::wrong_type,
    ];
    let mut d = None;
    // Bounded: valid edits exist for every document.
    for _ in 0..20 {
        d = pick(rng, &families)(rng, v);
        if d.is_some() {
            break;
        }
    }
    let mut d = d.unwrap_or_else(|| draft("nothing", Sender::Sup, Vec::new(), Expect::Either));
    let moves = matches!(
        v.target,
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork | Target::CardAcknowledged
    );
    if d.expect == Expect::Accepted && moves {
        // A move or an acknowledgement may not be legal on the older version.
        d.expect = Expect::Either;
    }
    let replaced = d.ops.iter().any(|op| {
        let (Op::Put(path, _) | Op::Delete(path) | Op::Append(path, _)) = op;
        let parent = &path[..path.len().saturating_sub(1)];
        match (v.object(parent, Some(&base)), v.object(parent, None)) {
            (Some(then), now) => !parent.is_empty() && Some(then) != now,
            (None, _) => false,
        }
    });
    d.what = if replaced {
        format!(
            "{} (on an older version, into a map replaced since)",
            d.what
        )
    } else {
        format!("{} (on an older version)", d.what)
    };
    let mut m = finish(v.target, "stale base", d, v);
    m.base = Some(base);
    m
}

fn finish(target: Target, family: &'static str, d: Draft, v: &View) -> Mutation {
    let message = d
        .message
        .unwrap_or_else(|| Some(message(d.sender.user(), &d.what)));
    Mutation {
        target,
        family,
        what: d.what,
        sender: d.sender,
        ops: d.ops,
        time: d.time.unwrap_or(v.clock()),
        message,
        expect: d.expect,
        base: None,
    }
}
