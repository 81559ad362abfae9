//! The district the hostile-documents test attacks (`tests/hostile_documents.rs`): a
//! server (SQLite, or two instances on PostgreSQL), a document of every kind made on Li's
//! and the supervisor's phones, the attacking devices that push raw changes, and the
//! checks that every device still syncs and reads what it holds.

use std::collections::BTreeMap;
use std::time::Duration;

use automerge::{AutoCommit, Change};
use chrono::NaiveDate;
use fieldsync_core::fixtures::{at, sample_store};
use fieldsync_core::protocol::{self, DocChanges, SyncRequest, SyncResponse};
use fieldsync_core::{
    CheckPoint, ComplaintKind, Datum, DisplayStandard, DocId, DocKind, FieldCalendar, GpsFix,
    LocalStore, NewComplaint, NewCountLine, NewInventoryCount, NewScorecard, NewTask, NewVisit,
    Role, ScoreDimension, ScoreWeights, TaskState, Verdict, VisitKind,
};
use fieldsync_server::admin::report::{ReportOptions, compliance_report_naming};
use fieldsync_server::{PostgresOptions, PostgresStorage};
use serde_bytes::ByteBuf;

use super::{ADMIN, Facts, LI, SUP, Sender, Target, WU};
use crate::client_device::ClientDevice;
use crate::in_process::InProcessServer;
use crate::{Backend, TestDatabase};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// An attacking device: a token and where its feed stands.
#[derive(Debug)]
struct Attacker {
    token: String,
    cursor: Option<String>,
}

/// A document of the district and the server's copy of it, as the attacker knows it.
#[derive(Debug)]
pub struct Held {
    pub id: DocId,
    pub mirror: AutoCommit,
}

/// The district under attack: its servers, the phones that read what the attacks leave,
/// the attacking devices, and the documents attacked with the server's copy of each.
#[derive(Debug)]
pub struct Field {
    /// One server on SQLite; two instances on one PostgreSQL database.
    pub servers: Vec<InProcessServer>,
    calls: usize,
    http: reqwest::Client,
    attackers: BTreeMap<Sender, Attacker>,
    /// Li's phone and the supervisor's (core's client).
    pub li: ClientDevice,
    pub sup: ClientDevice,
    pub docs: BTreeMap<Target, Held>,
    pub facts: Facts,
    // Dropped after the servers.
    _database: Option<TestDatabase>,
    _dir: tempfile::TempDir,
}

/// What a push was answered.
#[derive(Debug)]
pub struct Reply {
    pub status: reqwest::StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(2_000)
            .collect()
    }
}

