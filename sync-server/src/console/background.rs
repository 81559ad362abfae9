//! The console's heavy work (the replica's pull, the rule queries of a page) runs on
//! threads of its own, after the phones' syncs (ADR 0025).
//!
//! A supervisor's page can wait a few milliseconds; a phone's push should not. On a small
//! machine an overview computed while a week offline is pushed took one of its two cores
//! from the push's parallel apply (`storage/push/work.rs`): the push's CPU time was the
//! same, its wall time 1.27–1.32x on a busy machine (docs/benchmarks.md, "The console's
//! cost to a push"). The console's threads run under Linux's `SCHED_IDLE` policy (nice
//! [`NICE`] where it is refused): they take the CPU the syncs leave, and when the machine
//! is idle the console has all of it. On a quiet machine that was not enough (a push is
//! slower beside any running thread, whatever its priority), so the console's steps also
//! wait while a sync's storage work runs (`crate::priority`).
//!
//! Linux keeps a scheduling policy and a nice value per thread, so only the console's
//! threads are lowered; they cannot be raised again without privilege, which is why these
//! threads are the console's alone and not borrowed from the blocking pool.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{AppError, AppResult};

/// The nice value added to the console's threads (0 is the default; 19 the lowest, the
/// nice value is capped there).
pub const NICE: i32 = 19;
/// Threads that run console pages: the replica serves one page at a time, the second lets
/// a page that does not need it through meanwhile.
const THREADS: usize = 2;

type Job = Box<dyn FnOnce() + Send>;

/// Lowers the calling thread's CPU priority for good (for a thread that does the console's
/// work and nothing else: it cannot be raised again): Linux's `SCHED_IDLE` policy, and the
/// nice value [`NICE`] where the policy is refused.
///
/// A nice value alone was not enough on a quiet machine: a push's worker that woke while a
/// lowered console thread held the other core waited its turn, and the push took 1.1–1.36x
/// as long (docs/benchmarks.md, "The console's cost to a push"). A thread waking under the
/// normal policy preempts a `SCHED_IDLE` one at once, and the scheduler counts a core that
/// runs only such threads as idle when it places a waking thread.
pub fn lower_this_thread() -> std::io::Result<()> {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    let lowered = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle);
    if let Err(e) = lowered {
        tracing::debug!(error = ?e, "SCHED_IDLE refused; the console's threads use nice alone");
    }
    // Its storage work is not a sync's, and its steps give way to syncs.
    crate::priority::mark_this_thread_background();
    // On Linux `PRIO_PROCESS` with no pid names the calling thread.
    let now = rustix::process::getpriority_process(None)?;
    rustix::process::setpriority_process(None, (now + NICE).min(19))?;
    Ok(())
}

fn workers() -> Option<&'static Sender<Job>> {
    static WORKERS: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    WORKERS
        .get_or_init(|| {
            let (send, receive) = std::sync::mpsc::channel::<Job>();
            let receive = Arc::new(Mutex::new(receive));
            let mut started = 0;
            for i in 0..THREADS {
                let receive = Arc::clone(&receive);
                let spawned = std::thread::Builder::new()
                    .name(format!("fieldsync-console-{i}"))
                    .spawn(move || work(&receive));
                match spawned {
                    Ok(_) => started += 1,
                    Err(e) => tracing::warn!(error = %e, "cannot start a console thread"),
                }
            }
            (started > 0).then_some(send)
        })
        .as_ref()
}

/// One console thread: lowered, then the jobs as they come, until the channel is gone.
fn work(jobs: &Mutex<Receiver<Job>>) {
    if let Err(e) = lower_this_thread() {
        tracing::warn!(error = %e, "cannot lower the console thread's priority");
    }
    loop {
        // A job never panics while the lock is held (it is released before the job runs).
        let next = match jobs.lock() {
            Ok(jobs) => jobs.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match next {
            Ok(job) => {
                crate::priority::begin_background_job();
                job()
            }
            Err(_) => return,
        }
    }
}

/// Runs `f` on a console thread and waits for it without blocking the runtime; a panic in
/// `f` is answered as an internal error, and the thread goes on with the next page.
pub async fn run<T: Send + 'static>(
    f: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    let Some(workers) = workers() else {
        // No thread could be started: the blocking pool, at the usual priority.
        return tokio::task::spawn_blocking(f)
            .await
            .map_err(AppError::internal)?;
    };
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = answer.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
    });
    workers
        .send(job)
        .map_err(|_| AppError::internal("the console's threads are gone"))?;
    match answered.await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(AppError::internal("a console page panicked")),
        Err(_) => Err(AppError::internal("a console page was dropped unanswered")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nice() -> i32 {
        rustix::process::getpriority_process(None).unwrap_or(i32::MIN)
    }

    #[tokio::test]
    async fn console_work_runs_below_the_priority_of_the_servers_other_threads() -> AppResult<()> {
        let ours = tokio::task::spawn_blocking(nice)
            .await
            .map_err(AppError::internal)?;
        let console = run(|| Ok(nice())).await?;
        assert_eq!(
            console,
            (ours + NICE).min(19),
            "the server's threads are at {ours}"
        );
        // The calling thread is left as it was.
        assert_eq!(nice(), ours);
        Ok(())
    }

    #[tokio::test]
    async fn console_work_runs_under_the_idle_policy_that_any_waking_sync_preempts() -> AppResult<()>
    {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
        let policy = || thread_priority::thread_schedule_policy().map_err(|e| format!("{e:?}"));
        let ours = tokio::task::spawn_blocking(policy)
            .await
            .map_err(AppError::internal)?;
        let console = run(move || Ok(policy())).await?;
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        assert_eq!(console, Ok(idle));
        assert_ne!(
            ours,
            Ok(idle),
            "the server's other threads keep their policy"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_page_that_panics_is_an_error_and_the_next_page_is_served() -> AppResult<()> {
        // More panics than threads: each thread survives its own.
        for _ in 0..THREADS * 2 {
            let failed = run(|| -> AppResult<()> { panic!("a page's bug") }).await;
            assert!(failed.is_err());
        }
        assert_eq!(run(|| Ok(41 + 1)).await?, 42);
        Ok(())
    }
}
