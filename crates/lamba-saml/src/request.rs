//! `<samlp:AuthnRequest>` both ways: the one Lamba sends as a service
//! provider to an upstream IdP ([`authn_request`]), and the one an
//! application sends to Lamba as its IdP ([`read_authn_request`]), checked
//! before anyone is signed in: its issuer is the application's, the ACS
//! URL is one of the application's authorized URLs (matched exactly, as
//! redirect URIs are), it is recent, and it is signed when the
//! application requires signed requests.

use chrono::{DateTime, SecondsFormat};
use samael::schema::AuthnRequest;

use crate::document::{self, DocumentError, children, descendants, is};
use crate::response::{
    LEEWAY_SECS, MAX_AGE_SECS, certificates_for, check_algorithms, reduce_with_any, same,
    signature_method,
};
use crate::sign::{Canonicalization, SignError, SignatureAlgorithm, sign_enveloped, template};
use crate::{DSIG_NS, PROTOCOL_NS, escape};

pub const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// What Lamba asks an upstream IdP for.
pub struct NewAuthnRequest<'a> {
    /// Random, starting with a letter or `_` (an XML ID).
    pub id: &'a str,
    /// Lamba's entity id for this provider.
    pub issuer: &'a str,
    /// The IdP's SSO endpoint.
    pub destination: &'a str,
    pub acs_url: &'a str,
    pub name_id_format: Option<&'a str>,
    pub now_secs: i64,
}

/// The request's XML, unsigned (the Redirect binding signs the query).
pub fn authn_request(request: &NewAuthnRequest<'_>) -> String {
    build(request, "")
}

/// The request's XML with an enveloped signature (the POST binding).
pub fn signed_authn_request(
    request: &NewAuthnRequest<'_>,
    key_der: &[u8],
    certificate_der: Option<&[u8]>,
    algorithm: SignatureAlgorithm,
    c14n: Canonicalization,
) -> Result<String, SignError> {
    let signature = template(request.id, algorithm, c14n, certificate_der);
    sign_enveloped(&build(request, &signature), key_der)
}

fn build(request: &NewAuthnRequest<'_>, signature: &str) -> String {
    let policy = request
        .name_id_format
        .map(|f| {
            format!(
                "<samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"true\"/>",
                escape(f)
            )
        })
        .unwrap_or_default();
    format!(
        concat!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ",
            "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" ",
            "IssueInstant=\"{at}\" Destination=\"{destination}\" ",
            "AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"{binding}\">",
            "<saml:Issuer>{issuer}</saml:Issuer>{signature}{policy}</samlp:AuthnRequest>"
        ),
        id = escape(request.id),
        at = instant(request.now_secs),
        destination = escape(request.destination),
        acs = escape(request.acs_url),
        binding = POST_BINDING,
        issuer = escape(request.issuer),
        signature = signature,
        policy = policy,
    )
}

/// What an application's request must match.
pub struct RequestExpectations<'a> {
    /// The application's `samlv2Configuration.issuer`.
    pub issuer: &'a str,
    /// `authorizedRedirectURLs`: the ACS URLs a response may go to.
    pub acs_urls: &'a [String],
    /// Lamba's login URL for the application; a request's Destination,
    /// when present, must be it.
    pub destination: &'a str,
    /// Certificates a signed request may be signed with (DER).
    pub certificates: &'a [Vec<u8>],
    /// Whether the request arrived with a verified Redirect-binding
    /// signature (checked before, on the query string).
    pub redirect_signed: bool,
    /// `requireSignedRequests`.
    pub require_signed: bool,
    pub now_secs: i64,
}

/// A request that may be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidAuthnRequest {
    pub id: String,
    /// Where the response goes (exactly one of the authorized URLs).
    pub acs_url: String,
    pub name_id_format: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub signed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("the message is not a SAML AuthnRequest")]
    NotARequest,
    #[error("the request could not be read")]
    Unreadable,
    #[error("the request's issuer is not this application's")]
    Issuer,
    #[error("the request's ACS URL is not one of the application's authorized URLs")]
    AcsUrl,
    #[error("the request asks for a binding other than HTTP-POST")]
    Binding,
    #[error("the request's Destination is not this application's login URL")]
    Destination,
    #[error("the request has expired")]
    Expired,
    #[error("the request is dated in the future")]
    NotYetValid,
    #[error("the application requires signed requests and this one is not signed")]
    Unsigned,
    #[error("the request's signature does not verify with the application's certificates")]
    Signature,
    #[error("{0}")]
    Algorithm(String),
}