impl Field {
    pub async fn new(backend: Backend) -> Fallible<Field> {
        let dir = crate::phone::phones_dir()?;
        let (servers, database) = match backend {
            Backend::Sqlite => (
                vec![InProcessServer::start(&dir.path().join("server"), None).await?],
                None,
            ),
            Backend::Postgres { instances } => {
                let database = TestDatabase::create("hostile")?;
                let mut servers = Vec::new();
                for i in 0..instances.max(1) {
                    let storage =
                        PostgresStorage::open(database.url(), PostgresOptions::default())?;
                    let folder = dir.path().join(format!("server-{i}"));
                    servers.push(
                        InProcessServer::start_on(&folder, std::sync::Arc::new(storage), None)
                            .await?,
                    );
                }
                (servers, Some(database))
            }
        };
        let first = &servers[0];
        let last = &servers[servers.len() - 1];
        for (user, role) in [
            (LI, Role::AccountManager),
            (WU, Role::AccountManager),
            (SUP, Role::Supervisor),
            (ADMIN, Role::Admin),
        ] {
            first.add_user(user, role)?;
        }
        let (store, other_store) = {
            let admin = first.admin()?;
            let store = admin.local.create_store(sample_store(LI, 1))?;
            let other = admin.local.create_store(sample_store(WU, 2))?;
            admin.push()?;
            (store, other)
        };

        // Li's phone: a visit with a fix 11 m from the store, the display, a count, a
        // complaint.
        let li = ClientDevice::enroll(
            first,
            dir.path(),
            LI,
            Role::AccountManager,
            "li-phone",
            at("2026-11-23T09:00:00+08:00"),
        )
        .await?;
        li.sync().await?;
        let visit = li.local.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at("2026-11-23T09:05:00+08:00"),
                gps: Some(GpsFix {
                    lat: 30.2701,
                    lng: 120.151,
                    accuracy_m: 8.0,
                    datum: Datum::Wgs84,
                }),
            },
            complaint_id: None,
        })?;
        let display = li.local.create_shelf_display(&store)?;
        li.local.mark_display_standard(
            &display,
            DisplayStandard::TidyCounter,
            Verdict::Pass,
            "tidy",
        )?;
        let count = li.local.create_inventory_count(NewInventoryCount {
            store_id: store.clone(),
            lines: (1..=5)
                .map(|n| NewCountLine {
                    sku: format!("sku-00{n}"),
                    name: format!("Product {n}"),
                    book: 10,
                })
                .collect(),
        })?;
        let complaint = li.local.create_complaint(NewComplaint {
            store_id: store.clone(),
            kind: ComplaintKind::Complaint,
            received_at: at("2026-11-23T08:30:00+08:00"),
            description: "two cartons short".into(),
        })?;
        li.sync().await?;

        // The supervisor's phone: three tasks for Li, a scorecard being scored and one
        // fully scored.
        let sup = ClientDevice::enroll(
            last,
            dir.path(),
            SUP,
            Role::Supervisor,
            "sup-phone",
            at("2026-11-23T10:00:00+08:00"),
        )
        .await?;
        sup.sync().await?;
        let task = |title: &str| {
            sup.local.create_task(NewTask {
                store_id: store.clone(),
                title: title.into(),
                description: "price tags missing".into(),
                assignee: LI.into(),
                deadline: at("2026-11-30T18:00:00+08:00"),
                origin: None,
            })
        };
        let task_open = task("Replace the light box")?;
        let task_no_photo = task("Put up the price tags")?;
        let task_work = task("Tidy the counter")?;
        let card = |month: &str| {
            sup.local.create_scorecard(NewScorecard {
                manager: LI.into(),
                month: month.into(),
                weights: ScoreWeights::default(),
            })
        };
        let card_open = card("2026-11")?;
        let card_acknowledged = card("2026-10")?;
        for dimension in ScoreDimension::ALL {
            sup.local
                .score_dimension(&card_acknowledged, dimension, 20.0)?;
        }
        sup.sync().await?;
        li.clock.set(at("2026-11-23T11:00:00+08:00"));
        li.sync().await?;
        li.local
            .move_task(&task_no_photo, TaskState::InProgress, None)?;
        li.local
            .acknowledge_scorecard(&card_acknowledged, Some("seen"))?;
        li.sync().await?;
        sup.sync().await?;

        let mut attackers = BTreeMap::new();
        for (i, (sender, name)) in [
            (Sender::Li, "li-tablet"),
            (Sender::Sup, "sup-tablet"),
            (Sender::Admin, "admin-laptop"),
        ]
        .into_iter()
        .enumerate()
        {
            let server = &servers[i % servers.len()];
            let token = server.enroll(sender.user(), name).await?.token;
            attackers.insert(
                sender,
                Attacker {
                    token,
                    cursor: None,
                },
            );
        }
        let mut docs = BTreeMap::new();
        for (target, id) in [
            (Target::Store, &store),
            (Target::Visit, &visit),
            (Target::Display, &display),
            (Target::Count, &count),
            (Target::TaskOpen, &task_open),
            (Target::TaskNoPhoto, &task_no_photo),
            (Target::TaskWork, &task_work),
            (Target::Complaint, &complaint),
            (Target::CardOpen, &card_open),
            (Target::CardAcknowledged, &card_acknowledged),
        ] {
            let mut mirror = AutoCommit::new();
            let stored = first.storage().document_changes(id.as_str())?;
            let changes = stored
                .iter()
                .map(|bytes| Change::try_from(bytes.as_slice()))
                .collect::<Result<Vec<_>, _>>()?;
            mirror.apply_changes(changes)?;
            docs.insert(
                target,
                Held {
                    id: id.clone(),
                    mirror,
                },
            );
        }
        let http = crate::phone::http_client(Duration::from_secs(60))?;
        let mut field = Field {
            servers,
            calls: 0,
            http,
            attackers,
            li,
            sup,
            docs,
            facts: Facts {
                store,
                other_store,
                display,
                complaint,
            },
            _database: database,
            _dir: dir,
        };
        for sender in Sender::ALL {
            field.pull_all(sender).await?;
        }
        Ok(field)
    }

    /// The next instance's URL (round robin).
    fn url(&mut self) -> String {
        self.calls += 1;
        self.servers[self.calls % self.servers.len()].url()
    }

    /// A push of `changes` of `doc` (none: a pull) as `sender`'s device, from its cursor;
    /// on a 200 the cursor moves on.
    pub async fn post(
        &mut self,
        sender: Sender,
        doc: &DocId,
        changes: Vec<Vec<u8>>,
    ) -> Fallible<Reply> {
        let url = format!("{}/v1/sync", self.url());
        let attacker = self
            .attackers
            .get_mut(&sender)
            .ok_or("no such attacking device")?;
        let push = if changes.is_empty() {
            Vec::new()
        } else {
            vec![DocChanges {
                doc: doc.to_string(),
                changes: changes.into_iter().map(ByteBuf::from).collect(),
                index: None,
            }]
        };
        let request = SyncRequest {
            protocol: protocol::PROTOCOL_VERSION,
            cursor: attacker.cursor.clone(),
            push,
            max_response_bytes: Some(256 * 1024),
            device: None,
            working_set: None,
            index_version: None,
        };
        let response = self
            .http
            .post(url)
            .bearer_auth(&attacker.token)
            .header("content-type", protocol::CONTENT_TYPE)
            .body(protocol::encode(&request))
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?.to_vec();
        if status.is_success() {
            let answer: SyncResponse = protocol::decode("sync response", &body)?;
            attacker.cursor = Some(answer.cursor);
        }
        Ok(Reply { status, body })
    }

    /// Pulls until the device's feed is idle (bounded).
    pub async fn pull_all(&mut self, sender: Sender) -> TestResult {
        let any = self.facts.store.clone();
        for _ in 0..1_000 {
            let reply = self.post(sender, &any, Vec::new()).await?;
            if !reply.status.is_success() {
                return Err(
                    format!("{sender:?}'s pull: {}: {}", reply.status, reply.text()).into(),
                );
            }
            let answer: SyncResponse = protocol::decode("sync response", &reply.body)?;
            if !answer.more {
                return Ok(());
            }
        }
        Err(format!("{sender:?}'s pull never ended").into())
    }

    pub fn stored(&self, doc: &DocId) -> Fallible<Vec<Vec<u8>>> {
        Ok(self.servers[0].storage().document_changes(doc.as_str())?)
    }
}

