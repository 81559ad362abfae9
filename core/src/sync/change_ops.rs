//! How many operations a change says it holds, read before Automerge reads them.
//!
//! A change's operations are stored in columns, each run-length encoded: a few bytes can
//! say "this value, 2^50 times". Automerge verifies a change by walking every operation
//! its action column lists, and reads every predecessor each one lists into a list
//! (`Change::try_from`), so a change of a hundred bytes could keep a server thread busy for
//! hours or make it allocate terabytes. [`declared_ops`] reads only the chunk's header, the
//! action column's run lengths and the predecessor counts, and stops counting past a
//! bound, so that the server can refuse such a change before Automerge walks it.
//!
//! The layout read here is Automerge's binary change format (a change chunk's data):
//! dependencies, actor, sequence number, start op, time, message, other actors, then the
//! columns' specifications and lengths, then the columns' data one after the other.

/// The action column's specification: column 4, integers, not deflated.
const ACTION_COLUMN: u64 = (4 << 4) | 2;
/// The predecessors' group column: column 7, group counts (how many predecessors each
/// operation lists; Automerge reads every one into a list).
const PRED_GROUP_COLUMN: u64 = 7 << 4;

/// What a change's action column declares.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Declared {
    /// This many operations, at most the cap.
    Ops(u64),
    /// More operations than the cap (counting stopped there).
    Over,
    /// The bytes are not laid out as a change: Automerge refuses them itself.
    Unreadable,
}

/// The operations `data` (a change chunk's data, after its header) declares in its action
/// column, plus the predecessors its group column lists for them, counted up to `cap`.
pub(crate) fn declared_ops(data: &[u8], cap: u64) -> Declared {
    let Some(columns) = columns(data) else {
        return Declared::Unreadable;
    };
    let mut total: u64 = 0;
    for (spec, column) in columns {
        let counted = match spec {
            ACTION_COLUMN => run_lengths(column, cap, false),
            PRED_GROUP_COLUMN => run_lengths(column, cap, true),
            _ => continue,
        };
        match counted {
            Declared::Ops(n) => total = total.saturating_add(n),
            other => return other,
        }
        if total > cap {
            return Declared::Over;
        }
    }
    Declared::Ops(total)
}

/// Each column's specification and bytes, in the order stored.
fn columns(data: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut r = data;
    let deps = uleb(&mut r)?;
    skip(&mut r, deps.checked_mul(32)?)?;
    let actor = uleb(&mut r)?;
    skip(&mut r, actor)?;
    uleb(&mut r)?; // sequence number
    uleb(&mut r)?; // start op
    sleb(&mut r)?; // time
    let message = uleb(&mut r)?;
    skip(&mut r, message)?;
    let others = uleb(&mut r)?;
    // Bounded: each actor read consumes at least a byte.
    for _ in 0..others.min(r.len() as u64) {
        let len = uleb(&mut r)?;
        skip(&mut r, len)?;
    }
    let columns = uleb(&mut r)?;
    let mut specs = Vec::new();
    // Bounded: each specification read consumes at least two bytes.
    for _ in 0..columns.min(r.len() as u64) {
        specs.push((uleb(&mut r)?, uleb(&mut r)?));
    }
    let mut out = Vec::with_capacity(specs.len());
    for (spec, len) in specs {
        let len = usize::try_from(len).ok()?;
        out.push((spec, r.get(..len)?));
        r = r.get(len..)?;
    }
    Some(out)
}

/// The number of values of a run-length encoded column of unsigned integers (`summed`:
/// the sum of those values), counted up to `cap`.
fn run_lengths(mut column: &[u8], cap: u64, summed: bool) -> Declared {
    let mut total: u64 = 0;
    // Bounded: every run read consumes at least a byte.
    while !column.is_empty() {
        let Some((count, sum)) = next_run(&mut column) else {
            return Declared::Unreadable;
        };
        let values = if summed { sum } else { count };
        total = total.saturating_add(values);
        if total > cap {
            return Declared::Over;
        }
    }
    Declared::Ops(total)
}

/// How many values the run at the start of `column` holds, and their sum, consuming it.
fn next_run(column: &mut &[u8]) -> Option<(u64, u64)> {
    let count = sleb(column)?;
    Some(match count {
        // A run of one value.
        n if n > 0 => {
            let value = uleb(column)?;
            (n.unsigned_abs(), n.unsigned_abs().saturating_mul(value))
        }
        // That many literal values, each at least a byte.
        n if n < 0 => {
            let n = n.unsigned_abs();
            if n > column.len() as u64 {
                return None;
            }
            let mut sum: u64 = 0;
            // Bounded by the check above.
            for _ in 0..n {
                sum = sum.saturating_add(uleb(column)?);
            }
            (n, sum)
        }
        // A run of nulls.
        _ => (uleb(column)?, 0),
    })
}

fn uleb(r: &mut &[u8]) -> Option<u64> {
    leb128::read::unsigned(r).ok()
}

fn sleb(r: &mut &[u8]) -> Option<i64> {
    leb128::read::signed(r).ok()
}

fn skip(r: &mut &[u8], n: u64) -> Option<()> {
    let n = usize::try_from(n).ok()?;
    *r = r.get(n..)?;
    Some(())
}
