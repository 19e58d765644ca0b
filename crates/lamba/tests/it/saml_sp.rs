//! Sign-in through a SAML v2 identity provider, with pysaml2 (and Debian's
//! xmlsec1) as the IdP: the browser is this test, carrying Lamba's
//! AuthnRequest to pysaml2 (Redirect or POST binding, signed or not) and
//! pysaml2's response back to Lamba's ACS.
//!
//! Covered on both backends: SP-initiated over Redirect and POST, signed
//! and unsigned AuthnRequests (pysaml2 verifying them against Lamba's SP
//! metadata), response-signed and assertion-signed responses, the
//! SAMLv2Reconcile lambda changing the user and the roles that then show in
//! the application's tokens, a lambda deny, the link found on the second
//! login; and the attacks: an unsigned response, a signature by another
//! key, modified signed content, SHA-1, a wrong audience, a replayed
//! response, an unsolicited one, a DOCTYPE, 10 MB, malformed base64.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lamba_testkit::python::saml_peer;
use lamba_testkit::{Backend, TempDir, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::federation::{End, Person, authorize_on, code, portal, tokens_on};
use crate::identity_providers::create_lambda;
use crate::oidc::{decode_jwt, hidden_inputs, query_of};
use crate::{call, on_both_backends, start};

const IDP_ENTITY_ID: &str = "urn:test:pysaml2-idp";
const SSO_URL: &str = "https://idp.acme.test/sso";

const RECONCILE: &str = r#"function reconcile(user, registration, samlResponse, context) {
  var a = samlResponse.assertion.attributes;
  if (a.dept && a.dept[0] === 'contractors') throw {deny: 'Contractors sign in at contractors.example.'};
  user.firstName = a.given[0] + '!';
  user.data = user.data || {};
  user.data.dept = a.dept[0];
  user.data.nameId = samlResponse.assertion.subject.nameIDs[0].id;
  user.data.issuer = samlResponse.assertion.issuer;
  user.data.logins = (user.data.logins || 0) + 1;
  registration.roles = a.dept[0] === 'eng' ? ['admin', 'user'] : ['user'];
}"#;

struct Saml {
    down: TestServer,
    client_id: String,
    secret: String,
    provider_id: String,
    /// pysaml2's key and certificate, and its scratch files.
    dir: TempDir,
}

/// How pysaml2 answers.
#[derive(Clone)]
struct Answer {
    email: String,
    dept: &'static str,
    sign_response: bool,
    sign_assertion: bool,
    require_signed: bool,
    extra: Value,
}

impl Answer {
    fn for_user(email: &str, dept: &'static str) -> Self {
        Self {
            email: email.to_owned(),
            dept,
            sign_response: false,
            sign_assertion: true,
            require_signed: false,
            extra: json!({}),
        }
    }
}

