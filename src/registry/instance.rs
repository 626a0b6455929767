//! The registries one plugin instance sees through `load-by-name`: a fixed set of graphs, or
//! graphs loaded on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

use wasmtime_wasi_nn::{Graph, GraphRegistry};

/// The registry one plugin instance sees: exactly the graphs the host chose to expose.
pub struct InstanceRegistry(HashMap<String, Graph>);

impl InstanceRegistry {
    pub fn new(graphs: impl IntoIterator<Item = (String, Graph)>) -> Self {
        Self(graphs.into_iter().collect())
    }
}

impl GraphRegistry for InstanceRegistry {
    fn get(&self, name: &str) -> Option<&Graph> {
        self.0.get(name)
    }
    fn get_mut(&mut self, name: &str) -> Option<&mut Graph> {
        self.0.get_mut(name)
    }
}

/// A registry whose graphs load on first use (`exec`: every model of the models folder may be
/// asked for by name, few are). A model that fails to load is reported once on stderr and is then
/// not found.
pub struct LazyRegistry {
    graphs: HashMap<String, OnceLock<Option<Graph>>>,
    load: Box<LoadGraph>,
}

/// How a [`LazyRegistry`] loads a graph by name.
type LoadGraph = dyn Fn(&str) -> Result<Graph, String> + Send + Sync;

impl LazyRegistry {
    pub fn new(names: impl IntoIterator<Item = String>, load: impl Fn(&str) -> Result<Graph, String> + Send + Sync + 'static) -> Self {
        Self { graphs: names.into_iter().map(|n| (n, OnceLock::new())).collect(), load: Box::new(load) }
    }
}

impl GraphRegistry for LazyRegistry {
    fn get(&self, name: &str) -> Option<&Graph> {
        self.graphs
            .get(name)?
            .get_or_init(|| match (self.load)(name) {
                Ok(g) => Some(g),
                Err(e) => {
                    eprintln!("nnhost: model `{name}`: {e}");
                    None
                }
            })
            .as_ref()
    }
    fn get_mut(&mut self, name: &str) -> Option<&mut Graph> {
        self.get(name)?;
        self.graphs.get_mut(name)?.get_mut()?.as_mut()
    }
}
