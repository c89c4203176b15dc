//! Deployments read by the public routes, kept for a moment.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::DeploymentView;

/// Deployments read by intake, kept for a moment: at thousands of responses a second the
/// lookup would otherwise cost as much as the insert. A close or origin change made through
/// another instance is seen within `TTL`; through this one, at once (`forget`).
#[derive(Default)]
pub struct DeploymentCache {
    map: RwLock<HashMap<String, (Instant, Arc<DeploymentView>)>>,
}

impl DeploymentCache {
    const TTL: Duration = Duration::from_secs(2);
    const MAX_ENTRIES: usize = 10_000;

    pub fn get(&self, id: &str) -> Option<Arc<DeploymentView>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|(at, _)| at.elapsed() < Self::TTL)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, view: Arc<DeploymentView>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX_ENTRIES {
            map.retain(|_, (at, _)| at.elapsed() < Self::TTL);
        }
        map.insert(view.deployment.id.clone(), (Instant::now(), view));
    }

    pub fn forget(&self, id: &str) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}
