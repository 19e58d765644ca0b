//! Sign-in through a SAML v2 identity provider, Lamba its service
//! provider: the AuthnRequest out (Redirect or POST binding, signed when
//! the provider says so) and the Response back at the one ACS,
//! `POST /samlv2/acs`, which ends where an OpenID Connect callback does
//! (`arrive.rs`'s `settle`, then `oauth`'s sign-in).
//!
//! The trip is held like OpenID Connect's: `RelayState` is the `state`
//! (256 random bits; only its digest is stored, bound to the departing
//! browser), and the AuthnRequest's `ID` is an HMAC of it, so the
//! response's `InResponseTo` must be the one this trip sent and nothing
//! stored could forge it. The response is checked by `lamba-saml` against
//! the provider's configured certificate only; its assertion id is then
//! remembered until the assertion expires, so it signs in once.

use lamba_model::{
    CertificateKeyId, DestinationPolicy, EventLogType, FederationRequest, IdentityProvider,
    IdentityProviderId, ProviderProtocol, Samlv2Settings,
};
use lamba_saml::response::{Expectations, VerifiedResponse};
use lamba_saml::{SignatureAlgorithm, binding, metadata, redirect, request, response};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::certificates::open_private_key;
use super::linking::UpstreamIdentity;
use super::outcome::{Arrival, Callback, CallbackOutcome, UNAVAILABLE, expired_page};
use super::reconcile::Evidence;
use super::signin::{Departure, FederatedSignIn};
use crate::oauth::{
    AuthorizeOutcome, AuthorizeRequest, OAuthService, SignIn, ValidAuthorizeRequest,
};

/// The ACS path, the same for every SAML provider.
pub const ACS_PATH: &str = "/samlv2/acs";

/// What the identity provider posted to the ACS.
#[derive(Clone, Debug, Default)]
pub struct AcsPost {
    pub saml_response: Option<String>,
    pub relay_state: Option<String>,
}

/// Why SP metadata cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("no SAML v2 identity provider has this id")]
    NotFound,
    #[error("the metadata is unavailable right now")]
    Unavailable,
}

impl FederatedSignIn {
    /// Where every SAML provider posts its responses.
    pub fn saml_acs_url(&self) -> String {
        format!("{}{ACS_PATH}", self.issuer)
    }

    /// Lamba's entity id towards `provider`: one per provider, so that each
    /// IdP's audience restriction names only its own trust.
    pub fn saml_sp_entity_id(&self, provider: IdentityProviderId) -> String {
        format!("{}/samlv2/sp/{provider}", self.issuer)
    }

    /// `GET /samlv2/sp/metadata/{idpId}`: entity id, ACS, and the request
    /// signing certificate when requests are signed.
    pub async fn saml_sp_metadata(
        &self,
        provider_id: IdentityProviderId,
    ) -> Result<String, MetadataError> {
        let provider = self
            .store
            .lookup_identity_provider(provider_id)
            .await
            .map_err(|error| {
                tracing::error!(%error, "could not read an identity provider");
                MetadataError::Unavailable
            })?
            .ok_or(MetadataError::NotFound)?;
        let saml = provider.samlv2().ok_or(MetadataError::NotFound)?;
        let certificate = match saml.request_signing_key_id.filter(|_| saml.sign_request) {
            Some(id) => Some(
                self.certificate_key(id)
                    .await
                    .ok_or(MetadataError::Unavailable)?
                    .certificate,
            ),
            None => None,
        };
        Ok(metadata::sp_metadata(&metadata::SpMetadata {
            entity_id: &self.saml_sp_entity_id(provider.id),
            acs_url: &self.saml_acs_url(),
            signing_certificate_der: certificate.as_deref(),
            name_id_format: Some(&saml.name_id_format),
        }))
    }

