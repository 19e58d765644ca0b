//! The Users and Registrations use cases.

use std::sync::Arc;

use lamba_model::Clock;
use lamba_store::DynStore;

pub struct UserService {
    #[expect(dead_code, reason = "the user use cases are being written")]
    store: DynStore,
    #[expect(dead_code, reason = "the user use cases are being written")]
    clock: Arc<dyn Clock>,
}

impl UserService {
    pub fn new(store: DynStore, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}
