//! A `<samlp:Response>` from an upstream identity provider, accepted only
//! when everything below holds (SAML Core §3.2.2, Profiles §4.1.4, and
//! what signature-wrapping attacks taught: Somorovsky et al., 2012):
//!
//! - It passed [`crate::document::parse`] (size, no DTD, well-formed).
//! - Its status is Success (read first: an IdP's refusal is usually
//!   unsigned and deserves its own message, and refusing reads nothing).
//! - It holds exactly one assertion, a direct child of the response, not
//!   encrypted (encrypted assertions are refused for now).
//! - Every signature is a direct child of the response or the assertion
//!   and references exactly that element by its `ID`; at least one exists;
//!   none uses SHA-1 or an algorithm off the list; each verifies with a
//!   configured certificate (a certificate in `KeyInfo` is never used).
//! - Only what the signatures cover is read afterwards (samael's
//!   reduction); the unsigned envelope of an assertion-signed response is
//!   consulted only to refuse (its status, its Destination).
//! - Issuer, Destination, Audience, Recipient and the time windows match,
//!   with [`LEEWAY_SECS`] of clock skew. Whether the response was asked
//!   for (`InResponseTo`) and whether its assertion was seen before are
//!   the caller's to decide, with the store: see [`VerifiedResponse`].

use std::collections::BTreeMap;

use libxml::tree::Node;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};
use samael::schema::{Assertion, Response};
use serde_json::{Value, json};

use crate::document::{self, DocumentError, children, descendants, is};
use crate::sign::{Canonicalization, SignatureAlgorithm};
use crate::{ASSERTION_NS, BEARER, DSIG_NS, PROTOCOL_NS, STATUS_SUCCESS};

/// Clock skew allowed on every time check.
pub const LEEWAY_SECS: i64 = 60;
/// How old a response or assertion (`IssueInstant`) may be.
pub const MAX_AGE_SECS: i64 = 300;

/// FusionAuth's `assertionConfiguration.destination.policy` for the
/// response's `Destination`. Alternates are accepted as the assertion's
/// `Recipient` too; `Disabled` skips the Destination check only, since the
/// SAML profile requires Recipient.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DestinationPolicy {
    #[default]
    Enabled,
    /// The ACS URL or one of these.
    AllowAlternates(Vec<String>),
    Disabled,
}

impl DestinationPolicy {
    fn accepts(&self, acs_url: &str, destination: &str) -> bool {
        match self {
            Self::Disabled => true,
            _ => self.accepts_recipient(acs_url, destination),
        }
    }

    /// Profiles §4.1.4.3 requires the bearer confirmation's Recipient to be
    /// the ACS URL, whatever the policy says of Destination.
    fn accepts_recipient(&self, acs_url: &str, recipient: &str) -> bool {
        match self {
            Self::AllowAlternates(alternates) => {
                recipient == acs_url || alternates.iter().any(|a| a == recipient)
            }
            _ => recipient == acs_url,
        }
    }
}

/// What the response must match.
pub struct Expectations<'a> {
    /// The IdP's entity id (`issuer` of the provider).
    pub idp_entity_id: &'a str,
    /// Lamba's entity id for this provider: the required audience.
    pub sp_entity_id: &'a str,
    /// Lamba's ACS URL.
    pub acs_url: &'a str,
    /// The IdP's signing certificates, DER. Empty accepts nothing.
    pub certificates: &'a [Vec<u8>],
    pub destination: &'a DestinationPolicy,
    pub now_secs: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameId {
    pub format: Option<String>,
    pub value: String,
}

/// Which elements carried a verified signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedParts {
    Response,
    Assertion,
    Both,
}

