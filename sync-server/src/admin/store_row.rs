//! One row of a store file: the header's columns, reading a row's text into a `NewStore`,
//! and how a row differs from a stored store. Values are only parsed here; core's
//! `create_store` validates them when the import creates the store.

use std::collections::HashMap;

use fieldsync_core::{
    Datum, GeoPoint, MarketType, NewStore, Store, StoreFormat, StoreSize, TerminalRating, ValueTier,
};

use crate::error::{AppError, AppResult};

/// The columns of a store file, in the order the demo file writes them.
pub const COLUMNS: [&str; 16] = [
    "licence",
    "name",
    "owner",
    "phone",
    "address",
    "lat",
    "lng",
    "format",
    "market",
    "size",
    "tier",
    "monthly_volume",
    "demo_street",
    "functional_terminal",
    "rating",
    "territory",
];

/// Columns a file may leave out: `datum` (`wgs84` or `gcj02`; empty or absent is WGS-84).
pub const OPTIONAL_COLUMNS: [&str; 1] = ["datum"];

/// The columns of the values [`parse_row`] takes, in order: [`COLUMNS`], then
/// [`OPTIONAL_COLUMNS`] (an empty value where the file lacks one).
pub(crate) fn value_columns() -> impl Iterator<Item = &'static str> {
    COLUMNS.into_iter().chain(OPTIONAL_COLUMNS)
}

/// A refused row: where, which column (none for the row as a whole) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

/// Where each column is; refuses a header that lacks, repeats or adds a column.
pub(crate) fn header_positions(
    header: &csv::ByteRecord,
) -> AppResult<HashMap<&'static str, usize>> {
    let mut positions = HashMap::new();
    let mut unknown = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(raw);
        let name = name.trim_start_matches('\u{feff}').trim().to_lowercase();
        match value_columns().find(|c| *c == name) {
            Some(c) if positions.insert(c, i).is_some() => {
                return Err(AppError::BadRequest(format!(
                    "line 1: column `{c}` appears twice in the header"
                )));
            }
            Some(_) => {}
            None => unknown.push(name),
        }
    }
    let missing: Vec<&str> = COLUMNS
        .into_iter()
        .filter(|c| !positions.contains_key(c))
        .collect();
    if !unknown.is_empty() || !missing.is_empty() {
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("lacks `{}`", missing.join("`, `")));
        }
        if !unknown.is_empty() {
            problems.push(format!("has unknown `{}`", unknown.join("`, `")));
        }
        return Err(AppError::BadRequest(format!(
            "line 1: the header {}; it must name the columns {} (and may name {})",
            problems.join(" and "),
            COLUMNS.join(","),
            OPTIONAL_COLUMNS.join(",")
        )));
    }
    Ok(positions)
}

/// Parses one row (its values in [`value_columns`] order); every column that cannot be
/// read is reported, not just the first. Core's validation comes after, in `create_store`.
pub(crate) fn parse_row(values: &[&str], line: u64) -> Result<NewStore, Vec<BadRow>> {
    let text = |name: &str| -> &str {
        value_columns()
            .position(|c| c == name)
            .and_then(|i| values.get(i))
            .copied()
            .unwrap_or_default()
    };
    let mut errors = Vec::new();
    let mut note = |name: &str, problem: Option<&String>| {
        if let Some(reason) = problem {
            errors.push(BadRow {
                line,
                column: Some(name.to_owned()),
                reason: reason.clone(),
            });
        }
    };
    let lat = number(text("lat"));
    let lng = number(text("lng"));
    let format = code(text("format"), "Z B S N Y F Q", StoreFormat::parse);
    let market = code(text("market"), "C X", MarketType::parse);
    let size = code(text("size"), "1 2 3", StoreSize::parse);
    let tier = code(text("tier"), "A B C", ValueTier::parse);
    let volume = whole(text("monthly_volume"));
    let demo = flag(text("demo_street"));
    let functional = flag(text("functional_terminal"));
    let rated = rating(text("rating"));
    let datum = datum(text("datum"));
    note("lat", lat.as_ref().err());
    note("lng", lng.as_ref().err());
    note("format", format.as_ref().err());
    note("market", market.as_ref().err());
    note("size", size.as_ref().err());
    note("tier", tier.as_ref().err());
    note("monthly_volume", volume.as_ref().err());
    note("demo_street", demo.as_ref().err());
    note("functional_terminal", functional.as_ref().err());
    note("rating", rated.as_ref().err());
    note("datum", datum.as_ref().err());
    let (
        Ok(lat),
        Ok(lng),
        Ok(format),
        Ok(market),
        Ok(size),
        Ok(tier),
        Ok(monthly_volume),
        Ok(demo_street),
        Ok(functional_terminal),
        Ok(rating),
        Ok(datum),
    ) = (
        lat, lng, format, market, size, tier, volume, demo, functional, rated, datum,
    )
    else {
        return Err(errors);
    };
    Ok(NewStore {
        licence: text("licence").to_owned(),
        name: text("name").to_owned(),
        owner: text("owner").to_owned(),
        phone: text("phone").to_owned(),
        address: text("address").to_owned(),
        location: GeoPoint { lat, lng, datum },
        geofence_m: None,
        format,
        market,
        size,
        tier,
        monthly_volume,
        demo_street,
        functional_terminal,
        rating,
        territory: text("territory").to_owned(),
    })
}

