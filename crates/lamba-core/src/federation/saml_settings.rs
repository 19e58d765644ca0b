//! The settings of a `SAMLv2` provider, checked as `providers.rs` builds
//! one: every error at once, under FusionAuth's field names. The keys it
//! names are looked up here: the IdP's certificate (`keyId`, or one given
//! inline) verifies its responses and nothing else does; the request
//! signing key must be a key pair Lamba generated.

use std::str::FromStr;

use lamba_model::{CertificateKeyId, DestinationPolicy, Samlv2Settings, XmlC14nMethod};
use lamba_saml::metadata::PERSISTENT;
use lamba_store::{DynStore, StoreError};

use super::input::Samlv2Input;
use super::rules::{ROOT, optional_url};
use crate::validation::{ErrorKind, ValidationErrors, check_name_length, parse_enum};

/// SAML core §8.3.6: an entity id is at most 1024 characters.
const MAX_ENTITY_ID_CHARS: usize = 1024;
/// What ADFS and Entra send the email in.
pub const DEFAULT_EMAIL_CLAIM: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";

pub(super) async fn samlv2_settings(
    store: &DynStore,
    input: &Samlv2Input,
    post_request: Option<bool>,
    errors: &mut ValidationErrors,
) -> Result<Option<Samlv2Settings>, StoreError> {
    let path = |name: &str| format!("{ROOT}.{name}");
    let idp_endpoint = optional_url(input.idp_endpoint.as_deref(), &path("idpEndpoint"), errors);
    if input
        .idp_endpoint
        .as_deref()
        .is_none_or(|e| e.trim().is_empty())
    {
        errors.field(
            &path("idpEndpoint"),
            ErrorKind::Blank,
            format!("You must specify {}.", path("idpEndpoint")),
        );
    }
    let issuer = match input.issuer.as_deref().map(str::trim) {
        None | Some("") => {
            errors.field(
                &path("issuer"),
                ErrorKind::Blank,
                format!(
                    "You must specify {} (the identity provider's entity id).",
                    path("issuer")
                ),
            );
            None
        }
        Some(issuer) if issuer.chars().count() > MAX_ENTITY_ID_CHARS => {
            errors.field(
                &path("issuer"),
                ErrorKind::TooLong,
                format!(
                    "{} may have at most {MAX_ENTITY_ID_CHARS} characters.",
                    path("issuer")
                ),
            );
            None
        }
        Some(issuer) => Some(issuer.to_owned()),
    };
    let (key_id, certificate) = verification_key(store, input, errors).await?;
    let text = |raw: Option<&str>, name: &str, errors: &mut ValidationErrors| {
        raw.map(str::trim).filter(|t| !t.is_empty()).map(|t| {
            check_name_length(&path(name), t, errors);
            t.to_owned()
        })
    };
    let name_id_format = text(input.name_id_format.as_deref(), "nameIdFormat", errors)
        .unwrap_or_else(|| PERSISTENT.to_owned());
    let email_claim = text(input.email_claim.as_deref(), "emailClaim", errors)
        .unwrap_or_else(|| DEFAULT_EMAIL_CLAIM.to_owned());
    let email_verified_claim = text(
        input.email_verified_claim.as_deref(),
        "emailVerifiedClaim",
        errors,
    );
    let unique_id_claim = text(input.unique_id_claim.as_deref(), "uniqueIdClaim", errors);
    let username_claim = text(input.username_claim.as_deref(), "usernameClaim", errors);
    let sign_request = input.sign_request.unwrap_or(false);
    let request_signing_key_id = signing_key(store, input, sign_request, errors).await?;
    let c14n = match input.c14n_method.as_deref() {
        None | Some("") => XmlC14nMethod::Exclusive,
        Some(raw) => parse_enum(Some(raw), &path("xmlSignatureC14nMethod"), errors)
            .unwrap_or(XmlC14nMethod::Exclusive),
    };
    let policy_path = path("assertionConfiguration.destination.policy");
    let destination_policy = match input.destination_policy.as_deref() {
        None | Some("") => DestinationPolicy::Enabled,
        Some(raw) => {
            parse_enum(Some(raw), &policy_path, errors).unwrap_or(DestinationPolicy::Enabled)
        }
    };
    let alternates_path = path("assertionConfiguration.destination.alternates");
    let mut destination_alternates = Vec::new();
    for raw in input.destination_alternates.as_deref().unwrap_or_default() {
        // Compared with the response's Destination, never fetched: any
        // absolute URL will do.
        match url::Url::parse(raw.trim()) {
            Ok(_) if raw.chars().count() <= 2048 => {
                destination_alternates.push(raw.trim().to_owned())
            }
            _ => errors.field(
                &alternates_path,
                ErrorKind::Invalid,
                format!("{raw:?} is not an absolute URL."),
            ),
        }
    }
    if destination_policy == DestinationPolicy::AllowAlternates && destination_alternates.is_empty()
    {
        errors.field(
            &alternates_path,
            ErrorKind::Blank,
            "You must list the alternate destinations the AllowAlternates policy accepts.",
        );
    }
    Ok(Some(Samlv2Settings {
        idp_endpoint: match idp_endpoint {
            Some(endpoint) => endpoint,
            None => return Ok(None),
        },
        issuer: match issuer {
            Some(issuer) => issuer,
            None => return Ok(None),
        },
        key_id,
        certificate,
        name_id_format,
        use_name_id_for_email: input.use_name_id_for_email.unwrap_or(false),
        email_claim,
        email_verified_claim,
        unique_id_claim,
        username_claim,
        post_request: post_request.unwrap_or(false),
        sign_request,
        request_signing_key_id,
        c14n,
        destination_policy,
        destination_alternates,
        idp_initiated: input.idp_initiated_enabled.unwrap_or(false),
    }))
}

