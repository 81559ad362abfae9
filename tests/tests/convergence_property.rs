//! Property: whatever devices edit offline, in whatever order they sync, with answers lost
//! and pushes delivered twice, once every device has synced until idle they all hold the
//! same documents of their scope (the server's heads, the same typed values) and no edit
//! is lost.
//!
//! Each case: an in-process server on 127.0.0.1:0 with a district of two territories
//! (`am-li`: three stores, `am-zhao`: one) and a supervisor; the admin device made the
//! stores, shelf displays for three of them and a four-line count in each. Three to five
//! devices enroll and sync: `am-li`'s phone and tablet, the supervisor's phone and tablet,
//! `am-zhao`'s phone. Then up to 40 operations: standard marks and price tags on shelf
//! displays, counted quantities, notes on a visit by its visitor, comments, new visits,
//! displays and counts, and syncs of random devices, each a normal one (core's
//! `SyncClient`), one whose answer is lost, or one whose push is delivered twice (see
//! `fieldsync_tests::client_device`). Each edit gets its own device time, so its stamp
//! names it; what the writing device showed before it is recorded too (see
//! `fieldsync_tests::convergence`). At the end every device syncs until a round moves
//! nothing (at most 8 rounds) and the check runs.
//!
//! Failing cases are kept in `tests/proptest-regressions/convergence_property.txt` and
//! replayed first on every run; commit that file. `PROPTEST_CASES` sets the number of
//! cases (16 by default, about 10 s in a debug build on two cores).
//!
//! Shown to catch lost writes: with every sync replaced by one that confirms the outbox
//! without sending the push (`CONVERGENCE_BROKEN_SYNC=no_push`), the property failed on
//! its first case and shrank to `Mark` on one device and a `Sync` (in a 3-device case)
//! (`li-phone: lost write to Standard { .. }`, and `wang-phone: lacks ...`-style
//! messages); with one that leaves the last document of each push out but confirms it
//! (`CONVERGENCE_BROKEN_SYNC=leave_one_out`) it failed on its first case too and shrank
//! to a single edit. `the_check_catches_syncs_that_confirm_what_they_did_not_push` below
//! keeps that demonstration running.

use std::collections::BTreeSet;
use std::time::Duration;

use fieldsync_core::fixtures::{at, sample_store};
use fieldsync_core::{
    CheckPoint, DisplayCheck, DisplayStandard, DocId, DocKind, LocalStore, NewCountLine,
    NewInventoryCount, NewVisit, ProductOnDisplay, Role, Timestamp, Verdict, VisitKind,
};
use fieldsync_tests::client_device::{BrokenSync, ClientDevice};
use fieldsync_tests::convergence::{self, Checked, Field, Holder, Journal, Value, Version};
use fieldsync_tests::in_process::InProcessServer;
use fieldsync_tests::phone::phones_dir;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Devices in the order cases take them: (device, user).
const DEVICES: [(&str, &str); 5] = [
    ("li-phone", "am-li"),
    ("wang-phone", "sup-wang"),
    ("li-tablet", "am-li"),
    ("zhao-phone", "am-zhao"),
    ("wang-tablet", "sup-wang"),
];
const SKUS: usize = 4;
const MAX_SETTLE_ROUNDS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    Normal,
    AnswerLost,
    Duplicated,
}