fn number(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("`{v}` is not a number"))
}

fn whole(v: &str) -> Result<i64, String> {
    v.parse::<i64>()
        .map_err(|_| format!("`{v}` is not a whole number"))
}

fn code<T>(
    v: &str,
    allowed: &str,
    parse: fn(&str) -> fieldsync_core::Result<T>,
) -> Result<T, String> {
    parse(&v.to_uppercase()).map_err(|_| format!("`{v}` is not one of {allowed}"))
}

fn flag(v: &str) -> Result<bool, String> {
    match v.to_lowercase().as_str() {
        "" | "0" | "no" | "n" | "false" | "否" => Ok(false),
        "1" | "yes" | "y" | "true" | "是" => Ok(true),
        _ => Err(format!("`{v}` is not yes or no (1/0, yes/no, true/false)")),
    }
}

fn rating(v: &str) -> Result<Option<TerminalRating>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    TerminalRating::parse(&v.to_lowercase())
        .map(Some)
        .map_err(|_| {
            format!("`{v}` is not one of excellent, good, qualified, unqualified (or empty)")
        })
}

fn datum(v: &str) -> Result<Datum, String> {
    if v.is_empty() {
        return Ok(Datum::Wgs84);
    }
    Datum::parse("datum", &v.to_lowercase().replace('-', ""))
        .map_err(|_| format!("`{v}` is not one of wgs84, gcj02 (or empty: wgs84)"))
}

/// The CSV column a core validation error is about (`location.lat` is `lat`).
pub(crate) fn column_of(field: &str) -> &str {
    let field = field.strip_prefix("location.").unwrap_or(field);
    match field {
        "functional" => "functional_terminal",
        "location" => "lat",
        other => other,
    }
}

/// Columns in which a row differs from the stored store.
pub(crate) fn differences(stored: &Store, row: &NewStore) -> Vec<&'static str> {
    let same_f64 = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let checks: [(&'static str, bool); 16] = [
        ("name", stored.name == row.name),
        ("owner", stored.owner == row.owner),
        ("phone", stored.phone == row.phone),
        ("address", stored.address == row.address),
        ("lat", same_f64(stored.location.lat, row.location.lat)),
        ("lng", same_f64(stored.location.lng, row.location.lng)),
        ("datum", stored.location.datum == row.location.datum),
        ("format", stored.format == row.format),
        ("market", stored.market == row.market),
        ("size", stored.size == row.size),
        ("tier", stored.tier == row.tier),
        (
            "monthly_volume",
            stored.monthly_volume == row.monthly_volume,
        ),
        ("demo_street", stored.demo_street == row.demo_street),
        (
            "functional_terminal",
            stored.functional_terminal == row.functional_terminal,
        ),
        ("rating", stored.rating == row.rating),
        ("territory", stored.territory == row.territory),
    ];
    checks
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(c, _)| c)
        .collect()
}
