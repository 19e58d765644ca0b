//! The field rules of an application that need no storage: resource URIs,
//! client-credentials scopes, roles, and the failed-sign-in policy. The
//! use case in `applications.rs` calls them while it builds an
//! application, collecting every error at once.

use std::collections::HashSet;

use lamba_model::{ApplicationRole, FailedAuthenticationConfiguration};

use crate::validation::{ErrorKind, ValidationErrors};

/// A role as a request states it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleInput {
    pub name: Option<String>,
    pub is_default: Option<bool>,
}

/// `application.failedAuthenticationConfiguration` as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailedAuthenticationInput {
    pub enabled: Option<bool>,
    pub too_many_attempts: Option<i64>,
    pub reset_count_in_seconds: Option<i64>,
    pub lockout_seconds: Option<i64>,
}

/// The largest values the lockout policy takes: a thousand attempts, a day
/// of counting, a day of lockout.
const MAX_TOO_MANY_ATTEMPTS: i64 = 1_000;
const MAX_LOCKOUT_WINDOW_SECONDS: i64 = 86_400;

/// `authorizedResourceURIs`: absolute http(s) URIs without a fragment
/// (RFC 8707 §2), each once.
pub(super) fn resource_uris(
    input: &[String],
    path: &str,
    errors: &mut ValidationErrors,
) -> Vec<String> {
    let mut uris: Vec<String> = Vec::new();
    for uri in input {
        // The URL parser trims and drops whitespace and controls, but the
        // list is compared byte for byte and copied into `aud`: refuse them.
        let has_controls = uri.bytes().any(|b| b <= 0x20 || b == 0x7f);
        if has_controls || super::resource::checked_resource(Some(uri)).is_err() || uri.is_empty() {
            errors.field(
                path,
                ErrorKind::Invalid,
                format!("{uri:?} is not an absolute http(s) URI without a fragment."),
            );
        } else if !uris.contains(uri) {
            uris.push(uri.clone());
        }
    }
    uris
}

/// `allowedScopes`: scope tokens (RFC 6749 §3.3: printable ASCII without
/// space, `"` or `\`), each once; not the scopes that need a user, since
/// client credentials have none, nor the management scope, which the
/// project binding grants.
pub(super) fn allowed_scopes(
    input: &[String],
    path: &str,
    errors: &mut ValidationErrors,
) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in input {
        let is_token = !scope.is_empty()
            && scope.len() <= 255
            && scope
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e));
        if !is_token {
            errors.field(
                path,
                ErrorKind::Invalid,
                format!("{scope:?} is not a scope token (RFC 6749 §3.3), or is longer than 255 characters."),
            );
        } else if super::USER_SCOPES.contains(&scope.as_str())
            || scope == crate::claims::MANAGEMENT_SCOPE
        {
            errors.field(
                path,
                ErrorKind::Invalid,
                format!("{scope:?} is not granted by this list: user scopes need a user, and the management scope follows the project binding."),
            );
        } else if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    scopes
}

pub(super) fn roles(input: &[RoleInput], errors: &mut ValidationErrors) -> Vec<ApplicationRole> {
    let mut seen = HashSet::new();
    let mut roles = Vec::new();
    for role in input {
        match role.name.as_deref().map(str::trim) {
            None | Some("") => errors.field(
                "application.roles",
                ErrorKind::Blank,
                "Every role needs a name.",
            ),
            Some(name) if !seen.insert(name.to_owned()) => errors.field(
                "application.roles",
                ErrorKind::Duplicate,
                format!("The role {name:?} is listed twice."),
            ),
            Some(name) => roles.push(ApplicationRole {
                name: name.to_owned(),
                is_default: role.is_default.unwrap_or(false),
            }),
        }
    }
    roles
}

/// Validates the lockout policy; absent members take their defaults.
pub(super) fn build_failed_authentication(
    input: &FailedAuthenticationInput,
    errors: &mut ValidationErrors,
) -> FailedAuthenticationConfiguration {
    let prefix = "application.failedAuthenticationConfiguration";
    let defaults = FailedAuthenticationConfiguration::default();
    let mut bounded = |value: Option<i64>, field: &str, max: i64, default: u32| match value {
        None => default,
        Some(v) if (1..=max).contains(&v) => u32::try_from(v).unwrap_or(default),
        Some(v) => {
            errors.field(
                &format!("{prefix}.{field}"),
                ErrorKind::Invalid,
                format!("{v} is out of range; use 1 to {max}."),
            );
            default
        }
    };
    FailedAuthenticationConfiguration {
        enabled: input.enabled.unwrap_or(defaults.enabled),
        too_many_attempts: bounded(
            input.too_many_attempts,
            "tooManyAttempts",
            MAX_TOO_MANY_ATTEMPTS,
            defaults.too_many_attempts,
        ),
        reset_count_in_seconds: bounded(
            input.reset_count_in_seconds,
            "resetCountInSeconds",
            MAX_LOCKOUT_WINDOW_SECONDS,
            defaults.reset_count_in_seconds,
        ),
        lockout_seconds: bounded(
            input.lockout_seconds,
            "lockoutSeconds",
            MAX_LOCKOUT_WINDOW_SECONDS,
            defaults.lockout_seconds,
        ),
    }
}
