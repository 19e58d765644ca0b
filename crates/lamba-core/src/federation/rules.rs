//! The field rules of an identity provider that need no storage: URLs,
//! managed domains, scopes, claim names, attribute mappings and the OpenID
//! Connect settings. `providers.rs` calls them while it builds a provider,
//! collecting every error at once.

use std::collections::{BTreeMap, BTreeSet};

use lamba_model::{OidcSettings, UpstreamClientAuthentication};

use super::input::ProviderInput;
use crate::validation::{ErrorKind, ValidationErrors, check_name_length, parse_enum};

pub(super) const ROOT: &str = "identityProvider";
const MAX_URL_CHARS: usize = 2048;
const MAX_DOMAIN_CHARS: usize = 253;
const MAX_SECRET_CHARS: usize = 1024;
/// The local user fields an attribute mapping may fill (besides `data.*`).
const MAPPABLE_FIELDS: &[&str] = &["firstName", "lastName"];

pub(super) fn oidc_settings(
    input: &ProviderInput,
    errors: &mut ValidationErrors,
) -> Option<OidcSettings> {
    let prefix = format!("{ROOT}.oauth2");
    let client_id = required_text(
        input.client_id.as_deref(),
        &format!("{prefix}.client_id"),
        errors,
    );
    let client_authentication = match input.client_authentication_method.as_deref() {
        None | Some("") => UpstreamClientAuthentication::ClientSecretBasic,
        Some(raw) => parse_enum(
            Some(raw),
            &format!("{prefix}.clientAuthenticationMethod"),
            errors,
        )
        .unwrap_or(UpstreamClientAuthentication::ClientSecretBasic),
    };
    let issuer = optional_url(input.issuer.as_deref(), &format!("{prefix}.issuer"), errors);
    // OpenID Connect Discovery §2: an issuer has no query or fragment.
    if let Some(issuer) = &issuer
        && url::Url::parse(issuer).is_ok_and(|u| u.query().is_some())
    {
        errors.field(
            &format!("{prefix}.issuer"),
            ErrorKind::Invalid,
            format!("{prefix}.issuer may not have a query."),
        );
    }
    let endpoint = |raw: Option<&str>, name: &str, errors: &mut ValidationErrors| {
        optional_url(raw, &format!("{prefix}.{name}"), errors)
    };
    let authorization_endpoint = endpoint(
        input.authorization_endpoint.as_deref(),
        "authorization_endpoint",
        errors,
    );
    let token_endpoint = endpoint(input.token_endpoint.as_deref(), "token_endpoint", errors);
    let userinfo_endpoint = endpoint(
        input.userinfo_endpoint.as_deref(),
        "userinfo_endpoint",
        errors,
    );
    if input.issuer.as_deref().is_none_or(str::is_empty) {
        for (value, name) in [
            (&input.authorization_endpoint, "authorization_endpoint"),
            (&input.token_endpoint, "token_endpoint"),
        ] {
            if value.as_deref().is_none_or(str::is_empty) {
                errors.field(
                    &format!("{prefix}.{name}"),
                    ErrorKind::Blank,
                    format!("You must specify {prefix}.{name} or {prefix}.issuer."),
                );
            }
        }
    }
    let scope = match input.scope.as_deref().map(str::trim) {
        None | Some("") => "openid".to_owned(),
        Some(raw) => scope(raw, &format!("{prefix}.scope"), errors),
    };
    let claim =
        |raw: Option<&str>, name: &str, default: &str, errors: &mut ValidationErrors| match raw
            .map(str::trim)
        {
            None | Some("") => default.to_owned(),
            Some(claim) => {
                check_name_length(&format!("{prefix}.{name}"), claim, errors);
                claim.to_owned()
            }
        };
    let email_claim = claim(input.email_claim.as_deref(), "emailClaim", "email", errors);
    let email_verified_claim = claim(
        input.email_verified_claim.as_deref(),
        "emailVerifiedClaim",
        "email_verified",
        errors,
    );
    let unique_id_claim = claim(
        input.unique_id_claim.as_deref(),
        "uniqueIdClaim",
        "sub",
        errors,
    );
    let username_claim = claim(
        input.username_claim.as_deref(),
        "usernameClaim",
        "preferred_username",
        errors,
    );
    // Last: every field above reports its errors even without a client id.
    Some(OidcSettings {
        client_id: client_id?,
        client_authentication,
        issuer,
        authorization_endpoint,
        token_endpoint,
        userinfo_endpoint,
        scope,
        email_claim,
        email_verified_claim,
        unique_id_claim,
        username_claim,
        post_request: input.post_request.unwrap_or(false),
    })
}

/// A trimmed, non-blank text of at most 255 characters.
pub(super) fn required_text(
    raw: Option<&str>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    match raw.map(str::trim) {
        None | Some("") => {
            errors.field(path, ErrorKind::Blank, format!("You must specify {path}."));
            None
        }
        Some(text) => {
            check_name_length(path, text, errors);
            Some(text.to_owned())
        }
    }
}

pub(super) fn check_secret(secret: &str, path: &str, errors: &mut ValidationErrors) {
    if secret.chars().count() > MAX_SECRET_CHARS {
        errors.field(
            path,
            ErrorKind::TooLong,
            format!("{path} may have at most {MAX_SECRET_CHARS} characters."),
        );
    }
}

/// Scopes, space separated, `openid` among them (without it the upstream
/// answers with no ID token).
pub(super) fn scope(raw: &str, path: &str, errors: &mut ValidationErrors) -> String {
    let scopes: Vec<&str> = raw.split_whitespace().collect();
    if !scopes.contains(&"openid") {
        errors.field(
            path,
            ErrorKind::Invalid,
            format!("{path} must include openid."),
        );
    }
    if scopes.iter().any(|s| {
        s.chars()
            .any(|c| c == '"' || c == '\\' || !(' '..='~').contains(&c))
    }) {
        errors.field(
            path,
            ErrorKind::Invalid,
            format!("{path} holds a character RFC 6749 does not allow in a scope."),
        );
    }
    check_name_length(path, raw, errors);
    scopes.join(" ")
}

