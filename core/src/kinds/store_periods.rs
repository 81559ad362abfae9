//! A store's life as the rules over past weeks need it: which territory held it, whether it
//! was on the demo street, whether R1 covered it (not a small grocery, Z3), whether it was a
//! functional terminal and how it was rated (R3, R7, R8), from when. Read from every
//! `territory`, `demo_street`, `format`, `size`, `functional` and `rating` its document was
//! ever given (domain.md: "reassignment moves it, with its history"), so R1's weekly visit and
//! R5's walk over a month, and R4's spot checks, owe or credit a store as it was at the
//! instant judged, not as it is now.
//!
//! Decided (docs/adr/0029-store-assignment-history.md): for each of those fields, the value
//! that holds now is the document's current one, from its stamp; earlier values are the
//! entries written before that stamp, ordered by their stamps; an entry stamped at or after
//! the current one lost to it (two admins editing at once) and never held. The store is in
//! one state from one of those stamps until the next. Every store's fields are stamped (the
//! store's reader requires it), except that an optional one (`rating`) may be deleted: a
//! deletion holds from the time of the change that made it, with no value (docs/adr/0034:
//! a rating cleared in December leaves November's rating in November).

use std::collections::BTreeMap;

use automerge::ScalarValue;

use crate::doc::{DOC_ROOT, Doc};

/// The fields a period is made of.
const KEYS: [&str; 6] = [
    "territory",
    "demo_street",
    "format",
    "size",
    "functional",
    "rating",
];

/// One period of a store's life: from `from` (milliseconds) until the next period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Period {
    pub from: i64,
    pub territory: String,
    pub demo_street: bool,
    /// Not a small grocery store (format Z, size 3), which R1 exempts.
    pub r1_covered: bool,
    /// A functional terminal (R3, R7, R8).
    pub functional: bool,
    /// Its quarterly rating's code (R7) and the stamp it was given with, when rated.
    pub rating: Option<(String, i64)>,
}

/// The store's periods, oldest first, the current one last; a new period begins at each
/// stamp that changed one of the fields. Empty when the document holds no stamped
/// territory as text (the store's reader refuses it first).
pub(crate) fn periods(doc: &mut Doc) -> Vec<Period> {
    // The stamp each field's current value was written with: an earlier entry of the
    // field held before it, a later one lost to it.
    let mut current: BTreeMap<&str, (i64, ScalarValue)> = BTreeMap::new();
    for key in KEYS {
        if let Some(v) = doc.stamped(&DOC_ROOT, key) {
            current.insert(key, (v.current.at.millis(), v.current.value));
        }
    }
    if !current.contains_key("territory") {
        return Vec::new();
    }
    // A field deleted now (a rating cleared) holds no entry: its latest deletion is its
    // current state, with no value, from the time of the change that made it. Earlier
    // deletions are events like earlier entries; a later one lost to the current value.
    let deletions = doc.root_deletions(&KEYS);
    for (key, at) in &deletions {
        let Some(key) = KEYS.iter().find(|k| **k == key.as_str()) else {
            continue;
        };
        if doc.stamped(&DOC_ROOT, key).is_some() {
            continue;
        }
        let latest = current.entry(key).or_insert((*at, ScalarValue::Null));
        if *at > latest.0 {
            *latest = (*at, ScalarValue::Null);
        }
    }
    let before_current = |key: &str, at: i64| current.get(key).is_some_and(|(now, _)| at < *now);
    let mut events: Vec<(i64, String, ScalarValue)> = doc
        .root_writes(|key| KEYS.contains(&key))
        .into_iter()
        .filter(|(key, w)| before_current(key, w.at.millis()))
        .map(|(key, w)| (w.at.millis(), key, w.value))
        .chain(
            deletions
                .into_iter()
                .filter(|(key, at)| before_current(key, *at))
                .map(|(key, at)| (at, key, ScalarValue::Null)),
        )
        .collect();
    events.extend(
        current
            .iter()
            .map(|(key, (at, value))| (*at, (*key).to_owned(), value.clone())),
    );
    // By stamp; at one stamp, in a fixed order of the fields and their values.
    events.sort_by(|a, b| (a.0, &a.1, text(&a.2)).cmp(&(b.0, &b.1, text(&b.2))));
    let mut state: BTreeMap<String, ScalarValue> = BTreeMap::new();
    let mut rated_at = None;
    let mut periods: Vec<Period> = Vec::new();
    for (i, (at, key, value)) in events.iter().enumerate() {
        state.insert(key.clone(), value.clone());
        if key == "rating" {
            rated_at = Some(*at);
        }
        if events.get(i + 1).is_some_and(|next| next.0 == *at) {
            continue;
        }
        let Some(territory) = state.get("territory").and_then(text) else {
            continue;
        };
        let field = |k: &str| state.get(k).and_then(text).unwrap_or_default();
        let period = Period {
            from: *at,
            territory,
            demo_street: matches!(state.get("demo_street"), Some(ScalarValue::Boolean(true))),
            r1_covered: !(field("format") == "Z" && field("size") == "3"),
            functional: matches!(state.get("functional"), Some(ScalarValue::Boolean(true))),
            rating: state.get("rating").and_then(text).zip(rated_at),
        };
        let same = periods.last().is_some_and(|last| {
            let key = |p: &Period| {
                (
                    p.territory.clone(),
                    p.demo_street,
                    p.r1_covered,
                    p.functional,
                    p.rating.clone(),
                )
            };
            key(last) == key(&period)
        });
        if !same {
            periods.push(period);
        }
    }
    periods
}

fn text(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Str(s) => Some(s.to_string()),
        _ => None,
    }
}
