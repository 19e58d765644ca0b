//! Who a user arriving from a provider is, when no link says so yet: the
//! linking strategies as rules without I/O. The caller looked the link up
//! first, and the local account with the upstream email.
//!
//! Safe by default: an email links to an existing account, or becomes a new
//! account's, only when the provider says it verified it
//! (`email_verified: true`; an absent claim is not a yes), so that whoever
//! controls an upstream account with someone's address neither gets their
//! account here nor plants one for them to be linked to later; and a
//! provider with managed domains vouches only for addresses in them.

use lamba_model::{LinkingStrategy, User};
use serde_json::{Map, Value};

/// What the provider says about the user, read from its claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The provider's unique id claim (`sub` by default).
    pub unique_id: String,
    pub email: Option<String>,
    /// `Some(true)` only when the provider said so.
    pub email_verified: Option<bool>,
    pub username: Option<String>,
}

impl UpstreamIdentity {
    /// Reads the identity from the merged claims with the provider's claim
    /// names; `None` when the unique id is missing or empty.
    pub fn from_claims(
        claims: &Map<String, Value>,
        unique_id_claim: &str,
        email_claim: &str,
        email_verified_claim: &str,
        username_claim: &str,
    ) -> Option<Self> {
        let unique_id = match claims.get(unique_id_claim)? {
            Value::String(id) if !id.is_empty() => id.clone(),
            Value::Number(id) => id.to_string(),
            _ => return None,
        };
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        // Some providers send the flag as a string.
        let email_verified = match claims.get(email_verified_claim) {
            Some(Value::Bool(flag)) => Some(*flag),
            Some(Value::String(flag)) if flag.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(flag)) if flag.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        Some(Self {
            unique_id,
            email: text(email_claim),
            email_verified,
            username: text(username_claim),
        })
    }
}

/// Why a login through a provider does not go on; each has a message for
/// the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The provider sent no email, and the strategy needs one.
    NoEmail,
    /// The provider said the email is not verified, or did not say it is.
    EmailNotVerified,
    /// `*ForExistingUser`: no account here has this email.
    NoAccount,
    /// `Disabled`: only links an operator made sign in.
    NotLinked,
    /// `LinkAnonymously`: the email belongs to an account already.
    EmailTaken,
    /// The email is outside the provider's managed domains.
    ForeignDomain,
    /// A strategy this server cannot apply (usernames).
    Unsupported,
}

impl Refusal {
    pub fn message(self, provider: &str) -> String {
        match self {
            Refusal::NoEmail => format!(
                "{provider} did not share your email address, which is needed to sign you in here."
            ),
            Refusal::EmailNotVerified => format!(
                "{provider} has not verified your email address, so it cannot be linked to an account here. Verify it there, then try again."
            ),
            Refusal::NoAccount => format!(
                "There is no account here for the email address {provider} gave. Ask an administrator to create one."
            ),
            Refusal::NotLinked => format!(
                "Your {provider} account is not linked to an account here. Ask an administrator to link it."
            ),
            Refusal::EmailTaken => format!(
                "An account here already uses the email address {provider} gave. Sign in to it with your password."
            ),
            Refusal::ForeignDomain => {
                format!("{provider} cannot sign in an account with this email address here.")
            }
            Refusal::Unsupported => format!(
                "Signing in through {provider} is not available: its linking strategy is not supported."
            ),
        }
    }

    /// The `reason` of the `user.login.failed` event.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::NoEmail => "no_email",
            Refusal::EmailNotVerified => "email_not_verified",
            Refusal::NoAccount => "no_account",
            Refusal::NotLinked => "not_linked",
            Refusal::EmailTaken => "email_taken",
            Refusal::ForeignDomain => "foreign_domain",
            Refusal::Unsupported => "unsupported_linking_strategy",
        }
    }
}

/// What to do with a user who has no link yet.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Link the upstream identity to this existing user.
    Link(Box<User>),
    /// Create a user (with this email) and link it.
    Create {
        email: String,
    },
    /// `CreatePendingLink`: ask the user to sign in to their account here,
    /// then link it.
    Pending,
    Refuse(Refusal),
}

