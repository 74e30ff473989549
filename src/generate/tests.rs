use super::*;

/// A hand-built bigram model over "abc": the next character's probability
/// depends only on the last one (`start` row when nothing was read yet).
/// It sets a greedy trap: 'a' is the likelier first character, but after
/// it nothing is likely, while 'b' is followed by 'b' with probability 0.9.
struct Table {
    vocab: Vocab,
    start: [f32; 3],
    next: [[f32; 3]; 3],
}

fn table() -> Table {
    Table {
        vocab: Vocab::from_text("abc"),
        start: [0.6, 0.4, 0.0],
        next: [[0.34, 0.33, 0.33], [0.05, 0.9, 0.05], [0.2, 0.2, 0.6]],
    }
}

impl LanguageModel for Table {
    type State = Option<i64>;
    fn vocab(&self) -> &Vocab {
        &self.vocab
    }
    fn start(&self, prime: &[i64]) -> Result<Option<i64>> {
        Ok(prime.last().copied())
    }
    fn log_probs(&self, s: &Option<i64>) -> Result<Vec<f32>> {
        let row = match s {
            None => self.start,
            Some(t) => self.next[*t as usize],
        };
        Ok(row.iter().map(|p| p.ln()).collect())
    }
    fn advance(&self, _: &Option<i64>, token: i64) -> Result<Option<i64>> {
        Ok(Some(token))
    }
}

/// Every sequence of up to `length` tokens that either has that length or
/// ends at its first `stop`, scored as beam search scores them.
fn brute_force(m: &Table, length: usize, stop: Option<i64>, alpha: f64) -> Hypothesis {
    let mut best: Option<Hypothesis> = None;
    let mut frontier: Vec<(Vec<i64>, f64, Option<i64>)> = vec![(vec![], 0.0, None)];
    for _ in 0..length {
        let mut next = Vec::new();
        for (tokens, lp, state) in frontier {
            let logp = m.log_probs(&state).unwrap();
            for t in 0..3i64 {
                let mut tokens = tokens.clone();
                tokens.push(t);
                let lp = lp + logp[t as usize] as f64;
                if stop == Some(t) || tokens.len() == length {
                    let h = Hypothesis { score: normalised(lp, tokens.len(), alpha), tokens, log_prob: lp };
                    if best.as_ref().is_none_or(|b| h.score > b.score) {
                        best = Some(h);
                    }
                } else {
                    next.push((tokens, lp, Some(t)));
                }
            }
        }
        frontier = next;
    }
    best.unwrap()
}

#[test]
fn a_wide_beam_finds_the_brute_force_optimum() {
    let m = table();
    for (length, stop, alpha) in [(4, None, 0.0), (5, Some(2), 0.0), (5, Some(2), 1.0), (4, Some(0), 0.6)] {
        let exact = brute_force(&m, length, stop, alpha);
        // 3^length hypotheses at most: the beam keeps all of them.
        let beam = beam_search(&m, &[], 3usize.pow(length as u32), length, stop, alpha).unwrap();
        assert_eq!(beam.tokens, exact.tokens, "length {length} stop {stop:?} alpha {alpha}");
        assert!((beam.score - exact.score).abs() < 1e-9);
    }
}

#[test]
fn beam_width_one_is_greedy_and_two_escapes_the_trap() {
    let m = table();
    let opts = SampleOptions { length: 4, temperature: 1.0, top_k: None, greedy: true, seed: 0, stop: None };
    let greedy = sample(&m, "", &opts, &mut |_| Ok(())).unwrap();
    assert_eq!(greedy, "aaaa");
    let one = beam_search(&m, &[], 1, 4, None, 0.0).unwrap();
    let text: String = one.tokens.iter().map(|&t| m.vocab.char(t).unwrap()).collect();
    assert_eq!(text, greedy);
    // 0.4 · 0.9³ ≈ 0.29 beats 0.6 · 0.34³ ≈ 0.024.
    let two = beam_search(&m, &[], 2, 4, None, 0.0).unwrap();
    assert_eq!(two.tokens, vec![1, 1, 1, 1]);
    assert!(two.log_prob > one.log_prob);
}

#[test]
fn sampling_is_seeded_and_top_k_one_is_greedy() {
    let m = table();
    let mut opts = SampleOptions { length: 40, temperature: 1.0, top_k: None, greedy: false, seed: 5, stop: None };
    let run = |o: &SampleOptions| sample(&m, "b", o, &mut |_| Ok(())).unwrap();
    let a = run(&opts);
    assert_eq!(a, run(&opts));
    assert_eq!(a.chars().count(), 40);
    assert!(a.contains('a') && a.contains('c'), "{a}");
    opts.seed = 6;
    assert_ne!(a, run(&opts));
    opts.top_k = Some(1);
    assert_eq!(run(&opts), "b".repeat(40));
    // A cold temperature concentrates on the likeliest character.
    opts.top_k = None;
    opts.temperature = 0.01;
    assert_eq!(run(&opts), "b".repeat(40));
    opts.stop = Some('b');
    assert_eq!(run(&opts), "b");
}

#[test]
fn unknown_prime_characters_are_named() {
    let m = table();
    let opts = SampleOptions { length: 3, temperature: 1.0, top_k: None, greedy: false, seed: 0, stop: None };
    let err = sample(&m, "abж", &opts, &mut |_| Ok(())).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("'ж'") && msg.contains("U+0436"), "{msg}");
    let bad = SampleOptions { temperature: 0.0, ..opts };
    assert!(sample(&m, "a", &bad, &mut |_| Ok(())).is_err());
}

#[test]
fn an_ngram_generates_cyrillic_text() {
    let text = "мама мыла раму. ".repeat(20);
    let vocab = Vocab::from_text(&text);
    let ids: Vec<u32> = vocab.encode(&text).unwrap().iter().map(|&i| i as u32).collect();
    let model = crate::ngram::Ngram::fit(&ids, vocab.len(), 4, crate::ngram::Smoothing::KneserNey(None)).unwrap();
    let lm = ngram::NgramLm { model, vocab };
    let opts = SampleOptions { length: 12, temperature: 1.0, top_k: None, greedy: true, seed: 0, stop: None };
    assert_eq!(sample(&lm, "мама ", &opts, &mut |_| Ok(())).unwrap(), "мыла раму. м");
    let prime = encode_prime(&lm.vocab, "мама ").unwrap();
    let beam = beam_search(&lm, &prime, 1, 12, None, 0.0).unwrap();
    let text: String = beam.tokens.iter().map(|&t| lm.vocab.char(t).unwrap()).collect();
    assert_eq!(text, "мыла раму. м");
}
