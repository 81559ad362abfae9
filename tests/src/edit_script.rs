//! A script of edits and syncs across the devices of a small district, and how it runs:
//! the model behind `tests/convergence_property.rs`, which generates scripts with proptest.
//!
//! [`run`] starts an in-process server ([`crate::in_process`]) with two territories
//! (`am-li`: three stores, `am-zhao`: one) and a supervisor; the admin device makes the
//! stores, shelf displays for three of them and a four-line count in each. The script's
//! devices ([`DEVICES`], the first 3 to 5) enroll and sync. Each [`Op`] then runs on one
//! device: indices pick among what that device has in its scope, so every step means
//! something anywhere, and a step with nothing to act on does nothing. Every edit gets a
//! device time of its own, so its stamp names it, and goes into a [`Journal`] with what the
//! device showed before it. Syncs are core's client, one whose answer is lost, or one
//! whose push arrives twice ([`ClientDevice`]). At the end every device syncs until a
//! round moves nothing and [`convergence::check`] runs.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::fixtures::{at, sample_store};
use fieldsync_core::{
    CheckPoint, DisplayCheck, DisplayStandard, DocId, DocKind, LocalStore, NewCountLine,
    NewInventoryCount, NewVisit, ProductOnDisplay, Role, Timestamp, Verdict, VisitKind,
};

use crate::client_device::{BrokenSync, ClientDevice};
use crate::convergence::{self, Checked, Field, Holder, Journal, Value, Version};
use fieldsync_server::{PostgresOptions, PostgresStorage};

use crate::backend::{Backend, TestDatabase};
use crate::in_process::InProcessServer;
use crate::phone::phones_dir;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Devices in the order scripts take them: (device, user).
pub const DEVICES: [(&str, &str); 5] = [
    ("li-phone", "am-li"),
    ("wang-phone", "sup-wang"),
    ("li-tablet", "am-li"),
    ("zhao-phone", "am-zhao"),
    ("wang-tablet", "sup-wang"),
];
/// Lines of every inventory count: `sku-000`, `sku-001`, ...
pub const SKUS: usize = 4;
const MAX_SETTLE_ROUNDS: usize = 8;

/// How a sync's request and answer travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Normal,
    AnswerLost,
    Duplicated,
}

/// One step of a script. Indices pick among what the device has in its scope (modulo), so
/// every generated step means something on any device.
#[derive(Clone, Debug)]
pub enum Op {
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

/// A script: how many devices, their sync limits, and the steps.
#[derive(Clone, Debug)]
pub struct Script {
    pub devices: usize,
    /// The devices' response budget (bytes of changes) and push limit (changes): the
    /// client's defaults, or small enough to split a sync into many round trips.
    pub budget: u64,
    pub push_limit: usize,
    pub ops: Vec<Op>,
}

/// A script being run: the server, the devices and what they did.
struct World {
    /// The first instance; on PostgreSQL, `others` share its database.
    server: InProcessServer,
    others: Vec<InProcessServer>,
    devices: Vec<ClientDevice>,
    /// Store ids in each device's scope, in a fixed order.
    scopes: Vec<Vec<DocId>>,
    journal: Journal,
    step: i64,
    broken: Option<BrokenSync>,
    /// The server's and the phones' data; removed when the world is dropped.
    dir: tempfile::TempDir,
    _database: Option<TestDatabase>,
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
    async fn new(
        case: &Script,
        broken: Option<BrokenSync>,
        backend: Backend,
    ) -> Result<World, BoxError> {
        let dir = phones_dir()?;
        // The server's durability is not what this test is about: its data is in the same
        // (memory-backed, when there is one) folder as the phones'.
        let (server, others, database) = match backend {
            Backend::Sqlite => (
                InProcessServer::start(&dir.path().join("server"), None).await?,
                Vec::new(),
                None,
            ),
            Backend::Postgres { instances } => {
                let database = TestDatabase::create("convergence")?;
                let mut servers = Vec::new();
                for i in 0..instances.max(1) {
                    let storage =
                        PostgresStorage::open(database.url(), PostgresOptions::default())?;
                    let folder = dir.path().join(format!("server-{i}"));
                    servers
                        .push(InProcessServer::start_on(&folder, Arc::new(storage), None).await?);
                }
                let first = servers.remove(0);
                (first, servers, Some(database))
            }
        };
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
            others,
            devices: Vec::new(),
            scopes: Vec::new(),
            journal: Journal::default(),
            step: 0,
            broken,
            dir,
            _database: database,
        };
        for (i, (name, user)) in DEVICES.iter().take(case.devices).enumerate() {
            let role = match *user {
                "sup-wang" => Role::Supervisor,
                _ => Role::AccountManager,
            };
            // Devices take the instances in turn.
            let instance = match i % (1 + world.others.len()) {
                0 => &world.server,
                n => &world.others[n - 1],
            };
            let device =
                ClientDevice::enroll(instance, world.dir.path(), user, role, name, start())
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
                let local = self.devices[d].local.clone();
                let shown = convergence::versions(&local, &field)?;
                if let [only] = shown.as_slice()
                    && only.value == Value::Tag(present)
                {
                    // The tag as it is: the check writes no new value (the product's stamp
                    // keeps who changed it last) and leaves the checker's mark instead.
                    let at = self.tick(d);
                    local.record_display_check(&display, &check)?;
                    let user = self.devices[d].user.clone();
                    if convergence::versions(&local, &field)? != shown {
                        return Err(
                            format!("{field:?}: a check that changed nothing rewrote it").into(),
                        );
                    }
                    let marked = local
                        .shelf_display(&display)?
                        .confirmed
                        .iter()
                        .any(|w| w.by == user && w.at == at);
                    if !marked {
                        return Err(format!("{field:?}: the unchanged check left no mark").into());
                    }
                    return Ok(());
                }
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
                // Each role records its own kind of visit (`VisitKind::recorded_by`).
                let kind = match self.devices[d].role {
                    Role::Supervisor => VisitKind::SupervisionSpotCheck,
                    _ => VisitKind::Routine,
                };
                let visit = self.devices[d].local.create_visit(NewVisit {
                    store_id: store.clone(),
                    kind,
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

/// Runs `script` on a fresh server and devices (on a runtime of its own), syncs every
/// device until idle and checks the end state; `Err` says what failed, diverged or was
/// lost. With `broken`, the devices' syncs are that broken sync instead of core's client.
pub fn run(case: &Script, broken: Option<BrokenSync>) -> Result<Checked, String> {
    run_on(case, broken, Backend::Sqlite)
}

/// [`run`] on `backend` (on PostgreSQL, devices sync with its instances in turn).
pub fn run_on(
    case: &Script,
    broken: Option<BrokenSync>,
    backend: Backend,
) -> Result<Checked, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let outcome = runtime.block_on(async {
        let mut world = World::new(case, broken, backend)
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
        for other in std::mem::take(&mut world.others) {
            other.stop().await.map_err(|e| e.to_string())?;
        }
        world.server.stop().await.map_err(|e| e.to_string())?;
        checked
    });
    runtime.shutdown_timeout(Duration::from_secs(10));
    outcome
}