/// One step of a case. Indices pick among what the device has in its scope (modulo), so
/// every generated step means something on any device.
#[derive(Clone, Debug)]
enum Op {
    Mark {
        dev: usize,
        store: usize,
        standard: usize,
        verdict: usize,
    },
    Tag {
        dev: usize,
        store: usize,
        sku: usize,
        present: bool,
    },
    Count {
        dev: usize,
        store: usize,
        pick: usize,
        sku: usize,
        qty: i64,
    },
    Note {
        dev: usize,
        pick: usize,
        rewrite: bool,
    },
    Comment {
        dev: usize,
        pick: usize,
    },
    Visit {
        dev: usize,
        store: usize,
    },
    StartDisplay {
        dev: usize,
        store: usize,
    },
    StartCount {
        dev: usize,
        store: usize,
    },
    Sync {
        dev: usize,
        how: Delivery,
    },
    /// The app restarts: the store is closed and opened again (with a new actor).
    Reopen {
        dev: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let dev = 0usize..5;
    let store = 0usize..4;
    let delivery = prop_oneof![
        3 => Just(Delivery::Normal),
        2 => Just(Delivery::AnswerLost),
        1 => Just(Delivery::Duplicated),
    ];
    prop_oneof![
        3 => (dev.clone(), store.clone(), 0usize..8, 0usize..3).prop_map(
            |(dev, store, standard, verdict)| Op::Mark { dev, store, standard, verdict }
        ),
        2 => (dev.clone(), store.clone(), 0..SKUS, any::<bool>())
            .prop_map(|(dev, store, sku, present)| Op::Tag { dev, store, sku, present }),
        3 => (dev.clone(), store.clone(), 0usize..3, 0..SKUS, 0i64..50).prop_map(
            |(dev, store, pick, sku, qty)| Op::Count { dev, store, pick, sku, qty }
        ),
        2 => (dev.clone(), 0usize..8, any::<bool>())
            .prop_map(|(dev, pick, rewrite)| Op::Note { dev, pick, rewrite }),
        1 => (dev.clone(), 0usize..8).prop_map(|(dev, pick)| Op::Comment { dev, pick }),
        2 => (dev.clone(), store.clone()).prop_map(|(dev, store)| Op::Visit { dev, store }),
        1 => (dev.clone(), store.clone())
            .prop_map(|(dev, store)| Op::StartDisplay { dev, store }),
        1 => (dev.clone(), store).prop_map(|(dev, store)| Op::StartCount { dev, store }),
        6 => (dev.clone(), delivery).prop_map(|(dev, how)| Op::Sync { dev, how }),
        1 => dev.prop_map(|dev| Op::Reopen { dev }),
    ]
}

#[derive(Clone, Debug)]
struct Case {
    devices: usize,
    /// The devices' response budget (bytes of changes) and push limit (changes): the
    /// client's defaults, or small enough to split a sync into many round trips.
    budget: u64,
    push_limit: usize,
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    let budget = prop_oneof![Just(4 * 1024 * 1024), 1u64..4_000];
    let push_limit = prop_oneof![Just(5_000), 1usize..4];
    (
        3usize..=5,
        budget,
        push_limit,
        prop::collection::vec(op(), 1..=40),
    )
        .prop_map(|(devices, budget, push_limit, ops)| Case {
            devices,
            budget,
            push_limit,
            ops,
        })
}

/// A case being run: the server, the devices and what they did.
struct World {
    server: InProcessServer,
    devices: Vec<ClientDevice>,
    /// Store ids in each device's scope, in a fixed order.
    scopes: Vec<Vec<DocId>>,
    journal: Journal,
    step: i64,
    broken: Option<BrokenSync>,
    _dir: tempfile::TempDir,
}

fn start() -> Timestamp {
    at("2026-11-23T08:00:00+08:00")
}

fn lines() -> Vec<NewCountLine> {
    (0..SKUS)
        .map(|n| NewCountLine {
            sku: sku(n),
            name: format!("Product {n}"),
            book: 10,
        })
        .collect()
}

fn sku(n: usize) -> String {
    format!("sku-{n:03}")
}

impl World {
    async fn new(case: &Case, broken: Option<BrokenSync>) -> Result<World, BoxError> {
        let dir = phones_dir()?;
        // The server's durability is not what this test is about: its data is in the same
        // (memory-backed, when there is one) folder as the phones'.
        let server = InProcessServer::start(&dir.path().join("server"), None).await?;
        for (user, role) in [
            ("am-li", Role::AccountManager),
            ("am-zhao", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ] {
            server.add_user(user, role)?;
        }
        let (li, zhao) = {
            let admin = server.admin()?;
            let mut li = Vec::new();
            for n in 1..=3 {
                li.push(admin.local.create_store(sample_store("am-li", n))?);
            }
            let zhao = vec![admin.local.create_store(sample_store("am-zhao", 4))?];
            for (i, store) in li.iter().chain(&zhao).enumerate() {
                // The third store of `am-li` has no display yet: devices start it.
                if i != 2 {
                    admin.local.create_shelf_display(store)?;
                }
                admin.local.create_inventory_count(NewInventoryCount {
                    store_id: store.clone(),
                    lines: lines(),
                })?;
            }
            admin.push()?;
            (li, zhao)
        };
        let everything: Vec<DocId> = li.iter().chain(&zhao).cloned().collect();
        let mut world = World {
            server,
            devices: Vec::new(),
            scopes: Vec::new(),
            journal: Journal::default(),
            step: 0,
            broken,
            _dir: dir,
        };
        for (name, user) in DEVICES.iter().take(case.devices) {
            let role = match *user {
                "sup-wang" => Role::Supervisor,
                _ => Role::AccountManager,
            };
            let device =
                ClientDevice::enroll(&world.server, world._dir.path(), user, role, name, start())
                    .await?
                    .with_limits(case.budget, case.push_limit)?;
            device.sync().await?;
            world.scopes.push(match *user {
                "am-li" => li.clone(),
                "am-zhao" => zhao.clone(),
                _ => everything.clone(),
            });
            world.devices.push(device);
        }
        Ok(world)
    }

    /// Moves the device's clock to a time no other edit has.
    fn tick(&mut self, d: usize) -> Timestamp {
        self.step += 1;
        let t = Timestamp(start().0 + self.step * 60_000);
        self.devices[d].clock.set(t);
        t
    }

    fn store(&self, d: usize, pick: usize) -> DocId {
        let scope = &self.scopes[d];
        scope[pick % scope.len()].clone()
    }

    /// Writes a stamped field through `write`, journalling it with what the device showed.
    fn stamped(
        &mut self,
        d: usize,
        field: Field,
        value: Value,
        write: impl FnOnce(&LocalStore) -> fieldsync_core::Result<()>,
    ) -> Result<(), BoxError> {
        let local = self.devices[d].local.clone();
        let shown = convergence::versions(&local, &field)?;
        let at = self.tick(d);
        write(&local)?;
        let written = Version {
            value,
            by: self.devices[d].user.clone(),
            at,
        };
        if !convergence::versions(&local, &field)?.contains(&written) {
            return Err(
                format!("{field:?}: {written:?} is not there right after the write").into(),
            );
        }
        let name = self.devices[d].name.clone();
        self.journal.stamped(&name, field, &shown, written);
        Ok(())
    }

    /// Visits on the device that `d`'s user may write: its own, or any for a supervisor.
    fn writable_visits(&self, d: usize, own_only: bool) -> Result<Vec<DocId>, BoxError> {
        let device = &self.devices[d];
        let mut out = Vec::new();
        for id in device.local.document_ids(DocKind::Visit)? {
            let visit = device.local.visit(&id)?;
            if visit.visitor == device.user || (!own_only && device.role == Role::Supervisor) {
                out.push(id);
            }
        }
        Ok(out)
    }

    async fn sync(&self, d: usize, how: Delivery) -> Result<(usize, usize), BoxError> {
        let device = &self.devices[d];
        let report = match (how, self.broken) {
            (Delivery::AnswerLost, _) => {
                device.sync_answer_lost().await?;
                return Ok((0, 0));
            }
            (_, Some(broken)) => device.sync_broken(broken).await?,
            (Delivery::Normal, None) => device.sync().await?,
            (Delivery::Duplicated, None) => device.sync_duplicated().await?,
        };
        Ok((report.docs_pushed, report.docs_pulled))
    }

    async fn apply(&mut self, op: &Op) -> Result<(), BoxError> {
        let n = self.devices.len();
        match *op {
            Op::Mark {
                dev,
                store,
                standard,
                verdict,
            } => {
                let d = dev % n;
                let display = LocalStore::shelf_display_id(&self.store(d, store));
                if self.devices[d].local.kind_of(&display).is_err() {
                    return Ok(());
                }
                let standard = DisplayStandard::ALL[standard % DisplayStandard::ALL.len()];
                let verdict = [Verdict::Pass, Verdict::Fail, Verdict::NotApplicable][verdict % 3];
                let note = format!("[e{}]", self.step + 1);
                let field = Field::Standard {
                    display: display.clone(),
                    standard,
                };
                let value = Value::Verdict {
                    verdict,
                    note: note.clone(),
                };
                self.stamped(d, field, value, |l| {
                    l.mark_display_standard(&display, standard, verdict, &note)
                })?;
            }
            Op::Tag {
                dev,
                store,
                sku: n_sku,
                present,
            } => {
                let d = dev % n;
                let display = LocalStore::shelf_display_id(&self.store(d, store));
                if self.devices[d].local.kind_of(&display).is_err() {
                    return Ok(());
                }
                let check = DisplayCheck {
                    products: vec![ProductOnDisplay {
                        sku: sku(n_sku),
                        name: format!("Product {n_sku}"),
                        price_tag: present,
                    }],
                    ..DisplayCheck::default()
                };
                let field = Field::PriceTag {
                    display: display.clone(),
                    sku: sku(n_sku),
                };
                self.stamped(d, field, Value::Tag(present), |l| {
                    l.record_display_check(&display, &check)
                })?;
            }
            Op::Count {
                dev,
                store,
                pick,
                sku: n_sku,
                qty,
            } => {
                let d = dev % n;
                let counts = self.devices[d]
                    .local
                    .inventory_counts_of_store(&self.store(d, store))?;
                let Some(count) = counts.get(pick % counts.len().max(1)).cloned() else {
                    return Ok(());
                };
                let field = Field::Counted {
                    count: count.clone(),
                    sku: sku(n_sku),
                };
                self.stamped(d, field, Value::Counted(qty), |l| {
                    l.set_counted(&count, &sku(n_sku), qty)
                })?;
            }
            Op::Note { dev, pick, rewrite } => {
                let d = dev % n;
                let visits = self.writable_visits(d, true)?;
                let Some(visit) = visits.get(pick % visits.len().max(1)).cloned() else {
                    return Ok(());
                };
                self.tick(d);
                let token = format!("[n{}]", self.step);
                let local = &self.devices[d].local;
                if rewrite {
                    // As an editor saves a changed text: the whole text, with the new part.
                    let current = local.visit(&visit)?.notes;
                    local.set_visit_notes(&visit, &format!("{token} {current}"))?;
                } else {
                    local.append_visit_notes(&visit, &format!(" {token}"))?;
                }
                self.journal.note(&visit, &token);
            }
            Op::Comment { dev, pick } => {
                let d = dev % n;
                let visits = self.writable_visits(d, false)?;
                let Some(visit) = visits.get(pick % visits.len().max(1)).cloned() else {
                    return Ok(());
                };
                self.tick(d);
                let text = format!("[c{}] by {}", self.step, self.devices[d].name);
                self.devices[d].local.comment_on_visit(&visit, &text)?;
                self.journal.comment(&visit, &text);
            }
            Op::Visit { dev, store } => {
                let d = dev % n;
                let store = self.store(d, store);
                let check_in = self.tick(d);
                let visit = self.devices[d].local.create_visit(NewVisit {
                    store_id: store.clone(),
                    kind: VisitKind::Routine,
                    check_in: CheckPoint {
                        at: check_in,
                        gps: None,
                    },
                    complaint_id: None,
                })?;
                let user = self.devices[d].user.clone();
                self.journal.visit(&visit, &store, &user);
            }
            Op::StartDisplay { dev, store } => {
                let d = dev % n;
                let store = self.store(d, store);
                let local = self.devices[d].local.clone();
                if local.kind_of(&LocalStore::shelf_display_id(&store)).is_ok() {
                    return Ok(());
                }
                self.tick(d);
                let display = local.create_shelf_display(&store)?;
                self.journal.created(&display);
            }
            Op::StartCount { dev, store } => {
                let d = dev % n;
                let store = self.store(d, store);
                self.tick(d);
                let count = self.devices[d]
                    .local
                    .create_inventory_count(NewInventoryCount {
                        store_id: store,
                        lines: lines(),
                    })?;
                self.journal.created(&count);
            }
            Op::Sync { dev, how } => {
                self.sync(dev % n, how).await?;
            }
            Op::Reopen { dev } => {
                let d = dev % n;
                let device = self.devices.remove(d);
                let reopened = device.reopen()?;
                self.devices.insert(d, reopened);
            }
        }
        Ok(())
    }

    /// Every device syncs, round after round, until a round moves nothing.
    async fn settle(&self) -> Result<usize, BoxError> {
        for round in 1..=MAX_SETTLE_ROUNDS {
            let mut moved = 0;
            for d in 0..self.devices.len() {
                let (pushed, pulled) = self.sync(d, Delivery::Normal).await?;
                moved += pushed + pulled;
            }
            if moved == 0 {
                return Ok(round);
            }
        }
        Err(format!("still moving documents after {MAX_SETTLE_ROUNDS} rounds of syncs").into())
    }

    fn check(&self) -> Result<Checked, String> {
        let scopes: Vec<BTreeSet<DocId>> = self
            .scopes
            .iter()
            .map(|s| s.iter().cloned().collect())
            .collect();
        let holders: Vec<Holder<'_>> = self
            .devices
            .iter()
            .zip(&scopes)
            .map(|(d, scope)| Holder {
                name: &d.name,
                local: &d.local,
                scope,
            })
            .collect();
        convergence::check(self.server.storage().as_ref(), &holders, &self.journal)
    }
}

/// Runs one case; `Err` says what diverged or was lost.
fn run_case(case: &Case, broken: Option<BrokenSync>) -> Result<Checked, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let outcome = runtime.block_on(async {
        let mut world = World::new(case, broken)
            .await
            .map_err(|e| format!("setting up: {e}"))?;
        for (i, op) in case.ops.iter().enumerate() {
            world
                .apply(op)
                .await
                .map_err(|e| format!("step {i} {op:?}: {e}"))?;
        }
        world.settle().await.map_err(|e| format!("settling: {e}"))?;
        let checked = world.check();
        world.server.stop().await.map_err(|e| e.to_string())?;
        checked
    });
    runtime.shutdown_timeout(Duration::from_secs(10));
    outcome
}

/// `CONVERGENCE_BROKEN_SYNC=no_push|leave_one_out` runs the property against a broken
/// sync, to see it fail (it must).
fn broken_from_env() -> Option<BrokenSync> {
    match std::env::var("CONVERGENCE_BROKEN_SYNC").ok()?.as_str() {
        "no_push" => Some(BrokenSync::ConfirmWithoutPush),
        "leave_one_out" => Some(BrokenSync::LeaveOneOut),
        _ => None,
    }
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(16);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/convergence_property.txt"
        )))),
        // A case takes about half a second: bound the time spent shrinking a failure.
        max_shrink_iters: 300,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn devices_converge_and_no_write_is_lost(case in case()) {
        run_case(&case, broken_from_env()).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn the_check_catches_syncs_that_confirm_what_they_did_not_push() -> Result<(), BoxError> {
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    for broken in [BrokenSync::ConfirmWithoutPush, BrokenSync::LeaveOneOut] {
        let mut tried = 0;
        // Bounded: four cases that make at least one edit, out of at most 20 drawn.
        for _ in 0..20 {
            let case = strategy
                .new_tree(&mut runner)
                .map_err(|e| e.to_string())?
                .current();
            let Ok(checked) = run_case(&case, None) else {
                return Err(format!("the real sync failed this case: {case:?}").into());
            };
            if checked.edits == 0 {
                continue;
            }
            assert!(
                run_case(&case, Some(broken)).is_err(),
                "{broken:?} lost no write the check could see in {case:?}"
            );
            tried += 1;
            if tried == 4 {
                break;
            }
        }
        assert_eq!(tried, 4, "too few cases with edits were drawn");
    }
    Ok(())
}
