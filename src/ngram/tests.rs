use super::*;

/// a = 0, b = 1, c = 2.
fn ids(text: &str) -> Vec<u32> {
    text.bytes().map(|b| (b - b'a') as u32).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// Hand-computed interpolated Kneser–Ney on "aababc", bigrams, D = 0.5.
///
/// Bigram counts: aa 1, ab 2, ba 1, bc 1. Continuation counts of unigrams
/// (distinct left neighbours): a 2 (aa, ba), b 1 (ab), c 1 (bc); 4 in all,
/// 3 types. Unigram level, interpolated with uniform 1/3:
///   P(a) = (2 − .5 + .5·3·⅓)/4 = 0.5,  P(b) = P(c) = (1 − .5 + .5)/4 = 0.25.
/// After 'a' (aa 1, ab 2: total 3, 2 types):
///   P(a|a) = (1 − .5 + .5·2·0.5)/3 = 1/3,  P(b|a) = (2 − .5 + .5·2·.25)/3 = 1.75/3,
///   P(c|a) = (0 + .5·2·.25)/3 = 0.25/3.
/// After 'b' (ba 1, bc 1: total 2, 2 types):
///   P(a|b) = (.5 + .5·2·.5)/2 = 0.5,  P(b|b) = .25/2,  P(c|b) = (.5 + .25)/2.
/// After 'c' (never followed by anything): the unigram level.
#[test]
fn kneser_ney_matches_hand_computation() {
    let m = Ngram::fit(&ids("aababc"), 3, 2, Smoothing::KneserNey(Some(0.5))).unwrap();
    let expect = [
        ("a", [1.0 / 3.0, 1.75 / 3.0, 0.25 / 3.0]),
        ("b", [0.5, 0.125, 0.375]),
        ("c", [0.5, 0.25, 0.25]),
        ("", [0.5, 0.25, 0.25]),
    ];
    for (h, probs) in expect {
        for (t, p) in probs.into_iter().enumerate() {
            let got = m.prob(&ids(h), t as u32);
            assert!(close(got, p), "P({t}|{h}) = {got}, expected {p}");
        }
    }
    // Only the last token of a longer history matters for a bigram model.
    assert!(close(m.prob(&ids("cca"), 1), 1.75 / 3.0));
}

/// Estimated discounts, D = n₁/(n₁ + 2n₂): bigram counts {1, 2, 1, 1} give
/// 3/(3 + 2) = 0.6; unigram continuation counts {2, 1, 1} give 2/(2 + 2) = 0.5.
#[test]
fn discounts_are_estimated_per_order() {
    let m = Ngram::fit(&ids("aababc"), 3, 2, Smoothing::KneserNey(None)).unwrap();
    let d = m.discounts();
    assert!(close(d[0], 0.5) && close(d[1], 0.6), "{d:?}");
}

/// Add-k on "aababc": after 'a' (aa 1, ab 2), k = 1 over 3 symbols:
/// P(b|a) = (2 + 1)/(3 + 3) = 0.5, P(c|a) = 1/6; after 'c' (no counts) 1/3.
/// Unigrams with k = 0.5: P(a) = (3 + .5)/(6 + 1.5).
#[test]
fn add_k_matches_hand_computation() {
    let m = Ngram::fit(&ids("aababc"), 3, 2, Smoothing::AddK(1.0)).unwrap();
    assert!(close(m.prob(&ids("a"), 1), 0.5));
    assert!(close(m.prob(&ids("a"), 2), 1.0 / 6.0));
    assert!(close(m.prob(&ids("c"), 0), 1.0 / 3.0));
    let u = Ngram::fit(&ids("aababc"), 3, 1, Smoothing::AddK(0.5)).unwrap();
    assert!(close(u.prob(&ids("bc"), 0), 3.5 / 7.5));
}

#[test]
fn every_context_sums_to_one() {
    let text = crate::data::synthetic::xml(3000, 1, 5);
    let vocab = crate::data::Vocab::from_text(&text);
    let tokens: Vec<u32> = vocab.encode(&text).unwrap().into_iter().map(|i| i as u32).collect();
    for smoothing in
        [Smoothing::KneserNey(None), Smoothing::KneserNey(Some(0.9)), Smoothing::AddK(1.0), Smoothing::AddK(0.01)]
    {
        for order in [1, 3, 4] {
            let m = Ngram::fit(&tokens, vocab.len(), order, smoothing.clone()).unwrap();
            // Every history seen in the corpus, plus never-seen ones.
            let mut histories: Vec<Vec<u32>> =
                (0..tokens.len()).map(|i| tokens[i.saturating_sub(order - 1)..i].to_vec()).collect();
            histories.push(vec![0; order]);
            histories.push(vec![vocab.len() as u32 - 1; 2]);
            histories.sort();
            histories.dedup();
            for h in &histories {
                let dist = m.distribution(h);
                let sum: f64 = dist.iter().sum();
                for (t, p) in dist.iter().enumerate() {
                    assert!((p - m.prob(h, t as u32)).abs() < 1e-12);
                }
                assert!((sum - 1.0).abs() < 1e-9, "{smoothing:?} order {order}: history {h:?} sums to {sum}");
            }
        }
    }
}

#[test]
fn bad_input_is_refused() {
    assert!(Ngram::fit(&[0, 1], 2, 0, Smoothing::AddK(1.0)).is_err());
    assert!(Ngram::fit(&[0, 5], 2, 2, Smoothing::AddK(1.0)).is_err());
}
