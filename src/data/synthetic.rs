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

/// Jozefowicz et al.'s arithmetic task: lines `a±b=result` with numbers of
/// 1–`max_digits` digits, where each operand character is preceded by
/// random lowercase distractor letters (each further letter with
/// probability `distractor`), e.g. `3e36d9-h1h39f94eeh43keg3c=-13991064`.
/// Only the result is predictable.
pub fn arithmetic(chars: usize, seed: u64, max_digits: usize, distractor: f64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = String::with_capacity(chars + 64);
    let number = |rng: &mut ChaCha8Rng| -> i64 {
        let digits = rng.gen_range(1..=max_digits as u32);
        rng.gen_range(0..10i64.pow(digits))
    };
    while out.len() < chars {
        let (a, b) = (number(&mut rng), number(&mut rng));
        let minus = rng.gen_bool(0.5);
        let question = format!("{a}{}{b}", if minus { '-' } else { '+' });
        for c in question.chars() {
            while rng.gen_bool(distractor) {
                out.push(rng.gen_range(b'a'..=b'z') as char);
            }
            out.push(c);
        }
        let result = if minus { a - b } else { a + b };
        out.push('=');
        out.push_str(&result.to_string());
        out.push('\n');
    }
    out.truncate(chars);
    out
}

/// Marks the characters after each `=` up to and including the newline:
/// the predictable answer of a copy or arithmetic line.
pub fn after_equals(text: &str) -> Vec<bool> {
    let mut answering = false;
    text.chars()
        .map(|c| {
            let scored = answering;
            if c == '=' {
                answering = true;
            } else if c == '\n' {
                answering = false;
            }
            scored
        })
        .collect()
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
    fn arithmetic_lines_are_correct_sums() {
        let text = arithmetic(20_000, 3, 8, 0.4);
        assert_eq!(text, arithmetic(20_000, 3, 8, 0.4));
        let mut lines = 0;
        // Complete lines only: the text is cut at `chars`.
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')).map(str::trim_end) {
            let (question, answer) = line.split_once('=').unwrap();
            let digits: String = question.chars().filter(|c| !c.is_ascii_lowercase()).collect();
            let op = digits.find(['+', '-']).unwrap();
            let (a, b): (i64, i64) = (digits[..op].parse().unwrap(), digits[op + 1..].parse().unwrap());
            let want = if &digits[op..=op] == "+" { a + b } else { a - b };
            assert_eq!(answer.parse::<i64>().unwrap(), want, "{line}");
            lines += 1;
        }
        assert!(lines > 100);
        assert!(text.chars().any(|c| c.is_ascii_lowercase()), "distractors present");
    }

    #[test]
    fn answers_are_marked_after_equals() {
        let m = after_equals("ab=ab\nc=c\n");
        let marked: String = "ab=ab\nc=c\n".chars().zip(&m).filter(|(_, &k)| k).map(|(c, _)| c).collect();
        assert_eq!(marked, "ab\nc\n");
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