    /// Sends the browser to a SAML provider with an AuthnRequest.
    pub(super) async fn depart_saml(
        &self,
        valid: &ValidAuthorizeRequest,
        provider: &IdentityProvider,
        saml: &Samlv2Settings,
        browser: &str,
    ) -> Departure {
        let stay = |message: String| {
            Departure::Stay(AuthorizeOutcome::SignIn {
                request: Box::new(valid.clone()),
                error: Some(message),
            })
        };
        let signing = match self.request_signing(saml).await {
            Ok(signing) => signing,
            Err(why) => {
                self.events.record(
                    EventLogType::Error,
                    format!(
                        "A login through identity provider {} ({}) could not start: {why}.",
                        provider.name, provider.id
                    ),
                );
                return stay(UNAVAILABLE.to_owned());
            }
        };
        let Some(state) = self.hold_request(valid, provider.id, browser).await else {
            return stay(UNAVAILABLE.to_owned());
        };
        let id = self.request_id(&state);
        let sp_entity_id = self.saml_sp_entity_id(provider.id);
        let acs_url = self.saml_acs_url();
        let authn = request::NewAuthnRequest {
            id: &id,
            issuer: &sp_entity_id,
            destination: &saml.idp_endpoint,
            acs_url: &acs_url,
            name_id_format: Some(&saml.name_id_format),
            now_secs: self.clock.now().as_millis().div_euclid(1000),
        };
        if saml.post_request {
            let xml = match &signing {
                Some((key, certificate)) => request::signed_authn_request(
                    &authn,
                    key,
                    Some(certificate),
                    SignatureAlgorithm::RsaSha256,
                    lamba_saml::Canonicalization::from_name(saml.c14n.as_str()).unwrap_or_default(),
                ),
                None => Ok(request::authn_request(&authn)),
            };
            return match xml {
                Ok(xml) => Departure::Post {
                    url: saml.idp_endpoint.clone(),
                    fields: vec![
                        ("SAMLRequest".to_owned(), binding::encode_post(&xml)),
                        ("RelayState".to_owned(), state),
                    ],
                },
                Err(error) => {
                    tracing::error!(%error, "could not sign an AuthnRequest");
                    stay(UNAVAILABLE.to_owned())
                }
            };
        }
        let xml = request::authn_request(&authn);
        let query = redirect::query(
            redirect::Message::Request,
            &xml,
            Some(&state),
            signing
                .as_ref()
                .map(|(key, _)| (key.as_slice(), SignatureAlgorithm::RsaSha256)),
        );
        match query {
            Ok(query) => {
                let separator = if saml.idp_endpoint.contains('?') {
                    '&'
                } else {
                    '?'
                };
                Departure::Redirect {
                    url: format!("{}{separator}{query}", saml.idp_endpoint),
                }
            }
            Err(error) => {
                tracing::error!(%error, "could not sign an AuthnRequest");
                stay(UNAVAILABLE.to_owned())
            }
        }
    }

    /// `POST /samlv2/acs`.
    pub async fn acs(
        &self,
        oauth: &OAuthService,
        post: AcsPost,
        browser: Option<&str>,
        ip_address: Option<String>,
        user_agent: Option<String>,
    ) -> CallbackOutcome {
        let page = |message: String| {
            CallbackOutcome::Done(SignIn {
                outcome: AuthorizeOutcome::ErrorPage { message },
                session_id: None,
            })
        };
        let Some(encoded) = post.saml_response.filter(|r| !r.is_empty()) else {
            return page("The identity provider sent no SAMLResponse.".to_owned());
        };
        let xml = match binding::decode_post(&encoded) {
            Ok(xml) => xml,
            Err(error) => {
                return page(format!(
                    "The identity provider's answer is unreadable: {error}."
                ));
            }
        };
        let claimed = match response::peek(&xml) {
            Ok(claimed) => claimed,
            Err(error) => {
                return page(format!(
                    "The identity provider's answer is refused: {error}."
                ));
            }
        };
        let relay = post.relay_state.filter(|r| !r.is_empty());
        if claimed.in_response_to.is_none() {
            // Lamba's requests always carry an ID, so this is IdP-initiated.
            return page(self.unsolicited(claimed.issuer.as_deref()).await);
        }
        let callback = Callback {
            state: relay,
            ..Callback::default()
        };
        let (request, state) = match self.take_request(&callback, browser).await {
            Ok((request, _)) if request.pending_link.is_some() => {
                return CallbackOutcome::Done(SignIn {
                    outcome: expired_page(),
                    session_id: None,
                });
            }
            Ok(found) => found,
            Err(outcome) => {
                return CallbackOutcome::Done(SignIn {
                    outcome,
                    session_id: None,
                });
            }
        };
        let Ok(carried) = serde_json::from_str::<AuthorizeRequest>(&request.authorize_request)
        else {
            return page(UNAVAILABLE.to_owned());
        };
        let valid = match oauth.resume(carried).await {
            Ok(valid) => valid,
            Err(outcome) => {
                return CallbackOutcome::Done(SignIn {
                    outcome,
                    session_id: None,
                });
            }
        };
        let arrival = self
            .arrive_saml(&valid, &request, &state, &xml, ip_address.clone())
            .await;
        self.conclude(oauth, valid, arrival, ip_address, user_agent)
            .await
    }

