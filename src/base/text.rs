//! Text from outside nnhost (an engine's error, a plugin's message or label, a tensor or file
//! name) made safe to print or to use as a name. One function per job:
//!
//! | function | for | does |
//! | --- | --- | --- |
//! | [`one_line`] | an engine's message | joins a message that spans lines into one line |
//! | [`capped`] | any message | cuts it at a number of characters, marked `...` |
//! | [`printable`] | a plugin's label or name | replaces characters that could forge or hide output with `?` |
//! | [`printable_line`] | a plugin's message | [`printable`], on one line, cut at [`MAX_MESSAGE`] |
//! | [`file_stem`] | a tensor name as a file name | keeps `[A-Za-z0-9._-]`, never hidden or `..` |
//! | [`registry_name`] | a file name as a model name | keeps `[A-Za-z0-9_-]`, at most 64 |

/// Most characters of a plugin-supplied message that nnhost prints.
pub const MAX_MESSAGE: usize = 500;

/// Characters a plugin could use to forge or hide what nnhost prints: control characters
/// (terminal escapes, newlines), the Unicode bidirectional overrides and isolates, and U+FFFD.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{fffd}')
}

/// A message that spans lines (ONNX Runtime's stack of causes, OpenVINO's source locations) on
/// one line: runs of whitespace become one space. A one-line message is returned as it is.
pub fn one_line(msg: &str) -> String {
    if !msg.contains(['\n', '\r']) {
        return msg.to_string();
    }
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `m` cut to `max` characters, marked with `...` where it was cut.
pub fn capped(m: impl Into<String>, max: usize) -> String {
    let mut m = m.into();
    if let Some((i, _)) = m.char_indices().nth(max) {
        m.truncate(i);
        m.push_str("...");
    }
    m.shrink_to_fit();
    m
}

/// A label or name made safe to print and to use in files: unsafe characters ([`is_unsafe`])
/// become `?`.
pub fn printable(s: &str) -> String {
    s.chars().map(|c| if is_unsafe(c) { '?' } else { c }).collect()
}

/// A plugin's message made safe to print on one line: newlines and tabs become spaces, other
/// unsafe characters ([`is_unsafe`]) `?`, and it is cut at [`MAX_MESSAGE`] characters.
pub fn printable_line(m: &str) -> String {
    let mut out = String::with_capacity(m.len().min(MAX_MESSAGE + 3));
    for (i, c) in m.chars().enumerate() {
        if i == MAX_MESSAGE {
            out.push_str("...");
            break;
        }
        out.push(match c {
            '\n' | '\r' | '\t' => ' ',
            c if is_unsafe(c) => '?',
            c => c,
        });
    }
    out
}

/// `s` with every character but ASCII letters, digits, `_`, `-` (and `.` when `dots`) replaced by
/// `_`, a leading `.` too, cut to `max` characters; `fallback` when that leaves nothing.
fn ascii_name(s: &str, dots: bool, max: usize, fallback: &str) -> String {
    let keep = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-') || (dots && c == '.');
    let mut n: String = s.chars().map(|c| if keep(c) { c } else { '_' }).take(max).collect();
    while n.starts_with('.') {
        n.replace_range(..1, "_");
    }
    if n.is_empty() {
        n.push_str(fallback);
    }
    n
}

/// A file-system-safe file stem for a tensor name: `[A-Za-z0-9._-]` kept, the rest `_`; at most
/// 120 characters; never empty (`output`), hidden or `..`.
pub fn file_stem(name: &str) -> String {
    ascii_name(name, true, 120, "output")
}

/// A valid registry (model) name made from any string: `[A-Za-z0-9_-]` kept, the rest `_`; at
/// most 64 characters; never empty (`model`).
pub fn registry_name(s: &str) -> String {
    ascii_name(s, false, 64, "model")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_messages_go_on_one_line() {
        assert_eq!(one_line("plain  message"), "plain  message");
        assert_eq!(one_line("first\n  at line 3\r\nsecond"), "first at line 3 second");
    }

    #[test]
    fn messages_are_capped_on_a_character_boundary() {
        assert_eq!(capped("abcdef", 3), "abc...");
        assert_eq!(capped("abc", 3), "abc");
        assert_eq!(capped("ééé", 2), "éé...");
        assert_eq!(capped(String::new(), 0), "");
    }

    #[test]
    fn plugin_text_cannot_forge_output() {
        assert_eq!(printable("cat\u{1b}[2J\u{202e}dog\n"), "cat?[2J?dog?");
        assert_eq!(printable_line("a\nb\tc\u{1b}d\u{fffd}"), "a b c?d?");
        let long = "x".repeat(MAX_MESSAGE + 10);
        assert_eq!(printable_line(&long), format!("{}...", "x".repeat(MAX_MESSAGE)));
        assert_eq!(printable_line(&"y".repeat(MAX_MESSAGE)), "y".repeat(MAX_MESSAGE));
    }

    #[test]
    fn file_stems() {
        assert_eq!(file_stem("logits"), "logits");
        assert_eq!(file_stem("../etc/passwd"), "_._etc_passwd");
        assert_eq!(file_stem("a/b:c"), "a_b_c");
        assert_eq!(file_stem(""), "output");
        assert_eq!(file_stem(".."), "_.");
        assert_eq!(file_stem(&"ü".repeat(200)).len(), 120);
    }

    #[test]
    fn registry_names() {
        assert_eq!(registry_name("mobilenet-v2_1"), "mobilenet-v2_1");
        assert_eq!(registry_name("a.b c"), "a_b_c");
        assert_eq!(registry_name(""), "model");
        assert_eq!(registry_name(&"m".repeat(100)).len(), 64);
    }
}
