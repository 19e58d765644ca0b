//! Protection of the claims the server owns from a populate lambda's changes.

use serde_json::{Map, Value};

/// Claims no lambda may add, change or remove, in any token.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "sid",
    "auth_time",
    "nonce",
    "at_hash",
    "c_hash",
    "scope",
    "client_id",
];

/// Claims that are reserved in scoped-session tokens only. They are a
/// separate list because `roles` (and `permissions`) of an ordinary token
/// come from the registration, and FusionAuth lambdas commonly read and
/// extend them; the caller decides which lists apply.
pub const SCOPED_SESSION_CLAIMS: &[&str] = &[
    "workspace_id",
    "project_id",
    "environment",
    "roles",
    "permissions",
];

/// The claims after a lambda ran, with its changes to reserved claims undone.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtectedClaims {
    pub claims: Map<String, Value>,
    /// The reserved claims the lambda tried to add, change or remove, in the
    /// order of the reserved list; each such change was discarded.
    pub rejected: Vec<String>,
}

/// Merges what a lambda returned with the original claims: every claim is
/// the lambda's, except the reserved ones, which keep their original value
/// (or stay absent if they were absent).
pub fn protect_reserved_claims<'a>(
    original: &Map<String, Value>,
    returned: Map<String, Value>,
    reserved: impl IntoIterator<Item = &'a str>,
) -> ProtectedClaims {
    let mut claims = returned;
    let mut rejected = Vec::new();
    for name in reserved {
        let before = original.get(name);
        if claims.get(name) == before {
            continue;
        }
        if !rejected.iter().any(|r| r == name) {
            rejected.push(name.to_owned());
        }
        match before {
            Some(value) => {
                claims.insert(name.to_owned(), value.clone());
            }
            None => {
                claims.remove(name);
            }
        }
    }
    ProtectedClaims { claims, rejected }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn keeps_reserved_claims_and_reports_each_change() {
        let original = object(json!({"sub": "u1", "aud": "app", "exp": 10, "roles": ["a"]}));
        let returned = object(json!({
            "sub": "someone-else",          // changed
            "exp": 10,                      // unchanged
            "iss": "https://evil",          // added
            "roles": ["a", "admin"],        // not reserved here
            "favorite": "blue"              // the lambda's own claim
        })); // "aud" removed
        let protected =
            protect_reserved_claims(&original, returned, RESERVED_CLAIMS.iter().copied());
        assert_eq!(
            Value::Object(protected.claims),
            json!({"sub": "u1", "aud": "app", "exp": 10, "roles": ["a", "admin"], "favorite": "blue"})
        );
        assert_eq!(protected.rejected, vec!["iss", "sub", "aud"]);
    }

    #[test]
    fn scoped_session_claims_are_reserved_when_asked() {
        let original = object(json!({"sub": "u1", "roles": ["viewer"], "project_id": "p"}));
        let returned = object(json!({"sub": "u1", "roles": ["owner"], "permissions": ["*"]}));
        let reserved = RESERVED_CLAIMS.iter().chain(SCOPED_SESSION_CLAIMS).copied();
        let protected = protect_reserved_claims(&original, returned, reserved);
        assert_eq!(
            Value::Object(protected.claims),
            json!({"sub": "u1", "roles": ["viewer"], "project_id": "p"})
        );
        assert_eq!(
            protected.rejected,
            vec!["project_id", "roles", "permissions"]
        );
    }

    #[test]
    fn nothing_rejected_when_nothing_reserved_changed() {
        let original = object(json!({"sub": "u1"}));
        let returned = object(json!({"sub": "u1", "x": 1}));
        let protected =
            protect_reserved_claims(&original, returned, RESERVED_CLAIMS.iter().copied());
        assert!(protected.rejected.is_empty());
        assert_eq!(
            Value::Object(protected.claims),
            json!({"sub": "u1", "x": 1})
        );
    }
}
