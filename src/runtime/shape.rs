//! What one instance of a plugin takes from wasmtime's instance pool (core instances, memories,
//! tables), counted from the component's binary before any engine exists, so the pool can be sized
//! for the plugins a command runs: a CPython component (componentize-py) makes 14 core instances,
//! nnhost's own plugins 3.

use wasmparser::{
    ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind, ComponentTypeRef, Encoding, Instance, Parser,
    Payload,
};

/// Core instances, memories and tables that one instance of a plugin makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PluginShape {
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
}

impl PluginShape {
    /// The pool's floor per slot: room for nnhost's own plugins (a program, the WASI adapter and
    /// its shims) with some to spare.
    pub const DEFAULT: PluginShape = PluginShape { core_instances: 8, memories: 4, tables: 8 };

    /// As many of each as the store limits let one instance make (the `instances` limit bounds
    /// core instances, memories and tables alike): what any plugin that runs at all fits in.
    pub fn bound(instances: usize) -> Self {
        let n = u32::try_from(instances).unwrap_or(u32::MAX);
        PluginShape { core_instances: n, memories: n, tables: n }
    }

    /// The larger of each count.
    pub fn max(self, o: Self) -> Self {
        PluginShape {
            core_instances: self.core_instances.max(o.core_instances),
            memories: self.memories.max(o.memories),
            tables: self.tables.max(o.tables),
        }
    }

    /// The smaller of each count.
    pub fn min(self, o: Self) -> Self {
        PluginShape {
            core_instances: self.core_instances.min(o.core_instances),
            memories: self.memories.min(o.memories),
            tables: self.tables.min(o.tables),
        }
    }

    /// Each count summed (None on overflow).
    pub fn checked_add(self, o: Self) -> Option<Self> {
        Some(PluginShape {
            core_instances: self.core_instances.checked_add(o.core_instances)?,
            memories: self.memories.checked_add(o.memories)?,
            tables: self.tables.checked_add(o.tables)?,
        })
    }

