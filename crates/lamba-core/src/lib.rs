//! Lamba's use cases, over the storage interface: what the HTTP surfaces
//! call, and where transaction boundaries and validation live.
//!
//! This crate knows neither axum nor sqlx: it sees storage only through
//! `lamba_store::DynStore` and time only through `lamba_model::Clock`.

pub mod api_keys;
pub mod applications;
pub mod clock;
pub mod lambdas;
pub mod passwords;
pub mod users;
pub mod validation;

use std::sync::Arc;

use lamba_lambda::Limits;
use lamba_model::Clock;
use lamba_store::DynStore;

pub use api_keys::ApiKeyAuthenticator;
pub use validation::{ErrorKind, ValidationErrors};

/// The services every request handler reaches through shared state.
pub struct Core {
    pub store: DynStore,
    pub clock: Arc<dyn Clock>,
    pub api_keys: ApiKeyAuthenticator,
    pub lambdas: lambdas::LambdaService,
    pub applications: applications::ApplicationService,
    pub users: users::UserService,
}

/// Settings the use cases need, validated by the binary at start.
#[derive(Clone, Debug, Default)]
pub struct CoreSettings {
    pub lambda_limits: Limits,
}

impl Core {
    pub fn new(store: DynStore, clock: Arc<dyn Clock>, settings: CoreSettings) -> Self {
        Self {
            api_keys: ApiKeyAuthenticator::new(store.clone(), clock.clone()),
            lambdas: lambdas::LambdaService::new(
                store.clone(),
                clock.clone(),
                settings.lambda_limits,
            ),
            applications: applications::ApplicationService::new(store.clone(), clock.clone()),
            users: users::UserService::new(store.clone(), clock.clone()),
            store,
            clock,
        }
    }
}
