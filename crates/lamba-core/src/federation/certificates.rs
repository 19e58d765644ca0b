//! Keys known by their X.509 certificate, the way SAML peers exchange
//! keys: an identity provider's certificate an operator imports (Lamba
//! verifies that IdP's responses with it and with nothing else), and a key
//! pair Lamba generates, with a self-signed certificate, to sign SAML
//! messages with. The private key is sealed at rest like every other
//! secret and never leaves the core: views show the certificate only.

use std::sync::Arc;

use lamba_model::{CertificateKey, CertificateKeyId, Clock};
use lamba_saml::certificate::{self, Certificate, CertificateError};
use lamba_store::{DynStore, StoreError};
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::events::audit::AuditLog;
use crate::keys::sealing::{Sealer, SealingError};
use crate::validation::{ErrorKind, ValidationErrors, check_name_length, forbidden_char};

/// A generated certificate is valid this long: SAML peers pin it, so a
/// short life means outages, and rotation is the operator's to plan.
pub const GENERATED_VALIDITY_DAYS: u32 = 3650;

#[derive(Debug, thiserror::Error)]
pub enum CertificateKeyError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Sealing(#[from] SealingError),
    #[error("the key could not be generated: {0}")]
    Generation(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for CertificateKeyError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Invalid(errors)
    }
}

/// `POST /api/key/import`'s fields.
#[derive(Clone, Debug, Default)]
pub struct ImportInput {
    pub name: Option<String>,
    /// PEM, or the bare base64 DER SAML metadata carries.
    pub certificate: Option<String>,
    /// Refused: Lamba generates the keys it signs with.
    pub private_key_given: bool,
    /// What the request's reader found wrong.
    pub read_errors: ValidationErrors,
}

/// `POST /api/key/generate`'s fields.
#[derive(Clone, Debug, Default)]
pub struct GenerateInput {
    pub name: Option<String>,
    /// `RS256` (the default), the only one generated today.
    pub algorithm: Option<String>,
    /// RSA modulus bits: 2048 (the default), 3072 or 4096.
    pub length: Option<u32>,
    /// The certificate's subject common name; "Lamba" when absent.
    pub issuer: Option<String>,
    /// What the request's reader found wrong.
    pub read_errors: ValidationErrors,
}

pub struct CertificateKeyService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    sealer: Arc<Sealer>,
    audit: Arc<AuditLog>,
}

