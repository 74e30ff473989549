//! Synthetic long-range texts generated from a seed: same seed, same text,
//! on every machine (ChaCha8 has a fixed, portable output stream).
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// XML-nesting text after Jozefowicz, Zaremba & Sutskever (2015): tag names
/// of 2–10 random lowercase letters; at each step close the most recent open
/// tag with probability 1/2 (always at `max_depth`), otherwise open a new one.
/// Predicting a closing tag's name requires remembering the matching opener.
pub fn xml(chars: usize, seed: u64, max_depth: usize) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = String::with_capacity(chars + 16);
    let mut open: Vec<String> = Vec::new();
    while out.len() < chars {
        let close = !open.is_empty() && (open.len() >= max_depth || rng.gen_bool(0.5));
        if close {
            let name = open.pop().expect("non-empty");
            out.push_str("</");
            out.push_str(&name);
            out.push('>');
        } else {
            let len = rng.gen_range(2..=10);
            let name: String = (0..len).map(|_| rng.gen_range(b'a'..=b'z') as char).collect();
            out.push('<');
            out.push_str(&name);
            out.push('>');
            open.push(name);
        }
    }
    out.truncate(chars);
    out
}

/// Memorization lines: `length` random symbols from the first `symbols`
/// lowercase letters, `=`, the same symbols again, and a newline.
pub fn copy(chars: usize, seed: u64, length: usize, symbols: usize) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = String::with_capacity(chars + 2 * length + 2);
    while out.len() < chars {
        let word: String = (0..length).map(|_| (b'a' + rng.gen_range(0..symbols as u8)) as char).collect();
        out.push_str(&word);
        out.push('=');
        out.push_str(&word);
        out.push('\n');
    }
    out.truncate(chars);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_well_nested_and_seeded() {
        let text = xml(5000, 7, 4);
        assert_eq!(text.len(), 5000);
        assert_eq!(text, xml(5000, 7, 4));
        assert_ne!(text, xml(5000, 8, 4));
        // Replay the tags: every closer matches the most recent opener, depth <= 4.
        let mut stack = Vec::new();
        for tag in text.split_inclusive('>').filter(|t| t.ends_with('>')) {
            if let Some(name) = tag.strip_prefix("</") {
                assert_eq!(stack.pop(), Some(name.trim_end_matches('>').to_string()));
            } else {
                let name = tag.trim_start_matches('<').trim_end_matches('>');
                assert!((2..=10).contains(&name.len()), "{name}");
                stack.push(name.to_string());
                assert!(stack.len() <= 4);
            }
        }
    }

    #[test]
    fn copy_lines_repeat_their_key() {
        let text = copy(1000, 1, 5, 3);
        for line in text.lines().take_while(|l| l.len() == 11) {
            let (a, b) = line.split_once('=').unwrap();
            assert_eq!(a, b);
            assert!(a.chars().all(|c| ('a'..='c').contains(&c)));
        }
    }
}
