// nnhost's example JavaScript classifier plugin (the `classifier` world of wit/plugins.wit),
// built into a component by scripts/build-js-plugins with componentize-js.
//
// It does what the Rust image-classifier does, in plain JavaScript and with no dependencies:
// decode a PNG (its own inflate below: the sandbox has no zlib), fit it to the model's input the
// way guests/preprocess does (Pillow's fixed-point resampling, ported line by line, so the
// tensors are the same bytes), normalise, run the model through wasi:nn, softmax and top-k.
// JPEG and other formats are refused with `bad-image`. Every exception becomes a plugin-error:
// one that escaped would trap the call.

import { loadByName } from 'wasi:nn/graph@0.2.0-rc-2024-10-28';
import { Tensor } from 'wasi:nn/tensor@0.2.0-rc-2024-10-28';

// ---------------------------------------------------------------------------------------------
// Errors

class PluginError extends Error {
  constructor(tag, message) {
    super(message);
    this.tag = tag;
  }
}

const badImage = (m) => new PluginError('bad-image', m);
const badSpec = (m) => new PluginError('bad-spec', m);
const badOutput = (m) => new PluginError('bad-output', m);

/// A wasi:nn call failed: the error resource's code and message.
function nnError(call, e) {
  const p = e && e.payload !== undefined ? e.payload : e;
  let what;
  try {
    what = `${p.code()}: ${p.data()}`;
  } catch (_) {
    what = String(e);
  }
  return new PluginError('inference', `${call}: ${what}`);
}