/// The IdP's certificate: an imported key (`keyId`), or one given inline.
/// Exactly one.
async fn verification_key(
    store: &DynStore,
    input: &Samlv2Input,
    errors: &mut ValidationErrors,
) -> Result<(Option<CertificateKeyId>, Option<Vec<u8>>), StoreError> {
    let key_path = format!("{ROOT}.keyId");
    let key_id = input
        .key_id
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let inline = input
        .certificate
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    match (key_id, inline) {
        (None, None) => {
            errors.field(
                &key_path,
                ErrorKind::Blank,
                format!(
                    "You must specify {key_path} (a certificate imported with POST /api/key/import) \
                     or {ROOT}.certificate: Lamba verifies the identity provider's signatures \
                     with it, and with nothing else."
                ),
            );
            Ok((None, None))
        }
        (Some(_), Some(_)) => {
            errors.field(
                &key_path,
                ErrorKind::Invalid,
                format!("Use either {key_path} or {ROOT}.certificate, not both."),
            );
            Ok((None, None))
        }
        (Some(raw), None) => {
            let Ok(id) = CertificateKeyId::from_str(raw) else {
                errors.field(
                    &key_path,
                    ErrorKind::Invalid,
                    format!("{raw:?} is not a UUID."),
                );
                return Ok((None, None));
            };
            if store.lookup_certificate_key(id).await?.is_none() {
                errors.field(
                    &key_path,
                    ErrorKind::Invalid,
                    format!("No certificate key has id {id}."),
                );
                return Ok((None, None));
            }
            Ok((Some(id), None))
        }
        (None, Some(text)) => match lamba_saml::certificate::read(text) {
            Ok(certificate) => Ok((None, Some(certificate.der))),
            Err(error) => {
                errors.field(
                    &format!("{ROOT}.certificate"),
                    ErrorKind::Invalid,
                    format!("{ROOT}.certificate is not a certificate: {error}."),
                );
                Ok((None, None))
            }
        },
    }
}

/// `requestSigningKeyId`: required when `signRequest`, a generated key
/// pair (an imported certificate has no private key to sign with).
async fn signing_key(
    store: &DynStore,
    input: &Samlv2Input,
    sign_request: bool,
    errors: &mut ValidationErrors,
) -> Result<Option<CertificateKeyId>, StoreError> {
    let path = format!("{ROOT}.requestSigningKeyId");
    let raw = input
        .request_signing_key_id
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let Some(raw) = raw else {
        if sign_request {
            errors.field(
                &path,
                ErrorKind::Blank,
                format!("You must specify {path} when {ROOT}.signRequest is true."),
            );
        }
        return Ok(None);
    };
    let Ok(id) = CertificateKeyId::from_str(raw) else {
        errors.field(&path, ErrorKind::Invalid, format!("{raw:?} is not a UUID."));
        return Ok(None);
    };
    match store.lookup_certificate_key(id).await? {
        None => {
            errors.field(
                &path,
                ErrorKind::Invalid,
                format!("No certificate key has id {id}."),
            );
            Ok(None)
        }
        Some(key) if key.private_key.is_none() => {
            errors.field(
                &path,
                ErrorKind::Invalid,
                format!(
                    "Certificate key {id} has no private key to sign with: generate one with \
                     POST /api/key/generate."
                ),
            );
            Ok(None)
        }
        Some(_) => Ok(Some(id)),
    }
}
