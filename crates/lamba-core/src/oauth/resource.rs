//! Which RFC 8707 `resource` a client may name: a rule of its own so that
//! the application rules and the grants both read it.

use lamba_model::Application;
use lamba_oidc::OAuthError;

use super::OAuthFailure;

/// A `resource` (RFC 8707) this application may name: well formed and
/// listed, byte for byte, in its `authorizedResourceURIs` (§2: the server
/// decides which resources a client may have tokens for; otherwise any
/// client could mint tokens for any API that trusts this issuer).
pub(super) fn authorized_resource<'r>(
    application: &Application,
    resource: Option<&'r str>,
) -> Result<Option<&'r str>, OAuthFailure> {
    let resource = checked_resource(resource)?;
    match resource {
        Some(uri)
            if !application
                .oauth
                .authorized_resource_uris
                .iter()
                .any(|allowed| allowed == uri) =>
        {
            Err(OAuthFailure::new(
                OAuthError::InvalidTarget,
                format!("This client may not have tokens for the resource {uri:?}."),
            ))
        }
        other => Ok(other),
    }
}

/// A `resource` (RFC 8707) must be an absolute URI without a fragment.
pub(super) fn checked_resource(resource: Option<&str>) -> Result<Option<&str>, OAuthFailure> {
    let Some(resource) = resource.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    match url::Url::parse(resource) {
        Ok(url) if url.fragment().is_none() && matches!(url.scheme(), "https" | "http") => {
            Ok(Some(resource))
        }
        _ => Err(OAuthFailure::new(
            OAuthError::InvalidTarget,
            "resource must be an absolute http(s) URI without a fragment.",
        )),
    }
}
