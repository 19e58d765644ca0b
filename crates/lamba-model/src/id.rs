use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                // Only the hyphenated form is an id on the wire; `Uuid::parse_str`
                // would also accept braces, URNs and bare hex.
                uuid::fmt::Hyphenated::from_str(s).map(|h| Self(h.into_uuid()))
            }
        }
    };
}

typed_id!(
    /// The id of a lambda.
    LambdaId
);
typed_id!(
    /// The id of an operator API key (not the key itself).
    ApiKeyId
);
typed_id!(
    /// The id of an application, which is also its OAuth `client_id`.
    ApplicationId
);
typed_id!(
    /// The id of a user.
    UserId
);
typed_id!(
    /// The id of a workspace: a customer account.
    WorkspaceId
);
typed_id!(
    /// The id of a project: the runtime boundary inside a workspace.
    ProjectId
);
typed_id!(
    /// The id of a role in a project's catalog.
    RoleId
);
typed_id!(
    /// The id of a webhook: an endpoint events are delivered to.
    WebhookId
);
typed_id!(
    /// The id of an upstream identity provider.
    IdentityProviderId
);
typed_id!(
    /// The id of a key held by its X.509 certificate (SAML signing and
    /// verification).
    CertificateKeyId
);
