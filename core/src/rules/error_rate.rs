//! R3's error rate of an inventory count: Σ|book − counted| ÷ Σ book over its counted
//! lines, in exact integers.
//!
//! Three states, never confused: nothing counted yet (no line has a counted quantity); a
//! book total of 0 (the rate is undefined, but the difference is real and reported: a shop
//! whose book says 0 and whose shelf holds 40 packs is off by 40); and a defined rate.

/// R3: a functional terminal's count may be off by at most this many percent.
pub const MAX_COUNT_ERROR_PERCENT: i64 = 10;

/// R3's error rate of a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorRate {
    /// No line has a counted quantity: there is nothing to judge yet.
    NothingCounted,
    /// Lines are counted but their book total is 0: no rate can be computed and the count
    /// is reported so, with the real Σ|book − counted|.
    Undefined { abs_diff: i64 },
    /// Σ|book − counted| over Σ book (> 0).
    Rate { abs_diff: i64, book_total: i64 },
}

impl ErrorRate {
    /// The rate of `(book, counted)` pairs, one per counted line.
    pub fn of(lines: impl IntoIterator<Item = (i64, i64)>) -> ErrorRate {
        let (mut abs_diff, mut book_total, mut counted) = (0i64, 0i64, 0usize);
        for (book, qty) in lines {
            abs_diff = abs_diff.saturating_add(book.saturating_sub(qty).saturating_abs());
            book_total = book_total.saturating_add(book);
            counted += 1;
        }
        ErrorRate::from_totals(counted, abs_diff, book_total)
    }

    /// The rate from totals kept in an index: `counted_lines` lines with a counted
    /// quantity, their Σ|book − counted| and Σ book.
    pub fn from_totals(counted_lines: usize, abs_diff: i64, book_total: i64) -> ErrorRate {
        if counted_lines == 0 {
            ErrorRate::NothingCounted
        } else if book_total <= 0 {
            ErrorRate::Undefined { abs_diff }
        } else {
            ErrorRate::Rate {
                abs_diff,
                book_total,
            }
        }
    }

    /// Σ|book − counted| over the counted lines (0 when nothing is counted).
    pub fn abs_diff(self) -> i64 {
        match self {
            ErrorRate::NothingCounted => 0,
            ErrorRate::Undefined { abs_diff } | ErrorRate::Rate { abs_diff, .. } => abs_diff,
        }
    }

    /// Σ book over the counted lines.
    pub fn book_total(self) -> i64 {
        match self {
            ErrorRate::Rate { book_total, .. } => book_total,
            ErrorRate::NothingCounted | ErrorRate::Undefined { .. } => 0,
        }
    }

    /// As a fraction (0.1 is 10%), when defined.
    pub fn ratio(self) -> Option<f64> {
        match self {
            ErrorRate::Rate {
                abs_diff,
                book_total,
            } => Some(abs_diff as f64 / book_total as f64),
            ErrorRate::NothingCounted | ErrorRate::Undefined { .. } => None,
        }
    }

    /// R3: more than 10% is a violation; exactly 10% is not. Compared in integers. An
    /// undefined rate is not a violation by this test; rule queries report it beside them.
    pub fn exceeds_limit(self) -> bool {
        match self {
            ErrorRate::Rate {
                abs_diff,
                book_total,
            } => {
                i128::from(abs_diff) * 100
                    > i128::from(book_total) * i128::from(MAX_COUNT_ERROR_PERCENT)
            }
            ErrorRate::NothingCounted | ErrorRate::Undefined { .. } => false,
        }
    }
}

/// R3's rate of a count, over its counted lines.
impl crate::InventoryCount {
    /// The error rate over the lines counted so far; once finished, over all of them, a
    /// line without a counted quantity (added on another phone while the count was being
    /// finished) counting as found empty: leaving a line out never improves a rate.
    pub fn error_rate(&self) -> ErrorRate {
        let finished = self.finished.is_some();
        ErrorRate::of(self.lines.iter().filter_map(|l| {
            let counted = l.counted.as_ref().map(|c| *c.value());
            counted.or(finished.then_some(0)).map(|c| (l.book, c))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorRate;

    #[test]
    fn exactly_ten_percent_is_within_the_limit_and_a_hair_more_is_not() {
        let at_limit = ErrorRate::of([(60, 54), (40, 36)]); // 10 of 100
        assert_eq!(
            at_limit,
            ErrorRate::Rate {
                abs_diff: 10,
                book_total: 100
            }
        );
        assert!(!at_limit.exceeds_limit());
        let over = ErrorRate::of([(1000, 899)]); // 10.1%
        assert!(over.exceeds_limit());
    }

    #[test]
    fn surpluses_and_shortages_do_not_cancel_out() {
        let rate = ErrorRate::of([(50, 60), (50, 40)]);
        assert_eq!(
            rate,
            ErrorRate::Rate {
                abs_diff: 20,
                book_total: 100
            }
        );
        assert!(rate.exceeds_limit());
    }

    #[test]
    fn a_count_with_no_book_stock_reports_its_difference_and_an_undefined_rate() {
        let rate = ErrorRate::of([(0, 5), (0, 0), (0, 35)]);
        assert_eq!(rate, ErrorRate::Undefined { abs_diff: 40 });
        assert_eq!(rate.abs_diff(), 40);
        assert_eq!(rate.ratio(), None);
        assert!(!rate.exceeds_limit());
    }

    #[test]
    fn a_count_with_nothing_counted_is_not_an_undefined_rate() {
        let none = ErrorRate::of(std::iter::empty());
        assert_eq!(none, ErrorRate::NothingCounted);
        assert_ne!(none, ErrorRate::of([(0, 0)]));
        assert_eq!(
            ErrorRate::of([(0, 0)]),
            ErrorRate::Undefined { abs_diff: 0 }
        );
        assert_eq!(none.ratio(), None);
    }

    #[test]
    fn totals_from_the_index_give_the_same_state_as_the_lines() {
        for lines in [vec![], vec![(0, 7)], vec![(10, 7), (0, 2)]] {
            let abs: i64 = lines.iter().map(|(b, c): &(i64, i64)| (b - c).abs()).sum();
            let book: i64 = lines.iter().map(|(b, _)| b).sum();
            assert_eq!(
                ErrorRate::from_totals(lines.len(), abs, book),
                ErrorRate::of(lines.clone())
            );
        }
    }
}
