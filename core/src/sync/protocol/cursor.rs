//! The feed cursor: the opaque string a server hands a device with every response and reads
//! back from its next request (docs/protocol.md, "Cursors").

use crate::error::{Error, Result};

/// Where a device's feed stands: what the `cursor` string of a
/// [`SyncResponse`](super::SyncResponse) says.
///
/// A client treats the string as opaque and sends it back as given; the server parses it.
/// Numeric cursors (`"1234"`) are positions in the server's log; a first sync instead
/// pages through the device's scope document by document, first what a new phone needs to
/// be used (`"n<upto>:<since>:<doc>"`), then the rest (`"r<upto>:<since>:<doc>"`); a first
/// sync of a working set writes its floor too (`"N<upto>:<since>:<floor>:<doc>"`,
/// `"R…"`); servers before that ordering gave `"d<upto>:<doc>"`, which still reads
/// (docs/protocol.md, "A first sync").
///
/// A server may follow any of them with `~` and a mark of the log row at the cursor's
/// position ([`split_mark`]), by which it knows a cursor read from another log (a server
/// restored from a backup whose log has grown past the cursor again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedCursor {
    /// Every row of the log up to this position was processed.
    Log(u64),
    /// Inside a first sync's pass in id order: every document in scope whose id sorts at
    /// or before `after` arrived with all its changes up to log position `upto`; the rest
    /// of the pass and then the log after `upto` remain.
    Documents { upto: u64, after: String },
    /// Inside a first sync's ordered pass: every document of the pass's current part
    /// ([`Part`]) whose id sorts at or before `after` (`""`: none yet) arrived with all
    /// its changes up to `upto`; visits and counts that happened before `since` (ms since
    /// the epoch) are history, and those that happened before `floor`, when there is one,
    /// are outside the device's working set and not sent at all. The rest of the part,
    /// the later part, then the log after `upto` remain.
    Ordered {
        upto: u64,
        since: i64,
        floor: Option<i64>,
        part: Part,
        after: String,
    },
}

/// The two parts of a first sync's ordered pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// What a new phone needs to be used: every store, shelf display, scorecard, task and
    /// complaint, and the visits and counts that happened since the pass's `since`.
    FirstUse,
    /// The history: visits and counts that happened before `since`.
    History,
}

/// The length of a cursor's mark, in lowercase hexadecimal digits.
pub const MARK_LEN: usize = 16;

/// A cursor's text without its mark, and the mark (see [`FeedCursor`]), if it has one.
pub fn split_mark(text: &str) -> (&str, Option<&str>) {
    match text.rsplit_once('~') {
        Some((cursor, mark)) => (cursor, Some(mark)),
        None => (text, None),
    }
}

