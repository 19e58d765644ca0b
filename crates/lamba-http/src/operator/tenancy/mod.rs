//! `/api/workspace` and what nests under it: projects with their two
//! environments, each project's role catalog and its members
//! (CONTRACTS.md 0 and 2.2). Every handler parses the body with
//! [`Fields`](crate::operator::wire::Fields), calls one
//! [`TenancyService`](lamba_core::tenancy::TenancyService) use case and
//! wraps the result; `PUT` replaces, `PATCH` merges (RFC 7396) into the
//! stored object and validates the result as a replacement.

pub(super) mod member;
pub(super) mod project;
pub(super) mod role;
pub(super) mod workspace;

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(workspace::routes())
        .merge(project::routes())
        .merge(role::routes())
        .merge(member::routes())
}