/// Run `f`, turning anything it throws into the plugin-error variant the canonical ABI lowers.
function guarded(f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof PluginError) throw { tag: e.tag, val: e.message };
    // A bug here (or an engine limit such as too much recursion): still an error value, not a trap.
    let text;
    try {
      text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    } catch (_) {
      text = 'an exception that cannot be printed';
    }
    throw { tag: 'bad-image', val: `the JavaScript plugin failed: ${text}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Inflate (RFC 1950 zlib around RFC 1951 deflate), written for this plugin.

const LEN_BASE = Uint16Array.of(3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258);
const LEN_EXTRA = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0);
const DIST_BASE = Uint16Array.of(1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577);
const DIST_EXTRA = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13);
const CLEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const FAST_BITS = 10;
const FAST_MASK = (1 << FAST_BITS) - 1;

/// A canonical Huffman code: a FAST_BITS lookup table (entry = symbol << 4 | length, -1 for
/// longer codes) and, for those, the per-length counts and symbols sorted by code.
function huffman(lens, n) {
  const counts = new Uint16Array(16);
  for (let i = 0; i < n; i++) counts[lens[i]]++;
  counts[0] = 0;
  let left = 1;
  for (let l = 1; l < 16; l++) {
    left = (left << 1) - counts[l];
    if (left < 0) throw badImage('PNG data: over-subscribed Huffman code');
  }
  const offs = new Uint16Array(16);
  for (let l = 1; l < 15; l++) offs[l + 1] = offs[l] + counts[l];
  const symbols = new Uint16Array(n);
  for (let i = 0; i < n; i++) if (lens[i]) symbols[offs[lens[i]]++] = i;
  const next = new Int32Array(16);
  let code = 0;
  for (let l = 1; l < 16; l++) {
    code = (code + counts[l - 1]) << 1;
    next[l] = code;
  }
  const fast = new Int32Array(1 << FAST_BITS).fill(-1);
  for (let i = 0; i < n; i++) {
    const len = lens[i];
    if (len === 0 || len > FAST_BITS) continue;
    let c = next[len]++;
    let rev = 0;
    for (let b = 0; b < len; b++) {
      rev = (rev << 1) | (c & 1);
      c >>= 1;
    }
    for (let j = rev; j <= FAST_MASK; j += 1 << len) fast[j] = (i << 4) | len;
  }
  return { fast, counts, symbols };
}

let FIXED_LIT = null;
let FIXED_DIST = null;

function fixedCodes() {
  if (FIXED_LIT === null) {
    const l = new Uint8Array(288);
    l.fill(8, 0, 144);
    l.fill(9, 144, 256);
    l.fill(7, 256, 280);
    l.fill(8, 280, 288);
    FIXED_LIT = huffman(l, 288);
    FIXED_DIST = huffman(new Uint8Array(30).fill(5), 30);
  }
}

/// Bit reader state shared by the helpers below; the literal loop keeps it in locals.
function bitReader(src, pos) {
  return { src, pos, bitbuf: 0, bitcnt: 0 };
}

function truncated() {
  return badImage('PNG data: the compressed stream ends early');
}

function refill(st) {
  const src = st.src;
  while (st.bitcnt <= 23 && st.pos < src.length) {
    st.bitbuf |= src[st.pos++] << st.bitcnt;
    st.bitcnt += 8;
  }
}

function bits(st, n) {
  if (st.bitcnt < n) {
    refill(st);
    if (st.bitcnt < n) throw truncated();
  }
  const v = st.bitbuf & ((1 << n) - 1);
  st.bitbuf >>>= n;
  st.bitcnt -= n;
  return v;
}

/// Decode one symbol of `h`: the fast table, else the canonical code one bit at a time.
function decodeSym(st, h) {
  if (st.bitcnt < 15) refill(st);
  const e = h.fast[st.bitbuf & FAST_MASK];
  if (e >= 0 && (e & 15) <= st.bitcnt) {
    st.bitbuf >>>= e & 15;
    st.bitcnt -= e & 15;
    return e >> 4;
  }
  let code = 0;
  let first = 0;
  let index = 0;
  for (let len = 1; len < 16; len++) {
    code |= bits(st, 1);
    const count = h.counts[len];
    if (code - first < count) return h.symbols[index + code - first];
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  throw badImage('PNG data: invalid Huffman code');
}

/// The literal/length and distance codes of a dynamic block.
function dynamicCodes(st, lens, clens) {
  const hlit = bits(st, 5) + 257;
  const hdist = bits(st, 5) + 1;
  const hclen = bits(st, 4) + 4;
  clens.fill(0);
  for (let i = 0; i < hclen; i++) clens[CLEN_ORDER[i]] = bits(st, 3);
  const ch = huffman(clens, 19);
  lens.fill(0);
  for (let i = 0; i < hlit + hdist; ) {
    const sym = decodeSym(st, ch);
    if (sym < 16) {
      lens[i++] = sym;
      continue;
    }
    let rep;
    let val = 0;
    if (sym === 16) {
      if (i === 0) throw badImage('PNG data: repeat with no previous length');
      val = lens[i - 1];
      rep = 3 + bits(st, 2);
    } else if (sym === 17) {
      rep = 3 + bits(st, 3);
    } else {
      rep = 11 + bits(st, 7);
    }
    if (i + rep > hlit + hdist) throw badImage('PNG data: too many code lengths');
    while (rep--) lens[i++] = val;
  }
  return [huffman(lens.subarray(0, hlit), hlit), huffman(lens.subarray(hlit, hlit + hdist), hdist)];
}

/// Inflate the zlib stream `src` into exactly `size` bytes. The symbol loop is written out with
/// local variables and no calls on its common path: StarlingMonkey interprets this code.
function inflate(src, size) {
  if (src.length < 2 || (src[0] & 15) !== 8 || ((src[0] << 8) | src[1]) % 31 !== 0 || (src[1] & 32) !== 0) {
    throw badImage('PNG data: not a zlib stream');
  }
  const out = new Uint8Array(size);
  const srcLen = src.length;
  const st = bitReader(src, 2);
  const lens = new Uint8Array(320);
  const clens = new Uint8Array(19);
  const tooMuch = () => badImage('PNG data: more pixel data than the header says');
  let op = 0;
  let last = 0;
  while (!last) {
    last = bits(st, 1);
    const type = bits(st, 2);
    if (type === 0) {
      // Drop the bits up to the byte boundary and give back whole bytes still buffered.
      st.bitcnt -= st.bitcnt & 7;
      st.pos -= st.bitcnt >> 3;
      st.bitbuf = 0;
      st.bitcnt = 0;
      const pos = st.pos;
      if (pos + 4 > srcLen) throw truncated();
      const len = src[pos] | (src[pos + 1] << 8);
      const nlen = src[pos + 2] | (src[pos + 3] << 8);
      if ((len ^ 0xffff) !== nlen) throw badImage('PNG data: corrupt stored block');
      if (pos + 4 + len > srcLen) throw truncated();
      if (op + len > size) throw tooMuch();
      out.set(src.subarray(pos + 4, pos + 4 + len), op);
      st.pos = pos + 4 + len;
      op += len;
      continue;
    }
    let lit;
    let dist;
    if (type === 1) {
      fixedCodes();
      lit = FIXED_LIT;
      dist = FIXED_DIST;
    } else if (type === 2) {
      [lit, dist] = dynamicCodes(st, lens, clens);
    } else {
      throw badImage('PNG data: invalid block type');
    }
    const litFast = lit.fast;
    const distFast = dist.fast;
    let bb = st.bitbuf;
    let bc = st.bitcnt;
    let p = st.pos;
    for (;;) {
      if (bc < 15) {
        while (bc <= 23 && p < srcLen) {
          bb |= src[p++] << bc;
          bc += 8;
        }
      }
      let e = litFast[bb & FAST_MASK];
      let sym;
      if (e >= 0 && (e & 15) <= bc) {
        bb >>>= e & 15;
        bc -= e & 15;
        sym = e >> 4;
      } else {
        st.bitbuf = bb;
        st.bitcnt = bc;
        st.pos = p;
        sym = decodeSym(st, lit);
        bb = st.bitbuf;
        bc = st.bitcnt;
        p = st.pos;
      }
      if (sym < 256) {
        if (op >= size) throw tooMuch();
        out[op++] = sym;
        continue;
      }
      if (sym === 256) break;
      const li = sym - 257;
      if (li >= 29) throw badImage('PNG data: invalid length code');
      let len = LEN_BASE[li];
      const le = LEN_EXTRA[li];
      if (le) {
        if (bc < le) {
          while (bc <= 23 && p < srcLen) {
            bb |= src[p++] << bc;
            bc += 8;
          }
          if (bc < le) throw truncated();
        }
        len += bb & ((1 << le) - 1);
        bb >>>= le;
        bc -= le;
      }
      if (bc < 15) {
        while (bc <= 23 && p < srcLen) {
          bb |= src[p++] << bc;
          bc += 8;
        }
      }
      e = distFast[bb & FAST_MASK];
      let di;
      if (e >= 0 && (e & 15) <= bc) {
        bb >>>= e & 15;
        bc -= e & 15;
        di = e >> 4;
      } else {
        st.bitbuf = bb;
        st.bitcnt = bc;
        st.pos = p;
        di = decodeSym(st, dist);
        bb = st.bitbuf;
        bc = st.bitcnt;
        p = st.pos;
      }
      if (di >= 30) throw badImage('PNG data: invalid distance code');
      let d = DIST_BASE[di];
      const de = DIST_EXTRA[di];
      if (de) {
        if (bc < de) {
          while (bc <= 23 && p < srcLen) {
            bb |= src[p++] << bc;
            bc += 8;
          }
          if (bc < de) throw truncated();
        }
        d += bb & ((1 << de) - 1);
        bb >>>= de;
        bc -= de;
      }
      if (d > op) throw badImage('PNG data: distance before the start');
      if (op + len > size) throw tooMuch();
      if (d >= 8) {
        // copyWithin is native; an overlapping copy goes d bytes at a time.
        while (len > 0) {
          const n = len < d ? len : d;
          out.copyWithin(op, op - d, op - d + n);
          op += n;
          len -= n;
        }
      } else {
        for (const end = op + len; op < end; op++) out[op] = out[op - d];
      }
    }
    st.bitbuf = bb;
    st.bitcnt = bc;
    st.pos = p;
  }
  if (op !== size) throw badImage(`PNG data: ${op} bytes of pixel data, the header needs ${size}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// PNG

const MAX_IMAGE_SIDE = 16384;
/// Largest decoded image, in bytes (the Rust plugin's decoder limit).
const MAX_DECODE_BYTES = 512 * 1024 * 1024;

const u32be = (b, i) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/// Decode a PNG into 8-bit samples: { width, height, channels (1 gray, 2 gray+alpha, 3 RGB,
/// 4 RGBA), data }. 16-bit samples keep their high byte; palettes become RGB; lower bit depths
/// of gray are scaled to 0-255. Interlaced PNGs are refused.
function decodePng(b) {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (b.length < 8 || sig.some((v, i) => b[i] !== v)) {
    const jpeg = b.length > 2 && b[0] === 0xff && b[1] === 0xd8;
    throw badImage(jpeg ? 'JPEG is not supported by the JavaScript example plugin (PNG only)' : 'not a PNG file');
  }
  let pos = 8;
  let hdr = null;
  let palette = null;
  const idat = [];
  let idatLen = 0;
  for (;;) {
    if (pos + 8 > b.length) throw badImage('truncated PNG: no IEND chunk');
    const len = u32be(b, pos);
    const type = String.fromCharCode(b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]);
    const start = pos + 8;
    if (len > b.length - start - 4 || len > 0x7fffffff) throw badImage(`truncated PNG: chunk ${type} runs past the end`);
    const data = b.subarray(start, start + len);
    pos = start + len + 4;
    if (type === 'IHDR') {
      if (len < 13) throw badImage('PNG: short IHDR');
      hdr = { width: u32be(data, 0), height: u32be(data, 4), depth: data[8], color: data[9], interlace: data[12] };
    } else if (type === 'PLTE') {
      palette = data;
    } else if (type === 'IDAT') {
      idat.push(data);
      idatLen += len;
    } else if (type === 'IEND') {
      break;
    }
  }
  if (hdr === null) throw badImage('PNG without a header');
  const { width, height, depth, color, interlace } = hdr;
  if (width === 0 || height === 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw badImage(`PNG size ${width}x${height} is outside 1..=${MAX_IMAGE_SIDE}`);
  }
  if (interlace !== 0) throw badImage('interlaced PNG is not supported by the JavaScript example plugin');
  const samples = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[color];
  const depthOk = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] }[color];
  if (samples === undefined || !depthOk.includes(depth)) throw badImage(`PNG colour type ${color} with bit depth ${depth} is invalid`);
  if (color === 3 && palette === null) throw badImage('palette PNG without a PLTE chunk');
  const outChannels = color === 3 ? 3 : samples;
  if (width * height * outChannels > MAX_DECODE_BYTES) throw badImage('the decoded image would be over 512 MiB');

  const bitsPerPixel = samples * depth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  let z;
  if (idat.length === 1) {
    z = idat[0];
  } else {
    z = new Uint8Array(idatLen);
    let o = 0;
    for (const d of idat) {
      z.set(d, o);
      o += d.length;
    }
  }
  const raw = inflate(z, height * (stride + 1));

  // Unfilter in place: row y's bytes are raw[y * (stride + 1) + 1 ..]; the first row reads a
  // zero row above it, the first pixel zeros to its left.
  for (let y = 0; y < height; y++) {
    const r = y * (stride + 1);
    const f = raw[r];
    const cur = r + 1;
    const prev = r - stride; // the previous row's data
    if (f === 0) continue;
    if (f === 1) {
      for (let i = cur + bpp, end = cur + stride; i < end; i++) raw[i] = (raw[i] + raw[i - bpp]) & 255;
    } else if (f === 2) {
      if (y > 0) for (let i = 0; i < stride; i++) raw[cur + i] = (raw[cur + i] + raw[prev + i]) & 255;
    } else if (f === 3) {
      const end = cur + stride;
      if (y === 0) {
        for (let i = cur + bpp; i < end; i++) raw[i] = (raw[i] + (raw[i - bpp] >> 1)) & 255;
        continue;
      }
      const up = prev - cur;
      for (let i = cur; i < cur + bpp; i++) raw[i] = (raw[i] + (raw[i + up] >> 1)) & 255;
      for (let i = cur + bpp; i < end; i++) raw[i] = (raw[i] + ((raw[i - bpp] + raw[i + up]) >> 1)) & 255;
    } else if (f === 4) {
      if (y === 0) {
        // Paeth with a zero row above is Sub.
        for (let i = cur + bpp, end = cur + stride; i < end; i++) raw[i] = (raw[i] + raw[i - bpp]) & 255;
        continue;
      }
      for (let i = 0; i < bpp; i++) raw[cur + i] = (raw[cur + i] + raw[prev + i]) & 255;
      for (let i = bpp; i < stride; i++) {
        const a = raw[cur + i - bpp];
        const up = raw[prev + i];
        const c = raw[prev + i - bpp];
        let pa = up - c;
        let pb = a - c;
        let pc = pa + pb;
        if (pa < 0) pa = -pa;
        if (pb < 0) pb = -pb;
        if (pc < 0) pc = -pc;
        raw[cur + i] = (raw[cur + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? up : c)) & 255;
      }
    } else {
      throw badImage(`PNG row ${y} has an invalid filter type ${f}`);
    }
  }

  const n = width * height;
  const data = new Uint8Array(n * outChannels);
  if (depth === 8 && color !== 3) {
    for (let y = 0; y < height; y++) data.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  } else if (depth === 16) {
    const m = width * samples;
    for (let y = 0; y < height; y++) {
      const r = y * (stride + 1) + 1;
      for (let i = 0; i < m; i++) data[y * m + i] = raw[r + 2 * i];
    }
  } else {
    // Palette indices or gray at 1, 2, 4 or 8 bits.
    const maxv = (1 << depth) - 1;
    const entries = palette === null ? 0 : Math.floor(palette.length / 3);
    for (let y = 0; y < height; y++) {
      const r = y * (stride + 1) + 1;
      for (let x = 0; x < width; x++) {
        const bit = x * depth;
        const v = (raw[r + (bit >> 3)] >> (8 - depth - (bit & 7))) & maxv;
        const o = (y * width + x) * outChannels;
        if (color === 3) {
          if (v >= entries) throw badImage(`PNG palette index ${v} is outside the palette of ${entries}`);
          data[o] = palette[3 * v];
          data[o + 1] = palette[3 * v + 1];
          data[o + 2] = palette[3 * v + 2];
        } else {
          data[o] = Math.round((v * 255) / maxv);
        }
      }
    }
  }
  return { width, height, channels: outChannels, data };
}