    async fn arrive_saml(
        &self,
        valid: &ValidAuthorizeRequest,
        request: &FederationRequest,
        state: &str,
        xml: &str,
        ip_address: Option<String>,
    ) -> Result<Arrival, String> {
        let provider = match self
            .store
            .lookup_identity_provider(request.identity_provider_id)
            .await
        {
            Ok(Some(provider)) if provider.for_application(valid.application.id).is_some() => {
                provider
            }
            Ok(_) => return Err("That sign-in option is no longer available.".to_owned()),
            Err(error) => {
                tracing::error!(%error, "could not read an identity provider");
                return Err(UNAVAILABLE.to_owned());
            }
        };
        let ProviderProtocol::Samlv2(saml) = &provider.protocol else {
            return Err("That sign-in option is no longer available.".to_owned());
        };
        let verified = self.verify(&provider, saml, xml).await?;
        let expected = self.request_id(state);
        if verified.in_response_to.as_deref() != Some(expected.as_str()) {
            return Err(self.refuse(
                &provider,
                "the response does not answer this sign-in's request",
            ));
        }
        let now = self.clock.now();
        let digest = Sha256::digest(verified.assertion_id.as_bytes());
        let expires = lamba_model::Instant::from_millis(verified.expires_secs.saturating_mul(1000));
        match self
            .store
            .remember_assertion(provider.id, &digest, expires, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(self.refuse(&provider, "the assertion was already used")),
            Err(error) => {
                tracing::error!(%error, "could not record a SAML assertion");
                return Err(UNAVAILABLE.to_owned());
            }
        }
        let attributes = attribute_claims(&verified);
        let Some(identity) = saml_identity(saml, &verified, &provider.domains) else {
            return Err(self.refuse(
                &provider,
                "the response names no user (no NameID or unique id attribute)",
            ));
        };
        self.settle(
            valid,
            request,
            &provider,
            identity,
            &Evidence::Samlv2 {
                response: &verified.json,
                attributes: &attributes,
            },
            ip_address,
        )
        .await
    }

    /// `lamba-saml`'s checks with this provider's certificate and Lamba's
    /// names for itself.
    async fn verify(
        &self,
        provider: &IdentityProvider,
        saml: &Samlv2Settings,
        xml: &str,
    ) -> Result<VerifiedResponse, String> {
        let certificate = match (&saml.certificate, saml.key_id) {
            (Some(der), _) => der.clone(),
            (None, Some(id)) => match self.certificate_key(id).await {
                Some(key) => key.certificate,
                None => return Err(self.refuse(provider, "its certificate key is gone")),
            },
            (None, None) => return Err(self.refuse(provider, "it has no certificate")),
        };
        let destination = match saml.destination_policy {
            DestinationPolicy::Enabled => response::DestinationPolicy::Enabled,
            DestinationPolicy::Disabled => response::DestinationPolicy::Disabled,
            DestinationPolicy::AllowAlternates => {
                response::DestinationPolicy::AllowAlternates(saml.destination_alternates.clone())
            }
        };
        let sp_entity_id = self.saml_sp_entity_id(provider.id);
        let acs_url = self.saml_acs_url();
        let certificates = [certificate];
        let expectations = Expectations {
            idp_entity_id: &saml.issuer,
            sp_entity_id: &sp_entity_id,
            acs_url: &acs_url,
            certificates: &certificates,
            destination: &destination,
            now_secs: self.clock.now().as_millis().div_euclid(1000),
        };
        response::verify(xml, &expectations)
            .map_err(|error| self.refuse(provider, &error.to_string()))
    }