impl CertificateKeyService {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        sealer: Arc<Sealer>,
        audit: Arc<AuditLog>,
    ) -> Self {
        Self {
            store,
            clock,
            sealer,
            audit,
        }
    }

    pub async fn import(
        &self,
        id: Option<CertificateKeyId>,
        input: ImportInput,
    ) -> Result<CertificateKey, CertificateKeyError> {
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let name = check_name(input.name.as_deref(), &mut errors);
        if input.private_key_given {
            errors.field(
                "key.privateKey",
                ErrorKind::Invalid,
                "Private keys cannot be imported; generate a key pair with POST /api/key/generate.",
            );
        }
        let read = match input.certificate.as_deref().map(str::trim) {
            None | Some("") => {
                errors.field(
                    "key.certificate",
                    ErrorKind::Blank,
                    "certificate is required.",
                );
                None
            }
            Some(text) => match certificate::read(text) {
                Ok(read) => Some(read),
                Err(error) => {
                    errors.field("key.certificate", ErrorKind::Invalid, error.to_string());
                    None
                }
            },
        };
        self.check_name_free(name.as_deref(), &mut errors).await?;
        let (Some(name), Some(read)) = (name, read) else {
            return Err(errors.into());
        };
        errors.into_result()?;
        let key = CertificateKey {
            id: id.unwrap_or_else(|| CertificateKeyId::from_uuid(Uuid::new_v4())),
            name,
            certificate: read.der,
            private_key: None,
            sealed: false,
            insert_instant: self.clock.now(),
        };
        self.add(key).await
    }

    pub async fn generate(
        &self,
        id: Option<CertificateKeyId>,
        input: GenerateInput,
    ) -> Result<CertificateKey, CertificateKeyError> {
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let name = check_name(input.name.as_deref(), &mut errors);
        if input.algorithm.as_deref().is_some_and(|a| a != "RS256") {
            errors.field(
                "key.algorithm",
                ErrorKind::Invalid,
                "algorithm must be RS256 (RSA with SHA-256).",
            );
        }
        let length = input.length.unwrap_or(2048);
        if ![2048, 3072, 4096].contains(&length) {
            errors.field(
                "key.length",
                ErrorKind::Invalid,
                "length must be 2048, 3072 or 4096.",
            );
        }
        let issuer = input.issuer.unwrap_or_else(|| "Lamba".to_owned());
        if issuer.trim().is_empty()
            || forbidden_char(&issuer).is_some()
            || issuer.chars().count() > 64
        {
            errors.field(
                "key.issuer",
                ErrorKind::Invalid,
                "issuer must be 1 to 64 printable characters.",
            );
        }
        self.check_name_free(name.as_deref(), &mut errors).await?;
        errors.into_result()?;
        let Some(name) = name else {
            return Err(ValidationErrors::new().into());
        };
        let id = id.unwrap_or_else(|| CertificateKeyId::from_uuid(Uuid::new_v4()));
        let now = self.clock.now();
        // RSA key generation takes tens of milliseconds: off the runtime.
        let issuer_cn = issuer.trim().to_owned();
        let (private_key, made) = tokio::task::spawn_blocking(move || {
            certificate::generate_rsa(
                &issuer_cn,
                length,
                now.as_millis().div_euclid(1000),
                GENERATED_VALIDITY_DAYS,
            )
        })
        .await
        .map_err(|error| CertificateKeyError::Generation(error.to_string()))?
        .map_err(|error| CertificateKeyError::Generation(error.to_string()))?;
        let private_key = Zeroizing::new(private_key);
        let (stored, sealed) = self.sealer.seal(&row_name(id), &private_key)?;
        let key = CertificateKey {
            id,
            name,
            certificate: made.der,
            private_key: Some(stored),
            sealed,
            insert_instant: now,
        };
        self.add(key).await
    }

    pub async fn get(&self, id: CertificateKeyId) -> Result<CertificateKey, CertificateKeyError> {
        self.store
            .lookup_certificate_key(id)
            .await?
            .ok_or(CertificateKeyError::NotFound)
    }

    pub async fn list(&self) -> Result<Vec<CertificateKey>, CertificateKeyError> {
        Ok(self.store.list_certificate_keys().await?)
    }

    /// Refused (`[inUse]keyId`) while an identity provider names the key.
    pub async fn delete(&self, id: CertificateKeyId) -> Result<(), CertificateKeyError> {
        let key = self.get(id).await?;
        let providers = self.store.list_identity_providers(None).await?;
        if let Some(user) = providers.iter().find(|p| {
            p.samlv2()
                .is_some_and(|s| s.key_id == Some(id) || s.request_signing_key_id == Some(id))
        }) {
            return Err(ValidationErrors::with_field(
                "keyId",
                ErrorKind::InUse,
                format!(
                    "Identity provider {} ({}) uses this key; change it first.",
                    user.name, user.id
                ),
            )
            .into());
        }
        if !self.store.delete_certificate_key(id).await? {
            return Err(CertificateKeyError::NotFound);
        }
        self.record("key.deleted", &key);
        Ok(())
    }

    /// The private key of a generated key, opened, for signing.
    pub fn private_key(
        &self,
        key: &CertificateKey,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, CertificateKeyError> {
        open_private_key(&self.sealer, key).map_err(CertificateKeyError::from)
    }

    /// `[duplicate]key.name` beside the other errors; the store's unique
    /// index still decides a race.
    async fn check_name_free(
        &self,
        name: Option<&str>,
        errors: &mut ValidationErrors,
    ) -> Result<(), CertificateKeyError> {
        let Some(name) = name else {
            return Ok(());
        };
        let wanted = name.to_lowercase();
        let keys = self.store.list_certificate_keys().await?;
        if keys.iter().any(|k| k.name.to_lowercase() == wanted) {
            errors.field(
                "key.name",
                ErrorKind::Duplicate,
                "A key with this name already exists.",
            );
        }
        Ok(())
    }

    async fn add(&self, key: CertificateKey) -> Result<CertificateKey, CertificateKeyError> {
        match self.store.add_certificate_key(&key).await {
            Ok(()) => {}
            Err(StoreError::Conflict("name")) => {
                return Err(ValidationErrors::with_field(
                    "key.name",
                    ErrorKind::Duplicate,
                    "A key with this name already exists.",
                )
                .into());
            }
            Err(StoreError::Conflict(_)) => {
                return Err(ValidationErrors::with_field(
                    "keyId",
                    ErrorKind::Duplicate,
                    "A key with this id already exists.",
                )
                .into());
            }
            Err(error) => return Err(error.into()),
        }
        self.record("key.created", &key);
        Ok(key)
    }

    fn record(&self, event_type: &str, key: &CertificateKey) {
        let mut event = self.audit.event(event_type);
        event.data =
            json!({ "id": key.id, "name": key.name, "hasPrivateKey": key.private_key.is_some() });
        self.audit.record(event);
    }
}

/// The sealing context of a key's private half: a sealed value moved to
/// another row does not open.
/// The private key of a generated key, opened.
pub(super) fn open_private_key(
    sealer: &Sealer,
    key: &CertificateKey,
) -> Result<Option<Zeroizing<Vec<u8>>>, SealingError> {
    key.private_key
        .as_ref()
        .map(|stored| sealer.open(&row_name(key.id), stored, key.sealed))
        .transpose()
}

fn row_name(id: CertificateKeyId) -> String {
    format!("certificate_keys/{id}")
}

fn check_name(name: Option<&str>, errors: &mut ValidationErrors) -> Option<String> {
    match name.map(str::trim) {
        None | Some("") => {
            errors.field("key.name", ErrorKind::Blank, "name is required.");
            None
        }
        Some(name) => {
            check_name_length("key.name", name, errors);
            if forbidden_char(name).is_some() {
                errors.field(
                    "key.name",
                    ErrorKind::Invalid,
                    "name may not contain control characters.",
                );
            }
            Some(name.to_owned())
        }
    }
}

/// A key on the wire, FusionAuth's Key shape: the certificate (PEM) and
/// what it says, whether a private key exists, never the private key.
pub fn view(key: &CertificateKey) -> Value {
    let described: Result<Certificate, CertificateError> = certificate::from_der(&key.certificate);
    let (information, key_type) = match &described {
        Ok(c) => (
            json!({
                "subject": c.subject,
                "sha256Fingerprint": c.sha256_fingerprint,
                "validFrom": c.not_before_secs * 1000,
                "validTo": c.not_after_secs * 1000,
            }),
            c.key_type,
        ),
        Err(_) => (Value::Null, "unknown"),
    };
    json!({
        "id": key.id,
        "name": key.name,
        "type": key_type,
        "algorithm": if key_type == "EC" { "ES256" } else { "RS256" },
        "certificate": certificate::pem(&key.certificate),
        "certificateInformation": information,
        "issuer": described.as_ref().ok().map(|c| c.subject.clone()),
        "hasPrivateKey": key.private_key.is_some(),
        "insertInstant": key.insert_instant.as_millis(),
        "expirationInstant": described.as_ref().ok().map(|c| c.not_after_secs * 1000),
    })
}
