//! Reading FusionAuth-shaped request bodies field by field, so that a
//! member of the wrong JSON type is a field error naming its path, never a
//! parse failure of the whole body.

use lamba_core::{ErrorKind, ValidationErrors};
use serde::Serialize;
use serde_json::{Map, Value};

use super::OperatorError;

/// A response body as JSON, to merge a PATCH into (RFC 7396): the stored
/// resource in exactly the shape a GET answers.
pub(in crate::operator) fn to_json(
    value: impl Serialize,
    what: &str,
) -> Result<Value, OperatorError> {
    serde_json::to_value(value).map_err(|error| {
        tracing::error!(%error, "could not render a {what} as JSON");
        OperatorError::Internal
    })
}

/// The members of one JSON object, at a path like `application.jwtConfiguration`.
pub struct Fields<'a> {
    object: Option<&'a Map<String, Value>>,
    path: String,
}

impl<'a> Fields<'a> {
    /// The object at `key` of the body (`{"application": {...}}`); absent or
    /// `null` reads as an empty object, so that required fields report
    /// themselves. Anything else is the one error of the request.
    pub fn root(body: &'a Value, key: &str) -> Result<Fields<'a>, ValidationErrors> {
        let object = match body.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(object)) => Some(object),
            Some(other) => {
                return Err(ValidationErrors::with_field(
                    key,
                    ErrorKind::Invalid,
                    format!("{key} must be a JSON object, not {}.", json_type(other)),
                ));
            }
        };
        Ok(Fields {
            object,
            path: key.to_owned(),
        })
    }

    fn member(&self, key: &str) -> Option<&'a Value> {
        match self.object?.get(key)? {
            Value::Null => None,
            value => Some(value),
        }
    }

    fn path_of(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// `text` if it holds no character a text field refuses, else the
    /// error that names the first one.
    fn text(&self, key: &str, text: &str, errors: &mut ValidationErrors) -> Option<String> {
        let Some(c) = lamba_core::validation::forbidden_char(text) else {
            return Some(text.to_owned());
        };
        let path = self.path_of(key);
        errors.unreadable(
            &path,
            format!(
                "{path} may not contain U+{:04X} (NUL and bidirectional controls are refused).",
                u32::from(c)
            ),
        );
        None
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value, errors: &mut ValidationErrors) {
        let path = self.path_of(key);
        errors.unreadable(
            &path,
            format!("{path} must be {expected}, not {}.", json_type(found)),
        );
    }

    /// A nested object; absent or `null` reads as an empty object.
    pub fn object(&self, key: &str, errors: &mut ValidationErrors) -> Fields<'a> {
        let object = match self.member(key) {
            None => None,
            Some(Value::Object(object)) => Some(object),
            Some(other) => {
                self.wrong_type(key, "a JSON object", other, errors);
                None
            }
        };
        Fields {
            object,
            path: self.path_of(key),
        }
    }

    /// A nested object's raw members (free-form data such as `user.data`).
    pub fn map(&self, key: &str, errors: &mut ValidationErrors) -> Option<Map<String, Value>> {
        match self.member(key)? {
            Value::Object(object) => Some(object.clone()),
            other => {
                self.wrong_type(key, "a JSON object", other, errors);
                None
            }
        }
    }

    /// A string member. Every text field of every operator body refuses
    /// U+0000 and bidirectional controls here, in one place
    /// ([`lamba_core::validation::forbidden_char`]); secrets are taken as
    /// they come.
    pub fn string(&self, key: &str, errors: &mut ValidationErrors) -> Option<String> {
        match self.member(key)? {
            Value::String(s) if is_secret(key) => Some(s.clone()),
            Value::String(s) => self.text(key, s, errors),
            other => {
                self.wrong_type(key, "a string", other, errors);
                None
            }
        }
    }

    pub fn bool(&self, key: &str, errors: &mut ValidationErrors) -> Option<bool> {
        match self.member(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.wrong_type(key, "true or false", other, errors);
                None
            }
        }
    }

    pub fn integer(&self, key: &str, errors: &mut ValidationErrors) -> Option<i64> {
        match self.member(key)? {
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            other => {
                self.wrong_type(key, "an integer", other, errors);
                None
            }
        }
    }

    pub fn strings(&self, key: &str, errors: &mut ValidationErrors) -> Option<Vec<String>> {
        match self.member(key)? {
            Value::Array(items) => {
                let mut strings = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => strings.push(self.text(key, s, errors)?),
                        other => {
                            self.wrong_type(key, "an array of strings", other, errors);
                            return None;
                        }
                    }
                }
                Some(strings)
            }
            other => {
                self.wrong_type(key, "an array of strings", other, errors);
                None
            }
        }
    }

    /// An array of objects, each read with `read`.
    pub fn objects<T>(
        &self,
        key: &str,
        errors: &mut ValidationErrors,
        mut read: impl FnMut(&Fields<'a>, &mut ValidationErrors) -> T,
    ) -> Option<Vec<T>> {
        match self.member(key)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Object(object) => out.push(read(
                            &Fields {
                                object: Some(object),
                                path: self.path_of(key),
                            },
                            errors,
                        )),
                        other => {
                            self.wrong_type(key, "an array of objects", other, errors);
                            return None;
                        }
                    }
                }
                Some(out)
            }
            other => {
                self.wrong_type(key, "an array of objects", other, errors);
                None
            }
        }
    }

    /// An object whose members are objects keyed by name (FusionAuth's
    /// `applicationConfiguration`), each read with `read` at the path
    /// `<path>.<key>.<name>`.
    pub fn keyed_objects<T>(
        &self,
        key: &str,
        errors: &mut ValidationErrors,
        mut read: impl FnMut(&Fields<'a>, &mut ValidationErrors) -> T,
    ) -> Option<Vec<(String, T)>> {
        match self.member(key)? {
            Value::Object(members) => {
                let mut out = Vec::with_capacity(members.len());
                for (name, value) in members {
                    let path = format!("{}.{name}", self.path_of(key));
                    match value {
                        Value::Object(object) => {
                            let fields = Fields {
                                object: Some(object),
                                path,
                            };
                            out.push((name.clone(), read(&fields, errors)));
                        }
                        other => errors.unreadable(
                            &path,
                            format!("{path} must be a JSON object, not {}.", json_type(other)),
                        ),
                    }
                }
                Some(out)
            }
            other => {
                self.wrong_type(key, "a JSON object", other, errors);
                None
            }
        }
    }

    /// An object whose members are all strings (a mapping of names).
    pub fn string_map(
        &self,
        key: &str,
        errors: &mut ValidationErrors,
    ) -> Option<Vec<(String, String)>> {
        match self.member(key)? {
            Value::Object(members) => {
                let mut out = Vec::with_capacity(members.len());
                for (name, value) in members {
                    let fields = Fields {
                        object: None,
                        path: self.path_of(key),
                    };
                    match value {
                        // The member's name is text too (`data.<name>`).
                        Value::String(text) => {
                            if let (Some(name), Some(text)) = (
                                fields.text(name, name, errors),
                                fields.text(name, text, errors),
                            ) {
                                out.push((name, text));
                            }
                        }
                        other => {
                            let path = format!("{}.{name}", self.path_of(key));
                            errors.unreadable(
                                &path,
                                format!("{path} must be a string, not {}.", json_type(other)),
                            );
                        }
                    }
                }
                Some(out)
            }
            other => {
                self.wrong_type(key, "a JSON object of strings", other, errors);
                None
            }
        }
    }
}

pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Members that hold secrets, taken byte for byte.
fn is_secret(key: &str) -> bool {
    matches!(
        key,
        "password" | "clientSecret" | "client_secret" | "secret"
    )
}
