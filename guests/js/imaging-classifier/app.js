// nnhost's example JavaScript classifier that imports nnhost's imaging (the `imaging-classifier`
// world of wit/imaging.wit), built by scripts/build-js-plugins with componentize-js.
//
// The job of guests/js/classifier in a few lines: decoding, EXIF orientation, Pillow's resizing and
// normalisation come from nnhost's imaging component (`inputTensor`, which hands back the wasi:nn
// tensor itself, so the pixels never become JavaScript values), the softmax and top-k from `topK`
// (indices and scores; the labels stay here); both are Rust compiled to wasm that nnhost composes into this plugin when it loads it,
// inside the same sandbox. JavaScript only wires the steps and calls wasi:nn. Every exception
// becomes a plugin-error: one that escaped would trap the call.

import { loadByName } from 'wasi:nn/graph@0.2.0-rc-2024-10-28';
import { inputTensor as imagingInputTensor, preprocess as imagingPreprocess, topK as imagingTopK } from 'nnhost:plugins/imaging@0.1.2';

/// An error value of the plugin-error variant, thrown to become the export's `err`.
const pluginError = (tag, val) => ({ tag, val });

/// Call an import that returns a result: its `err` (already a plugin-error) passes through.
function imported(f) {
  try {
    return f();
  } catch (e) {
    if (e && e.payload && typeof e.payload.tag === 'string') throw e.payload;
    throw pluginError('bad-image', `imaging failed: ${String(e)}`);
  }
}

/// A wasi:nn call failed: the error resource's code and message.
function nnError(call, e) {
  const p = e && e.payload !== undefined ? e.payload : e;
  let what;
  try {
    what = `${p.code()}: ${p.data()}`;
  } catch (_) {
    what = String(e);
  }
  return pluginError('inference', `${call}: ${what}`);
}

/// Run `f`; anything that is not already a plugin-error becomes one.
function guarded(f) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e.tag === 'string' && 'val' in e) throw e;
    throw pluginError('bad-image', `the JavaScript plugin failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/// The graph and context of the last model used, kept while the instance lives.
let loaded = null;

function compute(spec, input) {
  if (loaded === null || loaded.name !== spec.name) {
    loaded = null;
    try {
      const graph = loadByName(spec.name);
      loaded = { name: spec.name, graph, ctx: graph.initExecutionContext() };
    } catch (e) {
      throw nnError('load', e);
    }
  }
  try {
    return loaded.ctx.compute([[spec.inputName, input]]);
  } catch (e) {
    throw nnError('compute', e);
  }
}

/// The output tensor the spec ranks (its output name, else the first).
function rankedOutput(spec, outputs) {
  const found = spec.outputName === undefined || spec.outputName === null ? outputs[0] : outputs.find(([n]) => n === spec.outputName);
  if (!found) throw pluginError('bad-output', spec.outputName ? `no output named \`${spec.outputName}\`` : 'the model returned no outputs');
  return found[1];
}

/// The model's input tensor for `image`; the spec goes without its labels (not needed there, and
/// copying 1,000 strings across costs more than the rest of the call).
const inputTensor = (spec, image) => imported(() => imagingInputTensor({ ...spec, labels: [] }, image));

export function classify(spec, image, topK) {
  return guarded(() => {
    const out = rankedOutput(spec, compute(spec, inputTensor(spec, image)));
    const best = imported(() => imagingTopK(out, spec.outputKind, spec.labels.length, topK));
    return best.map(([index, score]) => ({ label: spec.labels[index], index, score }));
  });
}

export function preprocess(spec, image) {
  return guarded(() => imported(() => imagingPreprocess(spec, image)));
}

export function infer(spec, image) {
  return guarded(() =>
    compute(spec, inputTensor(spec, image)).map(([name, t]) => ({
      name,
      tensor: { dimensions: t.dimensions(), ty: t.ty(), data: t.data() },
    })),
  );
}
