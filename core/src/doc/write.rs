//! Writing a document: scalars, stamped entries, fixed containers and text, and the values
//! a new document is built from.

use automerge::hydrate;
use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};

use super::fields::entry_json;
use super::{Doc, Stamp};
use crate::error::Result;

impl Doc {
    pub(crate) fn put(
        &mut self,
        obj: &ObjId,
        key: &str,
        value: impl Into<ScalarValue>,
    ) -> Result<()> {
        self.am.put(obj, key, value)?;
        Ok(())
    }

    pub(crate) fn delete(&mut self, obj: &ObjId, key: &str) -> Result<()> {
        if self.am.get(obj, key)?.is_some() {
            self.am.delete(obj, key)?;
        }
        Ok(())
    }

    /// Writes a stamped value `{v, by, at}` at `key`.
    pub(crate) fn put_stamped(
        &mut self,
        obj: &ObjId,
        key: &str,
        value: impl Into<ScalarValue>,
        stamp: &Stamp,
    ) -> Result<()> {
        self.put_entry(obj, key, vec![("v", value.into())], stamp)
    }

    /// Writes a stamped entry with several fields (`by` and `at` are added) as one value,
    /// so that fields which belong together (a verdict and its note) conflict and win
    /// together.
    pub(crate) fn put_entry(
        &mut self,
        obj: &ObjId,
        key: &str,
        fields: Vec<(&str, ScalarValue)>,
        stamp: &Stamp,
    ) -> Result<()> {
        self.am
            .put(obj, key, ScalarValue::Str(entry_json(fields, stamp).into()))?;
        Ok(())
    }

    /// Writes a stamped entry at `key` with `fields`, keeping every field of the entry
    /// there now that `fields` does not name (its `by` and `at` are the new stamp's). For
    /// an edit of part of an entry another call wrote whole: a caption given to a photo
    /// keeps the thumbnail, size, time and place `add_photo` recorded.
    pub(crate) fn put_entry_keeping(
        &mut self,
        obj: &ObjId,
        key: &str,
        fields: Vec<(&str, ScalarValue)>,
        stamp: &Stamp,
    ) -> Result<()> {
        let kept: Vec<(String, ScalarValue)> = self
            .entry(obj, key)
            .map(|old| {
                old.iter()
                    .filter(|(k, _)| {
                        !matches!(k.as_str(), "by" | "at") && !fields.iter().any(|(f, _)| f == k)
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut all = fields;
        all.extend(kept.iter().map(|(k, v)| (k.as_str(), v.clone())));
        self.put_entry(obj, key, all, stamp)
    }

    /// Writes a value built for creation (an entry, or a whole object such as a check-in)
    /// at `key`; objects go in one batch operation.
    pub(crate) fn put_value(
        &mut self,
        obj: &ObjId,
        key: &str,
        value: &hydrate::Value,
    ) -> Result<()> {
        match value {
            hydrate::Value::Scalar(s) => {
                self.am.put(obj, key, s.clone())?;
            }
            other => {
                self.am.batch_create_object(obj, key, other, false)?;
            }
        }
        Ok(())
    }

    /// The map at `key`, created empty if absent. Two devices creating the same map
    /// concurrently would each make their own object and one would hide the other, so the
    /// maps created here are the document's fixed containers, made when it is created.
    pub(crate) fn container(&mut self, obj: &ObjId, key: &str) -> Result<ObjId> {
        match self.obj(obj, key) {
            Some(id) => Ok(id),
            None => Ok(self.am.put_object(obj, key, ObjType::Map)?),
        }
    }

    /// Replaces the text at `key` with `new`, as a minimal diff so concurrent edits by
    /// other people elsewhere in the text survive.
    pub(crate) fn update_text(&mut self, obj: &ObjId, key: &str, new: &str) -> Result<()> {
        let id = match self.am.get(obj, key)? {
            Some((Value::Object(ObjType::Text), id)) => id,
            _ => self.am.put_object(obj, key, ObjType::Text)?,
        };
        self.am.update_text(&id, line_breaks(new))?;
        Ok(())
    }

    /// Appends `text` at the end of the text at `key`.
    pub(crate) fn append_text(&mut self, obj: &ObjId, key: &str, text: &str) -> Result<()> {
        let id = match self.am.get(obj, key)? {
            Some((Value::Object(ObjType::Text), id)) => id,
            _ => self.am.put_object(obj, key, ObjType::Text)?,
        };
        let end = self.am.length(&id);
        self.am.splice_text(&id, end, 0, &line_breaks(text))?;
        Ok(())
    }
}

pub(crate) fn str_value(s: &str) -> hydrate::Value {
    hydrate::Value::from(ScalarValue::Str(s.into()))
}

/// A stamped value `{v, by, at}`, ready for document creation.
pub(crate) fn stamped_value(value: impl Into<ScalarValue>, stamp: &Stamp) -> hydrate::Value {
    entry_value(vec![("v", value.into())], stamp)
}

/// A stamped entry with several fields, ready for document creation.
pub(crate) fn entry_value(fields: Vec<(&str, ScalarValue)>, stamp: &Stamp) -> hydrate::Value {
    hydrate::Value::from(ScalarValue::Str(entry_json(fields, stamp).into()))
}

pub(crate) fn empty_map() -> hydrate::Value {
    hydrate::Value::map()
}

pub(crate) fn text_value(s: &str) -> hydrate::Value {
    hydrate::Value::text(automerge::TextEncoding::platform_default(), &line_breaks(s))
}

/// Text as the app gave it, with Windows and old Mac line breaks (`\r\n`, `\r`, as text
/// pasted from elsewhere has them) written as `\n`: no carriage return is stored, which
/// every text field refuses as a control character.
pub(crate) fn line_breaks(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\r') {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}
