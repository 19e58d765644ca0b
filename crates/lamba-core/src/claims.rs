//! The claim and scope names that minting (`oauth`), populate (`lambdas`)
//! and the runtime API (`sessions`) all read: one place below the three, so
//! none of them imports another for a name.

/// The claim naming a token's scoped session (the login's is `sid`).
pub const SCOPED_SID_CLAIM: &str = "scoped_sid";
/// The scope of a management token.
pub const MANAGEMENT_SCOPE: &str = "lamba:admin";

/// Claims a populate lambda may not change in any token, on top of
/// [`lamba_lambda::RESERVED_CLAIMS`]: the runtime API reads a token's tenancy
/// context (`scoped_sid` names a scoped session) and permissions from them,
/// so a lambda that could add them to a login token, or change them in a
/// management token, could grant access.
pub const CONTEXT_CLAIMS: &[&str] = &[
    SCOPED_SID_CLAIM,
    "workspace_id",
    "project_id",
    "environment",
    "permissions",
];
/// In a scoped-session or management token the roles belong to the context
/// too: [`lamba_lambda::SCOPED_SESSION_CLAIMS`] and the scope's id.
pub const SCOPED_TOKEN_CLAIMS: &[&str] = &[
    SCOPED_SID_CLAIM,
    "workspace_id",
    "project_id",
    "environment",
    "permissions",
    "roles",
];