/// An absolute URL Lamba may call or show: `https`, or `http` to a loopback
/// address (a provider on the same machine), without user information.
pub(super) fn optional_url(
    raw: Option<&str>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
    if raw.chars().count() > MAX_URL_CHARS {
        errors.field(
            path,
            ErrorKind::TooLong,
            format!("{path} may have at most {MAX_URL_CHARS} characters."),
        );
        return None;
    }
    let Ok(url) = url::Url::parse(raw) else {
        errors.field(
            path,
            ErrorKind::Invalid,
            format!("{path} must be an absolute URL."),
        );
        return None;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    // Link-local addresses are where cloud metadata services answer
    // (169.254.169.254); no identity provider lives there. Private ranges
    // stay allowed: a company's own provider often does.
    let link_local = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_link_local(),
        Some(url::Host::Ipv6(ip)) => (ip.segments()[0] & 0xffc0) == 0xfe80,
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("metadata.google.internal"),
        None => false,
    };
    let allowed = !link_local
        && match url.scheme() {
            "https" => url.host().is_some(),
            "http" => loopback,
            _ => false,
        };
    if !allowed {
        errors.field(
            path,
            ErrorKind::Invalid,
            format!(
                "{path} must be an https URL (http only to a loopback address; never a \
                 link-local one)."
            ),
        );
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        errors.field(
            path,
            ErrorKind::Invalid,
            format!("{path} may not carry user information or a fragment."),
        );
        return None;
    }
    Some(raw.to_owned())
}

/// Managed domains: lower case, each a host name with at least one dot,
/// listed once.
pub(super) fn domains(input: &[String], errors: &mut ValidationErrors) -> Vec<String> {
    let path = format!("{ROOT}.domains");
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for raw in input {
        let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = domain.len() <= MAX_DOMAIN_CHARS
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid {
            errors.field(
                &path,
                ErrorKind::Invalid,
                format!("{raw:?} is not a domain name (punycode for international names)."),
            );
        } else if seen.insert(domain.clone()) {
            out.push(domain);
        }
    }
    out
}

/// Local field -> upstream claim. Fields: `firstName`, `lastName`, or
/// `data.<name>`.
pub(super) fn attribute_mappings(
    input: &[(String, String)],
    errors: &mut ValidationErrors,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (field, claim) in input {
        let path = format!("{ROOT}.attributeMappings.{field}");
        let known = MAPPABLE_FIELDS.contains(&field.as_str())
            || field
                .strip_prefix("data.")
                .is_some_and(|name| !name.is_empty() && name.chars().count() <= 255);
        if !known {
            errors.field(
                &path,
                ErrorKind::Invalid,
                format!("{field:?} is not a mappable field (firstName, lastName, data.<name>)."),
            );
            continue;
        }
        if claim.trim().is_empty() {
            errors.field(
                &path,
                ErrorKind::Blank,
                format!("You must name the claim for {path}."),
            );
            continue;
        }
        check_name_length(&path, claim, errors);
        out.insert(field.clone(), claim.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http_without_credentials() {
        let mut errors = ValidationErrors::new();
        for good in [
            "https://idp.example.com/.well-known",
            "http://127.0.0.1:9000/auth",
            "http://localhost/x",
            "http://[::1]:8080/",
        ] {
            assert_eq!(
                optional_url(Some(good), "u", &mut errors).as_deref(),
                Some(good)
            );
        }
        assert!(errors.is_empty(), "{errors:?}");
        for bad in [
            "http://idp.example.com/",
            "https://user:pw@idp.example.com/",
            "javascript:alert(1)",
            "/relative",
            "https://idp.example.com/#frag",
            "http://10.0.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fe80::1]/",
            "https://metadata.google.internal/",
        ] {
            let mut errors = ValidationErrors::new();
            assert_eq!(optional_url(Some(bad), "u", &mut errors), None, "{bad}");
            assert!(errors.has_field("u"), "{bad}");
        }
    }

    #[test]
    fn domains_are_lower_cased_checked_and_listed_once() {
        let mut errors = ValidationErrors::new();
        let out = domains(
            &[
                "Acme.Example".into(),
                "acme.example.".into(),
                "sub.acme.example".into(),
            ],
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(out, vec!["acme.example", "sub.acme.example"]);
        for bad in [
            "localhost",
            "a..b",
            "-a.b",
            "ex ample.com",
            "acme.example/x",
            "é.com",
        ] {
            let mut errors = ValidationErrors::new();
            domains(&[bad.into()], &mut errors);
            assert!(errors.has_field("identityProvider.domains"), "{bad}");
        }
    }

    #[test]
    fn scopes_must_include_openid() {
        let mut errors = ValidationErrors::new();
        assert_eq!(scope("openid   email", "s", &mut errors), "openid email");
        assert!(errors.is_empty());
        scope("email profile", "s", &mut errors);
        assert!(errors.has_field("s"));
    }

    #[test]
    fn mappings_name_known_fields_or_data() {
        let mut errors = ValidationErrors::new();
        let out = attribute_mappings(
            &[
                ("firstName".into(), "given_name".into()),
                ("data.department".into(), "dept".into()),
            ],
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(out.len(), 2);
        attribute_mappings(&[("password".into(), "x".into())], &mut errors);
        assert!(errors.has_field("identityProvider.attributeMappings.password"));
    }
}
