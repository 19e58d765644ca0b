//! Redirect URIs: what an operator may register, and how a request's
//! `redirect_uri` is matched against the registered ones.
//!
//! Matching is exact string comparison (RFC 9700 §4.1.3, OAuth 2.1 §2.3.1):
//! no normalisation, no prefix and no wildcard. Every looser rule has been
//! the root of an authorization code or token leak in some server, because
//! two URIs a normaliser calls equal need not reach the same place (userinfo,
//! percent-encoded slashes, dot segments, open redirectors under a prefix).

use url::Url;

/// Schemes a browser would execute or read locally rather than navigate to.
const FORBIDDEN_SCHEMES: [&str; 4] = ["javascript", "data", "file", "vbscript"];

/// Why a redirect URI cannot be registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// Not an absolute URI.
    #[error("the redirect URI is not an absolute URI")]
    NotAbsolute,
    /// Spaces or control characters, which URL parsers silently strip, so the
    /// URI a client sends would never equal the one registered.
    #[error("the redirect URI contains whitespace or control characters")]
    Whitespace,
    /// RFC 6749 §3.1.2: the endpoint URI must not include a fragment.
    #[error("the redirect URI must not contain a fragment")]
    Fragment,
    /// A scheme that runs code or reads local files.
    #[error("the redirect URI scheme {0} is not allowed")]
    ForbiddenScheme(String),
    /// Credentials in a redirect URI serve no client; `https://good@evil`
    /// serves phishing.
    #[error("the redirect URI must not contain user information")]
    UserInfo,
}

/// Checks a redirect URI an operator registers for a client.
///
/// Allowed: any absolute URI without a fragment or user information,
/// including `http` (native apps listening on a loopback address) and custom
/// schemes (`com.example.app:/callback`, mobile apps). Refused: schemes that
/// execute (`javascript:`, `vbscript:`) or read locally (`data:`, `file:`).
///
/// Store `uri` itself, not the returned [`Url`]'s serialisation: requests are
/// matched against the registered string byte for byte ([`is_registered`]),
/// and the parser normalises (`https://A.example` becomes
/// `https://a.example/`).
pub fn validate_registered(uri: &str) -> Result<Url, RedirectError> {
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RedirectError::Whitespace);
    }
    let url = Url::parse(uri).map_err(|_| RedirectError::NotAbsolute)?;
    // The parser lower-cases the scheme, so `JavaScript:` is caught too.
    if FORBIDDEN_SCHEMES.contains(&url.scheme()) {
        return Err(RedirectError::ForbiddenScheme(url.scheme().to_owned()));
    }
    if url.fragment().is_some() {
        return Err(RedirectError::Fragment);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectError::UserInfo);
    }
    Ok(url)
}