    /// A response no request of Lamba's asked for. IdP-initiated sign-in
    /// is not offered yet: it is refused with that said.
    async fn unsolicited(&self, issuer: Option<&str>) -> String {
        let providers = self
            .store
            .list_identity_providers(Some(lamba_model::IdentityProviderType::Samlv2))
            .await
            .unwrap_or_default();
        let provider = providers.iter().find(|p| {
            p.samlv2()
                .is_some_and(|s| Some(s.issuer.as_str()) == issuer)
        });
        if let Some(provider) = provider {
            self.events.record(
                EventLogType::Information,
                format!(
                    "Identity provider {} ({}) sent a response no sign-in asked for; it was refused.",
                    provider.name, provider.id
                ),
            );
        }
        "This sign-in was not started here: unsolicited (IdP-initiated) SAML responses are not accepted. Go to the application and sign in from there.".to_owned()
    }

    /// A refused response: an Error in the event log, and the reason on
    /// the page (Lamba's own words; an IdP's status message is clipped).
    fn refuse(&self, provider: &IdentityProvider, why: &str) -> String {
        self.events.record(
            EventLogType::Error,
            format!(
                "A login through identity provider {} ({}) was refused: {why}.",
                provider.name, provider.id
            ),
        );
        format!(
            "Signing in through {} failed: {why}. Try again, or sign in another way.",
            provider.name
        )
    }

    /// The AuthnRequest ID of the trip with `state`: an NCName (`_` and
    /// base64url).
    fn request_id(&self, state: &str) -> String {
        format!("_{}", self.derive(b"saml-request", state))
    }

    async fn certificate_key(&self, id: CertificateKeyId) -> Option<lamba_model::CertificateKey> {
        match self.store.lookup_certificate_key(id).await {
            Ok(key) => key,
            Err(error) => {
                tracing::error!(%error, "could not read a certificate key");
                None
            }
        }
    }

    /// The key and certificate AuthnRequests are signed with, when signed.
    async fn request_signing(
        &self,
        saml: &Samlv2Settings,
    ) -> Result<Option<(Zeroizing<Vec<u8>>, Vec<u8>)>, &'static str> {
        if !saml.sign_request {
            return Ok(None);
        }
        let id = saml
            .request_signing_key_id
            .ok_or("no request signing key")?;
        let key = self
            .certificate_key(id)
            .await
            .ok_or("the request signing key is gone")?;
        let private = open_private_key(&self.sealer, &key)
            .map_err(|_| "the request signing key cannot be opened")?
            .ok_or("the request signing key has no private key")?;
        Ok(Some((private, key.certificate)))
    }
}

/// Attribute name -> its one value, or its values when several: what
/// attribute mappings read.
fn attribute_claims(verified: &VerifiedResponse) -> Map<String, Value> {
    verified
        .attributes
        .iter()
        .filter_map(|(name, values)| {
            let value = match values.as_slice() {
                [] => return None,
                [one] => Value::String(one.clone()),
                many => Value::Array(many.iter().cloned().map(Value::String).collect()),
            };
            Some((name.clone(), value))
        })
        .collect()
}

