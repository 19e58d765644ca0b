//! Field-level validation errors, in the shape FusionAuth's Errors object
//! has: codes are `[kind]` followed by the field path.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Blank,
    Invalid,
    Duplicate,
    NotFound,
    Immutable,
    InUse,
    TooShort,
    TooLong,
}

impl ErrorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Blank => "blank",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::NotFound => "notFound",
            ErrorKind::Immutable => "immutable",
            ErrorKind::InUse => "inUse",
            ErrorKind::TooShort => "tooShort",
            ErrorKind::TooLong => "tooLong",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorEntry {
    pub code: String,
    pub message: String,
}

/// Everything wrong with one request, gathered before answering so that a
/// client fixes all of it in one go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    pub fields: BTreeMap<String, Vec<ErrorEntry>>,
    pub general: Vec<ErrorEntry>,
}

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn field(&mut self, path: &str, kind: ErrorKind, message: impl Into<String>) {
        self.fields
            .entry(path.to_owned())
            .or_default()
            .push(ErrorEntry {
                code: format!("[{}]{path}", kind.as_str()),
                message: message.into(),
            });
    }

    pub fn general(&mut self, code: &str, message: impl Into<String>) {
        self.general.push(ErrorEntry {
            code: code.to_owned(),
            message: message.into(),
        });
    }

    pub fn with_field(path: &str, kind: ErrorKind, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.field(path, kind, message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    pub fn has_field(&self, path: &str) -> bool {
        self.fields.contains_key(path)
    }

    /// `Ok(())` when nothing was found wrong.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}
