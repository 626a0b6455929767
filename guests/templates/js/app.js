// An nnhost task plugin in JavaScript: the size of a PNG image (a template; no model).
export function describe(config) {
  return {
    description: 'width and height of a PNG image',
    inputs: [{ name: 'image', datatype: 'bytes', shape: [1n], role: 'tensor', description: 'a PNG image' }],
    outputs: [{ name: 'size', datatype: 'int64', shape: [2n], role: 'tensor', description: 'width, height' }],
    parameters: [],
    models: [],
  };
}

export function run(config, inputs, parameters) {
  const png = inputs[0].data.val[0];
  const magic = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 24 || magic.some((b, i) => png[i] !== b)) {
    throw { tag: 'bad-input', val: 'not a PNG image' };
  }
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return [{ name: 'size', shape: [2], data: { tag: 'int64', val: [BigInt(view.getUint32(16)), BigInt(view.getUint32(20))] } }];
}