/// A response that passed every check.
#[derive(Clone, Debug)]
pub struct VerifiedResponse {
    /// The response's ID when the response itself is signed.
    pub response_id: Option<String>,
    /// The request this answers, from signed content only; `None` is an
    /// unsolicited (IdP-initiated) response. The caller consumes the
    /// pending request it names (single use) or refuses.
    pub in_response_to: Option<String>,
    /// Remember until [`Self::expires_secs`] and refuse it again (replay).
    pub assertion_id: String,
    pub expires_secs: i64,
    pub name_id: Option<NameId>,
    /// Name -> values, always arrays.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub session_index: Option<String>,
    pub signed: SignedParts,
    /// FusionAuth's `samlResponse` for a SAMLv2Reconcile lambda.
    pub json: Value,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("the message is not a SAML Response")]
    NotAResponse,
    #[error("the identity provider did not sign the user in ({0})")]
    Status(String),
    #[error(
        "encrypted assertions are not supported yet; configure the identity provider to send them unencrypted over TLS"
    )]
    Encrypted,
    #[error("the response must hold exactly one assertion, it holds {0}")]
    AssertionCount(usize),
    #[error("the assertion is not a direct child of the response")]
    AssertionPlacement,
    #[error("the response is not signed; the response or its assertion must be")]
    Unsigned,
    #[error(
        "the response is signed with SHA-1, which is refused; configure RSA-SHA256 or stronger"
    )]
    Sha1,
    #[error("the signature algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("a signature is not an enveloped signature of the response or of the assertion")]
    SignaturePlacement,
    #[error("the signature does not verify with the provider's certificate")]
    Signature,
    #[error("the signed content could not be read")]
    Unreadable,
    #[error("the issuer is not the provider's ({0})")]
    Issuer(String),
    #[error("the response's Destination is not Lamba's ACS URL")]
    Destination,
    #[error("the assertion is not for this service provider (Audience)")]
    Audience,
    #[error("the assertion has no bearer confirmation for Lamba's ACS URL (Recipient)")]
    Recipient,
    #[error("the assertion is not valid yet")]
    NotYetValid,
    #[error("the assertion has expired")]
    Expired,
    #[error("the response and its assertion answer different requests")]
    InResponseTo,
}

/// What an unverified response claims, to route it (which provider's
/// certificates to verify it with; whether it answers a request). Nothing
/// read here is trusted: [`verify`] checks it all again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claimed {
    /// The response's `Issuer`, else its assertion's.
    pub issuer: Option<String>,
    pub in_response_to: Option<String>,
}

/// Reads [`Claimed`] from `xml`, behind the same document gate as
/// [`verify`].
pub fn peek(xml: &str) -> Result<Claimed, ResponseError> {
    let doc = document::parse(xml)?;
    let root = doc
        .get_root_element()
        .filter(|r| is(r, PROTOCOL_NS, "Response"))
        .ok_or(ResponseError::NotAResponse)?;
    let issuer_of = |node: &Node| {
        children(node, ASSERTION_NS, "Issuer")
            .first()
            .map(|i| i.get_content().trim().to_owned())
            .filter(|i| !i.is_empty())
    };
    let issuer = issuer_of(&root).or_else(|| {
        children(&root, ASSERTION_NS, "Assertion")
            .first()
            .and_then(issuer_of)
    });
    Ok(Claimed {
        issuer,
        in_response_to: root.get_attribute("InResponseTo"),
    })
}

/// Checks `xml` against `expect`; see the module documentation.
pub fn verify(xml: &str, expect: &Expectations<'_>) -> Result<VerifiedResponse, ResponseError> {
    let doc = document::parse(xml)?;
    let root = doc
        .get_root_element()
        .filter(|r| is(r, PROTOCOL_NS, "Response"))
        .ok_or(ResponseError::NotAResponse)?;
    let status = status_of(&root);
    if status.0 != STATUS_SUCCESS {
        return Err(ResponseError::Status(status.describe()));
    }
    if !descendants(&root, ASSERTION_NS, "EncryptedAssertion").is_empty() {
        return Err(ResponseError::Encrypted);
    }
    let assertions = descendants(&root, ASSERTION_NS, "Assertion");
    let [assertion_node] = assertions.as_slice() else {
        return Err(ResponseError::AssertionCount(assertions.len()));
    };
    if !same(assertion_node.get_parent(), &root) {
        return Err(ResponseError::AssertionPlacement);
    }
    let (signed, method) = check_signatures(&root, assertion_node)?;

    let certificates = certificates_for(&method, expect.certificates);
    if certificates.is_empty() {
        return Err(ResponseError::Signature);
    }
    let reduced = reduce_with_any(xml, &certificates).ok_or(ResponseError::Signature)?;
    let (response, assertion) = match signed {
        SignedParts::Assertion => {
            let assertion: Assertion = reduced.parse().map_err(|_| ResponseError::Unreadable)?;
            (None, assertion)
        }
        SignedParts::Response | SignedParts::Both => {
            let response: Response = reduced.parse().map_err(|_| ResponseError::Unreadable)?;
            let assertion = response
                .assertion
                .clone()
                .ok_or(ResponseError::Unreadable)?;
            (Some(response), assertion)
        }
    };
    let envelope = Envelope::read(&root, response.as_ref());
    check(expect, &envelope, response.is_some(), &assertion)
        .map(|checked| finish(envelope, assertion, signed, checked, &status))
}

