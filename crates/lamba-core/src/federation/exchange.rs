//! The back channel of a federated login: the code exchanged at the
//! provider's token endpoint (with Lamba's client authentication and the
//! PKCE verifier), the ID token verified, userinfo read. What comes out is
//! the claims to sign the user in with: userinfo's first, then the ID
//! token's (FusionAuth's rule).

use lamba_model::{IdentityProvider, UpstreamClientAuthentication};
use lamba_oidc::JoseError;
use lamba_oidc::upstream::{Expected, IdTokenError, verify_id_token};
use serde_json::{Map, Value};

use super::upstream::{Directory, Endpoints, MetadataError, UpstreamCall};

/// What the provider said, verified.
#[derive(Clone, Debug)]
pub struct UpstreamClaims {
    /// userinfo, as received (`jwt` for a reconcile lambda).
    pub userinfo: Map<String, Value>,
    /// The verified ID token's claims (`idToken`).
    pub id_token: Map<String, Value>,
    /// `{access_token, id_token}` as received (`tokens`).
    pub tokens: Value,
    /// userinfo over the ID token.
    pub merged: Map<String, Value>,
}

/// Why the back channel failed. Messages are for the log and the event
/// log; the user sees a plainer one.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("the token endpoint refused the code ({0})")]
    Refused(String),
    #[error("the token endpoint's answer has no {0}")]
    Missing(&'static str),
    #[error("the ID token was refused: {0}")]
    IdToken(#[from] IdTokenError),
    #[error("userinfo answered {0}")]
    Userinfo(u16),
    #[error("userinfo is about another subject than the ID token")]
    UserinfoSubject,
    #[error("the provider has no {0}")]
    NoEndpoint(&'static str),
}

/// The code, and what Lamba holds to redeem it.
pub struct Redemption<'a> {
    pub code: &'a str,
    pub verifier: &'a str,
    pub nonce: &'a str,
    pub redirect_uri: &'a str,
    pub client_id: &'a str,
    pub client_secret: Option<&'a str>,
    pub now_secs: i64,
}

pub async fn redeem(
    directory: &Directory,
    provider: &IdentityProvider,
    endpoints: &Endpoints,
    redemption: Redemption<'_>,
) -> Result<UpstreamClaims, ExchangeError> {
    let oidc = provider
        .oidc()
        .ok_or(ExchangeError::Missing("OpenID Connect settings"))?;
    let token_endpoint = endpoints
        .token
        .clone()
        .ok_or(ExchangeError::NoEndpoint("token endpoint"))?;
    let mut form = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".to_owned(), redemption.code.to_owned()),
        (
            "redirect_uri".to_owned(),
            redemption.redirect_uri.to_owned(),
        ),
        ("code_verifier".to_owned(), redemption.verifier.to_owned()),
    ];
    let mut basic = None;
    match oidc.client_authentication {
        UpstreamClientAuthentication::ClientSecretBasic => {
            basic = Some((
                redemption.client_id.to_owned(),
                redemption.client_secret.unwrap_or_default().to_owned(),
            ));
        }
        UpstreamClientAuthentication::ClientSecretPost => {
            form.push(("client_id".to_owned(), redemption.client_id.to_owned()));
            form.push((
                "client_secret".to_owned(),
                redemption.client_secret.unwrap_or_default().to_owned(),
            ));
        }
        UpstreamClientAuthentication::None => {
            form.push(("client_id".to_owned(), redemption.client_id.to_owned()));
        }
    }
    let answer = directory
        .transport()
        .send(UpstreamCall::PostForm {
            url: token_endpoint,
            form,
            basic,
        })
        .await
        .map_err(MetadataError::from)?;
    if answer.status != 200 {
        // RFC 6749 §5.2's error code only: a description may echo input.
        let code = answer
            .body
            .get("error")
            .and_then(Value::as_str)
            .map(|e| e.chars().take(64).collect())
            .unwrap_or_else(|| format!("status {}", answer.status));
        return Err(ExchangeError::Refused(code));
    }
    let access_token = answer
        .body
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let id_token_raw = answer
        .body
        .get("id_token")
        .and_then(Value::as_str)
        .map(str::to_owned);

    // With an issuer, the ID token is the proof of who signed in; without
    // one (a plain OAuth 2.0 provider) there are no keys to check it with,
    // and userinfo, read over TLS with the access token, is what counts.
    let mut id_token = Map::new();
    if let Some(issuer) = &oidc.issuer {
        let raw = id_token_raw
            .as_deref()
            .ok_or(ExchangeError::Missing("id_token"))?;
        let expected = Expected {
            issuer,
            client_id: redemption.client_id,
            nonce: redemption.nonce,
            now_secs: redemption.now_secs,
        };
        let keys = directory.keys(provider, false).await?;
        id_token = match verify_id_token(&keys, raw, &expected) {
            Err(IdTokenError::Signature(JoseError::UnknownKey)) => {
                // The provider may have rotated its keys since we read them.
                let keys = directory.keys(provider, true).await?;
                verify_id_token(&keys, raw, &expected)?
            }
            other => other?,
        };
    }

    let mut userinfo = Map::new();
    if let (Some(url), Some(token)) = (&endpoints.userinfo, &access_token) {
        let answer = directory
            .transport()
            .send(UpstreamCall::Get {
                url: url.clone(),
                bearer: Some(token.clone()),
            })
            .await
            .map_err(MetadataError::from)?;
        match answer.body {
            Value::Object(map) if answer.status == 200 => userinfo = map,
            _ => return Err(ExchangeError::Userinfo(answer.status)),
        }
        // OpenID Connect Core §5.3.2: a userinfo about someone else is a
        // substitution attack.
        if !id_token.is_empty() && userinfo.get("sub") != id_token.get("sub") {
            return Err(ExchangeError::UserinfoSubject);
        }
    } else if id_token.is_empty() {
        return Err(ExchangeError::NoEndpoint("userinfo endpoint"));
    }

    let mut merged = id_token.clone();
    for (name, value) in &userinfo {
        merged.insert(name.clone(), value.clone());
    }
    Ok(UpstreamClaims {
        tokens: serde_json::json!({"access_token": access_token, "id_token": id_token_raw}),
        userinfo,
        id_token,
        merged,
    })
}
