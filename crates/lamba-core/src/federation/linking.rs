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
    /// `LinkByUsername*`: the provider sent no username.
    NoUsername,
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
                "There is no account here for the email address or username {provider} gave. Ask an administrator to create one."
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
            Refusal::NoUsername => format!(
                "{provider} did not share your username, which is needed to sign you in here."
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
            Refusal::NoUsername => "no_username",
        }
    }
}

/// What to do with a user who has no link yet.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Link the upstream identity to this existing user.
    Link(Box<User>),
    /// Create a user (with this email, and this username for
    /// `LinkByUsername`) and link it.
    Create {
        email: String,
        username: Option<String>,
    },
    /// `CreatePendingLink`: ask the user to sign in to their account here,
    /// then link it.
    Pending,
    Refuse(Refusal),
}

/// Applies `strategy`. `by_email` is the local user with the upstream
/// email, if there is an email and such a user; `by_username` likewise
/// for the username (looked up for `LinkByUsername*` only); `domains` are
/// the provider's managed domains (none: any).
pub fn decide(
    strategy: LinkingStrategy,
    identity: &UpstreamIdentity,
    by_email: Option<&User>,
    by_username: Option<&User>,
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
        // The username is the key: the operator trusts the provider's
        // usernames to be this server's (FusionAuth's warning stands). A
        // new account still needs a verified, free email, like any other.
        S::LinkByUsername | S::LinkByUsernameForExistingUser => {
            let Some(username) = &identity.username else {
                return Decision::Refuse(Refusal::NoUsername);
            };
            match (by_username, &identity.email) {
                (Some(user), _) => Decision::Link(Box::new(user.clone())),
                (None, _) if strategy == S::LinkByUsernameForExistingUser => {
                    Decision::Refuse(Refusal::NoAccount)
                }
                (None, None) => Decision::Refuse(Refusal::NoEmail),
                (None, Some(_)) if !verified => Decision::Refuse(Refusal::EmailNotVerified),
                (None, Some(_)) if by_email.is_some() => Decision::Refuse(Refusal::EmailTaken),
                (None, Some(email)) => Decision::Create {
                    email: email.clone(),
                    username: Some(username.clone()),
                },
            }
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
                username: None,
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
                    username: None,
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
        super::decide(s, identity, by_email, None, &[])
    }

    fn decide_in(
        s: LinkingStrategy,
        identity: &UpstreamIdentity,
        by_email: Option<&User>,
        domains: &[String],
    ) -> Decision {
        super::decide(s, identity, by_email, None, domains)
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
            username: Some("zoe".into()),
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
                email: "zoe@acme.example".into(),
                username: None,
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
    fn anonymous_and_disabled() {
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
    }

    #[test]
    fn link_by_username_links_by_the_username_and_creates_only_with_a_verified_free_email() {
        use LinkingStrategy::{LinkByUsername, LinkByUsernameForExistingUser};
        let zoe = user();
        let by = |s, email, verified, by_email, by_username| {
            let mut identity = identity(email, verified);
            identity.username = Some("zoe".into());
            super::decide(s, &identity, by_email, by_username, &[])
        };
        let email = Some("zoe@acme.example");
        for s in [LinkByUsername, LinkByUsernameForExistingUser] {
            assert_eq!(
                super::decide(s, &identity(email, Some(true)), Some(&zoe), None, &[]),
                Decision::Refuse(Refusal::NoUsername),
                "no username, no link (not even by the email)"
            );
            assert_eq!(
                by(s, None, None, None, Some(&zoe)),
                Decision::Link(Box::new(zoe.clone())),
                "the username is the key; the email does not matter"
            );
        }
        assert_eq!(
            by(LinkByUsernameForExistingUser, email, Some(true), None, None),
            Decision::Refuse(Refusal::NoAccount)
        );
        assert_eq!(
            by(LinkByUsername, None, None, None, None),
            Decision::Refuse(Refusal::NoEmail)
        );
        assert_eq!(
            by(LinkByUsername, email, Some(false), None, None),
            Decision::Refuse(Refusal::EmailNotVerified)
        );
        assert_eq!(
            by(LinkByUsername, email, Some(true), Some(&zoe), None),
            Decision::Refuse(Refusal::EmailTaken),
            "another account's email is not taken over by a new one"
        );
        assert_eq!(
            by(LinkByUsername, email, Some(true), None, None),
            Decision::Create {
                email: "zoe@acme.example".into(),
                username: Some("zoe".into()),
            }
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
