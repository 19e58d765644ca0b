//! X.509 certificates for SAML: an IdP's certificate imported by an
//! operator (verification only), and the key pair with a self-signed
//! certificate Lamba signs SAML messages with. SAML peers exchange keys as
//! certificates in metadata; nobody checks the chain, only that the key
//! is the configured one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

/// What Lamba keeps and shows of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub der: Vec<u8>,
    /// The subject's common name, or the whole subject when it has none.
    pub subject: String,
    pub not_before_secs: i64,
    pub not_after_secs: i64,
    /// Hex, lower case, colon-free: how operators compare certificates.
    pub sha256_fingerprint: String,
    /// `RSA` or `EC`.
    pub key_type: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("not a PEM or base64 DER X.509 certificate")]
    Unreadable,
    #[error("the certificate's key is neither RSA nor EC")]
    KeyType,
    #[error("RSA keys must be 2048, 3072 or 4096 bits")]
    KeyLength,
    #[error("the key could not be made: {0}")]
    Generation(String),
}

/// Reads a certificate given as PEM, or as the bare base64 DER that SAML
/// metadata carries (line breaks and spaces allowed).
pub fn read(text: &str) -> Result<Certificate, CertificateError> {
    let trimmed = text.trim();
    let x509 = if trimmed.starts_with("-----BEGIN CERTIFICATE-----") {
        X509::from_pem(trimmed.as_bytes()).map_err(|_| CertificateError::Unreadable)?
    } else {
        let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
        let der = STANDARD
            .decode(compact)
            .map_err(|_| CertificateError::Unreadable)?;
        X509::from_der(&der).map_err(|_| CertificateError::Unreadable)?
    };
    describe(&x509)
}

/// The certificate in `der`.
pub fn from_der(der: &[u8]) -> Result<Certificate, CertificateError> {
    describe(&X509::from_der(der).map_err(|_| CertificateError::Unreadable)?)
}

/// `der` as PEM.
pub fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|line| std::str::from_utf8(line).ok())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A new RSA key (PKCS#8 DER) and its self-signed certificate, valid from
/// `now_secs` for `days`.
pub fn generate_rsa(
    common_name: &str,
    bits: u32,
    now_secs: i64,
    days: u32,
) -> Result<(Vec<u8>, Certificate), CertificateError> {
    if ![2048, 3072, 4096].contains(&bits) {
        return Err(CertificateError::KeyLength);
    }
    let failed = |e: openssl::error::ErrorStack| CertificateError::Generation(e.to_string());
    let key = PKey::from_rsa(Rsa::generate(bits).map_err(failed)?).map_err(failed)?;
    let mut name = X509NameBuilder::new().map_err(failed)?;
    let cn: String = common_name
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    name.append_entry_by_nid(Nid::COMMONNAME, if cn.is_empty() { "Lamba" } else { &cn })
        .map_err(failed)?;
    let name = name.build();
    let mut serial = BigNum::new().map_err(failed)?;
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(failed)?;
    let serial = serial.to_asn1_integer().map_err(failed)?;
    let not_before = Asn1Time::from_unix(now_secs).map_err(failed)?;
    let not_after = Asn1Time::from_unix(now_secs + i64::from(days) * 86_400).map_err(failed)?;
    let mut builder = X509::builder().map_err(failed)?;
    builder.set_version(2).map_err(failed)?;
    builder.set_serial_number(&serial).map_err(failed)?;
    builder.set_subject_name(&name).map_err(failed)?;
    builder.set_issuer_name(&name).map_err(failed)?;
    builder.set_pubkey(&key).map_err(failed)?;
    builder.set_not_before(&not_before).map_err(failed)?;
    builder.set_not_after(&not_after).map_err(failed)?;
    builder
        .sign(&key, MessageDigest::sha256())
        .map_err(failed)?;
    let certificate = describe(&builder.build())?;
    Ok((key.private_key_to_pkcs8().map_err(failed)?, certificate))
}

fn describe(x509: &X509) -> Result<Certificate, CertificateError> {
    let key_type = match x509.public_key().map(|k| k.id()) {
        Ok(Id::RSA) => "RSA",
        Ok(Id::EC) => "EC",
        _ => return Err(CertificateError::KeyType),
    };
    let subject = x509
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_else(|| format!("{:?}", x509.subject_name()));
    let der = x509.to_der().map_err(|_| CertificateError::Unreadable)?;
    let fingerprint = x509
        .digest(MessageDigest::sha256())
        .map_err(|_| CertificateError::Unreadable)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Certificate {
        der,
        subject,
        not_before_secs: unix(x509.not_before()),
        not_after_secs: unix(x509.not_after()),
        sha256_fingerprint: fingerprint,
        key_type,
    })
}

/// Seconds since the epoch of an ASN.1 time (0 if OpenSSL cannot say).
fn unix(time: &Asn1TimeRef) -> i64 {
    Asn1Time::from_unix(0)
        .ok()
        .and_then(|epoch| epoch.diff(time).ok())
        .map_or(0, |d| i64::from(d.days) * 86_400 + i64::from(d.secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_generated_key_reads_back_as_pem_and_as_bare_base64() {
        let (key, certificate) = generate_rsa("lamba.example", 2048, NOW, 3650).unwrap();
        assert!(!key.is_empty());
        assert_eq!(certificate.subject, "lamba.example");
        assert_eq!(certificate.key_type, "RSA");
        assert_eq!(certificate.not_before_secs, NOW);
        assert_eq!(certificate.not_after_secs, NOW + 3650 * 86_400);
        assert_eq!(certificate.sha256_fingerprint.len(), 64);
        assert_eq!(read(&pem(&certificate.der)).unwrap(), certificate);
        let bare = STANDARD.encode(&certificate.der);
        let wrapped: String = bare
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n  ", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(read(&wrapped).unwrap(), certificate);
    }

    #[test]
    fn garbage_and_odd_key_lengths_are_refused() {
        assert_eq!(read("hello"), Err(CertificateError::Unreadable));
        assert_eq!(
            read("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
            Err(CertificateError::Unreadable)
        );
        assert_eq!(
            generate_rsa("x", 1024, NOW, 1).unwrap_err(),
            CertificateError::KeyLength
        );
    }
}
