//! The week offline pushed with the console idle and busy: rounds of three pushes, one
//! with the console idle, one while a thread loads overviews back to back at the default
//! CPU priority (as the console ran before it had threads of its own), and one while that
//! thread runs at the console's priority (`console::background`), in turn, so that the
//! machine's other load falls on all three alike. Each push's wall time, and its CPU time:
//! the process's CPU clock over the push less what the reader thread used meanwhile.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fieldsync_core::{DocId, PriceTagsOverTime, Timestamp};
use fieldsync_server::admin::push_through;
use fieldsync_server::console::background::lower_this_thread;
use fieldsync_server::console::manager_figures::ManagerCache;
use fieldsync_server::console::replica::Replica;
use fieldsync_server::storage::SyncStorage;

use super::seed::{Dice, Phone, visit};
use super::{DAY_MS, Fallible, median, overview_once};

/// A week offline recorded on `phone` (5 days × 12 visits and 10 older visits' notes), in
/// one local transaction, not yet pushed.
fn record_week(phone: &Phone, start: Timestamp, older: &[DocId], dice: &mut Dice) -> Fallible<()> {
    phone.local.in_one_transaction(|_| {
        let mut made = || -> Fallible<()> {
            for day in 0..5 {
                for v in 0..12 {
                    let s = dice.below(phone.stores.len() as u64) as usize;
                    let at = Timestamp(start.0 + day * DAY_MS + 9 * 3_600_000 + v * 1_800_000);
                    visit(phone, &phone.stores[s], at, dice)?;
                }
            }
            for id in older.iter().take(10) {
                phone
                    .local
                    .set_visit_notes(id, &format!("note {}", dice.below(1000)))?;
            }
            Ok(())
        };
        made().map_err(|e| fieldsync_core::Error::invalid("bench", e.to_string()))
    })?;
    Ok(())
}

/// One push's times.
struct Pushed {
    /// The whole push, the phone's part (reading its outbox, confirming what the server
    /// stored) included.
    wall: Duration,
    /// The server's part alone: `SyncStorage::push`, what a phone's sync waits for on the
    /// server (the phone's part runs on the phone in the field, here in this process).
    server: Duration,
    /// The process's CPU over the push, less the reader's.
    cpu: Duration,
    /// The reader's CPU over the push.
    reader: Duration,
}

/// Pushes what `phone` recorded for the week of `start` as `admin::push_from` does,
/// timing the server's part apart; the reader's CPU is read from its `schedstat`,
/// `reader`.
fn push_week(
    storage: &dyn SyncStorage,
    phone: &Phone,
    start: Timestamp,
    reader: Option<&Path>,
) -> Fallible<Pushed> {
    let received = start.0 + 6 * DAY_MS;
    let reader_cpu = || reader.map_or(Duration::ZERO, thread_cpu);
    let (theirs, cpu) = (reader_cpu(), process_cpu());
    let started = Instant::now();
    let mut server = Duration::ZERO;
    push_through(&phone.local, &mut |docs| {
        let on_server = Instant::now();
        let stored = storage.push(&phone.info, docs, received);
        server += on_server.elapsed();
        stored
    })?;
    let wall = started.elapsed();
    let (cpu, theirs) = (
        process_cpu().saturating_sub(cpu),
        reader_cpu().saturating_sub(theirs),
    );
    Ok(Pushed {
        wall,
        server,
        cpu: cpu.saturating_sub(theirs),
        reader: theirs,
    })
}

fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// A thread's CPU time so far, from its `schedstat` (nanoseconds on the CPU).
fn thread_cpu(schedstat: &std::path::Path) -> Duration {
    std::fs::read_to_string(schedstat)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// The machine's load averages, as `/proc/loadavg` has them.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The console's state during a push.
#[derive(Clone, Copy, PartialEq)]
enum Console {
    Idle,
    /// Loading overviews at the default priority.
    BusyDefault,
    /// Loading overviews at the console's priority.
    BusyLowered,
}

/// Pushes' wall and CPU times, in milliseconds.
#[derive(Debug, Default, serde::Serialize)]
pub struct Pushes {
    pub wall_ms: Vec<f64>,
    /// The server's part of each (`SyncStorage::push`).
    pub server_ms: Vec<f64>,
    pub cpu_ms: Vec<f64>,
    /// The reader's CPU while each push ran (none when idle).
    pub reader_cpu_ms: Vec<f64>,
}

impl Pushes {
    fn add(&mut self, p: &Pushed) {
        self.wall_ms.push(p.wall.as_secs_f64() * 1000.0);
        self.server_ms.push(p.server.as_secs_f64() * 1000.0);
        self.cpu_ms.push(p.cpu.as_secs_f64() * 1000.0);
        self.reader_cpu_ms.push(p.reader.as_secs_f64() * 1000.0);
    }
    pub fn median_ms(&self) -> f64 {
        median(&self.wall_ms)
    }
    pub fn server_median_ms(&self) -> f64 {
        median(&self.server_ms)
    }
    pub fn describe(&self) -> String {
        let mut w = self.wall_ms.clone();
        w.sort_by(f64::total_cmp);
        format!(
            "wall median {:.0} ms (min {:.0}, max {:.0}), the server's part median {:.1} ms, CPU median {:.0} ms, the reader's CPU meanwhile median {:.0} ms",
            median(&w),
            w.first().copied().unwrap_or(f64::NAN),
            w.last().copied().unwrap_or(f64::NAN),
            median(&self.server_ms),
            median(&self.cpu_ms),
            median(&self.reader_cpu_ms),
        )
    }
}

/// What the weeks offline measured.
#[derive(Debug, Default, serde::Serialize)]
pub struct Weeks {
    pub idle: Pushes,
    pub busy_default_priority: Pushes,
    pub busy_console_priority: Pushes,
    /// The next overview after each week (its replica catching up), reusing the other
    /// managers' kept figures as the console's route does.
    pub catch_up_ms: Vec<f64>,
    pub load_before: String,
    pub load_after: String,
}

/// `rounds` rounds of three weeks offline from day `first_day` after `start`.
pub fn measure(
    storage: &dyn SyncStorage,
    replica: &Replica,
    memo: &Mutex<PriceTagsOverTime>,
    phone: &Phone,
    (start, first_day): (Timestamp, i64),
    rounds: usize,
    dice: &mut Dice,
) -> Fallible<Weeks> {
    let kept = &ManagerCache::default();
    let older: Vec<DocId> = phone
        .local
        .document_ids(fieldsync_core::DocKind::Visit)?
        .into_iter()
        .take(40)
        .collect();
    let mut weeks = Weeks {
        load_before: load(),
        ..Weeks::default()
    };
    let mut week_start = first_day;
    for w in 0..rounds * 3 {
        // Every manager's figures kept before the week (a page loaded meanwhile).
        overview_once(replica, storage, memo, Some(kept))?;
        let monday = Timestamp(start.0 + week_start * DAY_MS);
        week_start += 7;
        let older = &older[(w * 10) % older.len().max(1)..];
        let console = [Console::Idle, Console::BusyDefault, Console::BusyLowered][w % 3];
        record_week(phone, monday, older, dice)?;
        if console == Console::Idle {
            weeks.idle.add(&push_week(storage, phone, monday, None)?);
        } else {
            let pushed = busy_week(storage, replica, memo, phone, monday, console)?;
            if console == Console::BusyDefault {
                weeks.busy_default_priority.add(&pushed);
            } else {
                weeks.busy_console_priority.add(&pushed);
            }
        }
        // The next overview as the route computes it: the pusher's figures again, the
        // others' kept (`kept` holds every manager's, made before the week).
        let started = Instant::now();
        overview_once(replica, storage, memo, Some(kept))?;
        weeks
            .catch_up_ms
            .push(started.elapsed().as_secs_f64() * 1000.0);
    }
    weeks.load_after = load();
    Ok(weeks)
}

/// The week recorded on `phone` pushed while another thread loads overviews without
/// pause.
fn busy_week(
    storage: &dyn SyncStorage,
    replica: &Replica,
    memo: &Mutex<PriceTagsOverTime>,
    phone: &Phone,
    monday: Timestamp,
    console: Console,
) -> Fallible<Pushed> {
    let stop = AtomicBool::new(false);
    let (tid_sent, tid) = std::sync::mpsc::channel::<PathBuf>();
    std::thread::scope(|s| {
        let reader = s.spawn(|| -> Result<usize, String> {
            if console == Console::BusyLowered {
                lower_this_thread().map_err(|e| e.to_string())?;
                // An experiment: lower still (`FIELDSYNC_BENCH_READER_NICE=19`), to tell a
                // wait for the CPU from contention the scheduler cannot remove.
                if let Some(nice) = std::env::var("FIELDSYNC_BENCH_READER_NICE")
                    .ok()
                    .and_then(|n| n.parse::<i32>().ok())
                {
                    rustix::process::setpriority_process(None, nice).map_err(|e| e.to_string())?;
                }
            }
            let me = std::fs::read_link("/proc/thread-self").map_err(|e| e.to_string())?;
            let _ = tid_sent.send(PathBuf::from("/proc").join(me).join("schedstat"));
            let mut pages = 0;
            // Bounded by the push: the main thread sets `stop` when it returns.
            while !stop.load(Ordering::Relaxed) {
                // A page at a time, as the console's threads take them.
                fieldsync_server::priority::begin_background_job();
                overview_once(replica, storage, memo, None).map_err(|e| e.to_string())?;
                pages += 1;
            }
            Ok(pages)
        });
        let schedstat = tid.recv_timeout(Duration::from_secs(10)).ok();
        // The reader is mid-page when the push starts.
        std::thread::sleep(Duration::from_millis(20));
        let pushed = push_week(storage, phone, monday, schedstat.as_deref());
        stop.store(true, Ordering::Relaxed);
        reader.join().map_err(|_| "the reader panicked")??;
        pushed
    })
}