/// Applies `strategy`. `by_email` is the local user with the upstream
/// email, if there is an email and such a user; `domains` are the
/// provider's managed domains (none: any).
pub fn decide(
    strategy: LinkingStrategy,
    identity: &UpstreamIdentity,
    by_email: Option<&User>,
    domains: &[String],
) -> Decision {
    use LinkingStrategy as S;
    let verified = identity.email_verified == Some(true);
    let foreign = |email: &str| {
        !domains.is_empty()
            && !email
                .rsplit_once('@')
                .is_some_and(|(_, d)| domains.iter().any(|m| m.eq_ignore_ascii_case(d)))
    };
    if identity.email.as_deref().is_some_and(foreign)
        && !matches!(strategy, S::Disabled | S::CreatePendingLink)
    {
        return Decision::Refuse(Refusal::ForeignDomain);
    }
    match strategy {
        S::Disabled => Decision::Refuse(Refusal::NotLinked),
        S::LinkByUsername | S::LinkByUsernameForExistingUser => {
            Decision::Refuse(Refusal::Unsupported)
        }
        S::CreatePendingLink => Decision::Pending,
        // Verification is decided before the local account is looked at, so
        // an unverified claim of someone's address learns nothing about
        // whether they have an account here.
        S::LinkAnonymously => match (&identity.email, by_email) {
            (None, _) => Decision::Refuse(Refusal::NoEmail),
            (Some(_), _) if !verified => Decision::Refuse(Refusal::EmailNotVerified),
            (Some(_), Some(_)) => Decision::Refuse(Refusal::EmailTaken),
            (Some(email), None) => Decision::Create {
                email: email.clone(),
            },
        },
        S::LinkByEmail | S::LinkByEmailForExistingUser => {
            let Some(email) = &identity.email else {
                return Decision::Refuse(Refusal::NoEmail);
            };
            if !verified {
                return Decision::Refuse(Refusal::EmailNotVerified);
            }
            match by_email {
                Some(_) if !verified => Decision::Refuse(Refusal::EmailNotVerified),
                Some(user) => Decision::Link(Box::new(user.clone())),
                None if strategy == S::LinkByEmailForExistingUser => {
                    Decision::Refuse(Refusal::NoAccount)
                }
                None if !verified => Decision::Refuse(Refusal::EmailNotVerified),
                None => Decision::Create {
                    email: email.clone(),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use lamba_model::{Instant, UserId};
    use serde_json::json;

    use super::*;

    /// [`decide`] for a provider without managed domains.
    fn decide(
        s: LinkingStrategy,
        identity: &UpstreamIdentity,
        by_email: Option<&User>,
    ) -> Decision {
        super::decide(s, identity, by_email, &[])
    }

    fn decide_in(
        s: LinkingStrategy,
        identity: &UpstreamIdentity,
        by_email: Option<&User>,
        domains: &[String],
    ) -> Decision {
        super::decide(s, identity, by_email, domains)
    }

    fn identity(email: Option<&str>, verified: Option<bool>) -> UpstreamIdentity {
        UpstreamIdentity {
            unique_id: "u-1".into(),
            email: email.map(str::to_owned),
            email_verified: verified,
            username: None,
        }
    }

    fn user() -> User {
        User {
            id: UserId::from_uuid(uuid::Uuid::new_v4()),
            email: "zoe@acme.example".into(),
            password_hash: None,
            first_name: None,
            last_name: None,
            data: Map::new(),
            insert_instant: Instant::from_millis(0),
            last_update_instant: Instant::from_millis(0),
        }
    }

    #[test]
    fn link_by_email_needs_a_verified_email_to_link_an_existing_account() {
        let zoe = user();
        let s = LinkingStrategy::LinkByEmail;
        let email = Some("zoe@acme.example");
        assert_eq!(
            decide(s, &identity(email, Some(true)), Some(&zoe)),
            Decision::Link(Box::new(zoe.clone()))
        );
        for verified in [Some(false), None] {
            assert_eq!(
                decide(s, &identity(email, verified), Some(&zoe)),
                Decision::Refuse(Refusal::EmailNotVerified),
                "{verified:?}"
            );
        }
        assert_eq!(
            decide(s, &identity(None, Some(true)), None),
            Decision::Refuse(Refusal::NoEmail)
        );
        assert_eq!(
            decide(s, &identity(email, Some(false)), None),
            Decision::Refuse(Refusal::EmailNotVerified),
            "a provider that says no is believed, account or not"
        );
        assert_eq!(
            decide(s, &identity(email, None), None),
            Decision::Refuse(Refusal::EmailNotVerified),
            "an unverified email is not planted in a new account either"
        );
        assert_eq!(
            decide(s, &identity(email, Some(true)), None),
            Decision::Create {
                email: "zoe@acme.example".into()
            }
        );
        assert_eq!(
            decide_in(
                s,
                &identity(email, Some(true)),
                Some(&zoe),
                &["other.example".into()]
            ),
            Decision::Refuse(Refusal::ForeignDomain),
            "a provider with managed domains vouches only for them"
        );
        assert_eq!(
            decide_in(
                s,
                &identity(email, Some(true)),
                Some(&zoe),
                &["ACME.example".into()]
            ),
            Decision::Link(Box::new(zoe.clone()))
        );
    }

    #[test]
    fn for_existing_user_never_creates() {
        let s = LinkingStrategy::LinkByEmailForExistingUser;
        assert_eq!(
            decide(s, &identity(Some("new@acme.example"), Some(true)), None),
            Decision::Refuse(Refusal::NoAccount)
        );
    }

    #[test]
    fn anonymous_disabled_and_unsupported() {
        let zoe = user();
        let email = Some("zoe@acme.example");
        assert_eq!(
            decide(
                LinkingStrategy::LinkAnonymously,
                &identity(email, Some(true)),
                Some(&zoe)
            ),
            Decision::Refuse(Refusal::EmailTaken),
            "an anonymous link never takes over an account"
        );
        assert_eq!(
            decide(
                LinkingStrategy::Disabled,
                &identity(email, Some(true)),
                Some(&zoe)
            ),
            Decision::Refuse(Refusal::NotLinked)
        );
        assert_eq!(
            decide(
                LinkingStrategy::LinkByUsername,
                &identity(email, Some(true)),
                None
            ),
            Decision::Refuse(Refusal::Unsupported)
        );
    }

    #[test]
    fn claims_are_read_with_the_configured_names() {
        let claims = json!({"oid": 42, "mail": " zoe@acme.example ", "mail_ok": "TRUE",
                            "preferred_username": "zoe"});
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        let read =
            UpstreamIdentity::from_claims(&claims, "oid", "mail", "mail_ok", "preferred_username")
                .unwrap();
        assert_eq!(
            read,
            UpstreamIdentity {
                unique_id: "42".into(),
                email: Some("zoe@acme.example".into()),
                email_verified: Some(true),
                username: Some("zoe".into()),
            }
        );
        assert!(UpstreamIdentity::from_claims(&claims, "sub", "mail", "x", "y").is_none());
    }
}
