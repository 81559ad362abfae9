//! A slot for what a layer above derives from a document, kept with it while it is loaded.
//!
//! The local store derives index rows from some kinds' documents (a count's lines, a
//! display's entries, a visit's row) and keeps them with the loaded document, so that a
//! local edit updates them from what it wrote instead of reading the whole document again
//! (a count's index read every line of the count on each counted quantity). This layer
//! does not know what the rows are: it keeps any [`Rows`] value and gives it back to whoever
//! asks for that type. Rows are trusted only at the heads they were derived at: a merge, or
//! an edit whose code does not update them, leaves them behind and the next index reads
//! the document whole again.

use std::any::Any;
use std::fmt::Debug;

use automerge::ChangeHash;

use super::Doc;

/// What a layer above keeps with a loaded document: any plain value, cloned with it.
pub(crate) trait Rows: Any + Debug + Send + Sync {
    fn clone_rows(&self) -> Box<dyn Rows>;
}

impl<T: Any + Debug + Clone + Send + Sync> Rows for T {
    fn clone_rows(&self) -> Box<dyn Rows> {
        Box::new(self.clone())
    }
}

/// The rows kept with a document, and those an edit in progress updates.
#[derive(Debug, Default)]
pub(super) struct DerivedState {
    /// The rows and the heads they describe.
    current: Option<(Vec<ChangeHash>, Box<dyn Rows>)>,
    /// During an edit: the rows as they were before it, for the edit to update.
    editing: Option<Box<dyn Rows>>,
    /// Whether the edit in progress updated `editing` with everything it wrote.
    updated: bool,
}

impl Clone for DerivedState {
    fn clone(&self) -> Self {
        DerivedState {
            current: self
                .current
                .as_ref()
                .map(|(heads, rows)| (heads.clone(), (**rows).clone_rows())),
            editing: self.editing.as_ref().map(|rows| (**rows).clone_rows()),
            updated: self.updated,
        }
    }
}

fn as_any(rows: &dyn Rows) -> &dyn Any {
    rows
}

fn as_any_mut(rows: &mut dyn Rows) -> &mut dyn Any {
    rows
}

impl Doc {
    /// The rows of type `T` derived at the document's current heads, if any.
    pub(crate) fn derived<T: Rows>(&mut self) -> Option<&T> {
        let heads = self.am.get_heads();
        match &self.derived.current {
            Some((at, rows)) if *at == heads => as_any(&**rows).downcast_ref::<T>(),
            _ => None,
        }
    }

    /// Takes the rows of type `T` derived at the document's current heads, if any (rows of
    /// another type, or of other heads, are dropped).
    pub(crate) fn take_derived<T: Rows>(&mut self) -> Option<T> {
        let heads = self.am.get_heads();
        match self.derived.current.take() {
            Some((at, rows)) if at == heads => {
                let rows: Box<dyn Any> = rows;
                rows.downcast::<T>().ok().map(|rows| *rows)
            }
            _ => None,
        }
    }

    /// Keeps `rows` as derived from the document as it is now.
    pub(crate) fn set_derived<T: Rows>(&mut self, rows: T) {
        let heads = self.am.get_heads();
        self.derived.current = Some((heads, Box::new(rows)));
    }

    /// Starts a local edit: the rows valid now are set aside for the edit to update.
    pub(crate) fn begin_edit(&mut self) {
        let heads = self.am.get_heads();
        self.derived.editing = match self.derived.current.take() {
            Some((at, rows)) if at == heads => Some(rows),
            _ => None,
        };
        self.derived.updated = false;
    }

    /// For the code of an edit, once every write of the edit succeeded: `update` applies
    /// what the edit wrote to the rows and returns whether it covered all of it (rows it
    /// does not know, or rows of another type, are dropped and derived again from the
    /// document).
    pub(crate) fn update_derived<T: Rows>(&mut self, update: impl FnOnce(&mut T) -> bool) {
        if let Some(rows) = self.derived.editing.as_mut() {
            self.derived.updated = match as_any_mut(&mut **rows).downcast_mut::<T>() {
                Some(rows) => update(rows),
                None => false,
            };
        }
    }

    /// Whether the edit in progress updated the rows it set aside with everything it
    /// wrote (then they need not be derived again). Asks Automerge nothing, so it may be
    /// called while the edit's operations are not committed yet.
    pub(crate) fn edit_updated_rows(&self) -> bool {
        self.derived.updated && self.derived.editing.is_some()
    }

    /// Ends a local edit: the updated rows describe the document when the edit was
    /// committed; otherwise (rolled back, nothing written, or not updated) they are dropped.
    pub(crate) fn end_edit(&mut self, committed: bool) {
        let rows = self.derived.editing.take();
        let updated = std::mem::take(&mut self.derived.updated);
        if let (true, true, Some(rows)) = (committed, updated, rows) {
            let heads = self.am.get_heads();
            self.derived.current = Some((heads, rows));
        }
    }
}
