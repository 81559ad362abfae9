//! SQL over a store's periods (`store_period`, `crate::kinds::store_periods`): which
//! territory held a store, and whether it was on the demo street or covered by R1, at a
//! past instant. The rules judged over past weeks and months build their queries from
//! these (docs/adr/0029-store-assignment-history.md); each expects the store as `s`.

/// SQL: the stores `s` the territory `?{territory}` has ever held (`store_period`).
pub(crate) fn ever_held_by(territory: usize) -> String {
    format!("s.id IN (SELECT a.store_id FROM store_period a WHERE a.territory = ?{territory})")
}

/// SQL: `column` of the store `s`'s period at the instant `at` (an SQL expression): its
/// `territory`, `demo_street` or `r1_covered` then; null before its first period
/// (`crate::kinds::store_periods`).
pub(crate) fn period_at(column: &str, at: &str) -> String {
    format!(
        "(SELECT a.{column} FROM store_period a WHERE a.store_id = s.id AND a.from_at <= {at}
          ORDER BY a.from_at DESC LIMIT 1)"
    )
}

/// SQL: the territory that held the store `s` at the instant `at`, or null before it was
/// imported.
pub(crate) fn held_at(at: &str) -> String {
    period_at("territory", at)
}

/// SQL: what [`held_at`] says, or the store's first territory for an instant before its
/// first assignment: a record dated before the store was imported (entered late, or
/// from a device whose clock ran behind) belongs to the territory it first joined.
pub(crate) fn credited_at(at: &str) -> String {
    format!(
        "COALESCE({}, (SELECT f.territory FROM store_period f WHERE f.store_id = s.id
          ORDER BY f.from_at LIMIT 1))",
        held_at(at)
    )
}
