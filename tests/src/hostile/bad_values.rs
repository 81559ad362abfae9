//! Bad values of the fields of stamped entries, each with what makes it bad: wrong JSON
//! types, numbers out of range or not numbers at all (`NaN`, `1e999`), codes in another
//! case or with invisible characters, strings too long or holding control characters, or
//! showing nothing.

use serde_json::Value as Json;

use super::HUGE;

/// A JSON value inside an entry, raw text where JSON has no value (`NaN`), or a string of
/// this many characters (made only when written).
#[derive(Clone, Debug)]
pub(super) enum J {
    V(Json),
    Raw(&'static str),
    Long(usize),
}

impl J {
    pub(super) fn text(&self) -> String {
        match self {
            J::V(v) => v.to_string(),
            J::Raw(s) => (*s).to_owned(),
            J::Long(n) => format!("\"{}\"", "x".repeat(*n)),
        }
    }
}

pub(super) fn j(v: impl Into<Json>) -> J {
    J::V(v.into())
}

pub(super) fn reasons(values: Vec<(J, &str)>) -> Vec<(J, String)> {
    values
        .into_iter()
        .map(|(v, why)| (v, why.to_owned()))
        .collect()
}

/// Bad values of a string of `min..=max` characters.
pub(super) fn bad_str(min: usize, max: usize, required: bool) -> Vec<(J, String)> {
    let mut out = vec![
        (J::Long(HUGE), format!("a {HUGE}-character string")),
        (
            J::Long(max + 1),
            format!("{} characters (at most {max})", max + 1),
        ),
    ];
    out.extend(reasons(vec![
        (j("bell\u{7}ring"), "a control character"),
        (j("\u{1b}[2J"), "a terminal escape"),
        (j(7), "a number"),
        (j(true), "a boolean"),
    ]));
    if min > 0 {
        out.extend(reasons(vec![
            (j(""), "empty"),
            (j("   "), "blank"),
            (j("\u{200b}\u{200b}"), "zero-width spaces only"),
        ]));
    }
    if required {
        out.push((J::Raw("null"), "null".into()));
    }
    out
}

/// Bad values of a code of `codes`.
pub(super) fn bad_code(codes: &[&str]) -> Vec<(J, String)> {
    let code = codes[0];
    let mut out = reasons(vec![
        (j("banana"), "`banana`"),
        (j(format!(" {code}")), "a leading space"),
        (j(format!("{code} ")), "a trailing space"),
        (j(format!("{code}\u{200b}")), "a zero-width space"),
        (j(""), "empty"),
        (j(1), "a number"),
        (J::Raw("null"), "null"),
    ]);
    for other in [code.to_uppercase(), code.to_lowercase()] {
        if !codes.contains(&other.as_str()) {
            out.push((j(other), "in another case".into()));
        }
    }
    out
}

/// Bad values of a number in `min..=max`.
pub(super) fn bad_num(min: f64, max: f64) -> Vec<(J, String)> {
    let mut out = vec![
        (j(max + 110.0), format!("{} (at most {max})", max + 110.0)),
        (j(min - 1.0), format!("{} (at least {min})", min - 1.0)),
    ];
    out.extend(reasons(vec![
        (J::Raw("NaN"), "NaN"),
        (J::Raw("1e999"), "1e999"),
        (j(format!("{min}")), "a string"),
        (j(true), "a boolean"),
        (J::Raw("null"), "null"),
    ]));
    out
}

/// Bad values of a whole quantity in `0..=max`.
pub(super) fn bad_quantity(max: i64) -> Vec<(J, String)> {
    let mut out = vec![(j(max + 1), format!("over {max}"))];
    out.extend(reasons(vec![
        (j(-500), "negative"),
        (j(-1), "negative"),
        (j(12.5), "a fraction"),
        (J::Raw("1e3"), "a float"),
        (j("12"), "a string"),
        (j(true), "a boolean"),
        (J::Raw("null"), "null"),
    ]));
    out
}

pub(super) fn bad_bool() -> Vec<(J, String)> {
    reasons(vec![
        (j("true"), "a string"),
        (j(1), "a number"),
        (J::Raw("null"), "null"),
    ])
}
