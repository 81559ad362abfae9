//! A phone whose clock has fallen behind the record it edits: the edit is refused on the
//! phone, naming the clock, rather than saved and then refused by the server for ever
//! (with every later edit of the record, which builds on it).

use fieldsync_core::fixtures::{at, device, routine_visit, sample_store};
use fieldsync_core::{Error, Result};

/// Shown to guard the phone's check: without it the notes were saved (and the server
/// would have refused them, `clock`, at every retry): the test failed at the first assert.
#[test]
fn an_edit_stamped_more_than_half_an_hour_before_the_change_it_builds_on_is_refused_naming_the_clock()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let now = at("2026-11-23T09:00:00+08:00");
    let (phone, clock) = device(dir.path().join("phone.db"), "am-li", now)?;
    let store = phone.create_store(sample_store("am-li", 1))?;
    let visit = phone.create_visit(routine_visit(&store, now))?;
    clock.set(at("2026-11-23T08:29:00+08:00"));
    let refused = phone.set_visit_notes(&visit, "with the clock behind");
    match refused {
        Err(Error::InvalidField { field, reason }) => {
            assert_eq!(field, "clock");
            assert!(reason.contains("set the phone's clock"), "{reason}");
        }
        other => panic!("expected the clock named, got {other:?}"),
    }
    assert_eq!(phone.visit(&visit)?.notes, "", "nothing was written");
    // Within the drift the server allows, the edit is saved.
    clock.set(at("2026-11-23T08:31:00+08:00"));
    phone.set_visit_notes(&visit, "with the clock right")?;
    assert_eq!(phone.visit(&visit)?.notes, "with the clock right");
    Ok(())
}
