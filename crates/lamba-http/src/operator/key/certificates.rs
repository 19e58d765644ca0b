//! `/api/key/import`, `/api/key/generate`, `/api/key/{keyId}`: keys held by
//! their X.509 certificate, for SAML (FusionAuth's Keys API shape). No
//! answer carries a private key.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lamba_core::ValidationErrors;
use lamba_core::federation::certificates::{GenerateInput, ImportInput, view};
use lamba_model::{CertificateKey, CertificateKeyId};
use serde_json::{Value, json};

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};
use crate::operator::wire::Fields;

fn wrapped(key: &CertificateKey) -> Response {
    Json(json!({ "key": view(key) })).into_response()
}

fn import_input(body: &Value) -> Result<ImportInput, ValidationErrors> {
    let key = Fields::root(body, "key")?;
    let mut errors = ValidationErrors::new();
    let input = ImportInput {
        name: key.string("name", &mut errors),
        certificate: key.string("certificate", &mut errors),
        private_key_given: key.string("privateKey", &mut errors).is_some(),
        read_errors: ValidationErrors::new(),
    };
    Ok(ImportInput {
        read_errors: errors,
        ..input
    })
}

fn generate_input(body: &Value) -> Result<GenerateInput, ValidationErrors> {
    let key = Fields::root(body, "key")?;
    let mut errors = ValidationErrors::new();
    let length = key.integer("length", &mut errors);
    let input = GenerateInput {
        name: key.string("name", &mut errors),
        algorithm: key.string("algorithm", &mut errors),
        length: length.map(|l| u32::try_from(l).unwrap_or(0)),
        issuer: key.string("issuer", &mut errors),
        read_errors: ValidationErrors::new(),
    };
    Ok(GenerateInput {
        read_errors: errors,
        ..input
    })
}

/// `POST /api/key/import`: an identity provider's certificate.
pub async fn import(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = import_input(&body)?;
    Ok(wrapped(
        &state.core.certificate_keys.import(None, input).await?,
    ))
}

/// `POST /api/key/import/{keyId}`.
pub async fn import_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<CertificateKeyId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = import_input(&body)?;
    Ok(wrapped(
        &state.core.certificate_keys.import(Some(id), input).await?,
    ))
}

/// `POST /api/key/generate`: an RSA key pair with a self-signed
/// certificate, to sign SAML messages with.
pub async fn generate(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = generate_input(&body)?;
    Ok(wrapped(
        &state.core.certificate_keys.generate(None, input).await?,
    ))
}

/// `POST /api/key/generate/{keyId}`.
pub async fn generate_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<CertificateKeyId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = generate_input(&body)?;
    Ok(wrapped(
        &state
            .core
            .certificate_keys
            .generate(Some(id), input)
            .await?,
    ))
}

/// `GET /api/key/{keyId}`.
pub async fn get_one(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<CertificateKeyId>,
) -> Result<Response, OperatorError> {
    Ok(wrapped(&state.core.certificate_keys.get(id).await?))
}

/// `DELETE /api/key/{keyId}`.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<CertificateKeyId>,
) -> Result<StatusCode, OperatorError> {
    state.core.certificate_keys.delete(id).await?;
    Ok(StatusCode::OK)
}
