//! The `<samlp:Response>` Lamba sends to an application as its IdP: one
//! assertion about the signed-in user, for the application's audience and
//! ACS URL, signed where the application asked (`xmlSignatureLocation`:
//! the assertion, the response, or both, which FusionAuth cannot do:
//! fusionauth-issues #3218), with RSA-SHA256 or stronger and SHA-256
//! digests. Everything a SAMLv2Populate lambda may not change (issuer,
//! audience, subject, conditions, the signature) is set here from Lamba's
//! own values; the lambda only ever supplies attributes.

use std::collections::BTreeMap;

use crate::request::instant;
use crate::response::NameId;
use crate::sign::{Canonicalization, SignError, SignatureAlgorithm, sign_enveloped, template};
use crate::{BEARER, STATUS_SUCCESS, escape, optional_attribute, xml_can_carry};

/// FusionAuth's `xmlSignatureLocation`, plus `Both`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignatureLocation {
    #[default]
    Assertion,
    Response,
    Both,
}

/// The key Lamba signs with.
pub struct Signing<'a> {
    /// PKCS#8 DER.
    pub key_der: &'a [u8],
    /// Published in `KeyInfo` and in the metadata.
    pub certificate_der: &'a [u8],
    pub algorithm: SignatureAlgorithm,
    pub c14n: Canonicalization,
    pub location: SignatureLocation,
}

/// One response about one user.
pub struct Issue<'a> {
    /// Random XML IDs for the response and the assertion.
    pub response_id: &'a str,
    pub assertion_id: &'a str,
    /// Lamba's IdP entity id for the application.
    pub issuer: &'a str,
    /// The ACS URL the response is posted to (already checked).
    pub destination: &'a str,
    /// The AuthnRequest answered; `None` for an IdP-initiated login.
    pub in_response_to: Option<&'a str>,
    /// The application's audience (its SP entity id).
    pub audience: &'a str,
    pub name_id: &'a NameId,
    pub attributes: &'a BTreeMap<String, Vec<String>>,
    /// The login session's id, for the SP's own logout bookkeeping.
    pub session_index: &'a str,
    pub authn_instant_secs: i64,
    pub now_secs: i64,
    /// How long the assertion may be presented.
    pub lifetime_secs: i64,
}

const PASSWORD_PROTECTED: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const ATTRIBUTE_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";

/// The signed response, ready for [`crate::binding::encode_post`].
pub fn issue(issue: &Issue<'_>, signing: &Signing<'_>) -> Result<String, SignError> {
    // A character XML cannot carry is refused, never dropped: two users
    // must not end up with one NameID.
    let carried = std::iter::once(issue.name_id.value.as_str())
        .chain(std::iter::once(issue.session_index))
        .chain(issue.attributes.keys().map(String::as_str))
        .chain(issue.attributes.values().flatten().map(String::as_str))
        .all(xml_can_carry);
    if !carried {
        return Err(SignError::Failed(
            "a NameID, session index or attribute holds a character XML cannot carry".to_owned(),
        ));
    }
    let signs = |element: SignatureLocation| {
        signing.location == element || signing.location == SignatureLocation::Both
    };
    let assertion = signed_if(
        signs(SignatureLocation::Assertion),
        issue.assertion_id,
        signing,
        |t| assertion_xml(issue, t),
    )?;
    // The response's template comes before the assertion's signature in
    // document order, so it is the one signed second.
    signed_if(
        signs(SignatureLocation::Response),
        issue.response_id,
        signing,
        |t| response_xml(issue, t, &assertion),
    )
}

/// `build(template)`, enveloped-signed for `id` when `sign`, else built
/// without a template.
fn signed_if(
    sign: bool,
    id: &str,
    signing: &Signing<'_>,
    build: impl FnOnce(&str) -> String,
) -> Result<String, SignError> {
    if !sign {
        return Ok(build(""));
    }
    let signature = template(
        id,
        signing.algorithm,
        signing.c14n,
        Some(signing.certificate_der),
    );
    sign_enveloped(&build(&signature), signing.key_der)
}

fn response_xml(issue: &Issue<'_>, signature: &str, assertion: &str) -> String {
    let in_response_to = optional_attribute("InResponseTo", issue.in_response_to);
    format!(
        concat!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ",
            "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" ",
            "IssueInstant=\"{now}\" Destination=\"{destination}\"{in_response_to}>",
            "<saml:Issuer>{issuer}</saml:Issuer>{signature}",
            "<samlp:Status><samlp:StatusCode Value=\"{success}\"/></samlp:Status>{assertion}</samlp:Response>"
        ),
        id = escape(issue.response_id),
        now = instant(issue.now_secs),
        destination = escape(issue.destination),
        in_response_to = in_response_to,
        issuer = escape(issue.issuer),
        signature = signature,
        success = STATUS_SUCCESS,
        assertion = assertion,
    )
}

fn assertion_xml(issue: &Issue<'_>, signature: &str) -> String {
    let in_response_to = optional_attribute("InResponseTo", issue.in_response_to);
    let format = optional_attribute("Format", issue.name_id.format.as_deref());
    let mut attributes = String::new();
    for (name, values) in issue.attributes {
        attributes.push_str(&format!(
            "<saml:Attribute Name=\"{}\" NameFormat=\"{ATTRIBUTE_FORMAT}\">",
            escape(name)
        ));
        for value in values {
            attributes.push_str(&format!(
                "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                escape(value)
            ));
        }
        attributes.push_str("</saml:Attribute>");
    }
    let statement = if attributes.is_empty() {
        String::new()
    } else {
        format!("<saml:AttributeStatement>{attributes}</saml:AttributeStatement>")
    };
    let until = instant(issue.now_secs + issue.lifetime_secs);
    format!(
        concat!(
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ",
            "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" ",
            "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
            "ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\">",
            "<saml:Issuer>{issuer}</saml:Issuer>{signature}",
            "<saml:Subject><saml:NameID{format}>{name_id}</saml:NameID>",
            "<saml:SubjectConfirmation Method=\"{bearer}\">",
            "<saml:SubjectConfirmationData{in_response_to} NotOnOrAfter=\"{until}\" Recipient=\"{destination}\"/>",
            "</saml:SubjectConfirmation></saml:Subject>",
            "<saml:Conditions NotBefore=\"{now}\" NotOnOrAfter=\"{until}\">",
            "<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>",
            "</saml:Conditions>",
            "<saml:AuthnStatement AuthnInstant=\"{authn}\" SessionIndex=\"{session}\">",
            "<saml:AuthnContext><saml:AuthnContextClassRef>{context}</saml:AuthnContextClassRef></saml:AuthnContext>",
            "</saml:AuthnStatement>{statement}</saml:Assertion>"
        ),
        id = escape(issue.assertion_id),
        now = instant(issue.now_secs),
        issuer = escape(issue.issuer),
        signature = signature,
        format = format,
        name_id = escape(&issue.name_id.value),
        bearer = BEARER,
        in_response_to = in_response_to,
        until = until,
        destination = escape(issue.destination),
        audience = escape(issue.audience),
        authn = instant(issue.authn_instant_secs),
        session = escape(issue.session_index),
        context = PASSWORD_PROTECTED,
        statement = statement,
    )
}

#[cfg(test)]
mod tests;
