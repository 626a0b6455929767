//! The layering of `src/`: every import runs down the layer list in `src/lib.rs` (its `# Layers`
//! section, the one place the order is written), never up and never sideways within a layer, so
//! no import closes a cycle.
//!
//! The check reads the source, not the compiler's view: it finds every `crate::` and `super::`
//! path (`use` lines, `crate::{a, b}` groups, paths in expressions and macros) outside comments
//! and string literals, resolves it to the top-level module it names, and compares layers. An
//! item of `lib.rs` itself (`crate::error_chain`) is in the layer the list names `lib.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::root;

/// The layers of `src/lib.rs`, top (0) to bottom: each top-level module's layer.
struct Layers {
    of: BTreeMap<String, usize>,
    names: Vec<String>,
}

/// The name the layer list gives the items of `lib.rs` itself.
const LIB: &str = "lib.rs";

impl Layers {
    /// The layer of top-level module `name`; a name that is no module is an item of `lib.rs`.
    fn layer(&self, name: &str) -> usize {
        self.of.get(name).or_else(|| self.of.get(LIB)).copied().expect("the layer list places `lib.rs`")
    }
}

/// Parse the `# Layers` list of `lib.rs`: lines `//! N. `a`, `b`: what they are`.
fn layers(lib: &str) -> Layers {
    let mut of = BTreeMap::new();
    let mut names = Vec::new();
    let section = lib.lines().skip_while(|l| l.trim() != "//! # Layers").take_while(|l| l.starts_with("//!"));
    for line in section {
        let text = line.trim_start_matches("//!").trim();
        let Some((number, rest)) = text.split_once(". ") else { continue };
        let Ok(n) = number.parse::<usize>() else { continue };
        assert_eq!(n, names.len() + 1, "lib.rs: layers are numbered 1, 2, ... in order: {line}");
        let modules = rest.split(':').next().unwrap_or_default();
        let ms: Vec<String> = modules.split(',').map(|m| m.trim().trim_matches('`').to_string()).filter(|m| !m.is_empty()).collect();
        assert!(!ms.is_empty(), "lib.rs: layer {n} names no module: {line}");
        for m in &ms {
            assert!(of.insert(m.clone(), n - 1).is_none(), "lib.rs: module `{m}` is in two layers");
        }
        names.push(ms.join(" | "));
    }
    assert!(names.len() >= 2, "lib.rs has no `# Layers` list");
    Layers { of, names }
}

/// The top-level modules `lib.rs` declares.
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

/// `src` with comments and the contents of string and char literals blanked (newlines kept, so
/// line numbers stay right).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r' && (next == Some('"') || (next == Some('#') && !c[i.saturating_sub(1)].is_alphanumeric())) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            while j < c.len() && !c[j..].starts_with(&close) {
                blank(&mut out, c[j]);
                j += 1;
            }
            i = j + close.len();
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if let Some(&ch) = c.get(i) {
                    blank(&mut out, ch);
                }
                i += 1;
            }
            i += 1;
        } else if c[i] == '\'' && (next == Some('\\') || c.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\u{..}'); a lifetime ('a) is left alone.
            i += 1;
            while i < c.len() && c[i] != '\'' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn ident_at(c: &[char], mut i: usize) -> (String, usize) {
    while c.get(i).is_some_and(|ch| ch.is_whitespace()) {
        i += 1;
    }
    let start = i;
    while c.get(i).is_some_and(|ch| ch.is_alphanumeric() || *ch == '_') {
        i += 1;
    }
    (c[start..i].iter().collect(), i)
}

/// `::` after whitespace at `i`: the index after it.
fn colons_at(c: &[char], mut i: usize) -> Option<usize> {
    while c.get(i).is_some_and(|ch| ch.is_whitespace()) {
        i += 1;
    }
    (c.get(i) == Some(&':') && c.get(i + 1) == Some(&':')).then_some(i + 2)
}