/// Whether `presented` (a request's `redirect_uri`) is one of the client's
/// registered redirect URIs, compared as exact strings.
pub fn is_registered(registered: &[String], presented: &str) -> bool {
    registered.iter().any(|uri| uri == presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_native_and_mobile_uris_can_be_registered() {
        for uri in [
            "https://app.example.com/callback",
            "https://app.example.com/callback?tenant=acme",
            "http://localhost:3000/callback",
            "http://127.0.0.1:49152/",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
            "myapp://callback",
        ] {
            assert!(validate_registered(uri).is_ok(), "{uri}");
        }
    }

    #[test]
    fn relative_and_malformed_uris_are_refused() {
        for uri in [
            "",
            "/callback",
            "callback",
            "//app.example.com/cb",
            "https://",
        ] {
            assert_eq!(
                validate_registered(uri),
                Err(RedirectError::NotAbsolute),
                "{uri}"
            );
        }
    }

    #[test]
    fn fragments_are_refused_even_empty_ones() {
        for uri in [
            "https://app.example.com/cb#x",
            "https://app.example.com/cb#",
        ] {
            assert_eq!(validate_registered(uri), Err(RedirectError::Fragment));
        }
    }

    #[test]
    fn executable_and_local_schemes_are_refused_in_any_case() {
        for (uri, scheme) in [
            ("javascript:alert(1)", "javascript"),
            ("JavaScript://%0Aalert(1)", "javascript"),
            ("data:text/html,<script>alert(1)</script>", "data"),
            ("file:///etc/passwd", "file"),
            ("vbscript:msgbox(1)", "vbscript"),
        ] {
            assert_eq!(
                validate_registered(uri),
                Err(RedirectError::ForbiddenScheme(scheme.to_owned())),
                "{uri}"
            );
        }
    }

    #[test]
    fn whitespace_and_control_characters_are_refused() {
        for uri in [
            " https://app.example.com/cb",
            "https://app.example.com/cb ",
            "https://app.example.com/c\tb",
            "https://app.example.com/cb\n",
            "https://app.example.com/c\u{0}b",
        ] {
            assert_eq!(validate_registered(uri), Err(RedirectError::Whitespace));
        }
    }

    #[test]
    fn user_information_is_refused() {
        for uri in [
            "https://user@app.example.com/cb",
            "https://user:pass@app.example.com/cb",
            "https://app.example.com@evil.example/cb",
        ] {
            assert_eq!(validate_registered(uri), Err(RedirectError::UserInfo));
        }
    }

    #[test]
    fn the_registered_string_matches_itself() {
        let registered = vec![
            "https://app.example.com/callback".to_owned(),
            "com.example.app:/oauth2redirect".to_owned(),
        ];
        assert!(is_registered(
            &registered,
            "https://app.example.com/callback"
        ));
        assert!(is_registered(
            &registered,
            "com.example.app:/oauth2redirect"
        ));
        assert!(!is_registered(&[], "https://app.example.com/callback"));
        assert!(!is_registered(&registered, ""));
    }

    #[test]
    fn near_misses_do_not_match() {
        let registered = vec!["https://app.example.com/callback".to_owned()];
        for presented in [
            // Trailing slash and path extension.
            "https://app.example.com/callback/",
            "https://app.example.com/callback/../evil",
            "https://app.example.com/callbackx",
            // Case changes, in the scheme, host and path.
            "HTTPS://app.example.com/callback",
            "https://APP.example.com/callback",
            "https://app.example.com/Callback",
            // Extra or empty query.
            "https://app.example.com/callback?",
            "https://app.example.com/callback?next=https://evil.example",
            // Fragments.
            "https://app.example.com/callback#",
            // Userinfo, which moves the host.
            "https://app.example.com@evil.example/callback",
            "https://evil.example@app.example.com/callback",
            // Percent-encoded slashes and letters, dot segments.
            "https://app.example.com/callback%2F..%2F..%2Fevil",
            "https://app.example.com%2F@evil.example/callback",
            "https://app.example.com/%63allback",
            "https://app.example.com/./callback",
            // Default port, scheme downgrade, trailing dot, subdomain.
            "https://app.example.com:443/callback",
            "http://app.example.com/callback",
            "https://app.example.com./callback",
            "https://evil.app.example.com/callback",
            // Surrounding whitespace.
            " https://app.example.com/callback",
            "https://app.example.com/callback\n",
        ] {
            assert!(!is_registered(&registered, presented), "{presented}");
        }
    }

    #[test]
    fn registered_query_must_match_exactly() {
        let registered = vec!["https://app.example.com/cb?a=1&b=2".to_owned()];
        assert!(is_registered(
            &registered,
            "https://app.example.com/cb?a=1&b=2"
        ));
        assert!(!is_registered(
            &registered,
            "https://app.example.com/cb?b=2&a=1"
        ));
        assert!(!is_registered(
            &registered,
            "https://app.example.com/cb?a=1"
        ));
    }

    #[test]
    fn loopback_ports_are_compared_exactly() {
        let registered = vec!["http://127.0.0.1:49152/cb".to_owned()];
        assert!(!is_registered(&registered, "http://127.0.0.1:49153/cb"));
        assert!(!is_registered(&registered, "http://localhost:49152/cb"));
    }
}
