//! A document, or a write, refused: which rule, which field, and why.
//!
//! The kinds refuse what breaks their definition (`schema`, `value`, `transition`,
//! `clock`, `stamp_author`); the server's write rules (`crate::rules::write_rules`) and
//! quotas refuse with the same type, so a device is told one way whatever refused it.

use std::fmt;

use crate::error::Error;

/// A refused write: the rule, the field that broke it (empty when the whole document
/// did), and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleViolation {
    /// `schema` (a value no reader can read), `value` (a value rule), `transition` (a state
    /// change), `clock` (a device time), `stamp_author`, `quota`, or a write rule's name.
    pub rule: &'static str,
    /// The field, as a dotted path from the document's root (`check_in.at`,
    /// `counted.6901028.v`); empty when the rule is about the whole document.
    pub field: String,
    pub message: String,
}

impl RuleViolation {
    /// A violation of `rule` at `field`; `reason` says what is wrong with it.
    pub fn at(rule: &'static str, field: impl Into<String>, reason: impl Into<String>) -> Self {
        let field = field.into();
        let reason = reason.into();
        let message = if field.is_empty() {
            reason
        } else {
            format!("`{field}` {reason}")
        };
        RuleViolation {
            rule,
            field,
            message,
        }
    }

    /// A document that does not read as its kind.
    pub(crate) fn unreadable(e: &Error) -> Self {
        match e {
            Error::InvalidField { field, reason } => RuleViolation::at("schema", field, reason),
            other => RuleViolation::at("schema", "", other.to_string()),
        }
    }

    /// A value rule of the typed API, refused with its field.
    pub(crate) fn from_invalid(rule: &'static str, e: &Error) -> Self {
        match e {
            Error::InvalidField { field, reason } => RuleViolation::at(rule, field, reason),
            other => RuleViolation::at(rule, "", other.to_string()),
        }
    }
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}