/// Reads every document the phone holds with the typed API, and the rule queries of its
/// user; names the first that fails.
pub fn read_all(who: &str, local: &LocalStore) -> Fallible<usize> {
    let damaged = local.damaged_documents()?;
    if !damaged.is_empty() {
        return Err(format!("{who} holds damaged documents: {damaged:?}").into());
    }
    let mut read = 0;
    for kind in DocKind::ALL {
        for id in local.document_ids(kind)? {
            read_one(local, kind, &id)
                .map_err(|e| format!("{who} cannot read {kind} `{id}`: {e}"))?;
            read += 1;
        }
    }
    let as_of = at("2026-11-25T09:00:00+08:00");
    local.open_tasks(LI, as_of)?;
    local.complaint_clocks(LI, as_of)?;
    Ok(read)
}

/// One document read as its kind, shown for a report.
pub fn read_one(local: &LocalStore, kind: DocKind, id: &DocId) -> Fallible<String> {
    Ok(match kind {
        DocKind::Store => format!("{:?}", local.store(id)?),
        DocKind::Visit => format!("{:?}", local.visit(id)?),
        DocKind::ShelfDisplay => {
            let display = local.shelf_display(id)?;
            display.violates_price_tag_rule();
            format!("{display:?}")
        }
        DocKind::InventoryCount => {
            let count = local.inventory_count(id)?;
            count.error_rate();
            format!("{count:?}")
        }
        DocKind::Task => format!("{:?}", local.task(id)?),
        DocKind::Complaint => format!("{:?}", local.complaint(id)?),
        DocKind::Scorecard => format!("{:?}", local.scorecard_outcome(id)?),
    })
}

/// Syncs a phone with core's client: no document refused or damaged.
pub async fn sync_phone(who: &str, device: &ClientDevice) -> TestResult {
    let report = device
        .sync()
        .await
        .map_err(|e| format!("{who}'s sync: {e}"))?;
    if !report.damaged.is_empty() {
        return Err(format!(
            "{who}'s sync received damaged documents {:?}",
            report.damaged
        )
        .into());
    }
    Ok(())
}

fn day(text: &str) -> Fallible<NaiveDate> {
    Ok(NaiveDate::parse_from_str(text, "%Y-%m-%d")?)
}

/// Every device syncs and reads what it holds; the compliance report leaves nothing out.
pub async fn full_check(field: &mut Field) -> TestResult {
    sync_phone("li-phone", &field.li).await?;
    sync_phone("sup-phone", &field.sup).await?;
    // Both phones hold every document attacked (Li's store among them); the supervisor's
    // also the store of another territory.
    let li = read_all("li-phone", &field.li.local)?;
    let sup = read_all("sup-phone", &field.sup.local)?;
    if li < Target::ALL.len() || sup <= Target::ALL.len() {
        return Err(
            format!("the phones hold too few documents: Li {li}, the supervisor {sup}").into(),
        );
    }
    for sender in Sender::ALL {
        field.pull_all(sender).await?;
    }
    let admin = field.servers[0].admin()?;
    admin.pull()?;
    let options = ReportOptions::resolve(
        Some(day("2026-11-01")?),
        Some(day("2026-11-24")?),
        4,
        &FieldCalendar::default(),
        at("2026-11-25T09:00:00+08:00"),
    )?;
    let (rows, unreadable) = compliance_report_naming(&admin, &options)
        .map_err(|e| format!("the compliance report failed: {e}"))?;
    if !unreadable.is_empty() {
        return Err(
            format!("the compliance report left out unreadable documents: {unreadable:?}").into(),
        );
    }
    if rows.is_empty() {
        return Err("the compliance report has no rows".into());
    }
    Ok(())
}
