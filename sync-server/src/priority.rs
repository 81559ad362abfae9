//! Who comes first on a small machine: a phone's sync before the console's pages.
//!
//! The console's threads already run under the lowest CPU priority
//! (`console/background.rs`), which settles who waits when both want a core. It does not
//! keep them off the other core: on a quiet 2-core server a week offline pushed while an
//! overview was computed took 1.3–1.5x as long at any priority (docs/benchmarks.md, "The
//! console's cost to a push"), though the push's CPU time was the same. So the console
//! also steps aside: a sync's storage work (a push applied, a feed read) is counted while
//! it runs, and background work checks the count between its steps (one account
//! manager's figures, one page of the replica's pull) and waits while any runs, at most
//! [`STEP_ASIDE_MAX`] a step and [`JOB_WAIT_MAX`] in all for one job (a page), so that a
//! stream of syncs slows a supervisor's page by at most that much and never stops it.
//!
//! Work done on a background thread is never counted, so the console's own reads of the
//! feed do not make it wait for itself.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The longest one step of background work waits for syncs.
pub const STEP_ASIDE_MAX: Duration = Duration::from_millis(50);
/// The longest one background job (a console page) waits for syncs in all, from
/// [`begin_background_job`] on.
pub const JOB_WAIT_MAX: Duration = Duration::from_millis(500);
/// How often a waiting step looks again.
const POLL: Duration = Duration::from_millis(1);

static FOREGROUND: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static BACKGROUND: Cell<bool> = const { Cell::new(false) };
    /// What this thread's current job has waited for syncs so far.
    static WAITED: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// A sync's storage work in progress, counted until dropped.
#[must_use = "the work is counted only while the guard lives"]
#[derive(Debug)]
pub struct Foreground {
    counted: bool,
}

/// Counts the calling thread's storage work for a sync until the guard drops (a background
/// thread's is not counted).
pub fn foreground() -> Foreground {
    let counted = !BACKGROUND.with(Cell::get);
    if counted {
        FOREGROUND.fetch_add(1, Ordering::SeqCst);
    }
    Foreground { counted }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        if self.counted {
            FOREGROUND.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Marks the calling thread as background work for good: its storage work is not counted,
/// and [`step_aside`] waits on it.
pub fn mark_this_thread_background() {
    BACKGROUND.with(|b| b.set(true));
}

/// Starts a new job on this thread: what it may wait for syncs in all is [`JOB_WAIT_MAX`]
/// again.
pub fn begin_background_job() {
    WAITED.with(|w| w.set(Duration::ZERO));
}

/// Between two steps of background work: waits while a sync's storage work runs, at most
/// [`STEP_ASIDE_MAX`], and no more once the job has waited [`JOB_WAIT_MAX`]. Does nothing
/// on a thread not marked background.
pub fn step_aside() {
    step_aside_within(STEP_ASIDE_MAX, JOB_WAIT_MAX);
}

/// [`step_aside`] with its bounds, a step's and the job's; returns whether syncs were
/// still running when it gave up.
pub fn step_aside_within(step_max: Duration, job_max: Duration) -> bool {
    if !BACKGROUND.with(Cell::get) {
        return false;
    }
    let started = Instant::now();
    let left = job_max.saturating_sub(WAITED.with(Cell::get));
    let deadline = started + step_max.min(left);
    let mut gave_up = false;
    // Bounded by the deadline.
    while FOREGROUND.load(Ordering::SeqCst) > 0 {
        if Instant::now() >= deadline {
            gave_up = true;
            break;
        }
        std::thread::sleep(POLL);
    }
    WAITED.with(|w| w.set(w.get() + started.elapsed()));
    gave_up
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each test's threads are its own, but the count is the process's: a test that holds a
    // guard while another test's background thread steps aside only makes that one wait
    // longer, never return early, so the tests below cannot pass by accident.

    fn on_background_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(move || {
            mark_this_thread_background();
            f()
        })
        .join()
        .expect("the background thread panicked")
    }

    #[test]
    fn background_work_waits_while_a_sync_runs_and_gives_up_at_its_bound() {
        let _sync = foreground();
        let started = Instant::now();
        let gave_up = on_background_thread(|| {
            step_aside_within(Duration::from_millis(30), Duration::from_secs(60))
        });
        assert!(gave_up, "a step went on while a sync was running");
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn background_work_goes_on_as_soon_as_the_sync_ends() {
        let sync = foreground();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            mark_this_thread_background();
            tx.send(()).expect("the test waits");
            step_aside_within(Duration::from_secs(60), Duration::from_secs(60))
        });
        rx.recv().expect("the waiter started");
        std::thread::sleep(Duration::from_millis(5));
        drop(sync);
        // Other tests may hold a guard meanwhile; none holds one for 60 s.
        let gave_up = waiter.join().expect("the waiter panicked");
        assert!(
            !gave_up,
            "the step waited out its bound after the sync ended"
        );
    }

    #[test]
    fn a_job_stops_waiting_once_it_has_waited_its_bound_in_all_and_a_new_job_waits_again() {
        let _sync = foreground();
        let (total, after_new_job) = on_background_thread(|| {
            let (step, job) = (Duration::from_millis(40), Duration::from_millis(50));
            let started = Instant::now();
            for _ in 0..10 {
                step_aside_within(step, job);
            }
            let total = started.elapsed();
            begin_background_job();
            let started = Instant::now();
            step_aside_within(step, job);
            (total, started.elapsed())
        });
        // Ten steps of 40 ms would wait 400 ms; the job waits 50 ms in all (40 + 10), so a
        // stream of syncs delays a page by the job's bound, not a step's times its steps.
        assert!(total >= Duration::from_millis(50), "{total:?}");
        assert!(total < Duration::from_millis(200), "{total:?}");
        assert!(
            after_new_job >= Duration::from_millis(40),
            "{after_new_job:?}"
        );
    }

    #[test]
    fn work_on_a_background_thread_is_not_counted_so_the_console_never_waits_for_itself() {
        let counted = on_background_thread(|| foreground().counted);
        assert!(!counted);
        assert!(foreground().counted, "a sync's thread is counted");
    }

    #[test]
    fn a_thread_not_marked_background_never_steps_aside() {
        let _sync = foreground();
        let started = Instant::now();
        assert!(!step_aside_within(
            Duration::from_secs(60),
            Duration::from_secs(60)
        ));
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}
