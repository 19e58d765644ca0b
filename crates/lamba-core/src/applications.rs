//! The Applications use cases (OAuth clients).

use std::sync::Arc;

use lamba_model::Clock;
use lamba_store::DynStore;

pub struct ApplicationService {
    #[expect(dead_code, reason = "the application use cases are being written")]
    store: DynStore,
    #[expect(dead_code, reason = "the application use cases are being written")]
    clock: Arc<dyn Clock>,
}

impl ApplicationService {
    pub fn new(store: DynStore, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}
