use super::*;
use crate::data::Vocab;

fn chars() -> Params {
    Params { tokens: Tokens::Chars, max_chars: None, split: None, min_count: None, max_vocab: None }
}

fn words(min_count: usize, max_vocab: Option<usize>) -> Params {
    let split = SplitFractions { train: 0.5, val: 0.25, test: 0.25 };
    Params { tokens: Tokens::Words, max_chars: None, split: Some(split), min_count: Some(min_count), max_vocab }
}

fn all(ids: &Ids) -> Vec<i64> {
    let mut out = Vec::new();
    ids.extend(0, ids.len(), &mut out);
    out
}

/// A text longer than two reads, with 1- to 4-byte characters; the first
/// read ends inside a 4-byte character.
fn mixed_text() -> String {
    let piece = "abc déf жжж 中文字 😀🎉\n";
    "a".repeat(CHUNK - 1) + "😀" + &piece.repeat(CHUNK / piece.len() * 2 + 7)
}

#[test]
fn streaming_characters_match_an_in_memory_encode() {
    // Fails if: for_each_piece drops or splits the bytes of a character
    // that straddles two reads (e.g. passes `valid_up_to` pieces without the carry).
    let text = mixed_text();
    let ids = encode_in_memory(&Input::Bytes(text.clone().into_bytes()), &chars()).unwrap();
    let vocab = Vocab::from_text(&text);
    assert_eq!(ids.meta.vocab, vocab.tokens());
    assert!(all(&ids) == vocab.encode(&text).unwrap());
    assert_eq!(ids.meta.chars as usize, text.chars().count());
    // A byte-order mark is not a character; max_chars cuts characters, not bytes.
    let bom = "\u{feff}abc déf жжж".to_string();
    let cut = Params { max_chars: Some(5), ..chars() };
    let head = encode_in_memory(&Input::Bytes(bom.into_bytes()), &cut).unwrap();
    assert_eq!(Vocab::new(Tokens::Chars, head.meta.vocab.clone()).unwrap().decode(&all(&head)), "abc d");
}

#[test]
fn invalid_utf8_names_the_offset() {
    let mut bytes = "ab".repeat(CHUNK).into_bytes();
    bytes[CHUNK + 3] = 0xff;
    let err = encode_in_memory(&Input::Bytes(bytes), &chars()).unwrap_err().to_string();
    assert!(err.contains(&format!("invalid byte at offset {}", CHUNK + 3)), "{err}");
    let err = encode_in_memory(&Input::Bytes(vec![b'a', 0xe2, 0x82]), &chars()).unwrap_err().to_string();
    assert!(err.contains("offset 1"), "{err}");
}

#[test]
fn the_cache_equals_a_fresh_encode_and_is_rebuilt_when_damaged() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, file) = (tmp.path().join("cache"), tmp.path().join("corpus.txt"));
    std::fs::write(&file, mixed_text()).unwrap();
    let input = Input::File(file.clone());
    for params in [chars(), words(2, None)] {
        let fresh = encode(&input, &params, std::io::Cursor::new(Vec::new())).unwrap().into_inner();
        let cached = load_in(Some(&dir), &input, &params).unwrap();
        assert!(cached.is_mapped());
        assert!(all(&cached) == all(&Ids::from_bytes(fresh.clone()).unwrap()));
        // (The damage below rewrites the file in place, which a mapped reader must not see.)
        drop(cached);
        let path = cache_path(&dir, &input, &params).unwrap();
        assert!(std::fs::read(&path).unwrap() == fresh, "{params:?}");
        // Fails if: Ids::open does not check sizes and checksum (the damaged
        // file would be mapped as it is).
        let mut edited = fresh.clone();
        edited[cache::HEADER + 10] ^= 1;
        std::fs::write(&path, &edited).unwrap();
        let reopened = load_in(Some(&dir), &input, &params).unwrap();
        assert!(std::fs::read(&path).unwrap() == fresh);
        assert!(all(&reopened) == all(&Ids::from_bytes(fresh.clone()).unwrap()));
        std::fs::write(&path, &fresh[..fresh.len() / 2]).unwrap();
        load_in(Some(&dir), &input, &params).unwrap();
        assert!(std::fs::read(&path).unwrap() == fresh);
    }
    // A changed file is another cache entry; another tokenization too.
    let before = cache_path(&dir, &input, &chars()).unwrap();
    assert_ne!(before, cache_path(&dir, &input, &words(2, None)).unwrap());
    std::fs::write(&file, mixed_text() + "!").unwrap();
    assert_ne!(before, cache_path(&dir, &input, &chars()).unwrap());
    // An unwritable cache falls back to memory.
    let blocked = tmp.path().join("blocked");
    std::fs::write(&blocked, "a file, not a directory").unwrap();
    assert!(!load_in(Some(&blocked.join("sub")), &input, &chars()).unwrap().is_mapped());
}

#[test]
fn words_round_trip_up_to_unknown_words() {
    // Fails if: the vocabulary ignores min_count (keeps words seen once).
    // Train (first half): "the cat sat. the cat ran. " — val and test follow.
    let text = "the cat sat. the cat ran. the dog sat. a cat sat.";
    let ids = encode_in_memory(&Input::Bytes(text.as_bytes().to_vec()), &words(2, None)).unwrap();
    let vocab = Vocab::new(Tokens::Words, ids.meta.vocab.clone()).unwrap();
    // Words seen twice in training are kept; single characters always.
    assert_eq!(vocab.tokens(), ["<unk>", " ", "cat", "the", "."]);
    // Out-of-vocabulary words (seen once in training, or never) read <unk>;
    // "sat" straddles the validation/test boundary and is cut there ("sa", "t").
    let back = vocab.decode(&all(&ids));
    assert_eq!(back, "the cat <unk>. the cat <unk>. the <unk> <unk><unk>. <unk> cat <unk>.");
    // The splits are cut at the same characters as a character corpus's.
    let (a, b) = split_points(text.chars().count(), SplitFractions { train: 0.5, val: 0.25, test: 0.25 });
    let s = &ids.meta.splits;
    assert_eq!([s[0].chars, s[1].chars, s[2].chars], [a as u64, (b - a) as u64, (text.chars().count() - b) as u64]);
    assert_eq!(s.iter().map(|s| s.tokens).sum::<u64>() as usize, ids.len());
    assert_eq!(s.iter().map(|s| s.unknown).sum::<u64>(), 7);
    assert!(s.iter().all(|s| (s.spell_nats > 0.0) == (s.unknown > 0)));
    // max_vocab keeps the most frequent tokens.
    let small = encode_in_memory(&Input::Bytes(text.as_bytes().to_vec()), &words(1, Some(3))).unwrap();
    assert_eq!(small.meta.vocab, ["<unk>", " ", "cat"]);
}
