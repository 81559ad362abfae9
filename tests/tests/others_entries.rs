//! Entries other users wrote into a document the sender may write: the write rules judge
//! who may write a document and the stamp rules that what a change puts names its sender,
//! but a delete names nobody. An account manager with a crafted client may neither delete
//! nor overwrite a supervisor's comment on her own visit (found by a review acting as
//! one).

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ReadDoc};
use axum::http::StatusCode;
use fieldsync_core::fixtures::at;
use fieldsync_core::protocol::ErrorBody;
use fieldsync_core::{CheckPoint, DocId, LocalStore, NewVisit, VisitKind};
use fieldsync_tests::crafted::{Crafted, MONDAY, now_ms};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// A visit of Li's with one comment of the supervisor's, on the server and on both phones.
struct Commented {
    district: Crafted,
    visit: DocId,
    li_token: String,
    sup: LocalStore,
    sup_token: String,
}

async fn commented(label: &str) -> Fallible<Commented> {
    let district = Crafted::new(label)?;
    let (li, li_token) = district.phone("am-li").await?;
    let visit = li.create_visit(NewVisit {
        store_id: district.store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at(MONDAY),
            gps: None,
        },
        complaint_id: None,
    })?;
    district.server.sync_phone(&li_token, &li).await?;
    let (sup, sup_token) = district.phone("sup-liu").await?;
    sup.comment_on_visit(&visit, "no one was in the store at this time: explain")?;
    district.server.sync_phone(&sup_token, &sup).await?;
    assert_eq!(sup.visit(&visit)?.comments.len(), 1);
    Ok(Commented {
        district,
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
        let (mut doc, heads) = self.district.stored(&self.visit)?;
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
        doc.commit_with(CommitOptions::default().with_time(now_ms()));
        let (status, said) = self
            .district
            .push(&self.li_token, &self.visit, &doc.get_changes(&heads))
            .await?;
        let refusal = (!status.is_success())
            .then(|| serde_json::from_str(&said))
            .transpose()?;
        Ok((status, refusal))
    }

    /// The supervisor's comment is still on her phone after a sync, as she wrote it.
    async fn comment_kept(&self) -> Fallible<()> {
        self.district
            .server
            .sync_phone(&self.sup_token, &self.sup)
            .await?;
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
    let (mut doc, _) = field.district.stored(&field.visit)?;
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
    let changes = fork.get_changes(&before);
    assert_eq!(changes.len(), 1);
    let (status, body) = field
        .district
        .push(&field.li_token, &field.visit, &changes)
        .await?;
    field
        .district
        .server
        .sync_phone(&field.sup_token, &field.sup)
        .await?;
    let seen = field.sup.visit(&field.visit)?.comments;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "accepted: the supervisor's phone now shows the comments {seen:?}; {body}"
    );
    field.comment_kept().await
}
