//! SAML metadata (SAML Metadata §2.4): what Lamba publishes about itself
//! so that a peer can be configured from one URL. As a service provider
//! (for an upstream IdP): the entity id, the ACS URL (HTTP-POST) and the
//! certificate it signs AuthnRequests with. As an identity provider (for
//! an application): the entity id, the SSO and logout URLs (Redirect and
//! POST), the NameID formats, and the signing certificate.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::escape;
use crate::request::POST_BINDING;

pub const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const EMAIL_ADDRESS: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

/// Lamba as a service provider of one upstream IdP.
pub struct SpMetadata<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    /// The certificate AuthnRequests are signed with, when they are.
    pub signing_certificate_der: Option<&'a [u8]>,
    pub name_id_format: Option<&'a str>,
}

pub fn sp_metadata(sp: &SpMetadata<'_>) -> String {
    let key = sp
        .signing_certificate_der
        .map(key_descriptor)
        .unwrap_or_default();
    let format = sp
        .name_id_format
        .map(|f| format!("<md:NameIDFormat>{}</md:NameIDFormat>", escape(f)))
        .unwrap_or_default();
    format!(
        concat!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">",
            "<md:SPSSODescriptor AuthnRequestsSigned=\"{signed}\" WantAssertionsSigned=\"true\" ",
            "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{key}{format}",
            "<md:AssertionConsumerService Binding=\"{post}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>",
            "</md:SPSSODescriptor></md:EntityDescriptor>"
        ),
        entity = escape(sp.entity_id),
        signed = sp.signing_certificate_der.is_some(),
        key = key,
        format = format,
        post = POST_BINDING,
        acs = escape(sp.acs_url),
    )
}

/// Lamba as the identity provider of one application.
pub struct IdpMetadata<'a> {
    pub entity_id: &'a str,
    pub sso_url: &'a str,
    pub logout_url: &'a str,
    pub signing_certificate_der: &'a [u8],
    pub want_requests_signed: bool,
}

pub fn idp_metadata(idp: &IdpMetadata<'_>) -> String {
    let formats: String = [EMAIL_ADDRESS, PERSISTENT, UNSPECIFIED]
        .iter()
        .map(|f| format!("<md:NameIDFormat>{f}</md:NameIDFormat>"))
        .collect();
    let services = |element: &str, url: &str| {
        [REDIRECT_BINDING, POST_BINDING]
            .iter()
            .map(|b| {
                format!(
                    "<md:{element} Binding=\"{b}\" Location=\"{}\"/>",
                    escape(url)
                )
            })
            .collect::<String>()
    };
    format!(
        concat!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">",
            "<md:IDPSSODescriptor WantAuthnRequestsSigned=\"{signed}\" ",
            "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{key}{logout}{formats}{sso}",
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        ),
        entity = escape(idp.entity_id),
        signed = idp.want_requests_signed,
        key = key_descriptor(idp.signing_certificate_der),
        logout = services("SingleLogoutService", idp.logout_url),
        formats = formats,
        sso = services("SingleSignOnService", idp.sso_url),
    )
}

fn key_descriptor(der: &[u8]) -> String {
    format!(
        concat!(
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
            "<ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        ),
        STANDARD.encode(der)
    )
}

#[cfg(test)]
mod tests {
    use samael::metadata::EntityDescriptor;

    use super::*;
    use crate::test_keys::idp;

    #[test]
    fn sp_metadata_reads_back_with_its_acs_and_certificate() {
        let xml = sp_metadata(&SpMetadata {
            entity_id: "https://lamba.example/samlv2/sp/1",
            acs_url: "https://lamba.example/samlv2/acs",
            signing_certificate_der: Some(&idp().cert),
            name_id_format: Some(EMAIL_ADDRESS),
        });
        crate::document::parse(&xml).unwrap();
        let entity: EntityDescriptor = xml.parse().unwrap();
        assert_eq!(
            entity.entity_id.as_deref(),
            Some("https://lamba.example/samlv2/sp/1")
        );
        let sp = &entity.sp_sso_descriptors.unwrap()[0];
        assert_eq!(sp.authn_requests_signed, Some(true));
        assert_eq!(
            sp.assertion_consumer_services[0].location,
            "https://lamba.example/samlv2/acs"
        );
        assert!(xml.contains(&STANDARD.encode(&idp().cert)));
    }

    #[test]
    fn idp_metadata_reads_back_with_both_bindings() {
        let xml = idp_metadata(&IdpMetadata {
            entity_id: "https://lamba.example/samlv2/app1",
            sso_url: "https://lamba.example/samlv2/login/app1",
            logout_url: "https://lamba.example/samlv2/logout/app1",
            signing_certificate_der: &idp().cert,
            want_requests_signed: true,
        });
        crate::document::parse(&xml).unwrap();
        let entity: EntityDescriptor = xml.parse().unwrap();
        let idp = &entity.idp_sso_descriptors.unwrap()[0];
        assert_eq!(idp.single_sign_on_services.len(), 2);
        assert_eq!(idp.want_authn_requests_signed, Some(true));
        assert_eq!(idp.name_id_formats.len(), 3);
    }
}