/// The image's pixels with `channels` (1 or 3) 8-bit channels, as Pillow's convert("L") /
/// convert("RGB"): alpha dropped, gray replicated, luma as ITU-R 601-2 in Pillow's fixed point.
function pixels(img, channels) {
  const { channels: c, data } = img;
  if (c === channels) return data;
  const n = img.width * img.height;
  const out = new Uint8Array(n * channels);
  const gray = c <= 2;
  for (let i = 0; i < n; i++) {
    const s = i * c;
    if (channels === 1) {
      out[i] = gray ? data[s] : (data[s] * 19595 + data[s + 1] * 38470 + data[s + 2] * 7471 + 0x8000) >>> 16;
    } else if (gray) {
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[s];
    } else {
      out[3 * i] = data[s];
      out[3 * i + 1] = data[s + 1];
      out[3 * i + 2] = data[s + 2];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Resize: guests/preprocess/src/resize.rs in JavaScript (Pillow's resampling).

/// Python's round(): ties to even.
function pyRound(v) {
  const f = Math.floor(v);
  const d = v - f;
  const r = d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
  return Math.max(0, r);
}

const axis = (lo, hi, scale, offset, out) => ({ lo, hi, scale, offset, out });
const wholeAxis = (size, out) => axis(0, size, size / out, 0, out);
const isIdentity = (a) => a.offset === 0 && a.lo === 0 && a.hi === a.out && a.scale === 1;

function plan(srcW, srcH, outW, outH, mode) {
  if (mode.tag === 'stretch') return { x: wholeAxis(srcW, outW), y: wholeAxis(srcH, outH), at: [0, 0] };
  if (mode.tag === 'center-crop') {
    const [fraction, order] = mode.val;
    if (order === 'resize-then-crop') {
      const size = Math.max(1, Math.floor(Math.max(outW, outH) / fraction));
      let newW;
      let newH;
      if (srcW <= srcH) {
        newW = size;
        newH = Math.max(1, Math.trunc((size * srcH) / srcW));
      } else {
        newW = Math.max(1, Math.trunc((size * srcW) / srcH));
        newH = size;
      }
      const left = pyRound(Math.max(0, newW - outW) / 2);
      const top = pyRound(Math.max(0, newH - outH) / 2);
      return { x: axis(0, srcW, srcW / newW, left, outW), y: axis(0, srcH, srcH / newH, top, outH), at: [0, 0] };
    }
    let cw;
    let ch;
    if (outW === outH) {
      // TensorFlow: int(fraction * min(h, w)) in f32.
      cw = ch = Math.trunc(Math.fround(fraction * Math.min(srcW, srcH)));
    } else {
      const k = fraction * Math.min(srcW / outW, srcH / outH);
      cw = Math.trunc(k * outW);
      ch = Math.trunc(k * outH);
    }
    cw = Math.min(Math.max(cw, 1), srcW);
    ch = Math.min(Math.max(ch, 1), srcH);
    const ox = Math.ceil((srcW - cw) / 2);
    const oy = Math.ceil((srcH - ch) / 2);
    return { x: axis(ox, ox + cw, cw / outW, 0, outW), y: axis(oy, oy + ch, ch / outH, 0, outH), at: [0, 0] };
  }
  // Letterbox: PIL.ImageOps.contain, then pad centred.
  let w = outW;
  let h = outH;
  const imRatio = srcW / srcH;
  const destRatio = outW / outH;
  if (imRatio !== destRatio) {
    if (imRatio > destRatio) h = Math.min(Math.max(pyRound((srcH / srcW) * outW), 1), outH);
    else w = Math.min(Math.max(pyRound((srcW / srcH) * outH), 1), outW);
  }
  const at = w !== outW ? [pyRound((outW - w) * 0.5), 0] : [0, pyRound((outH - h) * 0.5)];
  return { x: wholeAxis(srcW, w), y: wholeAxis(srcH, h), at };
}

const PRECISION_BITS = 32 - 8 - 2;

function filter(interp, x) {
  x = Math.abs(x);
  if (interp === 'bilinear') return x < 1 ? 1 - x : 0;
  const A = -0.5;
  if (x < 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * A;
  return 0;
}

/// Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis.
function taps(ax, interp, antialias) {
  const inSize = ax.hi - ax.lo;
  const scale = ax.scale;
  const filterscale = antialias ? Math.max(scale, 1) : 1;
  const support = (interp === 'bilinear' ? 1 : 2) * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1 / filterscale;
  const start = new Int32Array(ax.out);
  const len = new Int32Array(ax.out);
  const weights = new Int32Array(ax.out * ksize);
  const k = new Float64Array(ksize);
  for (let i = 0; i < ax.out; i++) {
    const center = (ax.offset + i + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.max(Math.trunc(center + support + 0.5), 0), inSize);
    const n = Math.min(Math.max(xmax - xmin, 0), ksize);
    let ww = 0;
    for (let x = 0; x < n; x++) {
      const w = filter(interp, (x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < n; x++) {
      const v = ww !== 0 ? k[x] / ww : k[x];
      const f = v * (1 << PRECISION_BITS);
      weights[i * ksize + x] = v < 0 ? Math.trunc(f - 0.5) : Math.trunc(f + 0.5);
    }
    start[i] = ax.lo + xmin;
    len[i] = n;
  }
  return { start, len, ksize, weights };
}

const clip8 = (v) => {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
};

/// Pillow's ImagingScaleAffine positions for nearest: accumulated in floating point.
function nearestTable(ax) {
  let pos = ax.scale * 0.5;
  const table = new Int32Array(ax.out);
  for (let i = 0; i < ax.offset + ax.out; i++) {
    if (i >= ax.offset) {
      const v = pos < 0 ? 0 : Math.trunc(pos);
      table[i - ax.offset] = ax.lo + Math.min(v, ax.hi - ax.lo - 1);
    }
    pos += ax.scale;
  }
  return table;
}

/// Resize `src` (w x h, c interleaved 8-bit channels) onto an outW x outH canvas.
function resize(src, w, h, c, outW, outH, spec) {
  const mode = spec.resize;
  const p = plan(w, h, outW, outH, mode);
  const canvas = new Uint8Array(outW * outH * c);
  if (mode.tag === 'letterbox') {
    const pad = mode.val;
    for (let i = 0; i < outW * outH; i++) {
      for (let ch = 0; ch < c; ch++) canvas[i * c + ch] = pad.length === 1 ? pad[0] : ch < pad.length ? pad[ch] : 0;
    }
  }
  const rw = p.x.out;
  const rh = p.y.out;
  const place = (y, row) => canvas.set(row, ((p.at[1] + y) * outW + p.at[0]) * c);

  if (spec.interpolation === 'nearest') {
    const xt = nearestTable(p.x);
    const yt = nearestTable(p.y);
    const row = new Uint8Array(rw * c);
    for (let y = 0; y < rh; y++) {
      const base = yt[y] * w * c;
      for (let x = 0; x < rw; x++) for (let ch = 0; ch < c; ch++) row[x * c + ch] = src[base + xt[x] * c + ch];
      place(y, row);
    }
    return canvas;
  }

  const vt = taps(p.y, spec.interpolation, spec.antialias);
  let first = Infinity;
  let last = 0;
  for (let i = 0; i < rh; i++) {
    if (vt.len[i] > 0) first = Math.min(first, vt.start[i]);
    last = Math.max(last, vt.start[i] + vt.len[i]);
  }
  if (first === Infinity) first = 0;
  last = Math.max(last, first);

  const half = 1 << (PRECISION_BITS - 1);
  let tmp;
  if (isIdentity(p.x)) {
    tmp = src.subarray(first * w * c, last * w * c);
  } else {
    const ht = taps(p.x, spec.interpolation, spec.antialias);
    tmp = new Uint8Array((last - first) * rw * c);
    const hk = ht.ksize;
    const hw = ht.weights;
    for (let sy = first; sy < last; sy++) {
      const srow = sy * w * c;
      const orow = (sy - first) * rw * c;
      for (let x = 0; x < rw; x++) {
        const n = ht.len[x];
        const kb = x * hk;
        let s = srow + ht.start[x] * c;
        const o = orow + x * c;
        if (c === 3) {
          let a0 = half;
          let a1 = half;
          let a2 = half;
          for (let j = 0; j < n; j++, s += 3) {
            const kk = hw[kb + j];
            a0 += src[s] * kk;
            a1 += src[s + 1] * kk;
            a2 += src[s + 2] * kk;
          }
          // clip8, written out (a call per value costs in an interpreter).
          a0 >>= PRECISION_BITS;
          a1 >>= PRECISION_BITS;
          a2 >>= PRECISION_BITS;
          tmp[o] = a0 < 0 ? 0 : a0 > 255 ? 255 : a0;
          tmp[o + 1] = a1 < 0 ? 0 : a1 > 255 ? 255 : a1;
          tmp[o + 2] = a2 < 0 ? 0 : a2 > 255 ? 255 : a2;
        } else {
          for (let ch = 0; ch < c; ch++) {
            let a = half;
            for (let j = 0; j < n; j++) a += src[s + j * c + ch] * hw[kb + j];
            tmp[o + ch] = clip8(a);
          }
        }
      }
    }
  }

  const stride = rw * c;
  if (isIdentity(p.y)) {
    for (let y = 0; y < rh; y++) place(y, tmp.subarray(y * stride, (y + 1) * stride));
    return canvas;
  }
  const acc = new Int32Array(stride);
  const row = new Uint8Array(stride);
  for (let y = 0; y < rh; y++) {
    acc.fill(half);
    const n = vt.len[y];
    for (let j = 0; j < n; j++) {
      const kk = vt.weights[y * vt.ksize + j];
      const t = (vt.start[y] - first + j) * stride;
      for (let i = 0; i < stride; i++) acc[i] += tmp[t + i] * kk;
    }
    for (let i = 0; i < stride; i++) {
      const v = acc[i] >> PRECISION_BITS;
      row[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    place(y, row);
  }
  return canvas;
}

// ---------------------------------------------------------------------------------------------
// Tensors

const ELEM_SIZE = { FP32: 4, FP16: 2, FP64: 8, U8: 1 };

const F16_BUF = new Float32Array(1);
const F16_BITS = new Uint32Array(F16_BUF.buffer);

/// IEEE half bits of a float, rounded to nearest even (as the `half` crate).
function toHalf(f) {
  F16_BUF[0] = f;
  const x = F16_BITS[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const man = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (14 - e > 24) return sign;
    const m = man | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

function fromHalf(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function validate(spec) {
  const { width, height, channels } = spec;
  if (!(spec.inputType in ELEM_SIZE)) throw badSpec(`input type ${spec.inputType} is not supported for images`);
  if (width === 0 || height === 0 || width > 8192 || height > 8192) throw badSpec(`input size ${width}x${height} is outside 1..=8192`);
  if (channels !== 1 && channels !== 3) throw badSpec(`channels must be 1 or 3, not ${channels}`);
  for (const [what, v] of [['mean', spec.mean], ['std', spec.std]]) {
    if (v.length !== 1 && v.length !== channels) throw badSpec(`${what} needs 1 or ${channels} values, got ${v.length}`);
    for (const x of v) if (!Number.isFinite(x)) throw badSpec(`${what} has a non-finite value`);
  }
  for (const s of spec.std) if (s === 0) throw badSpec('std has a zero value');
  if (!Number.isFinite(spec.scale)) throw badSpec('scale is not finite');
  const mode = spec.resize;
  if (mode.tag === 'center-crop') {
    const f = mode.val[0];
    if (!(Number.isFinite(f) && f > 0 && f <= 1)) throw badSpec(`crop_fraction must be in (0, 1], not ${f}`);
  } else if (mode.tag === 'letterbox') {
    if (mode.val.length !== 1 && mode.val.length !== channels) throw badSpec(`pad needs 1 or ${channels} values, got ${mode.val.length}`);
  }
}

/// HWC 8-bit canvas -> tensor bytes: (v * scale - mean[c]) / std[c] in f32 (as the Rust plugin),
/// through a 256-entry table per channel, in the spec's layout and channel order.
function normalise(canvas, spec) {
  const { width: w, height: h, channels: c } = spec;
  const ty = spec.inputType;
  const size = ELEM_SIZE[ty];
  const out = new Uint8Array(w * h * c * size);
  const view = new DataView(out.buffer);
  const per = (v, ch) => (v.length === 1 ? v[0] : v[ch]);
  const srcCh = (ch) => (c === 3 && spec.channelOrder === 'bgr' ? 2 - ch : ch);
  const tables = [];
  for (let ch = 0; ch < c; ch++) {
    const t = new Float64Array(256);
    const mean = Math.fround(per(spec.mean, ch));
    const std = Math.fround(per(spec.std, ch));
    const scale = Math.fround(spec.scale);
    for (let v = 0; v < 256; v++) t[v] = ty === 'U8' ? v : Math.fround(Math.fround(Math.fround(v * scale) - mean) / std);
    tables.push(t);
  }
  const n = w * h;
  const put = (i, f) => {
    if (ty === 'FP32') view.setFloat32(i * 4, f, true);
    else if (ty === 'FP64') view.setFloat64(i * 8, f, true);
    else if (ty === 'FP16') view.setUint16(i * 2, toHalf(f), true);
    else out[i] = f;
  };
  for (let ch = 0; ch < c; ch++) {
    const t = tables[ch];
    const sc = srcCh(ch);
    if (spec.layout === 'nchw') {
      const base = ch * n;
      if (ty === 'FP32') {
        const f32 = new Float32Array(n);
        for (let i = 0; i < n; i++) f32[i] = t[canvas[i * c + sc]];
        out.set(new Uint8Array(f32.buffer), base * 4);
      } else {
        for (let i = 0; i < n; i++) put(base + i, t[canvas[i * c + sc]]);
      }
    } else {
      for (let i = 0; i < n; i++) put(i * c + ch, t[canvas[i * c + sc]]);
    }
  }
  return out;
}

function dims(spec) {
  return spec.layout === 'nchw' ? [1, spec.channels, spec.height, spec.width] : [1, spec.height, spec.width, spec.channels];
}

/// Decode and preprocess: the tensor-value `classify` feeds the model.
function toTensor(spec, image) {
  validate(spec);
  const img = decodePng(image);
  const src = pixels(img, spec.channels);
  const canvas = resize(src, img.width, img.height, spec.channels, spec.width, spec.height, spec);
  return { dimensions: new Uint32Array(dims(spec)), ty: spec.inputType, data: normalise(canvas, spec) };
}

// ---------------------------------------------------------------------------------------------
// Inference

/// The graph and context of the last model used, kept while the instance lives.
let loaded = null;

function compute(spec, input) {
  if (loaded === null || loaded.name !== spec.name) {
    loaded = null;
    let graph;
    try {
      graph = loadByName(spec.name);
    } catch (e) {
      throw nnError('load-by-name', e);
    }
    let ctx;
    try {
      ctx = graph.initExecutionContext();
    } catch (e) {
      throw nnError('init-execution-context', e);
    }
    loaded = { name: spec.name, graph, ctx };
  }
  const tensor = new Tensor(input.dimensions, input.ty, input.data);
  try {
    return loaded.ctx.compute([[spec.inputName, tensor]]);
  } catch (e) {
    throw nnError('compute', e);
  }
}

function toFloats(ty, data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const size = ELEM_SIZE[ty];
  if (size === undefined) throw badOutput(`output type ${ty} cannot hold class scores`);
  if (data.length % size !== 0) throw badOutput(`output of ${data.length} bytes is not a whole number of ${ty} values`);
  const n = data.length / size;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (ty === 'FP32') out[i] = view.getFloat32(i * 4, true);
    else if (ty === 'FP64') out[i] = view.getFloat64(i * 8, true);
    else if (ty === 'FP16') out[i] = fromHalf(view.getUint16(i * 2, true));
    else out[i] = data[i];
  }
  return out;
}

function scores(spec, outputs) {
  let out;
  const want = spec.outputName;
  if (want !== undefined && want !== null) {
    const hit = outputs.find(([n]) => n === want);
    if (hit === undefined) throw badOutput(`no output named \`${want}\` (outputs: ${outputs.map(([n]) => n).join(', ')})`);
    out = hit[1];
  } else {
    if (outputs.length === 0) throw badOutput('the model returned no outputs');
    out = outputs[0][1];
  }
  const values = toFloats(out.ty(), out.data());
  if (values.length !== spec.labels.length) {
    throw badOutput(`the output has ${values.length} values but the model has ${spec.labels.length} labels`);
  }
  if (spec.outputKind === 'probabilities') return values;
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  let sum = 0;
  const exps = values.map((v) => {
    const e = Math.exp(v - max);
    sum += e;
    return e;
  });
  return exps.map((e) => e / sum);
}

/// Indices of the k largest scores, best first; ties keep the lower index first; NaN last.
function topK(probs, k) {
  const idx = Array.from(probs.keys());
  idx.sort((a, b) => {
    const x = probs[a];
    const y = probs[b];
    const xn = Number.isNaN(x);
    const yn = Number.isNaN(y);
    if (xn || yn) return xn && yn ? a - b : xn ? 1 : -1;
    return y - x || a - b;
  });
  return idx.slice(0, k);
}

// ---------------------------------------------------------------------------------------------
// The classifier world's exports

export function classify(spec, image, topKCount) {
  return guarded(() => {
    const probs = scores(spec, compute(spec, toTensor(spec, image)));
    return topK(probs, topKCount).map((i) => ({ label: spec.labels[i], index: i, score: probs[i] }));
  });
}

export function preprocess(spec, image) {
  return guarded(() => toTensor(spec, image));
}

export function infer(spec, image) {
  return guarded(() =>
    compute(spec, toTensor(spec, image)).map(([name, t]) => ({
      name,
      tensor: { dimensions: t.dimensions(), ty: t.ty(), data: t.data() },
    })),
  );
}
