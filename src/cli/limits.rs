//! The sandbox-limit flags, one per field of [`Limits`], applied over the config file.

use clap::Args;

use crate::runtime::Limits;

const HEADING: &str = "Sandbox limits, per plugin instance (also [limits] in the config file; see SECURITY.md)";

#[derive(Args, Debug, Default)]
#[command(next_help_heading = HEADING)]
pub struct LimitArgs {
    /// Plugin linear memory, in MiB [default: 256].
    #[arg(long, global = true, value_name = "MIB")]
    pub max_memory: Option<usize>,
    /// Elements per plugin table [default: 100000].
    #[arg(long, global = true, value_name = "N")]
    pub max_table_elements: Option<usize>,
    /// Component and core instances, and tables and memories, per plugin [default: 32].
    #[arg(long, global = true, value_name = "N")]
    pub max_instances: Option<usize>,
    /// Wall-clock deadline of one plugin call, inference included where the engine can be cancelled, in ms [default: 10000].
    #[arg(long, global = true, value_name = "MS")]
    pub deadline_ms: Option<u64>,
    /// Fuel per plugin call (wasm instructions, roughly) [default: unmetered].
    #[arg(long, global = true, value_name = "N")]
    pub fuel: Option<u64>,
    /// Live graphs per plugin instance [default: 16].
    #[arg(long, global = true, value_name = "N")]
    pub max_graphs: Option<usize>,
    /// Live execution contexts per plugin instance [default: 64].
    #[arg(long, global = true, value_name = "N")]
    pub max_contexts: Option<usize>,
    /// Live tensors per plugin instance [default: 256].
    #[arg(long, global = true, value_name = "N")]
    pub max_tensors: Option<usize>,
    /// Bytes held by all live tensors of a plugin instance together [default: 1073741824].
    #[arg(long, global = true, value_name = "BYTES")]
    pub live_tensor_bytes: Option<usize>,
    /// Live handles of any kind (wasi-nn resources and errors, WASI handles) per plugin instance [default: 1000].
    #[arg(long, global = true, value_name = "N")]
    pub max_resources: Option<usize>,
    /// Largest tensor crossing wasi-nn, in bytes [default: 268435456].
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_tensor_bytes: Option<usize>,
    /// Largest tensor rank [default: 8].
    #[arg(long, global = true, value_name = "N")]
    pub max_tensor_rank: Option<usize>,
    /// Most elements in one tensor [default: 67108864].
    #[arg(long, global = true, value_name = "N")]
    pub max_tensor_elements: Option<usize>,
    /// Let plugins load models from bytes they supply (wasi:nn graph.load); off for untrusted plugins.
    #[arg(long, global = true)]
    pub allow_guest_models: bool,
    /// Largest plugin-supplied model when guest models are allowed, in bytes [default: 67108864].
    #[arg(long, global = true, value_name = "BYTES")]
    pub guest_model_bytes: Option<usize>,
    /// Give plugins the real wall and monotonic clocks (default: frozen at zero).
    #[arg(long, global = true)]
    pub allow_clocks: bool,
    /// Largest input file read for a plugin (image, .npy), in bytes; only regular files are read [default: 67108864].
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_input_bytes: Option<u64>,
    /// Largest plugin component accepted, in bytes [default: 33554432].
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_component_bytes: Option<usize>,
    /// Longest compile of a plugin component (in a child process), in ms [default: 60000].
    #[arg(long, global = true, value_name = "MS")]
    pub compile_ms: Option<u64>,
    /// Address space of the child process that compiles a plugin component, in bytes [default: 4294967296].
    #[arg(long, global = true, value_name = "BYTES")]
    pub compile_memory_bytes: Option<u64>,
}

impl LimitArgs {
    /// `base` (defaults or the config file) with the flags given on the command line over it.
    pub fn apply(&self, mut l: Limits) -> Limits {
        if let Some(m) = self.max_memory {
            l.memory_bytes = m.saturating_mul(1 << 20);
        }
        if let Some(d) = self.deadline_ms {
            l.deadline_ms = d;
        }
        if self.fuel.is_some() {
            l.fuel = self.fuel;
        }
        let sizes = [
            (self.max_table_elements, &mut l.table_elements),
            (self.max_instances, &mut l.instances),
            (self.max_graphs, &mut l.max_graphs),
            (self.max_contexts, &mut l.max_contexts),
            (self.max_tensors, &mut l.max_tensors),
            (self.live_tensor_bytes, &mut l.live_tensor_bytes),
            (self.max_resources, &mut l.max_resources),
            (self.max_tensor_bytes, &mut l.tensor_bytes),
            (self.max_tensor_rank, &mut l.tensor_rank),
            (self.max_tensor_elements, &mut l.tensor_elements),
            (self.guest_model_bytes, &mut l.guest_model_bytes),
        ];
        for (flag, limit) in sizes {
            if let Some(n) = flag {
                *limit = n;
            }
        }
        l.allow_guest_models |= self.allow_guest_models;
        l.allow_clocks |= self.allow_clocks;
        if let Some(n) = self.max_input_bytes {
            l.input_bytes = n;
        }
        if let Some(n) = self.max_component_bytes {
            l.component_bytes = n;
        }
        if let Some(n) = self.compile_ms {
            l.compile_ms = n;
        }
        if let Some(n) = self.compile_memory_bytes {
            l.compile_memory_bytes = n;
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_only_what_they_name() {
        let base = Limits { max_graphs: 3, deadline_ms: 7, ..Limits::default() };
        let args = LimitArgs { max_contexts: Some(5), max_memory: Some(32), max_instances: Some(2), ..Default::default() };
        let l = args.apply(base.clone());
        assert_eq!((l.max_graphs, l.deadline_ms), (3, 7));
        assert_eq!((l.max_contexts, l.memory_bytes, l.instances), (5, 32 << 20, 2));
        assert_eq!(LimitArgs::default().apply(base.clone()), base);
        // A memory size that would overflow saturates instead of wrapping to a tiny limit.
        let huge = LimitArgs { max_memory: Some(usize::MAX), ..Default::default() }.apply(Limits::default());
        assert_eq!(huge.memory_bytes, usize::MAX);
    }
}