/// The response element's own fields: signed when the response is, else
/// only good for refusing.
struct Envelope {
    id: String,
    in_response_to: Option<String>,
    destination: Option<String>,
    issuer: Option<String>,
    issue_instant_secs: Option<i64>,
}

impl Envelope {
    fn read(root: &Node, signed: Option<&Response>) -> Self {
        match signed {
            Some(r) => Self {
                id: r.id.clone(),
                in_response_to: r.in_response_to.clone(),
                destination: r.destination.clone(),
                issuer: r.issuer.as_ref().and_then(|i| i.value.clone()),
                issue_instant_secs: Some(r.issue_instant.timestamp()),
            },
            None => Self {
                id: root.get_attribute("ID").unwrap_or_default(),
                in_response_to: root.get_attribute("InResponseTo"),
                destination: root.get_attribute("Destination"),
                issuer: children(root, ASSERTION_NS, "Issuer")
                    .first()
                    .map(|i| i.get_content().trim().to_owned()),
                issue_instant_secs: None,
            },
        }
    }
}

struct Checked {
    in_response_to: Option<String>,
    expires_secs: i64,
}

fn check(
    expect: &Expectations<'_>,
    envelope: &Envelope,
    response_signed: bool,
    assertion: &Assertion,
) -> Result<Checked, ResponseError> {
    let now = expect.now_secs;
    let issuer = assertion.issuer.value.as_deref().unwrap_or_default();
    if issuer != expect.idp_entity_id {
        return Err(ResponseError::Issuer(clip(issuer)));
    }
    if let Some(issuer) = &envelope.issuer
        && issuer != expect.idp_entity_id
    {
        return Err(ResponseError::Issuer(clip(issuer)));
    }
    // Bindings §3.5.5.2: a signed response must say where it was sent.
    match &envelope.destination {
        Some(d) if !expect.destination.accepts(expect.acs_url, d) => {
            return Err(ResponseError::Destination);
        }
        None if response_signed && *expect.destination != DestinationPolicy::Disabled => {
            return Err(ResponseError::Destination);
        }
        _ => {}
    }
    for instant in [
        envelope.issue_instant_secs,
        Some(assertion.issue_instant.timestamp()),
    ]
    .into_iter()
    .flatten()
    {
        if instant > now + LEEWAY_SECS {
            return Err(ResponseError::NotYetValid);
        }
        if instant < now - MAX_AGE_SECS - LEEWAY_SECS {
            return Err(ResponseError::Expired);
        }
    }

    let conditions = assertion
        .conditions
        .as_ref()
        .ok_or(ResponseError::Audience)?;
    if conditions
        .not_before
        .is_some_and(|t| t.timestamp() > now + LEEWAY_SECS)
    {
        return Err(ResponseError::NotYetValid);
    }
    // The last moment this assertion could be accepted: how long a replay
    // cache must remember it.
    let mut expires_secs = assertion.issue_instant.timestamp() + MAX_AGE_SECS + LEEWAY_SECS;
    if let Some(t) = conditions.not_on_or_after {
        if t.timestamp() + LEEWAY_SECS <= now {
            return Err(ResponseError::Expired);
        }
        expires_secs = expires_secs.min(t.timestamp() + LEEWAY_SECS);
    }
    // Core §2.5.1.4: every AudienceRestriction must name us.
    let restrictions = conditions
        .audience_restrictions
        .as_deref()
        .unwrap_or_default();
    if restrictions.is_empty()
        || !restrictions
            .iter()
            .all(|r| r.audience.iter().any(|a| a == expect.sp_entity_id))
    {
        return Err(ResponseError::Audience);
    }

    // Profiles §4.1.4.2: a bearer confirmation for our ACS, in its window.
    let data = assertion
        .subject
        .as_ref()
        .and_then(|s| s.subject_confirmations.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .find(|d| {
            d.recipient
                .as_deref()
                .is_some_and(|r| expect.destination.accepts_recipient(expect.acs_url, r))
        })
        .ok_or(ResponseError::Recipient)?;
    let until = data.not_on_or_after.ok_or(ResponseError::Recipient)?;
    if until.timestamp() + LEEWAY_SECS <= now {
        return Err(ResponseError::Expired);
    }
    if data
        .not_before
        .is_some_and(|t| t.timestamp() > now + LEEWAY_SECS)
    {
        return Err(ResponseError::NotYetValid);
    }
    expires_secs = expires_secs.min(until.timestamp() + LEEWAY_SECS);

    if let (Some(outer), Some(inner)) = (&envelope.in_response_to, &data.in_response_to)
        && outer != inner
    {
        return Err(ResponseError::InResponseTo);
    }
    // An unsigned envelope's InResponseTo is not evidence of anything.
    let in_response_to = data.in_response_to.clone().or_else(|| {
        response_signed
            .then(|| envelope.in_response_to.clone())
            .flatten()
    });
    Ok(Checked {
        in_response_to,
        expires_secs,
    })
}

fn finish(
    envelope: Envelope,
    assertion: Assertion,
    signed: SignedParts,
    checked: Checked,
    status: &Status,
) -> VerifiedResponse {
    let name_id = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| NameId {
            format: n.format.clone(),
            value: n.value.trim().to_owned(),
        });
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in assertion.attribute_statements.iter().flatten() {
        for attribute in &statement.attributes {
            let Some(name) = attribute
                .name
                .clone()
                .or_else(|| attribute.friendly_name.clone())
            else {
                continue;
            };
            attributes.entry(name).or_default().extend(
                attribute
                    .values
                    .iter()
                    .map(|v| v.value.clone().unwrap_or_default()),
            );
        }
    }
    let session_index = assertion
        .authn_statements
        .iter()
        .flatten()
        .find_map(|s| s.session_index.clone());
    let conditions = assertion.conditions.as_ref();
    // An unsigned envelope was read only to refuse; nothing of it is
    // passed on as if it were verified.
    let signed_envelope = signed != SignedParts::Assertion;
    let Envelope {
        id,
        destination,
        issuer,
        issue_instant_secs,
        ..
    } = envelope;
    let (id, destination, issuer) = if signed_envelope {
        (Some(id), destination, issuer)
    } else {
        (None, None, None)
    };
    let json = json!({
        "id": id,
        "destination": destination,
        "inResponseTo": checked.in_response_to,
        "issueInstant": issue_instant_secs.map(|s| s * 1000),
        "issuer": issuer,
        "status": {"code": status.0.rsplit(':').next().unwrap_or_default()},
        "assertion": {
            "id": assertion.id,
            "issuer": assertion.issuer.value,
            "issueInstant": assertion.issue_instant.timestamp_millis(),
            "attributes": attributes,
            "conditions": {
                "notBefore": conditions.and_then(|c| c.not_before).map(|t| t.timestamp_millis()),
                "notOnOrAfter": conditions.and_then(|c| c.not_on_or_after).map(|t| t.timestamp_millis()),
                "audiences": conditions
                    .and_then(|c| c.audience_restrictions.as_ref())
                    .into_iter()
                    .flatten()
                    .flat_map(|r| r.audience.clone())
                    .collect::<Vec<_>>(),
            },
            "subject": {
                "nameIDs": name_id.iter().map(|n| json!({"format": n.format, "id": n.value})).collect::<Vec<_>>(),
            },
            "sessionIndex": session_index,
        },
    });
    VerifiedResponse {
        response_id: id,
        in_response_to: checked.in_response_to,
        assertion_id: assertion.id,
        expires_secs: checked.expires_secs,
        name_id,
        attributes,
        session_index,
        signed,
        json,
    }
}

