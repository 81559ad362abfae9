//! Entries other users wrote into a document the sender may write: the write rules judge
//! who may write a document and the stamp rules that what a change puts names its sender,
//! but a delete names nobody. An account manager with a crafted client may neither delete
//! nor overwrite a supervisor's comment on her own visit (found by a review acting as
//! one).

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ReadDoc};
use axum::http::StatusCode;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::{DocChanges, ErrorBody, SyncRequest};
use fieldsync_core::{CheckPoint, DocId, LocalStore, NewVisit, Role, VisitKind};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T09:00:00+08:00";

async fn phone(
    server: &Instances,
    dir: &std::path::Path,
    user: &str,
) -> Fallible<(LocalStore, String)> {
    let token = server.enroll(user).await?;
    let (phone, _) = device(dir.join(format!("{user}.db")), user, at(MONDAY))?;
    server.sync_phone(&token, &phone).await?;
    Ok((phone, token))
}

/// A visit of Li's with one comment of the supervisor's, on the server and on both phones.
struct Commented {
    server: Instances,
    _dir: tempfile::TempDir,
    visit: DocId,
    li_token: String,
    sup: LocalStore,
    sup_token: String,
}

async fn commented(label: &str) -> Fallible<Commented> {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(Backend::Sqlite, dir.path(), label, Limits::default())?;
    for (id, role) in [
        ("am-li", Role::AccountManager),
        ("sup-liu", Role::Supervisor),
    ] {
        server.storage.add_user(
            &User {
                id: id.into(),
                role,
                name: id.into(),
            },
            0,
        )?;
    }
    let store = {
        let admin = AdminDevice::open(dir.path(), server.storage.as_ref())?;
        let store = admin.local.create_store(sample_store("am-li", 1))?;
        admin.push()?;
        store
    };
    let (li, li_token) = phone(&server, dir.path(), "am-li").await?;
    let visit = li.create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at(MONDAY),
            gps: None,
        },
        complaint_id: None,
    })?;
    server.sync_phone(&li_token, &li).await?;
    let (sup, sup_token) = phone(&server, dir.path(), "sup-liu").await?;
    sup.comment_on_visit(&visit, "no one was in the store at this time: explain")?;
    server.sync_phone(&sup_token, &sup).await?;
    assert_eq!(sup.visit(&visit)?.comments.len(), 1);
    Ok(Commented {
        server,
        _dir: dir,
        visit,
        li_token,
        sup,
        sup_token,
    })
}

impl Commented {
    /// Li's crafted client: `edit` on the visit as the server holds it (given the comments
    /// map and the supervisor's comment's key), pushed with Li's token. The answer's
    /// status and its refusal, if any.
    async fn li_pushes(
        &self,
        edit: impl FnOnce(&mut AutoCommit, &automerge::ObjId, &str) -> Fallible<()>,
    ) -> Fallible<(StatusCode, Option<ErrorBody>)> {
        let mut doc = AutoCommit::new();
        for change in self.server.storage.document_changes(self.visit.as_str())? {
            doc.load_incremental(&change)?;
        }
        let heads = doc.get_heads();
        let mut doc = doc.fork().with_actor(automerge::ActorId::random());
        let comments = match doc.get(automerge::ROOT, "comments")? {
            Some((automerge::Value::Object(_), id)) => id,
            _ => return Err("the visit has no comments map".into()),
        };
        let keys: Vec<String> = doc.keys(&comments).collect();
        let [key] = keys.as_slice() else {
            return Err(format!("one comment expected: {keys:?}").into());
        };
        edit(&mut doc, &comments, key)?;
        doc.commit_with(CommitOptions::default().with_time(chrono::Utc::now().timestamp_millis()));
        let request = SyncRequest {
            protocol: 1,
            cursor: None,
            push: vec![DocChanges {
                doc: self.visit.to_string(),
                changes: doc
                    .get_changes(&heads)
                    .into_iter()
                    .map(|c| c.raw_bytes().to_vec().into())
                    .collect(),
                index: None,
            }],
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        };
        let (status, _, body) = self.server.sync(&self.li_token, &request).await?;
        let refusal = (!status.is_success())
            .then(|| serde_json::from_slice(&body))
            .transpose()?;
        Ok((status, refusal))
    }

    /// The supervisor's comment is still on her phone after a sync, as she wrote it.
    async fn comment_kept(&self) -> Fallible<()> {
        self.server.sync_phone(&self.sup_token, &self.sup).await?;
        let comments = self.sup.visit(&self.visit)?.comments;
        assert_eq!(comments.len(), 1, "{comments:?}");
        assert_eq!(comments[0].by, "sup-liu");
        assert_eq!(
            comments[0].text,
            "no one was in the store at this time: explain"
        );
        Ok(())
    }
}

