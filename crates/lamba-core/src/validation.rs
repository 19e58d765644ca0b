//! Field-level validation errors, in the shape FusionAuth's Errors object
//! has: codes are `[kind]` followed by the field path.

use std::collections::{BTreeMap, BTreeSet};

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
    /// Paths whose value could not be read (a wrong JSON type, a refused
    /// character): the use case sees them as absent, and its complaints
    /// about them ("blank") would only repeat the first error.
    unreadable: BTreeSet<String>,
}

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn field(&mut self, path: &str, kind: ErrorKind, message: impl Into<String>) {
        if self.unreadable.contains(path) {
            return;
        }
        self.fields
            .entry(path.to_owned())
            .or_default()
            .push(ErrorEntry {
                code: format!("[{}]{path}", kind.as_str()),
                message: message.into(),
            });
    }

    /// The value at `path` could not be read: records why, and drops any
    /// later complaint about that path.
    pub fn unreadable(&mut self, path: &str, message: impl Into<String>) {
        self.field(path, ErrorKind::Invalid, message);
        self.unreadable.insert(path.to_owned());
    }

    /// What a request's reader found, to start a use case's validation
    /// with: the answer then lists everything wrong, read or meant.
    pub fn from_reading(read: &ValidationErrors) -> Self {
        read.clone()
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

/// The longest name any resource may have, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// The first character no name or text field may hold: U+0000 (PostgreSQL
/// text cannot store it, and nothing needs it) or a bidirectional control
/// (U+202A–U+202E, U+2066–U+2069), with which text shows in another order
/// than it reads, in a console or in a lambda's source (Trojan Source,
/// CVE-2021-42574).
pub fn forbidden_char(text: &str) -> Option<char> {
    text.chars()
        .find(|c| matches!(c, '\0' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

/// Adds `[tooLong]` when `name` is longer than [`MAX_NAME_CHARS`].
pub fn check_name_length(path: &str, name: &str, errors: &mut ValidationErrors) {
    if name.chars().count() > MAX_NAME_CHARS {
        errors.field(
            path,
            ErrorKind::TooLong,
            format!("{path} may have at most {MAX_NAME_CHARS} characters."),
        );
    }
}

/// A wire enum's value, or `[invalid]` naming the path; `None` when
/// absent.
pub fn parse_enum<T: std::str::FromStr>(
    raw: Option<&str>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<T> {
    let raw = raw?;
    match T::from_str(raw) {
        Ok(value) => Some(value),
        Err(_) => {
            errors.field(
                path,
                ErrorKind::Invalid,
                format!("{raw:?} is not a valid value for {path}."),
            );
            None
        }
    }
}

/// An id in a request (`raw`, at `path`): `None` when absent or empty,
/// `[invalid]` when it is not a UUID.
pub fn parse_id<T: std::str::FromStr>(
    raw: Option<&str>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<T> {
    let raw = raw.filter(|r| !r.is_empty())?;
    match T::from_str(raw) {
        Ok(id) => Some(id),
        Err(_) => {
            errors.field(path, ErrorKind::Invalid, format!("{path} must be a UUID."));
            None
        }
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn nul_and_bidi_controls_are_forbidden_and_other_text_is_not() {
        for bad in ["a\0b", "\u{202e}txt.exe", "x\u{2066}y", "\u{202a}"] {
            assert!(forbidden_char(bad).is_some(), "{bad:?}");
        }
        for good in ["Acme", "Ünïcødé ✓", "مرحبا", "שלום", "a\u{200f}b", ""] {
            assert_eq!(forbidden_char(good), None, "{good:?}");
        }
        let mut errors = ValidationErrors::new();
        check_name_length("x.name", &"a".repeat(MAX_NAME_CHARS), &mut errors);
        assert!(errors.is_empty());
        check_name_length("x.name", &"é".repeat(MAX_NAME_CHARS + 1), &mut errors);
        assert!(errors.has_field("x.name"));
    }
}
