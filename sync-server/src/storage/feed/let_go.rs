//! What leaves a device's working set as the weeks go by (docs/protocol.md, "The working
//! set"; ADR 0023): the visits and counts of its scope that happened between what it holds
//! and the new floor, named by the server from its own record of when each happened.

use super::FeedTx;
use crate::error::AppResult;
use crate::storage::DeviceInfo;

/// The most documents one response tells to let go.
const LET_GO_MAX: usize = 10_000;

/// The visits and counts of the device's scope that happened at or after `held` and before
/// `floor`: those that leave its working set in this response. When there are more than one
/// response lists, the floor moves only as far as the first one left out (the next sync
/// goes on from there). Returns their ids and the floor.
pub(super) fn left_window(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    held: i64,
    floor: i64,
) -> AppResult<(Vec<String>, i64)> {
    let rows = tx.left_window(device, held, floor, LET_GO_MAX as i64 + 1)?;
    Ok(cut_let_go(rows, floor, LET_GO_MAX))
}

/// The ids of `rows` (sorted by when they happened) that one response lists, at most
/// `max`, and the floor that goes with them: when more than `max` left, the floor stops at
/// the first one not listed, and documents that happened at that same instant wait for the
/// next sync with it (a floor never splits one instant).
fn cut_let_go(mut rows: Vec<(String, i64)>, floor: i64, max: usize) -> (Vec<String>, i64) {
    let floor = match rows.get(max) {
        Some((_, cut)) => {
            let cut = *cut;
            rows.retain(|(_, at)| *at < cut);
            cut
        }
        None => floor,
    };
    (rows.into_iter().map(|(id, _)| id).collect(), floor)
}

#[cfg(test)]
mod tests {
    use super::cut_let_go;

    fn rows(at: &[i64]) -> Vec<(String, i64)> {
        at.iter()
            .enumerate()
            .map(|(n, a)| (format!("d{n}"), *a))
            .collect()
    }

    #[test]
    fn what_fits_in_one_response_is_listed_whole_with_the_floor_asked_for() {
        assert_eq!(
            cut_let_go(rows(&[1, 2, 3]), 10, 3),
            (vec!["d0".into(), "d1".into(), "d2".into()], 10)
        );
    }

    #[test]
    fn more_than_one_response_holds_moves_the_floor_only_to_the_first_left_out_never_splitting_an_instant()
     {
        // d2 and d3 happened at the same instant as d4, the first one left out.
        assert_eq!(
            cut_let_go(rows(&[1, 2, 5, 5, 5, 7]), 10, 4),
            (vec!["d0".into(), "d1".into()], 5)
        );
        // Every listed one at the instant of the first left out: nothing moves yet.
        assert_eq!(
            cut_let_go(rows(&[5, 5, 5]), 10, 2),
            (Vec::<String>::new(), 5)
        );
    }
}
