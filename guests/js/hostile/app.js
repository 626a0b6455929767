// A hostile JavaScript plugin for tests/languages_js.rs: the `classifier` world, where the
// "image" is a command naming what to try. Each probe reports what it got as a `bad-image`
// error, so the test reads the outcome from nnhost's one-line error for that image.
//
//   fetch    call fetch (HTTP is not in the component: built with `-d http fetch-event`)
//   globals  which network, file and environment globals exist (XMLHttpRequest, process, ...)
//   env      read process.env
//   files    read /etc/passwd through require('fs')
//   clock    Date.now() and performance.now() (nnhost freezes the clocks unless --allow-clocks)
//   grow     allocate 1 MiB buffers without end, keeping every one
//   loop     spin forever

function attempt(f) {
  try {
    const v = f();
    if (v && typeof v.then === 'function') return 'a promise that cannot settle inside the call';
    return String(v);
  } catch (e) {
    return `threw ${e && e.name ? e.name : typeof e}`;
  }
}

const g = globalThis;

/// Each probe returns a short report of what it got.
const PROBES = {
  fetch: () => (typeof g.fetch === 'function' ? `fetch returned ${attempt(() => g.fetch('http://example.com/'))}` : 'fetch absent'),
  globals: () =>
    ['XMLHttpRequest', 'WebSocket', 'process', 'Deno', 'require', 'Bun']
      .map((name) => `${name} ${typeof g[name] === 'undefined' ? 'absent' : 'present'}`)
      .join(', '),
  env: () => `env ${attempt(() => Object.keys(g.process.env).length)}`,
  files: () => `files ${attempt(() => g.require('fs').readFileSync('/etc/passwd').length)}`,
  clock: () => `Date.now ${attempt(() => Date.now())}, performance.now ${attempt(() => g.performance.now())}`,
};

function grow() {
  const kept = [];
  for (;;) {
    const b = new Uint8Array(1 << 20);
    b[0] = kept.length & 255;
    b[b.length - 1] = 1;
    kept.push(b);
  }
}

export function classify(spec, image, topK) {
  const cmd = String.fromCharCode(...image.subarray(0, 16)).trim();
  let report;
  try {
    if (cmd in PROBES) report = PROBES[cmd]();
    else if (cmd === 'grow') report = `grow returned ${grow()}`;
    else if (cmd === 'loop') for (;;);
    else report = `unknown attack (${image.length} bytes)`;
  } catch (e) {
    report = `${cmd}: caught ${e && e.name ? e.name : typeof e}: ${e && e.message ? e.message : e}`;
  }
  throw { tag: 'bad-image', val: report };
}

export function preprocess(spec, image) {
  throw { tag: 'bad-image', val: 'not implemented' };
}

export function infer(spec, image) {
  throw { tag: 'bad-image', val: 'not implemented' };
}