/// Who the response says signed in. SAML has no standard "email verified":
/// an address counts as verified when the provider's `emailVerifiedClaim`
/// attribute says `true`, or when it is in one of the provider's managed
/// domains (for which the operator made this IdP the authority).
fn saml_identity(
    saml: &Samlv2Settings,
    verified: &VerifiedResponse,
    domains: &[String],
) -> Option<UpstreamIdentity> {
    let first = |name: &str| {
        verified
            .attributes
            .get(name)
            .and_then(|values| values.first())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let name_id = verified
        .name_id
        .as_ref()
        .map(|n| n.value.trim().to_owned())
        .filter(|v| !v.is_empty());
    let unique_id = match &saml.unique_id_claim {
        Some(claim) => first(claim)?,
        None => name_id.clone()?,
    };
    let email = if saml.use_name_id_for_email {
        name_id
    } else {
        first(&saml.email_claim)
    };
    let in_domains = email.as_deref().is_some_and(|email| {
        email
            .rsplit_once('@')
            .is_some_and(|(_, d)| domains.iter().any(|m| m.eq_ignore_ascii_case(d)))
    });
    let said_verified = saml
        .email_verified_claim
        .as_deref()
        .and_then(first)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Some(UpstreamIdentity {
        unique_id,
        email,
        email_verified: (in_domains || said_verified).then_some(true),
        username: saml.username_claim.as_deref().and_then(first),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lamba_model::XmlC14nMethod;
    use lamba_saml::response::{NameId, SignedParts};

    use super::*;

    fn settings() -> Samlv2Settings {
        Samlv2Settings {
            idp_endpoint: "https://idp.example/sso".into(),
            issuer: "urn:idp".into(),
            key_id: None,
            certificate: Some(vec![1]),
            name_id_format: metadata::PERSISTENT.into(),
            use_name_id_for_email: false,
            email_claim: "mail".into(),
            email_verified_claim: None,
            unique_id_claim: None,
            username_claim: Some("uid".into()),
            post_request: false,
            sign_request: false,
            request_signing_key_id: None,
            c14n: XmlC14nMethod::Exclusive,
            destination_policy: DestinationPolicy::Enabled,
            destination_alternates: Vec::new(),
            idp_initiated: false,
        }
    }

    fn verified(attributes: &[(&str, &[&str])]) -> VerifiedResponse {
        VerifiedResponse {
            response_id: None,
            in_response_to: None,
            assertion_id: "_a".into(),
            expires_secs: 0,
            name_id: Some(NameId {
                format: None,
                value: "n-1".into(),
            }),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect::<BTreeMap<_, _>>(),
            session_index: None,
            signed: SignedParts::Assertion,
            json: Value::Null,
        }
    }

    #[test]
    fn the_name_id_is_the_unique_id_unless_an_attribute_is_named() {
        let mut saml = settings();
        let response = verified(&[("mail", &["a@x.example"]), ("oid", &["o-9"])]);
        let identity = saml_identity(&saml, &response, &[]).unwrap();
        assert_eq!(identity.unique_id, "n-1");
        assert_eq!(identity.email.as_deref(), Some("a@x.example"));
        saml.unique_id_claim = Some("oid".into());
        assert_eq!(
            saml_identity(&saml, &response, &[]).unwrap().unique_id,
            "o-9"
        );
        saml.unique_id_claim = Some("missing".into());
        assert!(saml_identity(&saml, &response, &[]).is_none());
    }

    #[test]
    fn an_email_is_verified_only_by_the_named_attribute_or_a_managed_domain() {
        let mut saml = settings();
        let response = verified(&[("mail", &["a@x.example"]), ("ok", &["TRUE"])]);
        assert_eq!(
            saml_identity(&saml, &response, &[]).unwrap().email_verified,
            None
        );
        assert_eq!(
            saml_identity(&saml, &response, &["y.example".into()])
                .unwrap()
                .email_verified,
            None
        );
        assert_eq!(
            saml_identity(&saml, &response, &["X.example".into()])
                .unwrap()
                .email_verified,
            Some(true)
        );
        saml.email_verified_claim = Some("ok".into());
        assert_eq!(
            saml_identity(&saml, &response, &[]).unwrap().email_verified,
            Some(true)
        );
        saml.use_name_id_for_email = true;
        assert_eq!(
            saml_identity(&saml, &response, &[])
                .unwrap()
                .email
                .as_deref(),
            Some("n-1")
        );
    }

    #[test]
    fn attributes_with_several_values_stay_arrays_for_mappings() {
        let claims = attribute_claims(&verified(&[
            ("one", &["a"]),
            ("two", &["b", "c"]),
            ("none", &[]),
        ]));
        assert_eq!(claims.get("one"), Some(&Value::String("a".into())));
        assert_eq!(claims.get("two"), Some(&serde_json::json!(["b", "c"])));
        assert!(!claims.contains_key("none"));
    }
}