/// The refusal names the comment's entry and the rule.
fn refused_at(answer: (StatusCode, Option<ErrorBody>), rule: &str, key: &str) {
    let (status, refusal) = answer;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refusal:?}");
    let refusal = refusal.expect("a refusal has a body");
    assert_eq!(refusal.error, "write_rule");
    let rejected = &refusal.rejected[0];
    assert_eq!(rejected.rule, rule, "{rejected:?}");
    assert!(
        rejected.field.starts_with(key),
        "the field named: {rejected:?}"
    );
}

/// protocol.md, "Who writes what": a visit is "written by its `visitor`; a supervisor may
/// add to `comments`". No client deletes a comment; a delete names no author.
#[tokio::test]
async fn a_visitor_cannot_delete_a_supervisors_comment_on_her_visit() -> Fallible<()> {
    let field = commented("others_delete").await?;
    let answer = field
        .li_pushes(|doc, comments, key| Ok(doc.delete(comments, key)?))
        .await?;
    refused_at(answer, "transition", "comments.");
    field.comment_kept().await
}

/// Writing her own entry over the supervisor's would replace the comment as surely.
#[tokio::test]
async fn a_visitor_cannot_write_her_own_entry_over_a_supervisors_comment() -> Fallible<()> {
    let field = commented("others_overwrite").await?;
    let answer = field
        .li_pushes(|doc, comments, key| {
            let mine = serde_json::json!({
                "text": "all fine",
                "by": "am-li",
                "at": chrono::Utc::now().timestamp_millis()
            });
            Ok(doc.put(comments, key, mine.to_string())?)
        })
        .await?;
    refused_at(answer, "stamp_author", "comments.");
    field.comment_kept().await
}

/// The supervisor's comment change, as stored: the last change of the visit, and the
/// heads it was made on.
fn before_the_comment(field: &Commented) -> Fallible<(AutoCommit, Vec<automerge::ChangeHash>)> {
    let mut doc = AutoCommit::new();
    for change in field
        .server
        .storage
        .document_changes(field.visit.as_str())?
    {
        doc.load_incremental(&change)?;
    }
    let comment = doc
        .get_changes(&[])
        .last()
        .map(|c| c.deps().to_vec())
        .ok_or("the visit has no changes")?;
    Ok((doc, comment))
}

/// Review 23: the stamp check reads the entry "as the document was where the change was
/// made", so a change made on the visit as it was before the supervisor commented (an
/// offline phone's view, or a crafted one) does not see her comment. Li's crafted client
/// forks the visit at the comment change's own dependencies and writes her own stamped
/// entry at the comment's key, with the largest actor id, so that of the two values
/// that now conflict (the same counter) Li's wins. Every reader then shows
/// Li's "all fine" in place of the supervisor's comment: written over as surely as by a
/// put that names the comment as its predecessor.
#[tokio::test]
async fn a_visitor_cannot_hide_a_supervisors_comment_behind_a_concurrent_entry_at_its_key()
-> Fallible<()> {
    let field = commented("others_concurrent").await?;
    let (mut doc, before) = before_the_comment(&field)?;
    let key = {
        let comments = match doc.get(automerge::ROOT, "comments")? {
            Some((automerge::Value::Object(_), id)) => id,
            _ => return Err("the visit has no comments map".into()),
        };
        doc.keys(&comments).next().ok_or("no comment")?
    };
    // The largest actor id: a value of the same counter wins the conflict.
    let mut fork = doc
        .fork_at(&before)?
        .with_actor(automerge::ActorId::from([0xffu8; 16].as_slice()));
    let comments = match fork.get(automerge::ROOT, "comments")? {
        Some((automerge::Value::Object(_), id)) => id,
        _ => return Err("the visit had no comments map before the comment".into()),
    };
    assert!(
        fork.get(&comments, &key)?.is_none(),
        "made before the comment"
    );
    let now = chrono::Utc::now().timestamp_millis();
    let mine = serde_json::json!({"text": "all fine", "by": "am-li", "at": now}).to_string();
    fork.put(&comments, &key, mine.as_str())?;
    fork.commit_with(CommitOptions::default().with_time(now));
    let changes: Vec<Vec<u8>> = fork
        .get_changes(&before)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    assert_eq!(changes.len(), 1);
    let request = SyncRequest {
        protocol: 1,
        cursor: None,
        push: vec![DocChanges {
            doc: field.visit.to_string(),
            changes: changes.into_iter().map(Into::into).collect(),
            index: None,
        }],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, _, body) = field.server.sync(&field.li_token, &request).await?;
    field
        .server
        .sync_phone(&field.sup_token, &field.sup)
        .await?;
    let seen = field.sup.visit(&field.visit)?.comments;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "accepted: the supervisor's phone now shows the comments {seen:?}; {}",
        String::from_utf8_lossy(&body)
    );
    field.comment_kept().await
}
