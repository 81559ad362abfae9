//! Stamped entries: the entries a phone writes in each document, each with the sender who
//! may write it, its bad values, and the tricks an attacker plays with its stamp.

use serde_json::Value as Json;

use super::bad_values::{J, bad_bool, bad_code, bad_num, bad_quantity, bad_str, j, reasons};
use super::{
    Draft, Expect, HOUR, Op, Rand, Sender, Target, Val, View, Y2001, Y2100, draft, no, others,
    path, photo_hash, pick,
};
use rand::Rng;

/// A JSON object from (key, raw JSON) pairs, in order, duplicate keys kept.
fn object(parts: &[(String, String)]) -> String {
    let inner: Vec<String> = parts
        .iter()
        .map(|(k, v)| format!("{}:{v}", Json::from(k.as_str())))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// An entry of a document that `sender` may write.
#[derive(Clone, Debug)]
pub(super) struct Template {
    pub sender: Sender,
    pub path: Vec<String>,
    /// The entry's fields besides `by` and `at`, each with whether it is required.
    fields: Vec<(&'static str, J, bool)>,
    /// Bad values of its fields, each with what makes it bad.
    bad: Vec<(&'static str, J, String)>,
    /// Whether writing it as it is is a valid edit (some entries are only attacked).
    pub valid: bool,
}

fn entry(sender: Sender, at: &[&str], fields: Vec<(&'static str, J, bool)>) -> Template {
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
            .extend(values.into_iter().map(|(v, why)| (key, v, why)));
        self
    }

    fn attack_only(mut self) -> Template {
        self.valid = false;
        self
    }

    fn parts(&self) -> Vec<(String, String)> {
        let fields = self.fields.iter();
        fields
            .map(|(k, v, _)| ((*k).to_owned(), v.text()))
            .collect()
    }

    /// The entry with `by` and `at` as raw JSON, and `extra` fields after them.
    fn with(&self, by: &str, at: &str, extra: &[(&str, String)]) -> String {
        let mut parts = self.parts();
        parts.push(("by".into(), by.into()));
        parts.push(("at".into(), at.into()));
        parts.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        object(&parts)
    }

    /// The entry as its sender writes it now.
    pub fn stamped(&self, v: &View) -> String {
        self.with(&q(self.sender.user()), &v.clock().to_string(), &[])
    }

    pub fn put(&self, value: Val) -> Op {
        Op::Put(self.path.clone(), value)
    }

    pub fn name(&self) -> String {
        self.path.join(".")
    }
}

/// `text` as a JSON string.
fn q(text: &str) -> String {
    Json::from(text).to_string()
}

const FORMATS: &[&str] = &["Z", "B", "S", "N", "Y", "F", "Q"];
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
pub(super) const DIMENSIONS: &[&str] = &[
    "visit_frequency",
    "brand_promotion",
    "terminal_image",
    "service_attitude",
];
/// The lines of the count valid edits count; `sku-005` stays uncounted.
const COUNTED_LINES: &[&str] = &["sku-001", "sku-002", "sku-003", "sku-004"];

/// The stamped entries of the document a phone writes.
#[rustfmt::skip]
pub(super) fn templates(rng: &mut Rand, v: &View) -> Vec<Template> {
    use Sender::{Admin, Li, Sup};
    let n = rng.random_range(0..10_000);
    let mut out = Vec::new();
    match v.target {
        Target::Store => {
            for sender in [Li, Admin] {
                for (key, value, min, max) in [
                    ("name", format!("Store 1 · {n}"), 1, 200),
                    ("owner", format!("Owner {n}"), 0, 200),
                    ("phone", format!("138{n:08}"), 0, 40),
                    ("address", format!("{n} Demo Street"), 0, 500),
                ] {
                    out.push(entry(sender, &[key], vec![("v", j(value), true)]).bad("v", bad_str(min, max, true)));
                }
            }
            let admin = |key: &str, value: J| entry(Admin, &[key], vec![("v", value, true)]);
            let lat = 30.27 + f64::from(rng.random_range(0..100)) * 1e-5;
            let three = ["1", "2", "3"];
            out.extend([
                admin("licence", j(format!("3301{:08}", 50_000_000 + n))).bad("v", bad_str(1, 64, true)),
                admin("lat", j(lat)).bad("v", bad_num(-90.0, 90.0)),
                admin("lng", j(120.151)).bad("v", bad_num(-180.0, 180.0)),
                admin("geofence_m", j(rng.random_range(50..=500))).bad("v", bad_num(10.0, 5_000.0)),
                admin("format", j(*pick(rng, FORMATS))).bad("v", bad_code(FORMATS)),
                admin("market", j(*pick(rng, &["C", "X"]))).bad("v", bad_code(&["C", "X"])),
                admin("size", j(*pick(rng, &three))).bad("v", bad_code(&three)),
                admin("tier", j(*pick(rng, &["A", "B", "C"]))).bad("v", bad_code(&["A", "B", "C"])),
                admin("monthly_volume", j(rng.random_range(0..=1_000_000))).bad("v", bad_quantity(1_000_000)),
                admin("functional", j(rng.random_bool(0.5))).bad("v", bad_bool()),
                admin("rating", j(*pick(rng, RATINGS))).bad("v", bad_code(RATINGS)),
                // Moving the store or its datum is the admin's right, not this test's subject.
                admin("datum", j("wgs84")).bad("v", bad_code(&["wgs84", "gcj02"])).attack_only(),
                admin("demo_street", j(false)).bad("v", bad_bool()).attack_only(),
                admin("territory", j(super::LI)).attack_only().bad("v", reasons(vec![
                    (j("am li"), "a space"), (j("am-li\u{200b}"), "a zero-width space"),
                    (j(""), "empty"), (j(5), "a number"), (J::Raw("null"), "null"),
                ])),
            ]);
        }
        Target::Visit => {
            let photo = entry(Li, &["photos", &photo_hash(rng)], vec![("caption", j(format!("shelf {n}")), true)])
                .bad("caption", bad_str(0, 200, true));
            out.push(if v.keys(&["photos"]).len() < 40 { photo } else { photo.attack_only() });
            let comment = fieldsync_core::DocId::new().to_string();
            out.push(entry(Sup, &["comments", &comment], vec![("text", j(format!("seen {n}")), true)])
                .bad("text", bad_str(1, 2_000, true)));
            out.push(entry(Li, &["training", "brand_display"], vec![("v", j("shelf work"), true)])
                .bad("v", bad_str(1, 2_000, true)).attack_only());
        }
        Target::Display => {
            for sender in [Li, Sup] {
                let photos = if rng.random_bool(0.5) { String::new() } else { photo_hash(rng) };
                let standard = format!("standard.{}", pick(rng, STANDARDS));
                out.push(entry(sender, &[&standard], vec![
                    ("v", j(*pick(rng, VERDICTS)), true),
                    ("note", j(format!("note {n}")), false),
                    ("photos", j(photos), false),
                ]).bad("v", bad_code(VERDICTS)).bad("note", bad_str(0, 2_000, false)).bad("photos", reasons(vec![
                    (j("sha256:zz"), "not a hash"), (j("photo.jpg"), "a file name"),
                    (j(vec![photo_hash(rng); 21].join(",")), "21 photos"), (j(3), "a number"),
                ])));
                let product = format!("product.{}", pick(rng, SKUS));
                out.push(entry(sender, &[&product], vec![
                    ("v", j(rng.random_bool(0.5)), true), ("name", j("Zhonghua soft"), false),
                ]).bad("v", bad_bool()).bad("name", bad_str(0, 200, false)));
                out.push(entry(sender, &["new_product_zone"], vec![
                    ("v", j(rng.random_bool(0.5)), true), ("skus", j("6901028,6901029"), false), ("note", j(""), false),
                ]).bad("v", bad_bool()).bad("skus", reasons(vec![
                    (j(vec!["6901028"; 201].join(",")), "201 products"),
                    (j(format!("{},1", "9".repeat(65))), "a 65-character sku"),
                    (j("69010\u{7}28"), "a control character"), (j(6_901_028), "a number"),
                    (j("6901028\u{200b}"), "a zero-width space"), (j("\u{202e}8201096"), "a direction override"),
                ])));
                out.push(entry(sender, &[&format!("checked.{}", sender.user())], vec![]));
            }
        }
        Target::Count => {
            for sender in [Li, Sup] {
                let line = *pick(rng, COUNTED_LINES);
                out.push(entry(sender, &["counted", line], vec![("v", j(rng.random_range(0..=50)), true)])
                    .bad("v", bad_quantity(10_000_000)));
                out.push(entry(sender, &["finished"], vec![("v", j(true), true)]).bad("v", bad_bool()).attack_only());
            }
        }
        Target::TaskOpen | Target::TaskNoPhoto | Target::TaskWork => {
            let (state, assignee, photos) = v.task();
            let photo = entry(Li, &["photos", &photo_hash(rng)], vec![("caption", j("after"), true)])
                .bad("caption", bad_str(0, 200, true));
            let workable = v.target == Target::TaskWork && assignee == super::LI && photos < 40
                && matches!(state.as_str(), "open" | "in_progress" | "reopened");
            out.push(if workable { photo } else { photo.attack_only() });
        }
        Target::Complaint => {
            let received = v.int(&["received_at"]).unwrap_or(v.clock());
            for sender in [Li, Sup] {
                let when = (v.clock() - rng.random_range(0..HOUR)).max(received);
                out.push(entry(sender, &["events", "on_site"], vec![
                    ("when", j(when), true), ("note", j(format!("on site {n}")), false),
                ]).bad("note", bad_str(0, 2_000, false)).bad("when", reasons(vec![
                    (j(Y2001), "in 2001"), (j(Y2100 + 1), "after 2100"),
                    (j(v.at.now + HOUR), "an hour ahead of the server"),
                    (j(received - 24 * HOUR), "before the receipt"),
                    (j("2026-11-24T10:00:00+08:00"), "a string"), (j(when as f64 + 0.5), "a fraction"),
                    (J::Raw("null"), "null"),
                ])));
            }
        }
        Target::CardOpen => {
            // Valid scores never touch the last dimension: the card is never fully scored.
            let dimension = *pick(rng, &DIMENSIONS[..3]);
            let score = f64::from(rng.random_range(0..=250)) / 10.0;
            out.push(entry(Sup, &["scores", dimension], vec![("v", j(score), true)]).bad("v", reasons(vec![
                (j(26), "26 of 25"), (j(-3), "negative"), (j(24.55), "not in tenths"),
                (j(25.01), "over the weight"), (j(100), "the whole card"), (j(101), "over 100"),
                (J::Raw("NaN"), "NaN"), (j("20"), "a string"), (j(true), "a boolean"), (J::Raw("null"), "null"),
            ])));
            out.push(entry(Li, &["acknowledgement"], vec![("comment", j("fine"), false), ("total", j(0), true)])
                .attack_only());
        }
        Target::CardAcknowledged => {
            let total: f64 = DIMENSIONS.iter()
                .filter_map(|d| v.entry(&["scores", d]))
                .filter_map(|e| e.get("v").and_then(Json::as_f64))
                .sum();
            out.push(entry(Li, &["acknowledgement"], vec![
                ("comment", j(format!("seen {n}")), false), ("total", j(total), true),
            ]).bad("comment", bad_str(0, 2_000, false)).bad("total", reasons(vec![
                (j(total + 1.0), "not the card's total"), (j(total - 1.0), "not the card's total"),
                (j(total.to_string()), "a string"), (j(101), "over 100"), (j(-1), "negative"),
                (J::Raw("null"), "null"),
            ])));
            out.push(entry(Sup, &["scores", *pick(rng, DIMENSIONS)], vec![("v", j(20), true)]).attack_only());
        }
    }
    out
}

/// An entry of the document with its stamp played with: another user's name behind
/// whitespace, a misspelt or missing `by`, names that only look like the sender's, `at`s
/// that cannot be, fields the entry does not have, text that is not one JSON object.
#[rustfmt::skip]
pub(super) fn stamp_trick(rng: &mut Rand, v: &View) -> Option<Draft> {
    use Expect::{Either, Refused};
    let all = templates(rng, v);
    let t = pick(rng, &all);
    let own = t.sender.user();
    let other = *pick(rng, &others(own));
    let clock = v.clock().to_string();
    let ws = *pick(rng, &[" ", "\t", "\n", "\r\n", " \n\t"]);
    let good = t.stamped(v);
    let by = |name: &str| t.with(&q(name), &clock, &[]);
    let at = |time: &str| t.with(&q(own), time, &[]);
    let fields = |extra: &[(&str, String)]| {
        let mut parts = t.parts();
        parts.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        object(&parts)
    };
    let tricks: Vec<(String, String, Expect)> = vec![
        (format!("leading {ws:?}, `by` {other}"), format!("{ws}{}", by(other)), Refused),
        (format!("leading {ws:?}, own name"), format!("{ws}{good}"), Either),
        (format!("trailing {ws:?}, own name"), format!("{good}{ws}"), Either),
        ("`By` for `by`".into(), fields(&[("By", q(own)), ("at", clock.clone())]), Refused),
        ("`BY` for `by`".into(), fields(&[("BY", q(own)), ("at", clock.clone())]), Refused),
        (format!("`by` {other}"), by(other), Refused),
        ("`by` in upper case".into(), by(&own.to_uppercase()), Refused),
        ("`by` with a zero-width space".into(), by(&format!("{own}\u{200b}")), Refused),
        ("`by` with a Cyrillic а".into(), by(&own.replacen('a', "а", 1)), Refused),
        ("`by` with a leading space".into(), by(&format!(" {own}")), Refused),
        ("`by` with a trailing newline".into(), by(&format!("{own}\n")), Refused),
        ("`by` a number".into(), t.with("7", &clock, &[]), Refused),
        ("`by` null".into(), t.with("null", &clock, &[]), Refused),
        ("`by` an object".into(), t.with(&format!("{{\"id\":{}}}", q(own)), &clock, &[]), Refused),
        ("no `by`".into(), fields(&[("at", clock.clone())]), Refused),
        (format!("`by` twice, {other} then own"), fields(&[("by", q(other)), ("by", q(own)), ("at", clock.clone())]), Either),
        (format!("`by` twice, own then {other}"), fields(&[("by", q(own)), ("by", q(other)), ("at", clock.clone())]), Refused),
        ("`at` in 2001".into(), at(&Y2001.to_string()), Refused),
        ("`at` in 2100".into(), at(&Y2100.to_string()), Refused),
        ("`at` an hour ahead of the server".into(), at(&(v.at.now + HOUR).to_string()), Refused),
        ("`at` an hour before the change it builds on".into(), at(&(v.latest - HOUR).to_string()), Refused),
        ("`at` a string".into(), at(&q("2026-11-24T10:00:00+08:00")), Refused),
        ("`at` a fraction".into(), at(&format!("{clock}.5")), Refused),
        ("`at` null".into(), at("null"), Refused),
        ("no `at`".into(), fields(&[("by", q(own))]), Refused),
        ("an unknown field in the entry".into(), t.with(&q(own), &clock, &[("extra", "1".into())]), Refused),
        ("`note2` in the entry".into(), t.with(&q(own), &clock, &[("note2", q("x"))]), Refused),
        ("not JSON".into(), format!("pass by {own}"), Refused),
        ("a JSON array".into(), format!("[{good}]"), Refused),
        ("a JSON string".into(), q(&good), Refused),
        ("trailing garbage".into(), format!("{good}x"), Refused),
        ("a byte-order mark".into(), format!("\u{feff}{good}"), Refused),
        ("two objects".into(), format!("{good}{good}"), Refused),
    ];
    let name = t.name();
    if rng.random_bool(0.05) {
        return Some(no(format!("`{name}` as Automerge Text"), t.sender, vec![t.put(Val::Text(good))]));
    }
    if rng.random_bool(0.05) {
        // The entry as an Automerge map of its fields instead of one string.
        let mut ops = vec![t.put(Val::Map)];
        for key in t.fields.iter().map(|f| f.0).chain(["by"]) {
            let mut inside = t.path.clone();
            inside.push(key.to_owned());
            ops.push(Op::Put(inside, Val::Str(own.into())));
        }
        return Some(no(format!("`{name}` as an Automerge map"), t.sender, ops));
    }
    let (what, text, expect) = pick(rng, &tricks).clone();
    // A harmless trick is a valid edit only on an entry the sender may write.
    if (expect == Either && !t.valid) || (what.contains("Cyrillic") && !own.contains('a')) {
        return None;
    }
    Some(draft(format!("`{name}`: {what}"), t.sender, vec![t.put(Val::Str(text))], expect))
}

/// An entry of the document with one of its values bad, or a required one left out.
pub(super) fn bad_value(rng: &mut Rand, v: &View) -> Option<Draft> {
    let all: Vec<Template> = templates(rng, v)
        .into_iter()
        .filter(|t| !t.bad.is_empty() || t.fields.iter().any(|f| f.2))
        .collect();
    if all.is_empty() {
        return None;
    }
    let t = pick(rng, &all);
    let stamp = |mut parts: Vec<(String, String)>| {
        parts.push(("by".into(), q(t.sender.user())));
        parts.push(("at".into(), v.clock().to_string()));
        Val::Str(object(&parts))
    };
    if t.bad.is_empty() || rng.random_bool(0.1) {
        let required: Vec<&str> = t.fields.iter().filter(|f| f.2).map(|f| f.0).collect();
        let drop = *pick(rng, &required);
        let parts = t.parts().into_iter().filter(|(k, _)| k != drop).collect();
        let what = format!("`{}` without its `{drop}`", t.name());
        return Some(no(what, t.sender, vec![t.put(stamp(parts))]));
    }
    let (key, bad, why) = pick(rng, &t.bad);
    let mut parts: Vec<(String, String)> =
        t.parts().into_iter().filter(|(k, _)| k != key).collect();
    parts.push(((*key).to_owned(), bad.text()));
    let what = format!("`{}.{key}` {why}", t.name());
    Some(no(what, t.sender, vec![t.put(stamp(parts))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_keeps_its_fields_in_order_and_its_duplicate_keys() {
        let parts = vec![
            ("v".to_owned(), "1".to_owned()),
            ("by".to_owned(), "\"a\"".to_owned()),
            ("by".to_owned(), "\"b\"".to_owned()),
        ];
        assert_eq!(object(&parts), r#"{"v":1,"by":"a","by":"b"}"#);
    }
}