/// Whether `mark` is one a server writes: [`MARK_LEN`] lowercase hexadecimal digits.
fn well_formed_mark(mark: &str) -> bool {
    mark.len() == MARK_LEN && mark.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl FeedCursor {
    /// Reads a cursor a server gave, with or without its mark; `None` (a first sync) is the
    /// start of the log.
    pub fn parse(cursor: Option<&str>) -> Result<FeedCursor> {
        let Some(marked) = cursor else {
            return Ok(FeedCursor::Log(0));
        };
        let (text, mark) = split_mark(marked);
        if mark.is_some_and(|m| !well_formed_mark(m)) {
            return Err(Error::invalid(
                "cursor",
                format!(
                    "`{}` is not one this server gave",
                    crate::kinds::shape::quote(marked)
                ),
            ));
        }
        let bad = || {
            Error::invalid(
                "cursor",
                format!(
                    "`{}` is not one this server gave",
                    crate::kinds::shape::quote(text)
                ),
            )
        };
        if let Some(rest) = text.strip_prefix('d') {
            let (upto, after) = rest.split_once(':').ok_or_else(bad)?;
            let upto = upto.parse::<u64>().map_err(|_| bad())?;
            if after.is_empty() {
                return Err(bad());
            }
            return Ok(FeedCursor::Documents {
                upto,
                after: after.to_owned(),
            });
        }
        let (part, with_floor) = match text.as_bytes().first() {
            Some(b'n') => (Some(Part::FirstUse), false),
            Some(b'r') => (Some(Part::History), false),
            Some(b'N') => (Some(Part::FirstUse), true),
            Some(b'R') => (Some(Part::History), true),
            _ => (None, false),
        };
        if let Some(part) = part {
            let rest = text.get(1..).ok_or_else(bad)?;
            let (upto, rest) = rest.split_once(':').ok_or_else(bad)?;
            let (since, rest) = rest.split_once(':').ok_or_else(bad)?;
            let (floor, after) = if with_floor {
                let (floor, after) = rest.split_once(':').ok_or_else(bad)?;
                (Some(floor.parse::<i64>().map_err(|_| bad())?), after)
            } else {
                (None, rest)
            };
            return Ok(FeedCursor::Ordered {
                upto: upto.parse::<u64>().map_err(|_| bad())?,
                since: since.parse::<i64>().map_err(|_| bad())?,
                floor,
                part,
                after: after.to_owned(),
            });
        }
        text.parse::<u64>().map(FeedCursor::Log).map_err(|_| bad())
    }

    /// The log position this cursor has fully processed up to (for a pass, none of the log
    /// after `upto`).
    pub fn position(&self) -> u64 {
        match self {
            FeedCursor::Log(seq) => *seq,
            FeedCursor::Documents { upto, .. } | FeedCursor::Ordered { upto, .. } => *upto,
        }
    }
}

impl Default for FeedCursor {
    /// The start of the log: a first sync.
    fn default() -> Self {
        FeedCursor::Log(0)
    }
}

impl std::fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedCursor::Log(seq) => write!(f, "{seq}"),
            FeedCursor::Documents { upto, after } => write!(f, "d{upto}:{after}"),
            FeedCursor::Ordered {
                upto,
                since,
                floor,
                part,
                after,
            } => match (part, floor) {
                (Part::FirstUse, None) => write!(f, "n{upto}:{since}:{after}"),
                (Part::History, None) => write!(f, "r{upto}:{since}:{after}"),
                (Part::FirstUse, Some(floor)) => write!(f, "N{upto}:{since}:{floor}:{after}"),
                (Part::History, Some(floor)) => write!(f, "R{upto}:{since}:{floor}:{after}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_of_every_kind_read_back_as_written_and_old_numeric_cursors_still_parse() -> Result<()>
    {
        let doc = "01a20b3f-ee45-72dd-98de-d03f0aca810b";
        for cursor in [
            FeedCursor::Log(0),
            FeedCursor::Log(42),
            FeedCursor::Documents {
                upto: 7,
                after: doc.into(),
            },
            FeedCursor::Ordered {
                upto: 7,
                since: 1_764_000_000_000,
                floor: None,
                part: Part::FirstUse,
                after: String::new(),
            },
            FeedCursor::Ordered {
                upto: 0,
                since: -5,
                floor: None,
                part: Part::History,
                after: doc.into(),
            },
            FeedCursor::Ordered {
                upto: 9,
                since: 1_764_000_000_000,
                floor: Some(1_761_000_000_000),
                part: Part::FirstUse,
                after: String::new(),
            },
            FeedCursor::Ordered {
                upto: 9,
                since: 1_764_000_000_000,
                floor: Some(-1),
                part: Part::History,
                after: "a:b".into(),
            },
        ] {
            assert_eq!(FeedCursor::parse(Some(&cursor.to_string()))?, cursor);
        }
        assert_eq!(FeedCursor::parse(None)?, FeedCursor::Log(0));
        assert_eq!(FeedCursor::parse(Some("1234"))?, FeedCursor::Log(1234));
        assert_eq!(
            FeedCursor::parse(Some("1234~0123456789abcdef"))?,
            FeedCursor::Log(1234)
        );
        assert_eq!(
            split_mark("n7:5:a~0123456789abcdef"),
            ("n7:5:a", Some("0123456789abcdef"))
        );
        assert_eq!(split_mark("1234"), ("1234", None));
        for bad in [
            "",
            "x",
            "-1",
            "d",
            "d12",
            "d12:",
            "dx:abc",
            "12:abc",
            "n",
            "n12",
            "n12:",
            "n12:x:",
            "nx:5:",
            "r:5:a",
            "r-1:5:a",
            "n 12:5:a",
            "r12:5",
            "N12:5:a",
            "N12:5:",
            "R12:5:x:a",
            "N12:5: 6:a",
            "Nx:5:6:a",
            "12~",
            "12~0123456789abcdeF",
            "12~0123456789abcde",
            "12~0123456789abcdef0",
            "~0123456789abcdef",
            "12~0123~456789abcdef",
        ] {
            assert!(FeedCursor::parse(Some(bad)).is_err(), "{bad}");
        }
        Ok(())
    }
}
