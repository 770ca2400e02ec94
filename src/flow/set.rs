//! The flows a process serves: every version still in use (sessions pin the version they
//! started on), routes from (channel, address) to the newest one, and reload.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::CompiledFlow;
use crate::channel::Channel;

/// A snapshot of the flows served: a reload makes a new one, never changes one under a hop.
#[derive(Default)]
pub struct FlowSet {
    all: Vec<Arc<CompiledFlow>>,
    /// Channel -> address -> the newest version of the flow it routes to (two levels, so that
    /// a hop looks its address up as it came, without building a key).
    routes: HashMap<Channel, HashMap<String, Arc<CompiledFlow>>>,
}

impl FlowSet {
    /// The newest version of each flow, by id.
    pub fn current(&self) -> impl Iterator<Item = &Arc<CompiledFlow>> {
        let mut seen: Vec<&Arc<CompiledFlow>> = Vec::new();
        for f in self
            .routes
            .values()
            .flat_map(|by_address| by_address.values())
        {
            if !seen.iter().any(|s| Arc::ptr_eq(s, f)) {
                seen.push(f);
            }
        }
        seen.sort_by(|a, b| a.id.cmp(&b.id));
        seen.into_iter()
    }

    pub fn version(&self, id: &str, version: u32) -> Option<&Arc<CompiledFlow>> {
        self.all.iter().find(|f| f.id == id && f.version == version)
    }

    /// The flow a new session on `address` (already normalised) starts.
    pub fn route(&self, channel: Channel, address: &str) -> Option<&Arc<CompiledFlow>> {
        self.routes.get(&channel)?.get(address)
    }

    pub fn versions(&self) -> usize {
        self.all.len()
    }
}

/// The addresses a flow is reached on, per channel.
fn addresses(flow: &CompiledFlow) -> impl Iterator<Item = (Channel, String)> + '_ {
    flow.ussd
        .iter()
        .map(|code| (Channel::Ussd, code.clone()))
        .chain(flow.voice.iter().map(|n| (Channel::Voice, n.clone())))
        // Every flow can be reached by SMS: a keyword names it by id.
        .chain(std::iter::once((Channel::Sms, flow.id.clone())))
}

/// What a reload did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// `id vN` newly served.
    pub added: Vec<String>,
    /// Flows whose texts were corrected (same structure and version): updated in place.
    pub updated: Vec<String>,
    /// Flows whose structure changed without a new version: kept as they were.
    pub refused: Vec<String>,
}

/// The served [`FlowSet`], replaced whole by each reload.
#[derive(Default)]
pub struct LiveFlows {
    set: RwLock<Arc<FlowSet>>,
}

impl LiveFlows {
    pub fn new(flows: Vec<CompiledFlow>) -> LiveFlows {
        let live = LiveFlows::default();
        live.reload(flows);
        live
    }

    /// The flows served now (a snapshot: a reload does not change it under a hop).
    pub fn snapshot(&self) -> Arc<FlowSet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Serves `flows` from now on. Conversations in flight finish on the version they
    /// started on; a flow changed without a version bump is refused (its old build stays).
    pub fn reload(&self, flows: Vec<CompiledFlow>) -> Reloaded {
        let mut guard = self.set.write().unwrap_or_else(|p| p.into_inner());
        let old = guard.clone();
        let mut set = FlowSet {
            all: old.all.clone(),
            routes: HashMap::new(),
        };
        let mut report = Reloaded::default();
        for flow in flows {
            let chosen = match old.version(&flow.id, flow.version) {
                Some(existing)
                    if existing.fingerprint == flow.fingerprint
                        && existing.texts_fingerprint == flow.texts_fingerprint =>
                {
                    existing.clone()
                }
                Some(existing) if existing.fingerprint == flow.fingerprint => {
                    // Same structure, corrected texts: sessions on this version can use them.
                    report
                        .updated
                        .push(format!("{} v{}", flow.id, flow.version));
                    let f = Arc::new(flow);
                    for slot in set.all.iter_mut().filter(|a| Arc::ptr_eq(a, existing)) {
                        *slot = f.clone();
                    }
                    f
                }
                Some(existing) => {
                    tracing::error!(flow = %flow.id, version = flow.version, "flow changed without a new `version`: keeping the one already served; bump `version` to publish the change");
                    report
                        .refused
                        .push(format!("{} v{}", flow.id, flow.version));
                    existing.clone()
                }
                None => {
                    report.added.push(format!("{} v{}", flow.id, flow.version));
                    let f = Arc::new(flow);
                    set.all.push(f.clone());
                    f
                }
            };
            for (channel, address) in addresses(&chosen) {
                set.routes
                    .entry(channel)
                    .or_default()
                    .insert(address, chosen.clone());
            }
        }
        *guard = Arc::new(set);
        report
    }
}