/// A portal application and a SAML provider for pysaml2 on a new server;
/// `settings` are merged into the provider.
async fn setup(backend: Backend, settings: Value) -> Saml {
    let down = start(backend).await;
    let dir = TempDir::new("saml-sp");
    saml_peer("keygen", dir.path());
    let certificate = std::fs::read_to_string(dir.path().join("idp-cert.pem")).unwrap();
    let (status, key) = call(
        &down,
        Method::POST,
        "/api/key/import",
        Some(json!({"key": {"name": "pysaml2 IdP", "certificate": certificate}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let (client_id, secret) = portal(
        &down,
        json!([{"name": "admin"}, {"name": "user", "isDefault": true}]),
    )
    .await;
    let reconcile = create_lambda(&down, "SAMLv2Reconcile", RECONCILE).await;
    let mut provider = json!({
        "type": "SAMLv2",
        "name": "Acme SAML",
        "enabled": true,
        "buttonText": "Acme SSO",
        "idpEndpoint": SSO_URL,
        "issuer": IDP_ENTITY_ID,
        "keyId": key["key"]["id"],
        // pysaml2 sends `email` by its OID, as many IdPs do.
        "emailClaim": "urn:oid:1.2.840.113549.1.9.1.1",
        "domains": ["acme.test"],
        "linkingStrategy": "LinkByEmail",
        "lambdaConfiguration": {"reconcileId": reconcile},
        "applicationConfiguration": {client_id.clone(): {"enabled": true, "createRegistration": true}},
    });
    for (k, v) in settings.as_object().unwrap() {
        provider[k] = v.clone();
    }
    let (status, created) = call(
        &down,
        Method::POST,
        "/api/identity-provider",
        Some(json!({ "identityProvider": provider })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let created = &created["identityProvider"];
    assert_eq!(created["callbackURL"], down.url("/samlv2/acs").as_str());
    assert_eq!(created["type"], "SAMLv2");
    Saml {
        provider_id: created["id"].as_str().unwrap().to_owned(),
        down,
        client_id,
        secret,
        dir,
    }
}

/// The AuthnRequest as the browser carries it to the IdP.
struct Carried {
    binding: &'static str,
    saml_request: String,
    relay_state: String,
    sig_alg: Option<String>,
    signature: Option<String>,
}

/// From the application to the IdP: the request Lamba sends.
async fn depart(s: &Saml, person: &mut Person) -> Carried {
    let url = authorize_on(
        &s.down,
        &s.client_id,
        person,
        &[("idp_hint", &s.provider_id)],
    );
    let (status, location, html) = person.down.get(&url).await;
    match status {
        StatusCode::SEE_OTHER => {
            let location = location.unwrap();
            assert!(location.starts_with(SSO_URL), "{location}");
            let query = query_of(&location);
            Carried {
                binding: "redirect",
                saml_request: query["SAMLRequest"].clone(),
                relay_state: query["RelayState"].clone(),
                sig_alg: query.get("SigAlg").cloned(),
                signature: query.get("Signature").cloned(),
            }
        }
        StatusCode::OK => {
            assert!(html.contains("idp.acme.test"), "{html}");
            let fields: std::collections::HashMap<_, _> =
                hidden_inputs(&html).into_iter().collect();
            Carried {
                binding: "post",
                saml_request: fields["SAMLRequest"].clone(),
                relay_state: fields["RelayState"].clone(),
                sig_alg: None,
                signature: None,
            }
        }
        other => panic!("no departure ({other}): {html}"),
    }
}

/// pysaml2's answer to `carried`: what it parsed, and the response.
async fn answer_with(s: &Saml, dir: &Path, carried: &Carried, answer: &Answer) -> Value {
    let (status, metadata) =
        get_text(&s.down, &format!("/samlv2/sp/metadata/{}", s.provider_id)).await;
    assert_eq!(status, StatusCode::OK, "{metadata}");
    std::fs::write(dir.join("sp-metadata.xml"), metadata).unwrap();
    let mut args = json!({
        "idp_entity_id": IDP_ENTITY_ID,
        "sso_url": SSO_URL,
        "binding": carried.binding,
        "saml_request": carried.saml_request,
        "relay_state": carried.relay_state,
        "sig_alg": carried.sig_alg,
        "signature": carried.signature,
        "require_signed": answer.require_signed,
        "sign_response": answer.sign_response,
        "sign_assertion": answer.sign_assertion,
        "name_id": answer.email,
        "attributes": {
            "email": [answer.email],
            "given": [answer.email.split('@').next().unwrap()],
            "dept": [answer.dept],
        },
    });
    for (k, v) in answer.extra.as_object().unwrap() {
        args[k] = v.clone();
    }
    std::fs::write(dir.join("args.json"), args.to_string()).unwrap();
    serde_json::from_str(&saml_peer("idp-answer", dir)).unwrap()
}

async fn get_text(server: &TestServer, path: &str) -> (StatusCode, String) {
    let response = server.client().get(server.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Posts `saml_response` to the ACS as the IdP's page would.
async fn post_acs(s: &Saml, person: &mut Person, saml_response: &str, relay: &str) -> End {
    let form = vec![
        ("SAMLResponse".to_owned(), saml_response.to_owned()),
        ("RelayState".to_owned(), relay.to_owned()),
    ];
    let (status, location, html) = person
        .down
        .post_form(&s.down.url("/samlv2/acs"), &form)
        .await;
    match status {
        StatusCode::SEE_OTHER => {
            let location = location.unwrap();
            End::App(query_of(&location))
        }
        status => End::Page(status, html),
    }
}

/// A whole sign-in; also what pysaml2 parsed of the request.
async fn login(s: &Saml, person: &mut Person, answer: &Answer) -> (End, Value) {
    let carried = depart(s, person).await;
    let answered = answer_with(s, s.dir.path(), &carried, answer).await;
    let end = post_acs(
        s,
        person,
        answered["saml_response"].as_str().unwrap(),
        &carried.relay_state,
    )
    .await;
    (end, answered["request"].clone())
}

fn refused(end: End, says: &str) {
    match end {
        End::Page(status, html) => {
            assert!(status.is_client_error(), "{status}: {html}");
            assert!(html.contains(says), "{says:?} not in {html}");
        }
        End::App(query) => panic!("signed in, expected a refusal saying {says:?}: {query:?}"),
    }
}

async fn sp_initiated_sign_in(backend: Backend) {
    let s = setup(backend, json!({})).await;
    let mut person = Person::new();
    let (end, request) = login(&s, &mut person, &Answer::for_user("alice@acme.test", "eng")).await;
    assert_eq!(
        request["issuer"],
        format!(
            "{}/samlv2/sp/{}",
            s.down.url("").trim_end_matches('/'),
            s.provider_id
        )
    );
    assert_eq!(request["acs_url"], s.down.url("/samlv2/acs").as_str());
    assert_eq!(request["destination"], SSO_URL);
    assert_eq!(request["signed"], false);
    assert_eq!(
        request["name_id_format"],
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    );
    let tokens = tokens_on(&s.down, &s.client_id, &s.secret, &person, &code(end)).await;
    let access = decode_jwt(tokens["access_token"].as_str().unwrap()).1;
    assert_eq!(access["roles"], json!(["admin", "user"]), "{access}");
    let id_token = decode_jwt(tokens["id_token"].as_str().unwrap()).1;
    let user_id = id_token["sub"].as_str().unwrap().to_owned();
    let (status, user) = call(&s.down, Method::GET, &format!("/api/user/{user_id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let user = &user["user"];
    assert_eq!(user["email"], "alice@acme.test");
    assert_eq!(user["firstName"], "alice!");
    assert_eq!(user["data"]["dept"], "eng");
    assert_eq!(user["data"]["nameId"], "alice@acme.test");
    assert_eq!(user["data"]["issuer"], IDP_ENTITY_ID);

    // Again, response-signed this time: the link finds the same user.
    let mut again = Person::new();
    let answer = Answer {
        sign_response: true,
        sign_assertion: false,
        ..Answer::for_user("alice@acme.test", "sales")
    };
    let (end, _) = login(&s, &mut again, &answer).await;
    let tokens = tokens_on(&s.down, &s.client_id, &s.secret, &again, &code(end)).await;
    let id_token = decode_jwt(tokens["id_token"].as_str().unwrap()).1;
    assert_eq!(id_token["sub"], user_id.as_str());
    let access = decode_jwt(tokens["access_token"].as_str().unwrap()).1;
    assert_eq!(
        access["roles"],
        json!(["user"]),
        "the lambda's roles replace the old ones"
    );
    let (_, user) = call(&s.down, Method::GET, &format!("/api/user/{user_id}"), None).await;
    assert_eq!(user["user"]["data"]["logins"], 2);
    let (_, links) = call(
        &s.down,
        Method::GET,
        &format!("/api/identity-provider/link?userId={user_id}"),
        None,
    )
    .await;
    assert_eq!(
        links["identityProviderLinks"][0]["identityProviderType"], "SAMLv2",
        "{links}"
    );

    // The lambda's deny is the page's message.
    let mut contractor = Person::new();
    let (end, _) = login(
        &s,
        &mut contractor,
        &Answer::for_user("carl@acme.test", "contractors"),
    )
    .await;
    refused(end, "Contractors sign in at contractors.example.");
}

async fn post_binding_and_signed_requests(backend: Backend) {
    // A key pair Lamba generates signs its requests; pysaml2 requires them
    // signed and checks them with the certificate in Lamba's SP metadata.
    let s = setup(backend, json!({})).await;
    let (status, generated) = call(
        &s.down,
        Method::POST,
        "/api/key/generate",
        Some(json!({"key": {"name": "Lamba SP signing"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{generated}");
    let signing_key = generated["key"]["id"].clone();
    for post in [true, false] {
        let (status, provider) = call(
            &s.down,
            Method::GET,
            &format!("/api/identity-provider/{}", s.provider_id),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let mut provider = provider["identityProvider"].clone();
        provider["postRequest"] = json!(post);
        provider["signRequest"] = json!(true);
        provider["requestSigningKeyId"] = signing_key.clone();
        let (status, replaced) = call(
            &s.down,
            Method::PUT,
            &format!("/api/identity-provider/{}", s.provider_id),
            Some(json!({ "identityProvider": provider })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{replaced}");
        let mut person = Person::new();
        let answer = Answer {
            require_signed: true,
            sign_response: true,
            sign_assertion: true,
            ..Answer::for_user("bob@acme.test", "eng")
        };
        let (end, request) = login(&s, &mut person, &answer).await;
        assert_eq!(request["signed"], true, "post={post}");
        code(end);
    }
    // The key is in use.
    let (status, refused) = call(
        &s.down,
        Method::DELETE,
        &format!("/api/key/{}", signing_key.as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("[inUse]keyId"), "{refused}");
}

async fn attacks_are_refused(backend: Backend) {
    let s = setup(backend, json!({})).await;
    let bob = Answer::for_user("bob@acme.test", "eng");

    // Unsigned.
    let mut person = Person::new();
    let unsigned = Answer {
        sign_response: false,
        sign_assertion: false,
        ..bob.clone()
    };
    refused(login(&s, &mut person, &unsigned).await.0, "is not signed");

    // Signed by another key.
    let other = TempDir::new("saml-other");
    saml_peer("keygen", other.path());
    let mut person = Person::new();
    let carried = depart(&s, &mut person).await;
    let answered = answer_with(&s, other.path(), &carried, &bob).await;
    let end = post_acs(
        &s,
        &mut person,
        answered["saml_response"].as_str().unwrap(),
        &carried.relay_state,
    )
    .await;
    refused(end, "does not verify with the provider");

    // Signed content modified.
    let mut person = Person::new();
    let carried = depart(&s, &mut person).await;
    let answered = answer_with(&s, s.dir.path(), &carried, &bob).await;
    let xml = decode(&answered);
    let forged = xml.replace("bob@acme.test", "admin@acme.test");
    assert_ne!(forged, xml);
    let end = post_acs(
        &s,
        &mut person,
        &STANDARD.encode(&forged),
        &carried.relay_state,
    )
    .await;
    refused(end, "does not verify");

    // Signature wrapping: the signed assertion kept, an unsigned one
    // beside it.
    let mut person = Person::new();
    let carried = depart(&s, &mut person).await;
    let answered = answer_with(&s, s.dir.path(), &carried, &bob).await;
    let xml = decode(&answered);
    let (start, end) = assertion_span(&xml);
    let signed = &xml[start..end];
    let unsigned = strip_signature(signed).replace("bob@acme.test", "admin@acme.test");
    let evil = format!("{}{unsigned}{signed}{}", &xml[..start], &xml[end..]);
    let end = post_acs(
        &s,
        &mut person,
        &STANDARD.encode(&evil),
        &carried.relay_state,
    )
    .await;
    refused(end, "exactly one assertion");

    // SHA-1.
    let mut person = Person::new();
    let sha1 = Answer {
        extra: json!({"sha1": true}),
        ..bob.clone()
    };
    refused(login(&s, &mut person, &sha1).await.0, "SHA-1");

    // Another audience.
    let mut person = Person::new();
    let elsewhere = Answer {
        extra: json!({"audience": "https://other-sp.example/metadata"}),
        ..bob.clone()
    };
    refused(login(&s, &mut person, &elsewhere).await.0, "Audience");

    // Replayed: the request is used up.
    let mut person = Person::new();
    let carried = depart(&s, &mut person).await;
    let answered = answer_with(&s, s.dir.path(), &carried, &bob).await;
    let response = answered["saml_response"].as_str().unwrap();
    code(post_acs(&s, &mut person, response, &carried.relay_state).await);
    refused(
        post_acs(&s, &mut person, response, &carried.relay_state).await,
        "already used",
    );

    // Unsolicited: IdP-initiated responses are not accepted.
    let mut person = Person::new();
    let carried = depart(&s, &mut person).await;
    let unsolicited = Answer {
        extra: json!({"in_response_to": null}),
        ..bob.clone()
    };
    let answered = answer_with(&s, s.dir.path(), &carried, &unsolicited).await;
    let end = post_acs(
        &s,
        &mut person,
        answered["saml_response"].as_str().unwrap(),
        "",
    )
    .await;
    refused(end, "unsolicited");

    // A DOCTYPE (XXE), 10 MB, malformed base64: refused before any parse.
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        xml
    );
    let mut person = Person::new();
    let carried = depart(&s, &mut person).await;
    refused(
        post_acs(&s, &mut person, &STANDARD.encode(xxe), &carried.relay_state).await,
        "DTD",
    );
    let huge = "A".repeat(10 * 1024 * 1024);
    // The server answers 413 before reading it all, and may close the
    // connection while the client still writes: either is the refusal.
    let sent = s
        .down
        .client()
        .post(s.down.url("/samlv2/acs"))
        .form(&[
            ("SAMLResponse", huge.as_str()),
            ("RelayState", &carried.relay_state),
        ])
        .send()
        .await;
    match sent {
        Ok(response) => assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(error) => assert!(error.is_request(), "{error}"),
    }
    refused(
        post_acs(&s, &mut person, "%%%not base64%%%", &carried.relay_state).await,
        "not valid base64",
    );
}

fn decode(answered: &Value) -> String {
    String::from_utf8(
        STANDARD
            .decode(answered["saml_response"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
}

/// Where the (first) assertion element is, whatever its prefix.
fn assertion_span(xml: &str) -> (usize, usize) {
    for (at, _) in xml.match_indices(":Assertion") {
        let after = xml.as_bytes()[at + ":Assertion".len()];
        let open = xml[..at].rfind('<').unwrap();
        let prefix = &xml[open + 1..at];
        if (after == b' ' || after == b'>') && prefix.chars().all(char::is_alphanumeric) {
            let close = format!("</{prefix}:Assertion>");
            let end = xml[open..].find(&close).unwrap() + open + close.len();
            return (open, end);
        }
    }
    panic!("no assertion in {xml}");
}

/// An assertion without its `ds:Signature` element.
fn strip_signature(assertion: &str) -> String {
    let Some(start) = assertion.find("<ds:Signature") else {
        return assertion.to_owned();
    };
    let end = assertion.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    format!("{}{}", &assertion[..start], &assertion[end..])
}

on_both_backends!(
    sp_initiated_sign_in,
    post_binding_and_signed_requests,
    attacks_are_refused
);
