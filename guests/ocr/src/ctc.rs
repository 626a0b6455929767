//! The recogniser's character set and greedy CTC decoding, as rapidocr's `CTCLabelDecode`.

/// The class list: the CTC blank at index 0, the dictionary's characters, and a space at the end
/// (rapidocr appends " " after the file's characters, then inserts "blank" first).
#[derive(Clone, Debug)]
pub struct Charset {
    chars: Vec<String>,
}

impl Charset {
    /// From the dictionary's text: one character (string) per line, `\n` or `\r\n`; a final line
    /// break ends the last line rather than adding an empty one. None when it has no lines.
    pub fn parse(text: &str) -> Option<Self> {
        let body = text.strip_suffix('\n').unwrap_or(text);
        if body.is_empty() {
            return None;
        }
        let mut chars = vec![String::new()];
        chars.extend(body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()));
        chars.push(" ".to_string());
        Some(Charset { chars })
    }

    /// Number of classes the recogniser must output: dictionary + blank + space.
    pub fn classes(&self) -> usize {
        self.chars.len()
    }
}

/// Greedy CTC over one line's `[T, C]` probabilities, read from `probs` (T * C values, by a
/// function so the caller can decode straight from the output bytes): the argmax per column (the
/// first on ties), repeats merged, blanks dropped. The score is the mean probability of the kept
/// columns (0 when none is kept).
pub fn decode(charset: &Charset, steps: usize, classes: usize, prob: impl Fn(usize) -> f32) -> (String, f64) {
    let mut text = String::new();
    let (mut sum, mut kept) = (0f64, 0usize);
    let mut prev = usize::MAX;
    for t in 0..steps {
        let (mut best, mut best_p) = (0usize, f32::NEG_INFINITY);
        for c in 0..classes {
            let p = prob(t * classes + c);
            if p > best_p {
                best = c;
                best_p = p;
            }
        }
        if best != 0 && best != prev {
            if let Some(ch) = charset.chars.get(best) {
                text.push_str(ch);
            }
            sum += best_p as f64;
            kept += 1;
        }
        prev = best;
    }
    (text, if kept == 0 { 0.0 } else { sum / kept as f64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_adds_blank_and_space() {
        let cs = Charset::parse("a\nb\r\nc\n").unwrap();
        assert_eq!(cs.chars, vec!["", "a", "b", "c", " "]);
        assert_eq!(cs.classes(), 5);
        assert!(Charset::parse("").is_none());
        assert!(Charset::parse("\n").is_none());
    }

    #[test]
    fn greedy_decoding_merges_repeats_and_drops_blanks() {
        let cs = Charset::parse("a\nb").unwrap(); // classes: blank a b space
                                                  // columns: a a blank a b space blank
        let cols = [1, 1, 0, 1, 2, 3, 0];
        let probs: Vec<f32> = cols.iter().flat_map(|&k| (0..4).map(move |c| if c == k { 0.8 } else { 0.05 })).collect();
        let (text, score) = decode(&cs, cols.len(), 4, |i| probs[i]);
        assert_eq!(text, "aab ");
        assert!((score - 0.8f32 as f64).abs() < 1e-9);
        let blank: Vec<f32> = (0..8).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        assert_eq!(decode(&cs, 2, 4, |i| blank[i]), (String::new(), 0.0));
    }
}
