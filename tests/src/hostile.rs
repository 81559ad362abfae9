//! Malicious changes to documents of every kind, as an attacker or a careless client would
//! make them from `docs/protocol.md` ("Documents") alone: the generator of
//! `tests/hostile_documents.rs` (issue 14's proof).
//!
//! A [`Target`] is one document the server holds, made on a phone and synced. [`generate`]
//! draws ONE change to it, by one of the senders the write rules let write it, from a
//! family of attacks: a wrong Automerge type at a field, a required field deleted, an
//! unknown field, an out-of-range number or a code outside its set, whitespace, case and
//! author tricks in a stamped entry, a device time that cannot be, a forged commit message,
//! a state change the state machine forbids, a write rule broken; or a valid edit, to show
//! that good changes get through. It says what the server must answer ([`Expect`]).
//! [`Mutation::make`] makes the change on a copy of the document with a fresh actor.
//!
//! The generator reads the document's current state (task states, the latest change's
//! time, check-in and receipt times) so that each expectation holds whatever was accepted
//! before; valid edits never make a later attack legal (the last line of the count is never
//! counted, the open scorecard is never fully scored, the open task never moves).

use std::fmt;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, AutomergeError, Change, ObjId, ObjType, ROOT, ReadDoc, ScalarValue};
use fieldsync_core::{DocId, DocKind};
use rand::Rng;
use serde_json::{Value as Json, json};

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
const HUGE: usize = 100_000;

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

/// One document of every kind the server holds, some kinds in several states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Store,
    Visit,
    Display,
    Count,
    /// A task that stays `open`, without photos.
    TaskOpen,
    /// A task `in_progress` without an after photo.
    TaskNoPhoto,
    /// A task worked through its states by valid moves.
    TaskWork,
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
    /// Either, as long as what is accepted reads (JSON whitespace and duplicate keys,
    /// which every reader parses the same way, and commit messages that name nobody).
    Either,
}

/// A value an operation writes.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    F64(f64),
    Bool(bool),
    Counter(i64),
    Null,
    Bytes,
    Map,
    List,
    Text(String),
}

/// One operation of a change; a path is map keys from the root.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Writes the last key of the path (maps on the way are made when missing).
    Put(Vec<String>, Val),
    Delete(Vec<String>),
    /// Appends to the Automerge Text at the path (made when missing).
    Append(Vec<String>, String),
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

impl Mutation {
    /// Makes the change on `doc` (a fork of the server's document with a fresh actor);
    /// `None` when its operations change nothing.
    pub fn make(&self, doc: &mut AutoCommit) -> Result<Option<Change>, AutomergeError> {
        for op in &self.ops {
            apply(doc, op)?;
        }
        let mut options = CommitOptions::default().with_time(self.time);
        if let Some(message) = &self.message {
            options = options.with_message(message.clone());
        }
        Ok(doc
            .commit_with(options)
            .and_then(|hash| doc.get_change_by_hash(&hash)))
    }
}

fn apply(doc: &mut AutoCommit, op: &Op) -> Result<(), AutomergeError> {
    let (path, last) = match op {
        Op::Put(path, _) | Op::Delete(path) | Op::Append(path, _) => match path.split_last() {
            Some((last, path)) => (path, last.as_str()),
            None => return Ok(()),
        },
    };
    let mut obj = ROOT;
    for key in path {
        obj = match doc.get(&obj, key.as_str())? {
            Some((automerge::Value::Object(ObjType::Map), id)) => id,
            _ => doc.put_object(&obj, key.as_str(), ObjType::Map)?,
        };
    }
    match op {
        Op::Put(_, value) => put(doc, &obj, last, value),
        Op::Delete(_) => doc.delete(&obj, last),
        Op::Append(_, text) => {
            let id = match doc.get(&obj, last)? {
                Some((automerge::Value::Object(ObjType::Text), id)) => id,
                _ => doc.put_object(&obj, last, ObjType::Text)?,
            };
            let end = doc.length(&id);
            doc.splice_text(&id, end, 0, text)
        }
    }
}

fn put(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &Val) -> Result<(), AutomergeError> {
    match value {
        Val::Str(s) => doc.put(obj, key, s.as_str()),
        Val::Int(i) => doc.put(obj, key, *i),
        Val::F64(f) => doc.put(obj, key, *f),
        Val::Bool(b) => doc.put(obj, key, *b),
        Val::Counter(n) => doc.put(obj, key, ScalarValue::counter(*n)),
        Val::Null => doc.put(obj, key, ScalarValue::Null),
        Val::Bytes => doc.put(obj, key, ScalarValue::Bytes(vec![0xde, 0xad])),
        Val::Map => doc.put_object(obj, key, ObjType::Map).map(drop),
        Val::List => {
            let list = doc.put_object(obj, key, ObjType::List)?;
            doc.insert(&list, 0, "x")
        }
        Val::Text(s) => {
            let text = doc.put_object(obj, key, ObjType::Text)?;
            doc.splice_text(&text, 0, 0, s)
        }
    }
}