/// The first segment of each path in a `{ a, b::c, d::{e} }` group starting at `c[i] == '{'`.
fn group_heads(c: &[char], i: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect = true;
    let mut j = i;
    while j < c.len() {
        match c[j] {
            '{' => {
                depth += 1;
                expect = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expect = true,
            ch if expect && depth == 1 && (ch.is_alphanumeric() || ch == '_') => {
                let (id, end) = ident_at(c, j);
                heads.push(id);
                expect = false;
                j = end;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    heads
}

/// One import found in a file: the top-level module (or `lib.rs` item) it names, and its line.
struct Import {
    target: String,
    line: usize,
}

/// The crate-root names that `code` (the file of module `path`, e.g. `["runtime", "nn"]`) reaches
/// with `crate::` or with enough `super::` to leave its top-level module.
fn imports(code: &str, path: &[String]) -> Vec<Import> {
    let c: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    // Inline modules (`mod tests { ... }`) open at brace depths; a `super::` inside one starts deeper.
    let mut depth = 0usize;
    let mut inline: Vec<usize> = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let word_start = |i: usize| i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_' || c[i - 1] == '$');
    while i < c.len() {
        match c[i] {
            '\n' => line += 1,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if inline.last() == Some(&depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        if !word_start(i) || !(c[i].is_alphabetic()) {
            i += 1;
            continue;
        }
        let (word, end) = ident_at(&c, i);
        if word == "mod" {
            let (_, after) = ident_at(&c, end);
            let mut k = after;
            while c.get(k).is_some_and(|ch| ch.is_whitespace()) {
                k += 1;
            }
            if c.get(k) == Some(&'{') {
                inline.push(depth);
            }
        } else if word == "crate" || word == "super" {
            let mut supers = 0;
            let mut at = i;
            let mut next = None;
            let mut w = word.clone();
            let mut e = end;
            while let Some(after) = colons_at(&c, e) {
                if w == "super" {
                    supers += 1;
                }
                at = after;
                let (nw, ne) = ident_at(&c, after);
                if nw == "super" && w == "super" {
                    w = nw;
                    e = ne;
                    continue;
                }
                next = Some((nw, ne));
                break;
            }
            let Some((name, _)) = next else {
                i = end;
                continue;
            };
            let module_depth = path.len() + inline.len();
            let at_root = word == "crate" || supers == module_depth;
            if at_root {
                let heads = if name.is_empty() {
                    let mut k = at;
                    while c.get(k).is_some_and(|ch| ch.is_whitespace()) {
                        k += 1;
                    }
                    if c.get(k) == Some(&'{') {
                        group_heads(&c, k)
                    } else {
                        Vec::new()
                    }
                } else {
                    vec![name]
                };
                found.extend(heads.into_iter().filter(|h| h != "self").map(|target| Import { target, line }));
            }
        }
        i = end.max(i + 1);
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under `src/` (`lib.rs`: empty; `a/mod.rs`: `a`; `a/b.rs`: `a::b`).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Every import in `src/` that runs up the layers or sideways within one, as messages.
fn violations(src: &Path, layers: &Layers) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        if rel == Path::new("main.rs") {
            continue; // the binary: it uses the library as `nnhost::`, from above every layer
        }
        let path = module_path(rel);
        let top = path.first().cloned().unwrap_or_else(|| LIB.to_string());
        let from = layers.layer(&top);
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        for Import { target, line } in imports(&code, &path) {
            if target == top {
                continue;
            }
            let to = layers.layer(&target);
            if to <= from {
                let how = if to < from { "up a layer" } else { "sideways within its layer (a cycle waits there)" };
                bad.push(format!(
                    "src/{}:{line}: `{}` (layer {}: {}) imports `{target}` (layer {}: {}): {how}",
                    rel.display(),
                    top,
                    from + 1,
                    layers.names[from],
                    to + 1,
                    layers.names[to],
                ));
            }
        }
    }
    bad
}

#[test]
fn every_import_in_src_runs_down_the_layers() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let layers = layers(&lib);
    let declared = declared_modules(&lib);
    for m in &declared {
        assert!(layers.of.contains_key(m), "src/lib.rs: module `{m}` is in no layer of the `# Layers` list: place it there");
    }
    assert!(layers.of.contains_key(LIB), "src/lib.rs: the `# Layers` list does not place the items of `lib.rs`");
    for m in layers.of.keys().filter(|m| *m != LIB) {
        assert!(declared.contains(m), "src/lib.rs: the `# Layers` list names `{m}`, which lib.rs does not declare");
    }
    let bad = violations(&root().join("src"), &layers);
    assert!(bad.is_empty(), "imports against the layer order of src/lib.rs:\n{}", bad.join("\n"));
}

/// The checker itself: groups, `super::` out of a top-level module and out of inline modules,
/// comments and strings.
#[test]
fn the_layer_check_sees_groups_supers_and_not_comments() {
    let path = |p: &str| p.split("::").map(str::to_string).collect::<Vec<_>>();
    let targets = |code: &str, p: &[String]| imports(&code_only(code), p).into_iter().map(|i| i.target).collect::<Vec<_>>();
    assert_eq!(targets("use crate::{a, b::{c, d}, self};\nuse crate::e::f;", &path("x")), ["a", "b", "e"]);
    // In src/x.rs, `super::` is the crate root; in an inline module of it, it is `x`.
    assert_eq!(targets("use super::y;\nmod tests { use super::*; fn f() { super::super::z(); } }", &path("x")), ["y", "z"]);
    // In src/x/w.rs, one `super::` stays in `x`.
    assert_eq!(targets("use super::w2; use super::super::q;", &path("x::w")), ["q"]);
    assert!(targets("// use crate::a;\n/* crate::b */ let s = \"crate::c\"; let c = '\"'; let r = r#\"crate::d\"#;", &path("x")).is_empty());
    assert_eq!(targets("fn f<'a>(x: &'a str) { crate::g::h(x) }", &path("x")), ["g"]);
}