/// Placement and algorithms of every signature, before any is verified.
fn check_signatures(root: &Node, assertion: &Node) -> Result<(SignedParts, String), ResponseError> {
    let signatures = descendants(root, DSIG_NS, "Signature");
    let Some(first) = signatures.first() else {
        return Err(ResponseError::Unsigned);
    };
    let method = signature_method(first);
    let (mut response_signed, mut assertion_signed) = (false, false);
    for signature in &signatures {
        check_algorithms(signature)?;
        // One key signs both, so one family of algorithm.
        if signature_method(signature).contains("#ecdsa-") != method.contains("#ecdsa-") {
            return Err(ResponseError::Algorithm(
                "mixed signature algorithms".to_owned(),
            ));
        }
        let parent = signature.get_parent();
        let on_response = same(parent.clone(), root);
        let on_assertion = same(parent.clone(), assertion);
        let Some(parent) = parent.filter(|_| on_response || on_assertion) else {
            return Err(ResponseError::SignaturePlacement);
        };
        let references: Vec<Node> = children(signature, DSIG_NS, "SignedInfo")
            .iter()
            .flat_map(|s| children(s, DSIG_NS, "Reference"))
            .collect();
        let expected = parent.get_attribute("ID").map(|id| format!("#{id}"));
        let [reference] = references.as_slice() else {
            return Err(ResponseError::SignaturePlacement);
        };
        if expected.is_none() || reference.get_attribute("URI") != expected {
            return Err(ResponseError::SignaturePlacement);
        }
        if (on_response && response_signed) || (on_assertion && assertion_signed) {
            return Err(ResponseError::SignaturePlacement);
        }
        response_signed |= on_response;
        assertion_signed |= on_assertion;
    }
    let parts = match (response_signed, assertion_signed) {
        (true, true) => SignedParts::Both,
        (true, false) => SignedParts::Response,
        _ => SignedParts::Assertion,
    };
    Ok((parts, method))
}