/// Checks an application's AuthnRequest (either binding, decoded).
pub fn read_authn_request(
    xml: &str,
    expect: &RequestExpectations<'_>,
) -> Result<ValidAuthnRequest, RequestError> {
    let doc = document::parse(xml)?;
    let root = doc
        .get_root_element()
        .filter(|r| is(r, PROTOCOL_NS, "AuthnRequest"))
        .ok_or(RequestError::NotARequest)?;
    // Every signature in the document, not only the root's: xmlsec checks
    // the first one it finds, depth first, so a real signed message tucked
    // into Extensions must not vouch for the request around it.
    let signatures = descendants(&root, DSIG_NS, "Signature");
    let (request, signed): (AuthnRequest, bool) = match signatures.as_slice() {
        [] => (
            xml.parse().map_err(|_| RequestError::Unreadable)?,
            expect.redirect_signed,
        ),
        [signature] if same(signature.get_parent(), &root) => {
            check_algorithms(signature).map_err(|e| RequestError::Algorithm(e.to_string()))?;
            let expected = root.get_attribute("ID").map(|id| format!("#{id}"));
            let references: Vec<_> = children(signature, DSIG_NS, "SignedInfo")
                .iter()
                .flat_map(|s| children(s, DSIG_NS, "Reference"))
                .collect();
            let [reference] = references.as_slice() else {
                return Err(RequestError::Signature);
            };
            if expected.is_none() || reference.get_attribute("URI") != expected {
                return Err(RequestError::Signature);
            }
            let certificates = certificates_for(&signature_method(signature), expect.certificates);
            if certificates.is_empty() {
                return Err(RequestError::Signature);
            }
            // Only what the signature covers is read.
            let reduced = reduce_with_any(xml, &certificates).ok_or(RequestError::Signature)?;
            (reduced.parse().map_err(|_| RequestError::Unreadable)?, true)
        }
        _ => return Err(RequestError::Signature),
    };
    if expect.require_signed && !signed {
        return Err(RequestError::Unsigned);
    }
    // Bindings §3.4.5.2, §3.5.5.2: a signed request says where it was sent.
    if signed && request.destination.is_none() {
        return Err(RequestError::Destination);
    }
    if request.issuer.as_ref().and_then(|i| i.value.as_deref()) != Some(expect.issuer) {
        return Err(RequestError::Issuer);
    }
    let issued = request.issue_instant.timestamp();
    if issued > expect.now_secs + LEEWAY_SECS {
        return Err(RequestError::NotYetValid);
    }
    if issued < expect.now_secs - MAX_AGE_SECS - LEEWAY_SECS {
        return Err(RequestError::Expired);
    }
    if request
        .destination
        .as_deref()
        .is_some_and(|d| d != expect.destination)
    {
        return Err(RequestError::Destination);
    }
    if request
        .protocol_binding
        .as_deref()
        .is_some_and(|b| b != POST_BINDING)
    {
        return Err(RequestError::Binding);
    }
    let acs_url = match &request.assertion_consumer_service_url {
        Some(url) => expect
            .acs_urls
            .iter()
            .find(|a| *a == url)
            .ok_or(RequestError::AcsUrl)?,
        None => expect.acs_urls.first().ok_or(RequestError::AcsUrl)?,
    };
    Ok(ValidAuthnRequest {
        id: request.id,
        acs_url: acs_url.clone(),
        name_id_format: request.name_id_policy.and_then(|p| p.format),
        force_authn: request.force_authn.unwrap_or(false),
        is_passive: request.is_passive.unwrap_or(false),
        signed,
    })
}

/// An instant as SAML writes it (UTC, seconds).
pub(crate) fn instant(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests;
