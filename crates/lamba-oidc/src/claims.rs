//! The time claims of a JWT (RFC 7519 §4.1.4–4.1.6), checked against a time
//! the caller passes in.

use serde_json::{Map, Value};

/// Why a claim set is not valid at the time given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// No `exp`: Lamba accepts no token that never expires.
    #[error("the token has no exp claim")]
    MissingExpiry,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// A time claim is not a NumericDate (a JSON number of seconds).
    #[error("the {0} claim is not a number of seconds")]
    NotNumericDate(&'static str),
}

/// Checks `exp` (required), `nbf` and `iat` (optional) against `now_secs`
/// (seconds since the Unix epoch), allowing `leeway_secs` of clock skew
/// between the issuer and us.
///
/// A token is expired from the second `exp` names (RFC 7519 §4.1.4: "on or
/// after"), plus the leeway.
pub fn check_time(
    claims: &Map<String, Value>,
    now_secs: i64,
    leeway_secs: i64,
) -> Result<(), ClaimsError> {
    let exp = numeric_date(claims, "exp")?.ok_or(ClaimsError::MissingExpiry)?;
    if now_secs >= exp.saturating_add(leeway_secs) {
        return Err(ClaimsError::Expired);
    }
    let latest_acceptable = now_secs.saturating_add(leeway_secs);
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && nbf > latest_acceptable
    {
        return Err(ClaimsError::NotYetValid);
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > latest_acceptable
    {
        return Err(ClaimsError::IssuedInFuture);
    }
    Ok(())
}

/// Reads a NumericDate claim. RFC 7519 allows fractional seconds; they are
/// rounded towards the past, so a fractional `exp` ends a token up to a
/// second early, never late.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, ClaimsError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    if let Some(seconds) = value.as_i64() {
        return Ok(Some(seconds));
    }
    match value.as_f64() {
        // `as` saturates at the i64 bounds, which is the right answer for a
        // date too far away to represent.
        Some(seconds) if seconds.is_finite() => Ok(Some(seconds.floor() as i64)),
        _ => Err(ClaimsError::NotNumericDate(name)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("the tests pass objects"),
        }
    }

    #[test]
    fn a_current_token_passes() {
        let set = claims(json!({"exp": NOW + 60, "iat": NOW, "nbf": NOW}));
        assert_eq!(check_time(&set, NOW, 0), Ok(()));
    }

    #[test]
    fn exp_is_required() {
        let set = claims(json!({"iat": NOW}));
        assert_eq!(check_time(&set, NOW, 30), Err(ClaimsError::MissingExpiry));
    }

    #[test]
    fn exp_boundary_honours_the_leeway() {
        let set = claims(json!({"exp": NOW}));
        assert_eq!(check_time(&set, NOW, 0), Err(ClaimsError::Expired));
        assert_eq!(check_time(&set, NOW - 1, 0), Ok(()));
        assert_eq!(check_time(&set, NOW + 29, 30), Ok(()));
        assert_eq!(check_time(&set, NOW + 30, 30), Err(ClaimsError::Expired));
    }

    #[test]
    fn nbf_and_iat_in_the_future_are_refused_beyond_the_leeway() {
        let nbf = claims(json!({"exp": NOW + 600, "nbf": NOW + 31}));
        assert_eq!(check_time(&nbf, NOW, 30), Err(ClaimsError::NotYetValid));
        let nbf = claims(json!({"exp": NOW + 600, "nbf": NOW + 30}));
        assert_eq!(check_time(&nbf, NOW, 30), Ok(()));

        let iat = claims(json!({"exp": NOW + 600, "iat": NOW + 31}));
        assert_eq!(check_time(&iat, NOW, 30), Err(ClaimsError::IssuedInFuture));
        let iat = claims(json!({"exp": NOW + 600, "iat": NOW + 30}));
        assert_eq!(check_time(&iat, NOW, 30), Ok(()));
    }

    #[test]
    fn time_claims_must_be_numbers() {
        for (set, name) in [
            (json!({"exp": "1700000600"}), "exp"),
            (json!({"exp": null}), "exp"),
            (json!({"exp": NOW + 60, "nbf": true}), "nbf"),
            (json!({"exp": NOW + 60, "iat": [NOW]}), "iat"),
        ] {
            assert_eq!(
                check_time(&claims(set), NOW, 0),
                Err(ClaimsError::NotNumericDate(name))
            );
        }
    }

    #[test]
    fn fractional_and_huge_dates_are_read_safely() {
        let set = claims(json!({"exp": (NOW as f64) + 0.5}));
        assert_eq!(check_time(&set, NOW, 0), Err(ClaimsError::Expired));
        let set = claims(json!({"exp": 1e300}));
        assert_eq!(check_time(&set, NOW, 0), Ok(()));
        let set = claims(json!({"exp": u64::MAX}));
        assert_eq!(check_time(&set, NOW, i64::MAX), Ok(()));
        let set = claims(json!({"exp": i64::MAX}));
        assert_eq!(
            check_time(&set, i64::MAX, i64::MAX),
            Err(ClaimsError::Expired)
        );
    }
}