/// At most 60 characters of `s`, with its length when cut.
fn short(s: &str) -> String {
    let n = s.chars().count();
    if n <= 60 {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(40).collect();
        format!("{head:?}… ({n} chars)")
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Str(s) => write!(f, "{}", short(s)),
            Val::Text(s) => write!(f, "Text({})", short(s)),
            Val::Counter(n) => write!(f, "Counter({n})"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put(path, v) => write!(f, "put {} = {v}", path.join(".")),
            Op::Delete(path) => write!(f, "delete {}", path.join(".")),
            Op::Append(path, s) => write!(f, "append to {}: {}", path.join("."), short(s)),
        }
    }
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ops: Vec<String> = self.ops.iter().map(Op::to_string).collect();
        write!(
            f,
            "{:?} by `{}` [{}] {}: {} (time {}, message {}), expected {:?}",
            self.target,
            self.sender.user(),
            self.family,
            self.what,
            ops.join("; "),
            self.time,
            self.message.as_deref().map_or("none".into(), short),
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
}

fn draft(what: impl Into<String>, sender: Sender, ops: Vec<Op>, expect: Expect) -> Draft {
    Draft {
        what: what.into(),
        sender,
        ops,
        expect,
    }
}

fn refused(what: impl Into<String>, sender: Sender, ops: Vec<Op>) -> Draft {
    draft(what, sender, ops, Expect::Refused)
}

fn path(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

fn set(keys: &[&str], value: Val) -> Op {
    Op::Put(path(keys), value)
}

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn photo_hash(rng: &mut impl Rng) -> String {
    let hex: String = (0..64)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    format!("sha256:{hex}")
}

/// The message every phone writes: `{"by": user, "what": summary}`.
fn message(by: &str, what: &str) -> String {
    json!({"by": by, "what": what}).to_string()
}

/// A JSON value inside an entry, or raw text where JSON has no value (`NaN`).
#[derive(Clone, Debug)]
enum J {
    V(Json),
    Raw(&'static str),
}

impl J {
    fn text(&self) -> String {
        match self {
            J::V(v) => v.to_string(),
            J::Raw(s) => (*s).to_owned(),
        }
    }
}

fn j(v: impl Into<Json>) -> J {
    J::V(v.into())
}

/// A JSON object from (key, raw JSON) pairs, in order, duplicates kept.
fn object(parts: &[(String, String)]) -> String {
    let inner: Vec<String> = parts
        .iter()
        .map(|(k, v)| format!("{}:{v}", Json::from(k.as_str())))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A stamped entry a phone could write: one field of a kind whose value `sender` may set.
#[derive(Clone, Debug)]
struct Template {
    sender: Sender,
    path: Vec<String>,
    /// The entry's fields besides `by` and `at`, each with whether it is required.
    fields: Vec<(&'static str, J, bool)>,
    /// Bad values of its fields, each with what makes it bad.
    bad: Vec<(&'static str, J, String)>,
    /// Whether writing it as it is is a valid edit (some entries are only attacked).
    valid: bool,
}

impl Template {
    fn parts(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|(k, v, _)| ((*k).to_owned(), v.text()))
            .collect()
    }

    /// The entry with `by` and `at` as raw JSON.
    fn stamped(&self, by: &str, at: &str) -> String {
        let mut parts = self.parts();
        parts.push(("by".into(), by.into()));
        parts.push(("at".into(), at.into()));
        object(&parts)
    }

    fn put(&self, text: String) -> Op {
        Op::Put(self.path.clone(), Val::Str(text))
    }

    fn name(&self) -> String {
        self.path.join(".")
    }
}

fn template(sender: Sender, at: &[&str], fields: Vec<(&'static str, J, bool)>) -> Template {
    Template {
        sender,
        path: path(at),
        fields,
        bad: Vec::new(),
        valid: true,
    }
}

impl Template {
    fn bad(mut self, key: &'static str, values: Vec<(J, String)>) -> Template {
        self.bad
            .extend(values.into_iter().map(|(value, why)| (key, value, why)));
        self
    }

    fn attack_only(mut self) -> Template {
        self.valid = false;
        self
    }
}

/// Bad values of a string field of `min..=max` characters.
fn bad_str(min: usize, max: usize, required: bool) -> Vec<(J, String)> {
    let mut out = vec![
        (j("x".repeat(HUGE)), format!("a {HUGE}-character string")),
        (j("y".repeat(max + 1)), format!("{} characters (at most {max})", max + 1)),
        (j("bell\u{7}ring"), "a control character".into()),
        (j("\u{1b}[2J"), "a terminal escape".into()),
        (j(7), "a number".into()),
        (j(true), "a boolean".into()),
    ];
    if min > 0 {
        out.push((j(""), "empty".into()));
        out.push((j("   "), "blank".into()));
    }
    if required {
        out.push((J::Raw("null"), "null".into()));
    }
    out
}

/// Bad values of a code from `codes`.
fn bad_code(codes: &[&str]) -> Vec<(J, String)> {
    let code = codes[0];
    vec![
        (j("banana"), "`banana`".into()),
        (j(code.to_uppercase()), "upper case".into()),
        (j(format!(" {code}")), "a leading space".into()),
        (j(format!("{code} ")), "a trailing space".into()),
        (j(format!("{code}\u{200b}")), "a zero-width space".into()),
        (j(""), "empty".into()),
        (j(1), "a number".into()),
        (J::Raw("null"), "null".into()),
    ]
}

/// Bad values of a number in `min..=max`.
fn bad_num(min: f64, max: f64) -> Vec<(J, String)> {
    vec![
        (j(max + 110.0), format!("{} (at most {max})", max + 110.0)),
        (j(min - 1.0), format!("{} (at least {min})", min - 1.0)),
        (J::Raw("NaN"), "NaN".into()),
        (J::Raw("1e999"), "1e999".into()),
        (j(format!("{min}")), "a string".into()),
        (j(true), "a boolean".into()),
        (J::Raw("null"), "null".into()),
    ]
}

/// Bad values of a whole quantity in `0..=max`.
fn bad_quantity(max: i64) -> Vec<(J, String)> {
    vec![
        (j(-500), "negative".into()),
        (j(-1), "negative".into()),
        (j(max + 1), format!("over {max}")),
        (j(12.5), "a fraction".into()),
        (J::Raw("1e3"), "a float".into()),
        (j("12"), "a string".into()),
        (j(true), "a boolean".into()),
        (J::Raw("null"), "null".into()),
    ]
}

fn bad_bool() -> Vec<(J, String)> {
    vec![
        (j("true"), "a string".into()),
        (j(1), "a number".into()),
        (J::Raw("null"), "null".into()),
    ]
}

/// The document as the generator reads it.
struct View<'a> {
    doc: &'a AutoCommit,
    target: Target,
    facts: &'a Facts,
    at: Moment,
    /// The time of the latest change of the document (what a new change builds on).
    latest: i64,
}

impl View<'_> {
    fn scalar(&self, keys: &[&str]) -> Option<ScalarValue> {
        let (last, keys) = keys.split_last()?;
        let mut obj = ROOT;
        for key in keys {
            obj = match self.doc.get(&obj, *key).ok()?? {
                (automerge::Value::Object(_), id) => id,
                _ => return None,
            };
        }
        match self.doc.get(&obj, *last).ok()?? {
            (automerge::Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    }

    fn str(&self, keys: &[&str]) -> Option<String> {
        self.scalar(keys)
            .and_then(|s| s.to_str().map(str::to_owned))
    }

    fn int(&self, keys: &[&str]) -> Option<i64> {
        self.scalar(keys).and_then(|s| s.to_i64())
    }

    fn entry(&self, keys: &[&str]) -> Option<Json> {
        serde_json::from_str(&self.str(keys)?).ok()
    }

    fn keys(&self, keys: &[&str]) -> Vec<String> {
        let mut obj = ROOT;
        for key in keys {
            obj = match self.doc.get(&obj, *key) {
                Ok(Some((automerge::Value::Object(_), id))) => id,
                _ => return Vec::new(),
            };
        }
        self.doc.keys(&obj).collect()
    }

    fn clock(&self) -> i64 {
        self.at.clock
    }

    /// A valid stamp of `sender` now.
    fn stamp(&self, t: &Template) -> String {
        t.stamped(&Json::from(t.sender.user()).to_string(), &self.clock().to_string())
    }

    /// The task's state, assignee and after photos.
    fn task(&self) -> (String, String, usize) {
        let state = self
            .entry(&["state"])
            .and_then(|e| e.get("v").and_then(Json::as_str).map(str::to_owned))
            .unwrap_or_default();
        let assignee = self.str(&["assignee"]).unwrap_or_default();
        (state, assignee, self.keys(&["photos"]).len())
    }

    fn either(&self, rng: &mut impl Rng) -> Sender {
        *pick(rng, &[Sender::Li, Sender::Sup])
    }

    /// Who writes plain fields of the document.
    fn writer(&self, rng: &mut impl Rng) -> Sender {
        match self.target {
            Target::Store => Sender::Admin,
            Target::Visit => Sender::Li,
            Target::CardOpen | Target::CardAcknowledged => Sender::Sup,
            _ => self.either(rng),
        }
    }
}

const STORE_FORMATS: &[&str] = &["Z", "B", "S", "N", "Y", "F", "Q"];
const RATINGS: &[&str] = &["excellent", "good", "qualified", "unqualified"];
const VERDICTS: &[&str] = &["pass", "fail", "na"];
const STANDARDS: &[&str] = &[
    "price_tag_box",
    "price_tags",
    "new_product_zone",
    "unified_display",
    "pack_display",
    "carton_display",
    "tidy_counter",
    "bright_storefront",
];
const SKUS: &[&str] = &["6901028", "6901029", "6901030", "sku-7"];
const DIMENSIONS: &[&str] = &[
    "visit_frequency",
    "brand_promotion",
    "terminal_image",
    "service_attitude",
];
/// The lines of the count valid edits count; `sku-005` stays uncounted.
const COUNTED_LINES: &[&str] = &["sku-001", "sku-002", "sku-003", "sku-004"];

/// The stamped entries of the document that a phone writes.
fn templates(rng: &mut impl Rng, v: &View) -> Vec<Template> {
    let n = rng.random_range(0..10_000);
    let mut out = Vec::new();
    match v.target {
        Target::Store => {
            for sender in [Sender::Li, Sender::Admin] {
                let contact = [
                    ("name", format!("Store 1 · {n}"), 1, 200),
                    ("owner", format!("Owner {n}"), 0, 200),
                    ("phone", format!("138{n:08}"), 0, 40),
                    ("address", format!("{n} Demo Street"), 0, 500),
                ];
                for (key, value, min, max) in contact {
                    out.push(
                        template(sender, &[key], vec![("v", j(value), true)])
                            .bad("v", bad_str(min, max, true)),
                    );
                }
            }
            let admin = |key: &str, value: J| template(Sender::Admin, &[key], vec![("v", value, true)]);
            let lat = 30.27 + f64::from(rng.random_range(0..100)) * 1e-5;
            out.extend([
                admin("licence", j(format!("3301{:08}", 50_000_000 + n)))
                    .bad("v", bad_str(1, 64, true)),
                admin("lat", j(lat)).bad("v", bad_num(-90.0, 90.0)),
                admin("lng", j(120.151)).bad("v", bad_num(-180.0, 180.0)),
                admin("geofence_m", j(rng.random_range(50..=500)))
                    .bad("v", bad_num(10.0, 5_000.0)),
                admin("format", j(*pick(rng, STORE_FORMATS))).bad("v", bad_code(STORE_FORMATS)),
                admin("market", j(*pick(rng, &["C", "X"]))).bad("v", bad_code(&["C", "X"])),
                admin("size", j(*pick(rng, &["1", "2", "3"]))).bad("v", bad_code(&["1", "2", "3"])),
                admin("tier", j(*pick(rng, &["A", "B", "C"]))).bad("v", bad_code(&["A", "B", "C"])),
                admin("monthly_volume", j(rng.random_range(0..=1_000_000)))
                    .bad("v", bad_quantity(1_000_000)),
                admin("functional", j(rng.random_bool(0.5))).bad("v", bad_bool()),
                admin("rating", j(*pick(rng, RATINGS))).bad("v", bad_code(RATINGS)),
                // Moving the store is the admin's right, but not what this test is about.
                admin("demo_street", j(false))
                    .bad("v", bad_bool())
                    .attack_only(),
                admin("territory", j(LI))
                    .bad(
                        "v",
                        vec![
                            (j("am li"), "a space".into()),
                            (j("am-li\u{200b}"), "a zero-width space".into()),
                            (j(""), "empty".into()),
                            (j(5), "a number".into()),
                            (J::Raw("null"), "null".into()),
                        ],
                    )
                    .attack_only(),
            ]);
        }
        Target::Visit => {
            let photo = photo_hash(rng);
            let photos = template(
                Sender::Li,
                &["photos", &photo],
                vec![("caption", j(format!("shelf {n}")), true)],
            )
            .bad("caption", bad_str(0, 200, true));
            out.push(if v.keys(&["photos"]).len() < 40 {
                photos
            } else {
                photos.attack_only()
            });
            let comment = DocId::new().to_string();
            out.push(
                template(
                    Sender::Sup,
                    &["comments", &comment],
                    vec![("text", j(format!("seen {n}")), true)],
                )
                .bad("text", bad_str(1, 2_000, true)),
            );
            out.push(
                template(
                    Sender::Li,
                    &["training", "brand_display"],
                    vec![("v", j("shelf work"), true)],
                )
                .bad("v", bad_str(1, 2_000, true))
                .attack_only(),
            );
        }
        Target::Display => {
            for sender in [Sender::Li, Sender::Sup] {
                let standard = format!("standard.{}", pick(rng, STANDARDS));
                let photos = if rng.random_bool(0.5) {
                    String::new()
                } else {
                    photo_hash(rng)
                };
                out.push(
                    template(
                        sender,
                        &[&standard],
                        vec![
                            ("v", j(*pick(rng, VERDICTS)), true),
                            ("note", j(format!("note {n}")), false),
                            ("photos", j(photos), false),
                        ],
                    )
                    .bad("v", bad_code(VERDICTS))
                    .bad("note", bad_str(0, 2_000, false))
                    .bad(
                        "photos",
                        vec![
                            (j("sha256:zz"), "not a hash".into()),
                            (j("photo.jpg"), "a file name".into()),
                            (j(vec![photo_hash(rng); 21].join(",")), "21 photos".into()),
                            (j(3), "a number".into()),
                        ],
                    ),
                );
                let product = format!("product.{}", pick(rng, SKUS));
                out.push(
                    template(
                        sender,
                        &[&product],
                        vec![
                            ("v", j(rng.random_bool(0.5)), true),
                            ("name", j("Zhonghua soft"), false),
                        ],
                    )
                    .bad("v", bad_bool())
                    .bad("name", bad_str(0, 200, false)),
                );
                out.push(
                    template(
                        sender,
                        &["new_product_zone"],
                        vec![
                            ("v", j(rng.random_bool(0.5)), true),
                            ("skus", j("6901028,6901029"), false),
                            ("note", j(""), false),
                        ],
                    )
                    .bad("v", bad_bool())
                    .bad(
                        "skus",
                        vec![
                            (j(vec!["6901028"; 201].join(",")), "201 products".into()),
                            (j(format!("{},1", "9".repeat(65))), "a 65-character sku".into()),
                            (j("69010\u{7}28"), "a control character".into()),
                            (j(6_901_028), "a number".into()),
                        ],
                    ),
                );
                let checked = format!("checked.{}", sender.user());
                out.push(template(sender, &[&checked], vec![]));
            }
        }
        Target::Count => {
            for sender in [Sender::Li, Sender::Sup] {
                out.push(
                    template(
                        sender,
                        &["counted", pick(rng, COUNTED_LINES)],
                        vec![("v", j(rng.random_range(0..=50)), true)],
                    )
                    .bad("v", bad_quantity(10_000_000)),
                );
                out.push(
                    template(sender, &["finished"], vec![("v", j(true), true)])
                        .bad("v", bad_bool())
                        .attack_only(),
                );
            }
        }
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => {
            let (state, assignee, photos) = v.task();
            let photo = template(
                Sender::Li,
                &["photos", &photo_hash(rng)],
                vec![("caption", j("after"), true)],
            )
            .bad("caption", bad_str(0, 200, true));
            let workable = v.target == Target::TaskWork
                && assignee == LI
                && photos < 40
                && matches!(state.as_str(), "open" | "in_progress" | "reopened");
            out.push(if workable { photo } else { photo.attack_only() });
        }
        Target::Complaint => {
            let received = v.int(&["received_at"]).unwrap_or(v.clock());
            for sender in [Sender::Li, Sender::Sup] {
                let when = (v.clock() - rng.random_range(0..HOUR)).max(received);
                out.push(
                    template(
                        sender,
                        &["events", "on_site"],
                        vec![
                            ("when", j(when), true),
                            ("note", j(format!("on site {n}")), false),
                        ],
                    )
                    .bad(
                        "when",
                        vec![
                            (j(Y2001), "in 2001".into()),
                            (j(Y2100 + 1), "after 2100".into()),
                            (j(v.at.now + HOUR), "an hour ahead of the server".into()),
                            (j(received - 24 * HOUR), "before the receipt".into()),
                            (j("2026-11-24T10:00:00+08:00"), "a string".into()),
                            (j(when as f64 + 0.5), "a fraction".into()),
                            (J::Raw("null"), "null".into()),
                        ],
                    )
                    .bad("note", bad_str(0, 2_000, false)),
                );
            }
        }
        Target::CardOpen => {
            // Valid scores never touch the last dimension: the card is never fully scored.
            let dimension = *pick(rng, &DIMENSIONS[..3]);
            let score = f64::from(rng.random_range(0..=250)) / 10.0;
            out.push(
                template(Sender::Sup, &["scores", dimension], vec![("v", j(score), true)]).bad(
                    "v",
                    vec![
                        (j(26), "26 of 25".into()),
                        (j(-3), "negative".into()),
                        (j(24.55), "not in tenths".into()),
                        (j(25.01), "over the weight".into()),
                        (j(100), "the whole card".into()),
                        (j(101), "over 100".into()),
                        (J::Raw("NaN"), "NaN".into()),
                        (j("20"), "a string".into()),
                        (j(true), "a boolean".into()),
                        (J::Raw("null"), "null".into()),
                    ],
                ),
            );
            out.push(
                template(
                    Sender::Li,
                    &["acknowledgement"],
                    vec![("comment", j("fine"), false), ("total", j(0), true)],
                )
                .attack_only(),
            );
        }
        Target::CardAcknowledged => {
            let total: f64 = DIMENSIONS
                .iter()
                .filter_map(|d| v.entry(&["scores", d]))
                .filter_map(|e| e.get("v").and_then(Json::as_f64))
                .sum();
            out.push(
                template(
                    Sender::Li,
                    &["acknowledgement"],
                    vec![
                        ("comment", j(format!("seen {n}")), false),
                        ("total", j(total), true),
                    ],
                )
                .bad(
                    "total",
                    vec![
                        (j(total + 1.0), "not the card's total".into()),
                        (j(total - 1.0), "not the card's total".into()),
                        (j(total.to_string()), "a string".into()),
                        (j(101), "over 100".into()),
                        (j(-1), "negative".into()),
                        (J::Raw("null"), "null".into()),
                    ],
                )
                .bad("comment", bad_str(0, 2_000, false)),
            );
            out.push(
                template(Sender::Sup, &["scores", pick(rng, DIMENSIONS)], vec![("v", j(20), true)])
                    .attack_only(),
            );
        }
    }
    out
}

/// The families of changes, with their weights.
const FAMILIES: [(&str, u32); 10] = [
    ("valid edit", 24),
    ("stamp", 15),
    ("entry value", 14),
    ("wrong type", 12),
    ("rule", 18),
    ("missing field", 5),
    ("unknown field", 5),
    ("header", 2),
    ("device time", 3),
    ("commit message", 2),
];

/// Draws one change to `doc` (the server's copy of `target`).
pub fn generate(
    rng: &mut impl Rng,
    target: Target,
    doc: &mut AutoCommit,
    facts: &Facts,
    at: Moment,
) -> Mutation {
    let heads = doc.get_heads();
    let latest = heads
        .iter()
        .filter_map(|h| doc.get_change_by_hash(h).map(|c| c.timestamp()))
        .max()
        .unwrap_or(0);
    let v = View {
        doc: &*doc,
        target,
        facts,
        at,
        latest,
    };
    let total: u32 = FAMILIES.iter().map(|(_, w)| w).sum();
    // Bounded: every target has valid edits, the fallback below.
    for _ in 0..50 {
        let mut roll = rng.random_range(0..total);
        let family = FAMILIES
            .iter()
            .find(|(_, w)| {
                let hit = roll < *w;
                roll = roll.saturating_sub(*w);
                hit
            })
            .map_or("valid edit", |(name, _)| name);
        let drafted = match family {
            "valid edit" => valid_edit(rng, &v).map(|d| (d, None, None)),
            "stamp" => stamp_trick(rng, &v).map(|d| (d, None, None)),
            "entry value" => entry_value(rng, &v).map(|d| (d, None, None)),
            "wrong type" => wrong_type(rng, &v).map(|d| (d, None, None)),
            "rule" => rule(rng, &v).map(|d| (d, None, None)),
            "missing field" => missing_field(rng, &v).map(|d| (d, None, None)),
            "unknown field" => unknown_field(rng, &v).map(|d| (d, None, None)),
            "header" => header(rng, &v).map(|d| (d, None, None)),
            "device time" => device_time(rng, &v),
            _ => commit_message(rng, &v),
        };
        if let Some((d, time, msg)) = drafted {
            return finish(target, family, d, time, msg, &v);
        }
    }
    let d = valid_edit(rng, &v).unwrap_or_else(|| {
        draft(
            "title",
            Sender::Sup,
            vec![set(&["title"], Val::Str("x".into()))],
            Expect::Either,
        )
    });
    finish(target, "valid edit", d, None, None, &v)
}

fn finish(
    target: Target,
    family: &'static str,
    d: Draft,
    time: Option<i64>,
    msg: Option<Option<String>>,
    v: &View,
) -> Mutation {
    let what = d.what;
    let message = msg.unwrap_or_else(|| Some(message(d.sender.user(), &what)));
    Mutation {
        target,
        family,
        what,
        sender: d.sender,
        ops: d.ops,
        time: time.unwrap_or(v.clock()),
        message,
        expect: d.expect,
    }
}

fn valid_edit(rng: &mut impl Rng, v: &View) -> Option<Draft> {
    let n = rng.random_range(0..10_000);
    let note = format!(" seen {n}.");
    let mut plain: Vec<Draft> = Vec::new();
    let ok = |what: &str, sender: Sender, ops: Vec<Op>| draft(what, sender, ops, Expect::Accepted);
    match v.target {
        Target::Visit => {
            plain.push(ok("notes appended", Sender::Li, vec![Op::Append(path(&["notes"]), note.clone())]));
            plain.push(ok(
                "brand promotion appended",
                Sender::Li,
                vec![Op::Append(path(&["brand_promotion"]), note.clone())],
            ));
            plain.push(ok(
                "checked out now",
                Sender::Li,
                vec![set(&["check_out"], Val::Map), set(&["check_out", "at"], Val::Int(v.clock()))],
            ));
            plain.push(ok(
                "linked to the store's display",
                Sender::Li,
                vec![set(&["shelf_display_id"], Val::Str(v.facts.display.to_string()))],
            ));
        }
        Target::Count => {
            let line = format!("sku-00{}", rng.random_range(1..=5));
            plain.push(ok(
                "a line renamed",
                v.either(rng),
                vec![set(&["names", &line], Val::Str(format!("Product {n}")))],
            ));
            plain.push(ok(
                "a book quantity corrected",
                v.either(rng),
                vec![set(&["book", &line], Val::Int(rng.random_range(0..=100)))],
            ));
        }
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => {
            plain.push(ok(
                "title changed",
                v.either(rng),
                vec![set(&["title"], Val::Str(format!("Fix the price tags ({n})")))],
            ));
            plain.push(ok(
                "description appended",
                v.either(rng),
                vec![Op::Append(path(&["description"]), note.clone())],
            ));
            if v.target == Target::TaskWork
                && let Some(d) = next_move(rng, v)
            {
                // The moves are what this task is for: most of its valid edits are moves.
                return Some(d);
            }
        }
        Target::Complaint => plain.push(ok(
            "description appended",
            v.either(rng),
            vec![Op::Append(path(&["description"]), note.clone())],
        )),
        Target::CardOpen => plain.push(ok(
            "evidence appended",
            Sender::Sup,
            vec![Op::Append(path(&["evidence", pick(rng, DIMENSIONS)]), note.clone())],
        )),
        _ => {}
    }
    let valid: Vec<Template> = templates(rng, v).into_iter().filter(|t| t.valid).collect();
    let from_template = !valid.is_empty() && (plain.is_empty() || rng.random_bool(0.6));
    if from_template {
        let t = pick(rng, &valid);
        return Some(ok(&format!("`{}` written", t.name()), t.sender, vec![t.put(v.stamp(t))]));
    }
    if plain.is_empty() {
        return None;
    }
    let i = rng.random_range(0..plain.len());
    Some(plain.swap_remove(i))
}

/// The next legal move of the worked task, by whom the state machine wants.
fn next_move(rng: &mut impl Rng, v: &View) -> Option<Draft> {
    let (state, assignee, photos) = v.task();
    if assignee != LI {
        return None;
    }
    let clock = v.clock();
    let (to, sender, note) = match state.as_str() {
        "open" | "reopened" => ("in_progress", Sender::Li, None),
        "in_progress" if photos == 0 => {
            let t = template(
                Sender::Li,
                &["photos", &photo_hash(rng)],
                vec![("caption", j("after"), true)],
            );
            return Some(draft(
                "an after photo added",
                Sender::Li,
                vec![t.put(v.stamp(&t))],
                Expect::Accepted,
            ));
        }
        "in_progress" => ("submitted", Sender::Li, None),
        "submitted" => ("reopened", Sender::Sup, Some("the tags are still missing")),
        _ => return None,
    };
    Some(draft(
        format!("moved from `{state}` to `{to}`"),
        sender,
        vec![state_op(to, note, sender.user(), clock)],
        Expect::Accepted,
    ))
}

fn state_op(to: &str, note: Option<&str>, by: &str, at: i64) -> Op {
    let mut entry = json!({"v": to, "by": by, "at": at});
    if let Some(note) = note {
        entry["note"] = json!(note);
    }
    set(&["state"], Val::Str(entry.to_string()))
}

/// Every user but `own`.
fn others(own: &str) -> Vec<&'static str> {
    [LI, WU, SUP, ADMIN].into_iter().filter(|u| *u != own).collect()
}

fn stamp_trick(rng: &mut impl Rng, v: &View) -> Option<Draft> {
    let all = templates(rng, v);
    let t = pick(rng, &all).clone();
    let own = t.sender.user();
    let q = |s: &str| Json::from(s).to_string();
    let other = *pick(rng, &others(own));
    let clock = v.clock().to_string();
    let ws = *pick(rng, &[" ", "\t", "\n", "\r\n", " \n\t"]);
    let mut parts = |extra: &[(&str, String)]| {
        let mut p = t.parts();
        p.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        object(&p)
    };
    let good = t.stamped(&q(own), &clock);
    use Expect::{Either, Refused};
    let tricks: Vec<(String, Val, Expect)> = vec![
        (
            format!("leading {ws:?} and `by` {other}"),
            Val::Str(format!("{ws}{}", t.stamped(&q(other), &clock))),
            Refused,
        ),
        (format!("leading {ws:?}, own name"), Val::Str(format!("{ws}{good}")), Either),
        (format!("trailing {ws:?}, own name"), Val::Str(format!("{good}{ws}")), Either),
        ("`By` for `by`".into(), Val::Str(parts(&[("By", q(own)), ("at", clock.clone())])), Refused),
        ("`BY` for `by`".into(), Val::Str(parts(&[("BY", q(own)), ("at", clock.clone())])), Refused),
        (format!("`by` {other}"), Val::Str(t.stamped(&q(other), &clock)), Refused),
        ("`by` in upper case".into(), Val::Str(t.stamped(&q(&own.to_uppercase()), &clock)), Refused),
        (
            "`by` with a zero-width space".into(),
            Val::Str(t.stamped(&q(&format!("{own}\u{200b}")), &clock)),
            Refused,
        ),
        (
            "`by` with a Cyrillic а".into(),
            Val::Str(t.stamped(&q(&own.replacen('a', "а", 1)), &clock)),
            Refused,
        ),
        ("`by` with a leading space".into(), Val::Str(t.stamped(&q(&format!(" {own}")), &clock)), Refused),
        ("`by` with a trailing newline".into(), Val::Str(t.stamped(&q(&format!("{own}\n")), &clock)), Refused),
        ("`by` a number".into(), Val::Str(t.stamped("7", &clock)), Refused),
        ("`by` null".into(), Val::Str(t.stamped("null", &clock)), Refused),
        ("`by` an object".into(), Val::Str(t.stamped(&format!("{{\"id\":{}}}", q(own)), &clock)), Refused),
        ("no `by`".into(), Val::Str(parts(&[("at", clock.clone())])), Refused),
        (
            format!("`by` twice, {other} then own"),
            Val::Str(parts(&[("by", q(other)), ("by", q(own)), ("at", clock.clone())])),
            Either,
        ),
        (
            format!("`by` twice, own then {other}"),
            Val::Str(parts(&[("by", q(own)), ("by", q(other)), ("at", clock.clone())])),
            Refused,
        ),
        ("`at` in 2001".into(), Val::Str(t.stamped(&q(own), &Y2001.to_string())), Refused),
        ("`at` in 2100".into(), Val::Str(t.stamped(&q(own), &Y2100.to_string())), Refused),
        (
            "`at` an hour ahead of the server".into(),
            Val::Str(t.stamped(&q(own), &(v.at.now + HOUR).to_string())),
            Refused,
        ),
        (
            "`at` an hour before the change it builds on".into(),
            Val::Str(t.stamped(&q(own), &(v.latest - HOUR).to_string())),
            Refused,
        ),
        ("`at` a string".into(), Val::Str(t.stamped(&q(own), &q("2026-11-24T10:00:00+08:00"))), Refused),
        ("`at` a fraction".into(), Val::Str(t.stamped(&q(own), &format!("{clock}.5"))), Refused),
        ("`at` null".into(), Val::Str(t.stamped(&q(own), "null")), Refused),
        ("no `at`".into(), Val::Str(parts(&[("by", q(own))])), Refused),
        (
            "an unknown field in the entry".into(),
            Val::Str(parts(&[("by", q(own)), ("at", clock.clone()), ("extra", "1".into())])),
            Refused,
        ),
        (
            "`note2` in the entry".into(),
            Val::Str(parts(&[("by", q(own)), ("at", clock.clone()), ("note2", q("x"))])),
            Refused,
        ),
        ("not JSON".into(), Val::Str(format!("pass by {own}")), Refused),
        ("a JSON array".into(), Val::Str(format!("[{good}]")), Refused),
        ("a JSON string".into(), Val::Str(q(&good)), Refused),
        ("trailing garbage".into(), Val::Str(format!("{good}x")), Refused),
        ("a byte-order mark".into(), Val::Str(format!("\u{feff}{good}")), Refused),
        ("two objects".into(), Val::Str(format!("{good}{good}")), Refused),
        ("Automerge Text holding the entry".into(), Val::Text(good.clone()), Refused),
    ];
    let (what, value, expect) = pick(rng, &tricks).clone();
    if expect == Expect::Either && !t.valid {
        return None;
    }
    if what.contains("Cyrillic") && !own.contains('a') {
        return None;
    }
    let mut ops = vec![Op::Put(t.path.clone(), value)];
    if rng.random_bool(0.05) {
        // The entry as an Automerge map of its fields instead of a string.
        let mut map = vec![Op::Put(t.path.clone(), Val::Map)];
        for (k, _, _) in &t.fields {
            let mut at = t.path.clone();
            at.push((*k).to_owned());
            map.push(Op::Put(at, Val::Str("x".into())));
        }
        let mut by = t.path.clone();
        by.push("by".into());
        map.push(Op::Put(by, Val::Str(own.into())));
        return Some(refused(format!("`{}` as an Automerge map", t.name()), t.sender, map));
    }
    let what = format!("`{}`: {what}", t.name());
    if expect == Expect::Either {
        return Some(draft(what, t.sender, ops.split_off(0), expect));
    }
    Some(draft(what, t.sender, ops, expect))
}

fn entry_value(rng: &mut impl Rng, v: &View) -> Option<Draft> {
    let all: Vec<Template> = templates(rng, v)
        .into_iter()
        .filter(|t| !t.bad.is_empty() || t.fields.iter().any(|f| f.2))
        .collect();
    if all.is_empty() {
        return None;
    }
    let t = pick(rng, &all);
    let stamp = |fields: Vec<(String, String)>| {
        let mut p = fields;
        p.push(("by".into(), Json::from(t.sender.user()).to_string()));
        p.push(("at".into(), v.clock().to_string()));
        object(&p)
    };
    if t.bad.is_empty() || rng.random_bool(0.1) {
        let required: Vec<&str> = t.fields.iter().filter(|f| f.2).map(|f| f.0).collect();
        let drop = *pick(rng, &required);
        let fields = t.parts().into_iter().filter(|(k, _)| k != drop).collect();
        return Some(refused(
            format!("`{}` without its `{drop}`", t.name()),
            t.sender,
            vec![t.put(stamp(fields))],
        ));
    }
    let (key, bad, why) = pick(rng, &t.bad);
    let mut fields: Vec<(String, String)> = t
        .parts()
        .into_iter()
        .filter(|(k, _)| k != key)
        .collect();
    fields.push(((*key).to_owned(), bad.text()));
    Some(refused(
        format!("`{}.{key}` {why}", t.name()),
        t.sender,
        vec![t.put(stamp(fields))],
    ))
}

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
    Entry,
}

/// The plain (not stamped) fields of the target and its required stamped entries, each with
/// its type and whether it is required.
fn fields(v: &View) -> Vec<(Vec<String>, Ty, bool)> {
    use Ty::*;
    let mut out: Vec<(&[&str], Ty, bool)> = vec![
        (&["schema"], Int, true),
        (&["kind"], Str, true),
        (&["id"], Str, true),
    ];
    let by_kind: &[(&[&str], Ty, bool)] = match v.target {
        Target::Store => &[
            (&["licence"], Entry, true),
            (&["name"], Entry, true),
            (&["owner"], Entry, true),
            (&["phone"], Entry, true),
            (&["address"], Entry, true),
            (&["lat"], Entry, true),
            (&["lng"], Entry, true),
            (&["geofence_m"], Entry, true),
            (&["format"], Entry, true),
            (&["market"], Entry, true),
            (&["size"], Entry, true),
            (&["tier"], Entry, true),
            (&["monthly_volume"], Entry, true),
            (&["demo_street"], Entry, true),
            (&["functional"], Entry, true),
            (&["territory"], Entry, true),
            (&["rating"], Entry, false),
        ],
        Target::Visit => &[
            (&["store_id"], Str, true),
            (&["visitor"], Str, true),
            (&["visit_kind"], Str, true),
            (&["store_lat"], Num, true),
            (&["store_lng"], Num, true),
            (&["geofence_m"], Num, true),
            (&["check_in"], Map, true),
            (&["check_in", "at"], Int, true),
            (&["check_in", "lat"], Num, false),
            (&["check_in", "lng"], Num, false),
            (&["check_in", "accuracy_m"], Num, false),
            (&["check_in", "distance_m"], Num, false),
            (&["check_in", "in_range"], Bool, false),
            (&["notes"], Text, false),
            (&["brand_promotion"], Text, false),
            (&["photos"], Map, false),
            (&["comments"], Map, false),
            (&["training"], Map, false),
            (&["shelf_display_id"], Str, false),
        ],
        Target::Display => &[
            (&["store_id"], Str, true),
            (&["standard.tidy_counter"], Entry, false),
            (&["product.6901028"], Entry, false),
            (&["new_product_zone"], Entry, false),
            (&["checked.am-li"], Entry, false),
        ],
        Target::Count => &[
            (&["store_id"], Str, true),
            (&["started_by"], Str, true),
            (&["started_at"], Int, true),
            (&["book"], Map, true),
            (&["book", "sku-001"], Int, false),
            (&["names"], Map, false),
            (&["names", "sku-001"], Str, false),
            (&["counted"], Map, false),
            (&["counted", "sku-001"], Entry, false),
            (&["finished"], Entry, false),
        ],
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => &[
            (&["store_id"], Str, true),
            (&["title"], Str, true),
            (&["description"], Text, false),
            (&["assignee"], Str, true),
            (&["deadline"], Int, true),
            (&["created_by"], Str, true),
            (&["created_at"], Int, true),
            (&["state"], Entry, true),
            (&["photos"], Map, false),
        ],
        Target::Complaint => &[
            (&["store_id"], Str, true),
            (&["complaint_kind"], Str, true),
            (&["received_at"], Int, true),
            (&["received_by"], Str, true),
            (&["description"], Text, false),
            (&["urban"], Bool, true),
            (&["on_site_applies"], Bool, true),
            (&["events"], Map, false),
            (&["events", "on_site"], Entry, false),
        ],
        Target::CardOpen | Target::CardAcknowledged => &[
            (&["manager"], Str, true),
            (&["month"], Str, true),
            (&["supervisor"], Str, true),
            (&["weights"], Map, true),
            (&["weights", "visit_frequency"], Num, true),
            (&["weights", "brand_promotion"], Num, true),
            (&["weights", "terminal_image"], Num, true),
            (&["weights", "service_attitude"], Num, true),
            (&["weights", "pass_mark"], Num, true),
            (&["weights", "bonus_mark"], Num, true),
            (&["scores"], Map, true),
            (&["scores", "visit_frequency"], Entry, false),
            (&["evidence"], Map, false),
        ],
    };
    out.extend_from_slice(by_kind);
    out.into_iter().map(|(p, t, r)| (path(p), t, r)).collect()
}

/// Values of another type than `ty`.
fn wrong_values(ty: Ty) -> Vec<Val> {
    let entry = json!({"v": "x", "by": LI, "at": Y2100 - 1}).to_string();
    let mut out = vec![Val::Null, Val::Counter(1), Val::List, Val::Bytes];
    out.extend(match ty {
        Ty::Str => vec![Val::Int(7), Val::F64(1.5), Val::Bool(true), Val::Map, Val::Text("am-li".into())],
        Ty::Int => vec![Val::Str("12".into()), Val::F64(12.5), Val::F64(12.0), Val::Bool(true), Val::Map, Val::Text("12".into())],
        Ty::Num => vec![Val::Str("30.27".into()), Val::Bool(false), Val::Map, Val::Text("30.27".into())],
        Ty::Bool => vec![Val::Int(1), Val::F64(1.0), Val::Str("true".into()), Val::Map, Val::Text("true".into())],
        Ty::Text => vec![Val::Str("plain string".into()), Val::Int(1), Val::Map],
        Ty::Map => vec![Val::Str("{}".into()), Val::Int(0), Val::Text("{}".into())],
        Ty::Entry => vec![Val::Int(1), Val::Str("not an entry".into()), Val::Map, Val::Text(entry)],
    });
    out
}

fn wrong_type(rng: &mut impl Rng, v: &View) -> Option<Draft> {
    let all = fields(v);
    let (at, ty, _) = pick(rng, &all);
    let value = pick(rng, &wrong_values(*ty)).clone();
    let sender = field_writer(rng, v, at);
    Some(refused(
        format!("`{}` of another type ({ty:?} expected)", at.join(".")),
        sender,
        vec![Op::Put(at.clone(), value)],
    ))
}

/// Who may write the field (so that the write rules let the change reach the judge).
fn field_writer(rng: &mut impl Rng, v: &View, at: &[String]) -> Sender {
    match at.first().map(String::as_str) {
        Some("acknowledgement") => Sender::Li,
        Some("comments") => Sender::Sup,
        Some("name" | "owner" | "phone" | "address") if rng.random_bool(0.5) => Sender::Li,
        _ => v.writer(rng),
    }
}

fn missing_field(rng: &mut impl Rng, v: &View) -> Option<Draft> {
    let all: Vec<(Vec<String>, Ty, bool)> = fields(v).into_iter().filter(|f| f.2).collect();
    let (at, _, _) = pick(rng, &all);
    let sender = field_writer(rng, v, at);
    Some(refused(
        format!("required `{}` deleted", at.join(".")),
        sender,
        vec![Op::Delete(at.clone())],
    ))
}

fn unknown_field(rng: &mut impl Rng, v: &View) -> Option<Draft> {
    let mut keys: Vec<Vec<String>> = [
        "extra",
        "Notes",
        "store_id ",
        "ID",
        "by",
        "schema2",
        "kind\u{200b}",
        "__proto__",
    ]
    .iter()
    .map(|k| path(&[k]))
    .collect();
    match v.target {
        Target::Visit => keys.push(path(&["check_in", "extra"])),
        Target::Display => keys.extend(
            [
                "standard.banana",
                "standard.",
                "standards.tidy_counter",
                "product.",
                "product.a,b",
                "checked.am li",
                "checked.",
            ]
            .iter()
            .map(|k| path(&[k])),
        ),
        Target::CardOpen | Target::CardAcknowledged => {
            keys.push(path(&["weights", "extra"]));
            keys.push(path(&["scores", "banana"]));
            keys.push(path(&["evidence", "banana"]));
        }
        Target::Complaint => keys.push(path(&["events", "banana"])),
        Target::Visit | Target::TaskWork | Target::TaskOpen | Target::TaskNoPhoto => {
            keys.push(path(&["photos", "sha256:ABC"]));
        }
        _ => {}
    }
    let at = pick(rng, &keys).clone();
    let value = if at.len() > 1 || at[0].contains('.') {
        // A well-formed entry under a key the kind does not have.
        Val::Str(json!({"v": "pass", "text": "x", "by": v.writer(rng).user(), "at": v.clock()}).to_string())
    } else {
        Val::Str("x".into())
    };
    let sender = v.writer(rng);
    let value = match value {
        Val::Str(s) if at.len() > 1 || at[0].contains('.') => Val::Str(
            s.replace(&format!("\"{}\"", LI), &format!("\"{}\"", sender.user()))
                .replace(&format!("\"{}\"", SUP), &format!("\"{}\"", sender.user()))
                .replace(&format!("\"{}\"", ADMIN), &format!("\"{}\"", sender.user())),
        ),
        other => other,
    };
    Some(refused(
        format!("unknown field `{}`", at.join(".")),
        sender,
        vec![Op::Put(at, value)],
    ))
}

fn header(rng: &mut impl Rng, v: &View) -> Option<Draft> {
    let kind = v.target.kind().as_str();
    let other_kind = if kind == "task" { "visit" } else { "task" };
    let own_id = v.str(&["id"]).unwrap_or_default();
    let choices: Vec<(String, Op)> = vec![
        ("`schema` 2".into(), set(&["schema"], Val::Int(2))),
        ("`schema` 0".into(), set(&["schema"], Val::Int(0))),
        ("`schema` a string".into(), set(&["schema"], Val::Str("1".into()))),
        ("`schema` a float".into(), set(&["schema"], Val::F64(1.0))),
        (format!("`kind` `{other_kind}`"), set(&["kind"], Val::Str(other_kind.into()))),
        ("`kind` in upper case".into(), set(&["kind"], Val::Str(kind.to_uppercase()))),
        ("`kind` deleted".into(), Op::Delete(path(&["kind"]))),
        ("`id` another document's".into(), set(&["id"], Val::Str(DocId::new().to_string()))),
        ("`id` in upper case".into(), set(&["id"], Val::Str(own_id.to_uppercase()))),
        ("`id` deleted".into(), Op::Delete(path(&["id"]))),
    ];
    let (what, op) = pick(rng, &choices).clone();
    Some(refused(what, v.writer(rng), vec![op]))
}

/// A valid edit with a change time that cannot be.
#[allow(clippy::type_complexity)]
fn device_time(rng: &mut impl Rng, v: &View) -> Option<(Draft, Option<i64>, Option<Option<String>>)> {
    let mut d = valid_edit(rng, v)?;
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
    Some((d, Some(time), None))
}

/// A valid edit with another commit message.
#[allow(clippy::type_complexity)]
fn commit_message(rng: &mut impl Rng, v: &View) -> Option<(Draft, Option<i64>, Option<Option<String>>)> {
    let mut d = valid_edit(rng, v)?;
    let own = d.sender.user();
    let other = *pick(rng, &others(own));
    let choices: Vec<(String, Option<String>, Option<Expect>)> = vec![
        (format!("message by {other}"), Some(message(other, "x")), Some(Expect::Refused)),
        (
            format!("message by {other} after a space"),
            Some(format!(" {}", message(other, "x"))),
            Some(Expect::Refused),
        ),
        ("message by own name in upper case".into(), Some(message(&own.to_uppercase(), "x")), Some(Expect::Refused)),
        (
            format!("message naming own, then {other}"),
            Some(format!("{{\"by\":\"{own}\",\"what\":\"x\",\"by\":\"{other}\"}}")),
            Some(Expect::Refused),
        ),
        ("message by own name".into(), Some(message(own, "x")), None),
        ("no message".into(), None, None),
        ("a message of plain words".into(), Some("fixed it".into()), Some(Expect::Either)),
        (format!("message with `By` {other}"), Some(format!("{{\"By\":\"{other}\"}}")), Some(Expect::Either)),
    ];
    let (why, msg, expect) = pick(rng, &choices).clone();
    d.what = format!("{}, {why}", d.what);
    if let Some(expect) = expect {
        d.expect = expect;
    }
    Some((d, None, Some(msg)))
}

/// Value rules across fields, state changes, author fields and write rules.
fn rule(rng: &mut impl Rng, v: &View) -> Option<Draft> {
    let clock = v.clock();
    let now = v.at.now;
    let n = rng.random_range(0..10_000);
    let store = v.facts.store.to_string();
    let other_store = v.facts.other_store.to_string();
    let stamped = |fields: Json, by: &str| {
        let mut e = fields;
        e["by"] = json!(by);
        e["at"] = json!(clock);
        Val::Str(e.to_string())
    };
    let mut out: Vec<Draft> = Vec::new();
    let store_id = |sender: Sender| {
        vec![
            refused(
                "`store_id` another store's",
                sender,
                vec![set(&["store_id"], Val::Str(other_store.clone()))],
            ),
            refused(
                "`store_id` in upper case",
                sender,
                vec![set(&["store_id"], Val::Str(store.to_uppercase()))],
            ),
            refused(
                "`store_id` without hyphens",
                sender,
                vec![set(&["store_id"], Val::Str(store.replace('-', "")))],
            ),
        ]
    };
    let huge = "x".repeat(HUGE);
    match v.target {
        Target::Store => {
            out.push(refused(
                "the territory re-stamped by its account manager",
                Sender::Li,
                vec![set(&["territory"], stamped(json!({"v": LI}), LI))],
            ));
            out.push(refused(
                "the monthly volume set by the account manager",
                Sender::Li,
                vec![set(&["monthly_volume"], stamped(json!({"v": 500}), LI))],
            ));
            out.push(refused(
                "the rating set by the account manager",
                Sender::Li,
                vec![set(&["rating"], stamped(json!({"v": "excellent"}), LI))],
            ));
            out.push(refused(
                "the name and the tier set by the account manager",
                Sender::Li,
                vec![
                    set(&["name"], stamped(json!({"v": format!("Store {n}")}), LI)),
                    set(&["tier"], stamped(json!({"v": "A"}), LI)),
                ],
            ));
            out.push(refused(
                "the name set by a supervisor",
                Sender::Sup,
                vec![set(&["name"], stamped(json!({"v": "Sup's store"}), SUP))],
            ));
        }
        Target::Visit => {
            let check_in = v.int(&["check_in", "at"]).unwrap_or(clock);
            let lat = v
                .scalar(&["check_in", "lat"])
                .and_then(|s| s.to_f64())
                .unwrap_or(30.27);
            let in_range = matches!(v.scalar(&["check_in", "in_range"]), Some(ScalarValue::Boolean(true)));
            out.extend(store_id(Sender::Li));
            out.extend([
                refused(
                    "checked out an hour before the check-in",
                    Sender::Li,
                    vec![set(&["check_out"], Val::Map), set(&["check_out", "at"], Val::Int(check_in - HOUR))],
                ),
                refused(
                    "checked out an hour ahead of the server",
                    Sender::Li,
                    vec![set(&["check_out"], Val::Map), set(&["check_out", "at"], Val::Int(now + HOUR))],
                ),
                refused(
                    "a training activity on a routine visit",
                    Sender::Li,
                    vec![set(&["training", "brand_display"], stamped(json!({"v": "shelf work"}), LI))],
                ),
                refused(
                    "a complaint named by a routine visit",
                    Sender::Li,
                    vec![set(&["complaint_id"], Val::Str(v.facts.complaint.to_string()))],
                ),
                refused("the visitor changed to another user", Sender::Li, vec![set(&["visitor"], Val::Str(WU.into()))]),
                refused("the visitor changed by a supervisor to himself", Sender::Sup, vec![set(&["visitor"], Val::Str(SUP.into()))]),
                refused("the store moved under the fix", Sender::Li, vec![set(&["store_lat"], Val::F64(lat + 0.3))]),
                refused(
                    "`check_in.in_range` flipped",
                    Sender::Li,
                    vec![set(&["check_in", "in_range"], Val::Bool(!in_range))],
                ),
                refused("`check_in.distance_m` 5 km", Sender::Li, vec![set(&["check_in", "distance_m"], Val::F64(5_000.0))]),
                refused("half a fix: `check_in.lat` deleted", Sender::Li, vec![Op::Delete(path(&["check_in", "lat"]))]),
                refused("`check_in.lat` 200", Sender::Li, vec![set(&["check_in", "lat"], Val::F64(200.0))]),
                refused("`check_in.lat` NaN", Sender::Li, vec![set(&["check_in", "lat"], Val::F64(f64::NAN))]),
                refused("`check_in.lat` infinite", Sender::Li, vec![set(&["check_in", "lat"], Val::F64(f64::INFINITY))]),
                refused("`check_in.accuracy_m` negative", Sender::Li, vec![set(&["check_in", "accuracy_m"], Val::F64(-1.0))]),
                refused("`check_in.at` an hour ahead of the server", Sender::Li, vec![set(&["check_in", "at"], Val::Int(now + HOUR))]),
                refused("`check_in.at` in 2001", Sender::Li, vec![set(&["check_in", "at"], Val::Int(Y2001))]),
                refused("`store_lng` 200", Sender::Li, vec![set(&["store_lng"], Val::F64(200.0))]),
                refused("`geofence_m` 1", Sender::Li, vec![set(&["geofence_m"], Val::F64(1.0))]),
                refused("`visit_kind` banana", Sender::Li, vec![set(&["visit_kind"], Val::Str("banana".into()))]),
                refused("`visit_kind` in upper case", Sender::Li, vec![set(&["visit_kind"], Val::Str("ROUTINE".into()))]),
                refused("`visit_kind` with a trailing space", Sender::Li, vec![set(&["visit_kind"], Val::Str("routine ".into()))]),
                refused("notes appended by a supervisor", Sender::Sup, vec![Op::Append(path(&["notes"]), "sup was here".into())]),
                refused(
                    "a comment by the supervisor stamped as the visitor's",
                    Sender::Sup,
                    vec![set(&["comments", &DocId::new().to_string()], stamped(json!({"text": "ok"}), LI))],
                ),
                refused("a comment under a key that is not an id", Sender::Sup, vec![set(&["comments", "not-an-id"], stamped(json!({"text": "ok"}), SUP))]),
                refused("a photo under a key that is not a hash", Sender::Li, vec![set(&["photos", "sha256:ABC"], stamped(json!({"caption": "x"}), LI))]),
                refused(&format!("{HUGE} characters appended to the notes"), Sender::Li, vec![Op::Append(path(&["notes"]), huge.clone())]),
                refused("a plain string as the notes", Sender::Li, vec![set(&["notes"], Val::Str("notes".into()))]),
                refused("`shelf_display_id` in upper case", Sender::Li, vec![set(&["shelf_display_id"], Val::Str(v.facts.display.to_string().to_uppercase()))]),
            ]);
        }
        Target::Display => {
            let sender = v.either(rng);
            let other = if sender == Sender::Li { SUP } else { LI };
            out.extend(store_id(sender));
            out.push(refused(
                format!("`checked.{other}` written by {}", sender.user()),
                sender,
                vec![set(&[&format!("checked.{other}")], stamped(json!({}), sender.user()))],
            ));
            out.push(refused(
                "a product key with a comma",
                sender,
                vec![set(&["product.a,b"], stamped(json!({"v": true}), sender.user()))],
            ));
            if rng.random_bool(0.2) {
                let ops = (0..501)
                    .map(|i| set(&[&format!("product.bulk-{i}")], stamped(json!({"v": true}), sender.user())))
                    .collect();
                out.push(refused("501 products in one change", sender, ops));
            }
        }
        Target::Count => {
            let sender = v.either(rng);
            let by = sender.user();
            out.extend(store_id(sender));
            out.extend([
                refused("a line counted that is not in the book", sender, vec![set(&["counted", "sku-999"], stamped(json!({"v": 3}), by))]),
                refused("a name for a line that is not in the book", sender, vec![set(&["names", "sku-999"], Val::Str("ghost".into()))]),
                refused("a book quantity of -500", sender, vec![set(&["book", "sku-001"], Val::Int(-500))]),
                refused("a book quantity of 10,000,001", sender, vec![set(&["book", "sku-001"], Val::Int(10_000_001))]),
                refused("a book quantity as a string", sender, vec![set(&["book", "sku-001"], Val::Str("10".into()))]),
                refused("a book line whose sku has a comma", sender, vec![set(&["book", "a,b"], Val::Int(1))]),
                refused("finished with a line uncounted", sender, vec![set(&["finished"], stamped(json!({"v": true}), by))]),
                refused("`started_by` another user", sender, vec![set(&["started_by"], Val::Str(WU.into()))]),
                refused("`started_at` an hour ahead of the server", sender, vec![set(&["started_at"], Val::Int(now + HOUR))]),
                refused("`started_at` in 2001", sender, vec![set(&["started_at"], Val::Int(Y2001))]),
                refused(format!("a {HUGE}-character line name"), sender, vec![set(&["names", "sku-001"], Val::Str(huge.clone()))]),
                refused("the book deleted", sender, vec![Op::Delete(path(&["book"]))]),
            ]);
            if sender == Sender::Sup {
                out.push(refused(
                    "`started_by` rewritten to the sender (the count was started by am-li)",
                    sender,
                    vec![set(&["started_by"], Val::Str(SUP.into()))],
                ));
            }
        }
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => {
            let (state, assignee, photos) = v.task();
            let created = v.int(&["created_at"]).unwrap_or(clock);
            let sender = v.either(rng);
            let by = sender.user();
            let mv = |to: &str, s: Sender, note: Option<&str>| state_op(to, note, s.user(), clock);
            out.extend(store_id(sender));
            out.extend([
                refused(format!("`{state}` → `verified` by the assignee"), Sender::Li, vec![mv("verified", Sender::Li, None)]),
                refused(format!("`{state}` → `open` by the assignee"), Sender::Li, vec![mv("open", Sender::Li, None)]),
                refused(format!("`{state}` → `in_progress` by a supervisor"), Sender::Sup, vec![mv("in_progress", Sender::Sup, None)]),
                refused(format!("`{state}` → `submitted` by a supervisor"), Sender::Sup, vec![mv("submitted", Sender::Sup, Some("done"))]),
                refused("state `banana`", sender, vec![mv("banana", sender, None)]),
                refused("state `Open`", sender, vec![mv("Open", sender, None)]),
                refused("state ` in_progress`", Sender::Li, vec![mv(" in_progress", Sender::Li, None)]),
                refused(
                    format!("`{state}` moved by the assignee, stamped as the supervisor's"),
                    Sender::Li,
                    vec![mv("in_progress", Sender::Sup, None)],
                ),
                refused("state deleted", sender, vec![Op::Delete(path(&["state"]))]),
                refused("`created_by` another user", sender, vec![set(&["created_by"], Val::Str(WU.into()))]),
                refused("`created_at` an hour ahead of the server", sender, vec![set(&["created_at"], Val::Int(now + HOUR))]),
                refused("the deadline a day before creation", sender, vec![set(&["deadline"], Val::Int(created - 24 * HOUR))]),
                refused("the deadline as a string", sender, vec![set(&["deadline"], Val::Str("2026-12-01".into()))]),
                refused("the deadline in 2001", sender, vec![set(&["deadline"], Val::Int(Y2001))]),
                refused("`origin_kind` without `origin_id`", sender, vec![set(&["origin_kind"], Val::Str("visit".into()))]),
                refused(
                    "`origin_kind` `store`",
                    sender,
                    vec![set(&["origin_kind"], Val::Str("store".into())), set(&["origin_id"], Val::Str(store.clone()))],
                ),
                refused(
                    "`origin_id` in upper case",
                    sender,
                    vec![set(&["origin_kind"], Val::Str("shelf_display".into())), set(&["origin_id"], Val::Str(v.facts.display.to_string().to_uppercase()))],
                ),
                refused("an empty title", sender, vec![set(&["title"], Val::Str(String::new()))]),
                refused("a blank title", sender, vec![set(&["title"], Val::Str("  \t ".into()))]),
                refused(format!("a {HUGE}-character title"), sender, vec![set(&["title"], Val::Str(huge.clone()))]),
                refused("a title with an escape sequence", sender, vec![set(&["title"], Val::Str("\u{1b}[31mred".into()))]),
                refused(format!("{HUGE} characters appended to the description"), sender, vec![Op::Append(path(&["description"]), huge.clone())]),
                refused("a photo under a key that is not a hash", Sender::Li, vec![set(&["photos", "IMG_0001.jpg"], stamped(json!({"caption": "x"}), LI))]),
                refused("the assignee changed to a name with a space", sender, vec![set(&["assignee"], Val::Str("am wu".into()))]),
            ]);
            if sender == Sender::Li {
                out.push(refused(
                    "`created_by` rewritten to the sender (the task was created by sup-liu)",
                    Sender::Li,
                    vec![set(&["created_by"], Val::Str(LI.into()))],
                ));
            }
            if state == "submitted" {
                out.push(refused("`submitted` → `reopened` without a note", Sender::Sup, vec![mv("reopened", Sender::Sup, None)]));
                out.push(refused("`submitted` → `reopened` with a blank note", Sender::Sup, vec![mv("reopened", Sender::Sup, Some("   "))]));
            }
            if state == "in_progress" && photos == 0 && assignee == LI {
                out.push(refused("`in_progress` → `submitted` without an after photo", Sender::Li, vec![mv("submitted", Sender::Li, None)]));
            }
            if state == "submitted" && assignee == LI {
                out.push(refused(
                    "the assignee reassigns the task to am-wu and verifies it, in one change",
                    Sender::Li,
                    vec![set(&["assignee"], Val::Str(WU.into())), mv("verified", Sender::Li, None)],
                ));
            }
            let _ = by;
        }
        Target::Complaint => {
            let received = v.int(&["received_at"]).unwrap_or(clock);
            let sender = v.either(rng);
            let by = sender.user();
            let event = |when: i64| stamped(json!({"when": when, "note": "x"}), by);
            out.extend(store_id(sender));
            out.extend([
                refused("a `replaced` event on a complaint", sender, vec![set(&["events", "replaced"], event(clock))]),
                refused("a `callback` without `handled`", sender, vec![set(&["events", "callback"], event(clock))]),
                refused("`on_site` a day before the receipt", sender, vec![set(&["events", "on_site"], event(received - 24 * HOUR))]),
                refused("`on_site` an hour ahead of the server", sender, vec![set(&["events", "on_site"], event(now + HOUR))]),
                refused("a refund due on a complaint", sender, vec![set(&["refund_due"], Val::Int(received + 24 * HOUR))]),
                refused(
                    "the on-site clock on a rural complaint",
                    sender,
                    vec![set(&["urban"], Val::Bool(false)), set(&["on_site_applies"], Val::Bool(true))],
                ),
                refused("`received_by` another user", sender, vec![set(&["received_by"], Val::Str(WU.into()))]),
                refused("`received_at` an hour ahead of the server", sender, vec![set(&["received_at"], Val::Int(now + HOUR))]),
                refused("`received_at` a float", sender, vec![set(&["received_at"], Val::F64(received as f64))]),
                refused("`complaint_kind` banana", sender, vec![set(&["complaint_kind"], Val::Str("banana".into()))]),
                refused("`complaint_kind` capitalised", sender, vec![set(&["complaint_kind"], Val::Str("Complaint".into()))]),
                refused(format!("{HUGE} characters appended to the description"), sender, vec![Op::Append(path(&["description"]), huge.clone())]),
            ]);
            if sender == Sender::Sup {
                out.push(refused(
                    "`received_by` rewritten to the sender (the complaint was received by am-li)",
                    sender,
                    vec![set(&["received_by"], Val::Str(SUP.into()))],
                ));
            }
        }
        Target::CardOpen | Target::CardAcknowledged => {
            let dimension = *pick(rng, DIMENSIONS);
            out.extend([
                refused("a score written by the scored manager", Sender::Li, vec![set(&["scores", dimension], stamped(json!({"v": 25}), LI))]),
                refused(
                    "acknowledged by the supervisor",
                    Sender::Sup,
                    vec![set(&["acknowledgement"], stamped(json!({"total": 80, "comment": "ok"}), SUP))],
                ),
                refused(
                    "acknowledged by the manager, stamped as the supervisor's",
                    Sender::Li,
                    vec![set(&["acknowledgement"], stamped(json!({"total": 80}), SUP))],
                ),
                refused("month `2026-13`", Sender::Sup, vec![set(&["month"], Val::Str("2026-13".into()))]),
                refused("month `Nov2026`", Sender::Sup, vec![set(&["month"], Val::Str("Nov2026".into()))]),
                refused("month `2026-1`", Sender::Sup, vec![set(&["month"], Val::Str("2026-1".into()))]),
                refused(format!("a {HUGE}-character month"), Sender::Sup, vec![set(&["month"], Val::Str(huge.clone()))]),
                refused("the pass mark above the bonus mark", Sender::Sup, vec![set(&["weights", "pass_mark"], Val::F64(95.0))]),
                refused("weights adding up to 105", Sender::Sup, vec![set(&["weights", "visit_frequency"], Val::F64(30.0))]),
                refused("a negative weight", Sender::Sup, vec![set(&["weights", "visit_frequency"], Val::F64(-5.0))]),
                refused("`supervisor` another user", Sender::Sup, vec![set(&["supervisor"], Val::Str(WU.into()))]),
                refused("evidence as a plain string", Sender::Sup, vec![set(&["evidence", dimension], Val::Str("photos".into()))]),
                refused(format!("{HUGE} characters of evidence"), Sender::Sup, vec![Op::Append(path(&["evidence", dimension]), huge.clone())]),
            ]);
            if v.target == Target::CardOpen {
                out.push(refused(
                    "acknowledged before every dimension is scored",
                    Sender::Li,
                    vec![set(&["acknowledgement"], stamped(json!({"total": 0}), LI))],
                ));
            } else {
                out.push(refused(
                    "a score changed after the acknowledgement",
                    Sender::Sup,
                    vec![set(&["scores", dimension], stamped(json!({"v": 25}), SUP))],
                ));
            }
        }
    }
    if out.is_empty() {
        return None;
    }
    let i = rng.random_range(0..out.len());
    Some(out.swap_remove(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn an_entry_keeps_its_fields_in_order_and_duplicates() {
        let parts = vec![
            ("v".to_owned(), "1".to_owned()),
            ("by".to_owned(), "\"a\"".to_owned()),
            ("by".to_owned(), "\"b\"".to_owned()),
        ];
        assert_eq!(object(&parts), r#"{"v":1,"by":"a","by":"b"}"#);
    }

    #[test]
    fn a_mutation_makes_one_change_on_the_document() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "kind", "task").expect("put");
        doc.commit();
        let facts = Facts {
            store: DocId::new(),
            other_store: DocId::new(),
            display: DocId::new(),
            complaint: DocId::new(),
        };
        let at = Moment {
            clock: 1_795_000_000_000,
            now: 1_796_000_000_000,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let m = generate(&mut rng, Target::TaskWork, &mut doc, &facts, at);
            let mut fork = doc.fork();
            let change = m.make(&mut fork).expect("the change is made");
            assert!(change.is_some(), "{m}");
        }
    }
}
