// {{name}}: an image-classifier plugin in JavaScript (world `imaging-classifier`): the host passes
// the image bytes and the model's spec (from its model.toml); nnhost's imaging, composed into this
// plugin when nnhost loads it, decodes and preprocesses the image exactly as the built-in Rust
// plugin does and ranks the output. Put your own steps between them.

import { loadByName } from 'wasi:nn/graph@0.2.0-rc-2024-10-28';
import { inputTensor, preprocess as imagingPreprocess, topK as imagingTopK } from 'nnhost:plugins/imaging@0.1.2';

/// Run `f`; an import's error (already a plugin-error) passes through, anything else becomes one.
function guarded(f) {
  try {
    return f();
  } catch (e) {
    if (e && e.payload && typeof e.payload.tag === 'string') throw e.payload;
    if (e && typeof e.tag === 'string') throw e;
    throw { tag: 'inference', val: String(e && e.payload && e.payload.data ? e.payload.data() : e) };
  }
}

let loaded = null; // the last model's graph and execution context

function compute(spec, input) {
  if (loaded === null || loaded.name !== spec.name) {
    const graph = loadByName(spec.name);
    loaded = { name: spec.name, graph, ctx: graph.initExecutionContext() };
  }
  return loaded.ctx.compute([[spec.inputName, input]]);
}

function firstOutput(outputs) {
  if (outputs.length === 0) throw { tag: 'bad-output', val: 'the model returned no outputs' };
  return outputs[0][1];
}

export function classify(spec, image, topK) {
  return guarded(() => {
    // inputTensor: the wasi:nn tensor itself (the pixels never become JavaScript values); the labels
    // are not needed there. imagingTopK: [index, score] pairs, named here.
    const out = firstOutput(compute(spec, inputTensor({ ...spec, labels: [] }, image)));
    return imagingTopK(out, spec.outputKind, spec.labels.length, topK).map(([index, score]) => ({ label: spec.labels[index], index, score }));
  });
}

export function preprocess(spec, image) {
  return guarded(() => imagingPreprocess(spec, image));
}

export function infer(spec, image) {
  return guarded(() =>
    compute(spec, inputTensor(spec, image)).map(([name, t]) => ({
      name,
      tensor: { dimensions: t.dimensions(), ty: t.ty(), data: t.data() },
    })),
  );
}