pub(crate) fn check_algorithms(signature: &Node) -> Result<(), ResponseError> {
    // SignedInfo, SignatureValue and at most a KeyInfo, in that order:
    // xmlsec processes `ds:Object/ds:Manifest` references (their URIs and
    // transforms) before it checks SignatureValue, so an Object would let
    // unauthenticated input run XPath or XSLT.
    let names: Vec<String> = signature
        .get_child_elements()
        .iter()
        .map(|child| {
            if child
                .get_namespace()
                .is_some_and(|ns| ns.get_href() == DSIG_NS)
            {
                child.get_name()
            } else {
                String::new()
            }
        })
        .collect();
    let shape_ok = matches!(
        names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["SignedInfo", "SignatureValue"] | ["SignedInfo", "SignatureValue", "KeyInfo"]
    );
    if !shape_ok {
        return Err(ResponseError::SignaturePlacement);
    }
    // xmlsec runs a reference's transforms before it checks the signature
    // value: only the enveloped-signature transform and canonicalization
    // may run on unauthenticated input (no XPath, no XSLT), at most two.
    for info in children(signature, DSIG_NS, "SignedInfo") {
        for method in children(&info, DSIG_NS, "CanonicalizationMethod") {
            let uri = method.get_attribute("Algorithm").unwrap_or_default();
            if !is_c14n(&uri) {
                return Err(ResponseError::Algorithm(clip(&uri)));
            }
        }
        for reference in children(&info, DSIG_NS, "Reference") {
            let transforms: Vec<Node> = children(&reference, DSIG_NS, "Transforms")
                .iter()
                .flat_map(|t| children(t, DSIG_NS, "Transform"))
                .collect();
            if transforms.len() > 2 {
                return Err(ResponseError::Algorithm(
                    "more than two transforms".to_owned(),
                ));
            }
            for transform in transforms {
                let uri = transform.get_attribute("Algorithm").unwrap_or_default();
                if uri != ENVELOPED && !is_c14n(&uri) {
                    return Err(ResponseError::Algorithm(clip(&uri)));
                }
            }
        }
    }
    let mut uris = Vec::new();
    for info in children(signature, DSIG_NS, "SignedInfo") {
        for method in children(&info, DSIG_NS, "SignatureMethod") {
            uris.push((true, method.get_attribute("Algorithm").unwrap_or_default()));
        }
        for reference in children(&info, DSIG_NS, "Reference") {
            for digest in children(&reference, DSIG_NS, "DigestMethod") {
                uris.push((false, digest.get_attribute("Algorithm").unwrap_or_default()));
            }
        }
    }
    if uris.iter().any(|(_, uri)| uri.ends_with("sha1")) {
        return Err(ResponseError::Sha1);
    }
    for (is_signature, uri) in uris {
        let known = SignatureAlgorithm::ALL.iter().any(|a| {
            if is_signature {
                a.uri() == uri
            } else {
                a.digest_uri() == uri
            }
        });
        if !known {
            return Err(ResponseError::Algorithm(clip(&uri)));
        }
    }
    Ok(())
}

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