    /// Count a component's instantiations statically: every core module instantiation with the
    /// memories and tables its module defines, and every nested component instantiation with what
    /// that component makes. None when the binary does not parse or an instantiated module or
    /// component is not defined in it (imported, or taken from an instance's exports), so its
    /// size is unknown.
    pub fn of(wasm: &[u8]) -> Option<Self> {
        /// A core module: the memories and tables it defines (a core instance of it makes them).
        type Module = Option<PluginShape>;
        enum Frame {
            Module(PluginShape),
            Component { modules: Vec<Module>, components: Vec<Option<PluginShape>>, made: PluginShape },
        }
        let mut stack: Vec<Frame> = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            let payload = payload.ok()?;
            match payload {
                Payload::Version { encoding: Encoding::Module, .. } => {
                    stack.push(Frame::Module(PluginShape { core_instances: 1, memories: 0, tables: 0 }))
                }
                Payload::Version { encoding: Encoding::Component, .. } => {
                    stack.push(Frame::Component { modules: Vec::new(), components: Vec::new(), made: PluginShape::default() })
                }
                Payload::End(_) => {
                    let done = stack.pop()?;
                    let parent = stack.last_mut();
                    match (done, parent) {
                        (Frame::Module(m), Some(Frame::Component { modules, .. })) => modules.push(Some(m)),
                        (Frame::Component { made, .. }, Some(Frame::Component { components, .. })) => components.push(Some(made)),
                        (Frame::Component { made, .. }, None) => return Some(made),
                        // A core module on its own is not a plugin.
                        _ => return None,
                    }
                }
                Payload::MemorySection(s) => {
                    if let Some(Frame::Module(m)) = stack.last_mut() {
                        m.memories = m.memories.checked_add(s.count())?;
                    }
                }
                Payload::TableSection(s) => {
                    if let Some(Frame::Module(m)) = stack.last_mut() {
                        m.tables = m.tables.checked_add(s.count())?;
                    }
                }
                Payload::InstanceSection(s) => {
                    let Some(Frame::Component { modules, made, .. }) = stack.last_mut() else { return None };
                    for i in s {
                        // A bag of exports makes no instance.
                        if let Instance::Instantiate { module_index, .. } = i.ok()? {
                            *made = made.checked_add((*modules.get(module_index as usize)?)?)?;
                        }
                    }
                }
                Payload::ComponentInstanceSection(s) => {
                    let Some(Frame::Component { components, made, .. }) = stack.last_mut() else { return None };
                    for i in s {
                        if let ComponentInstance::Instantiate { component_index, .. } = i.ok()? {
                            *made = made.checked_add((*components.get(component_index as usize)?)?)?;
                        }
                    }
                }
                // Imports, aliases and exports of modules and components add to their index spaces.
                Payload::ComponentImportSection(s) => {
                    let Some(Frame::Component { modules, components, .. }) = stack.last_mut() else { return None };
                    for i in s {
                        match i.ok()?.ty {
                            ComponentTypeRef::Module(_) => modules.push(None),
                            ComponentTypeRef::Component(_) => components.push(None),
                            _ => {}
                        }
                    }
                }
                Payload::ComponentAliasSection(s) => {
                    for a in s {
                        let (module, component) = match a.ok()? {
                            ComponentAlias::InstanceExport { kind: ComponentExternalKind::Module, .. } => (Some(None), None),
                            ComponentAlias::InstanceExport { kind: ComponentExternalKind::Component, .. } => (None, Some(None)),
                            ComponentAlias::Outer { kind, count, index } => {
                                let outer = stack.len().checked_sub(1 + count as usize).and_then(|i| stack.get(i));
                                let Some(Frame::Component { modules, components, .. }) = outer else { return None };
                                match kind {
                                    ComponentOuterAliasKind::CoreModule => (Some(*modules.get(index as usize)?), None),
                                    ComponentOuterAliasKind::Component => (None, Some(*components.get(index as usize)?)),
                                    _ => (None, None),
                                }
                            }
                            _ => (None, None),
                        };
                        let Some(Frame::Component { modules, components, .. }) = stack.last_mut() else { return None };
                        modules.extend(module);
                        components.extend(component);
                    }
                }
                Payload::ComponentExportSection(s) => {
                    let Some(Frame::Component { modules, components, .. }) = stack.last_mut() else { return None };
                    for e in s {
                        let e = e.ok()?;
                        match e.kind {
                            ComponentExternalKind::Module => modules.push(*modules.get(e.index as usize)?),
                            ComponentExternalKind::Component => components.push(*components.get(e.index as usize)?),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        out.push(payload.len() as u8); // payloads here are < 128 bytes
        out.extend_from_slice(payload);
    }

    /// A core module defining one memory and one table.
    fn core_module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        section(4, &[1, 0x70, 0, 1], &mut m); // one funcref table, min 1
        section(5, &[1, 0, 1], &mut m); // one memory, min 1 page
        m
    }

    /// A component that defines the core module and instantiates it `n` times.
    fn component(n: u8) -> Vec<u8> {
        let mut c = b"\0asm\x0d\0\x01\0".to_vec();
        section(1, &core_module(), &mut c);
        let mut inst = vec![n];
        for _ in 0..n {
            inst.extend_from_slice(&[0, 0, 0]); // instantiate module 0, no args
        }
        section(2, &inst, &mut c);
        c
    }

    #[test]
    fn counts_every_core_instantiation_with_its_memories_and_tables() {
        assert_eq!(PluginShape::of(&component(3)), Some(PluginShape { core_instances: 3, memories: 3, tables: 3 }));
        assert_eq!(PluginShape::of(&component(0)), Some(PluginShape::default()));
    }

    #[test]
    fn a_nested_component_counts_once_per_instantiation() {
        let mut outer = b"\0asm\x0d\0\x01\0".to_vec();
        section(4, &component(2), &mut outer);
        section(5, &[2, 0, 0, 0, 0, 0, 0], &mut outer); // instantiate component 0 twice, no args
        assert_eq!(PluginShape::of(&outer), Some(PluginShape { core_instances: 4, memories: 4, tables: 4 }));
    }

    #[test]
    fn an_instantiated_module_from_outside_is_unknown() {
        let mut c = b"\0asm\x0d\0\x01\0".to_vec();
        section(2, &[1, 0, 5, 0], &mut c); // instantiate module 5, which does not exist
        assert_eq!(PluginShape::of(&c), None);
        assert_eq!(PluginShape::of(b"\0asm\x01\0\0\0"), None);
        assert_eq!(PluginShape::of(b"not wasm"), None);
    }
}