fn is_c14n(uri: &str) -> bool {
    [
        Canonicalization::Exclusive,
        Canonicalization::ExclusiveWithComments,
        Canonicalization::Inclusive,
        Canonicalization::InclusiveWithComments,
    ]
    .iter()
    .any(|c| c.uri() == uri)
}

/// The configured certificates whose key can make `signature_uri`'s
/// signatures: xmlsec fails outright (rather than trying the next one) on
/// a key of the wrong type, so an EC certificate kept beside an RSA one
/// during a rotation must not be tried on an RSA signature.
pub(crate) fn certificates_for(
    signature_uri: &str,
    certificates: &[Vec<u8>],
) -> Vec<CertificateDer> {
    let wanted = if signature_uri.contains("#ecdsa-") {
        "EC"
    } else {
        "RSA"
    };
    certificates
        .iter()
        .filter(|der| crate::certificate::from_der(der).is_ok_and(|c| c.key_type == wanted))
        .map(|der| CertificateDer::from(der.clone()))
        .collect()
}

/// `xml` reduced to what a signature by one of `certificates` covers.
/// Each certificate is tried on its own: samael stops at the first
/// certificate xmlsec fails on (a wrong curve, say) instead of trying the
/// next, which would break a login during a key rotation.
pub(crate) fn reduce_with_any(xml: &str, certificates: &[CertificateDer]) -> Option<String> {
    let allowed = SignatureAlgorithm::ALL.map(SignatureAlgorithm::samael);
    certificates.iter().find_map(|certificate| {
        Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            std::slice::from_ref(certificate),
            ReduceMode::ValidateAndMarkNoAncestors,
            Some(&allowed),
        )
        .ok()
    })
}

/// The SignatureMethod of `signature`.
pub(crate) fn signature_method(signature: &Node) -> String {
    children(signature, DSIG_NS, "SignedInfo")
        .iter()
        .flat_map(|i| children(i, DSIG_NS, "SignatureMethod"))
        .find_map(|m| m.get_attribute("Algorithm"))
        .unwrap_or_default()
}

/// The top-level status code, the second-level one and the message.
struct Status(String, Option<String>, Option<String>);

impl Status {
    fn describe(&self) -> String {
        let short = |code: &str| code.rsplit(':').next().unwrap_or_default().to_owned();
        let mut text = short(&self.0);
        if text.is_empty() {
            text = "no status".to_owned();
        }
        if let Some(second) = &self.1 {
            text = format!("{text}, {}", short(second));
        }
        if let Some(message) = &self.2 {
            text = format!("{text}: {}", clip(message));
        }
        text
    }
}

fn status_of(root: &Node) -> Status {
    let status = children(root, PROTOCOL_NS, "Status");
    let Some(status) = status.first() else {
        return Status(String::new(), None, None);
    };
    let code = children(status, PROTOCOL_NS, "StatusCode");
    let top = code.first().and_then(|c| c.get_attribute("Value"));
    let second = code
        .first()
        .and_then(|c| children(c, PROTOCOL_NS, "StatusCode").first().cloned())
        .and_then(|c| c.get_attribute("Value"));
    let message = children(status, PROTOCOL_NS, "StatusMessage")
        .first()
        .map(|m| m.get_content());
    Status(top.unwrap_or_default(), second, message)
}

pub(crate) fn same(node: Option<Node>, other: &Node) -> bool {
    node.is_some_and(|n| n.node_ptr() == other.node_ptr())
}

/// Peer-supplied text in an error: printable, at most 120 characters.
fn clip(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(120).collect()
}

#[cfg(test)]
mod tests;
