//! A text encoded into token ids once, in streaming passes over its bytes
//! (so a corpus of any size is never held in memory), and cached
//! ([`super::cache`]): every later open maps the ids.
//!
//! Characters: one pass collects the alphabet (ids in code-point order,
//! as [`super::Vocab::from_text`] assigns them), one writes the ids.
//! Words: one pass counts characters (where the splits fall), one counts
//! the training split's words, one writes the ids; each split is cut into
//! words on its own, so the splits hold the same characters as with
//! `tokens: chars`.
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use xxhash_rust::xxh3::Xxh3Default;

use super::cache::{self, Ids, Meta, SplitStats, Writer};
use super::vocab::UNK;
use super::words::{Cutter, SpellingCounts};
use crate::spec::{Spec, SplitFractions, Tokens, DEFAULT_MIN_COUNT};

/// The bytes of a text: a file (read in chunks), or bytes in memory.
pub enum Input {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl Input {
    fn reader(&self) -> Result<Box<dyn Read + '_>> {
        Ok(match self {
            Input::File(p) => Box::new(super::open_regular(p).map_err(|e| {
                // Corpora under data/ are prepared, not shipped: say how.
                let hint = if p.starts_with("data") {
                    "; prepared corpora under data/ are built by `make data` (or `rnnlab data linux`)"
                } else {
                    ""
                };
                anyhow::anyhow!("data.source.path: cannot read '{}': {e}{hint}", p.display())
            })?),
            Input::Bytes(b) => Box::new(&b[..]),
        })
    }

    fn error(&self, what: &str) -> anyhow::Error {
        match self {
            Input::File(p) => anyhow::anyhow!("data.source.path: '{}': {what}", p.display()),
            Input::Bytes(_) => anyhow::anyhow!("data.source: {what}"),
        }
    }
}

/// Everything about the tokenization that changes the ids.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Params {
    pub tokens: Tokens,
    pub max_chars: Option<usize>,
    /// Words: the vocabulary comes from the training split.
    pub split: Option<SplitFractions>,
    pub min_count: Option<usize>,
    pub max_vocab: Option<usize>,
}

impl Params {
    pub fn of(spec: &Spec) -> Params {
        let d = &spec.data;
        let words = d.tokens == Tokens::Words;
        Params {
            tokens: d.tokens,
            max_chars: d.max_chars,
            split: words.then_some(d.split),
            min_count: words.then(|| d.min_count.unwrap_or(DEFAULT_MIN_COUNT)),
            max_vocab: d.max_vocab,
        }
    }
}

/// Where a text of `n` characters is split: the ends of train and validation.
pub fn split_points(n: usize, s: SplitFractions) -> (usize, usize) {
    let n_train = (n as f64 * s.train).floor() as usize;
    // Without a test split (`data.split.test: 0`) validation takes the rest.
    let n_val = if s.test == 0.0 { n - n_train } else { ((n as f64 * s.val).floor() as usize).min(n - n_train) };
    (n_train, n_train + n_val)
}

/// The encoded ids of `input`: from the cache if a valid file is there,
/// else encoded and cached (in memory only when the cache cannot be written).
pub fn load(input: &Input, params: &Params) -> Result<Ids> {
    load_in(cache::dir().as_deref(), input, params)
}

/// [`load`] with the cache in `dir` (`None`: no cache).
pub fn load_in(dir: Option<&Path>, input: &Input, params: &Params) -> Result<Ids> {
    let Some(dir) = dir else {
        return encode_in_memory(input, params);
    };
    let path = cache_path(dir, input, params)?;
    match Ids::open(&path) {
        Ok(ids) => return Ok(ids),
        Err(e) if path.exists() => eprintln!("warning: {e:#}; encoding it again"),
        Err(_) => {}
    }
    match encode_to_file(input, params, &path) {
        Ok(()) => Ids::open(&path),
        Err(e) if e.downcast_ref::<CacheUnwritable>().is_some() => {
            eprintln!("warning: {e:#}; encoding the corpus in memory");
            encode_in_memory(input, params)
        }
        Err(e) => Err(e),
    }
}

/// The cache file of `input` under `params` in `dir`.
pub fn cache_path(dir: &Path, input: &Input, params: &Params) -> Result<PathBuf> {
    let content = content_hash(input)?;
    let how = xxhash_rust::xxh3::xxh3_64(serde_json::to_string(params)?.as_bytes());
    Ok(dir.join(format!("{content:032x}-{how:016x}.ids")))
}

/// XXH3-128 of every byte of the input.
fn content_hash(input: &Input) -> Result<u128> {
    let mut r = input.reader()?;
    let mut hash = Xxh3Default::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf).map_err(|e| input.error(&e.to_string()))?;
        if n == 0 {
            return Ok(hash.digest128());
        }
        hash.update(&buf[..n]);
    }
}

#[derive(Debug)]
struct CacheUnwritable;

impl std::fmt::Display for CacheUnwritable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the corpus cache cannot be written")
    }
}

impl std::error::Error for CacheUnwritable {}

fn encode_to_file(input: &Input, params: &Params, path: &Path) -> Result<()> {
    let dir = path.parent().expect("a file in a directory");
    let tmp = std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::Builder::new().prefix(".encoding").tempfile_in(dir))
        .map_err(|e| anyhow::Error::new(CacheUnwritable).context(format!("{}: {e}", dir.display())))?;
    let (file, tmp_path) = tmp.into_parts();
    let file = encode(input, params, file)?;
    file.sync_all()?;
    tmp_path.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub fn encode_in_memory(input: &Input, params: &Params) -> Result<Ids> {
    let bytes = encode(input, params, std::io::Cursor::new(Vec::new()))?.into_inner();
    Ids::from_bytes(bytes)
}

/// Bytes read at a time.
const CHUNK: usize = 1 << 20;

/// Calls `f` with the text in valid UTF-8 pieces (a character split
/// across two reads is joined; a byte-order mark is dropped), stopping after
/// `max` characters; returns the characters read.
fn for_each_piece(input: &Input, max: Option<usize>, mut f: impl FnMut(&str) -> Result<()>) -> Result<usize> {
    let mut r = input.reader()?;
    let mut buf = vec![0u8; CHUNK];
    let (mut carry, mut offset, mut chars) = (0usize, 0usize, 0usize);
    let max = max.unwrap_or(usize::MAX);
    loop {
        let n = r.read(&mut buf[carry..]).map_err(|e| input.error(&e.to_string()))?;
        if n == 0 {
            if carry > 0 {
                bail!(input.error(&format!("is not UTF-8 text (invalid byte at offset {offset})")));
            }
            return Ok(chars);
        }
        let filled = carry + n;
        let valid = match std::str::from_utf8(&buf[..filled]) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => {
                bail!(input.error(&format!("is not UTF-8 text (invalid byte at offset {})", offset + e.valid_up_to())))
            }
        };
        let mut s = std::str::from_utf8(&buf[..valid]).expect("checked above");
        if offset == 0 {
            s = s.strip_prefix('\u{feff}').unwrap_or(s);
        }
        let count = s.chars().count();
        if chars + count >= max {
            let keep = s.char_indices().nth(max - chars).map_or(s.len(), |(i, _)| i);
            f(&s[..keep])?;
            return Ok(max);
        }
        f(s)?;
        chars += count;
        offset += valid;
        buf.copy_within(valid..filled, 0);
        carry = filled - valid;
    }
}

fn encode<W: std::io::Write + std::io::Seek>(input: &Input, params: &Params, out: W) -> Result<W> {
    match params.tokens {
        Tokens::Chars => encode_chars(input, params, out),
        Tokens::Words => encode_words(input, params, out),
    }
}

fn encode_chars<W: std::io::Write + std::io::Seek>(input: &Input, params: &Params, out: W) -> Result<W> {
    let mut ascii = [false; 128];
    let mut other = BTreeSet::new();
    let n = for_each_piece(input, params.max_chars, |s| {
        for c in s.chars() {
            match ascii.get_mut(c as usize) {
                Some(seen) => *seen = true,
                None => {
                    other.insert(c);
                }
            }
        }
        Ok(())
    })?;
    let alphabet: Vec<char> = (0u8..128).filter(|&b| ascii[b as usize]).map(char::from).chain(other).collect();
    let mut ascii_id = [u32::MAX; 128];
    let mut other_id = HashMap::new();
    for (i, &c) in alphabet.iter().enumerate() {
        match ascii_id.get_mut(c as usize) {
            Some(slot) => *slot = i as u32,
            None => {
                other_id.insert(c, i as u32);
            }
        }
    }
    let mut w = Writer::new(out, alphabet.len())?;
    let written = for_each_piece(input, params.max_chars, |s| {
        for c in s.chars() {
            let id = match ascii_id.get(c as usize) {
                Some(&id) => id,
                None => other_id.get(&c).copied().unwrap_or(u32::MAX),
            };
            if id == u32::MAX {
                bail!(input.error("changed while it was being encoded"));
            }
            w.push(id)?;
        }
        Ok(())
    })?;
    if written != n {
        bail!(input.error("changed while it was being encoded"));
    }
    let meta = Meta {
        tokens: Tokens::Chars,
        vocab: alphabet.iter().map(|c| c.to_string()).collect(),
        chars: n as u64,
        splits: vec![],
    };
    w.finish(&meta)
}

/// Calls `f(split, token)` for each word token of each split (0 train,
/// 1 validation, 2 test) of a text whose splits end at `ends`, stopping
/// after split `last`.
fn for_each_token(
    input: &Input,
    max: Option<usize>,
    ends: [usize; 2],
    last: usize,
    mut f: impl FnMut(usize, &str) -> Result<()>,
) -> Result<()> {
    let mut cut = Cutter::default();
    let (mut split, mut at) = (0usize, 0usize);
    let stop = if last == 0 { Some(ends[0].min(max.unwrap_or(usize::MAX))) } else { max };
    for_each_piece(input, stop, |s| {
        for c in s.chars() {
            while split < 2 && at == ends[split] {
                cut.flush(&mut |t: &str| f(split, t))?;
                split += 1;
            }
            cut.push(c, &mut |t: &str| f(split, t))?;
            at += 1;
        }
        Ok(())
    })?;
    cut.flush(&mut |t: &str| f(split, t))
}

fn encode_words<W: std::io::Write + std::io::Seek>(input: &Input, params: &Params, out: W) -> Result<W> {
    let n = for_each_piece(input, params.max_chars, |_| Ok(()))?;
    let (train_end, val_end) = split_points(n, params.split.unwrap_or_default());
    // The vocabulary: the training split's tokens seen at least min_count
    // times (single characters always), most frequent first.
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut spelling = SpellingCounts::default();
    for_each_token(input, params.max_chars, [train_end, val_end], 0, |_, t| {
        match counts.get_mut(t) {
            Some(c) => *c += 1,
            None => {
                counts.insert(t.to_string(), 1);
            }
        }
        spelling.add(t);
        Ok(())
    })?;
    let min_count = params.min_count.unwrap_or(DEFAULT_MIN_COUNT) as u64;
    let mut kept: Vec<(String, u64)> =
        counts.into_iter().filter(|(t, c)| *c >= min_count || t.chars().nth(1).is_none()).collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if let Some(max) = params.max_vocab {
        kept.truncate(max.saturating_sub(1));
    }
    let vocab: Vec<String> = std::iter::once(UNK.to_string()).chain(kept.into_iter().map(|(t, _)| t)).collect();
    let index: HashMap<&str, u32> = vocab.iter().enumerate().skip(1).map(|(i, t)| (t.as_str(), i as u32)).collect();
    let spelling = spelling.fit();
    let mut stats = [SplitStats::default(); 3];
    let mut w = Writer::new(out, vocab.len())?;
    for_each_token(input, params.max_chars, [train_end, val_end], 2, |split, t| {
        let s = &mut stats[split];
        s.tokens += 1;
        s.chars += t.chars().count() as u64;
        s.words += u64::from(!t.chars().all(char::is_whitespace));
        let id = index.get(t).copied().unwrap_or(0);
        if id == 0 {
            s.unknown += 1;
            s.spell_nats -= spelling.log_prob(t);
        }
        w.push(id)
    })?;
    if stats.iter().map(|s| s.chars).sum::<u64>() != n as u64 {
        bail!(input.error("changed while it was being encoded"));
    }
    let meta = Meta { tokens: Tokens::Words, vocab, chars: n as u64, splits: stats.to_vec() };
    w.finish(&meta)
}

/// What `rnnlab encode` prints: a corpus as its trials will open it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub description: String,
    pub tokens: Tokens,
    pub vocab: usize,
    pub chars: u64,
    /// Tokens of the train, validation and test splits.
    pub splits: [usize; 3],
    pub bytes_per_id: usize,
    /// Whether the ids are mapped from the cache (else held in memory).
    pub mapped: bool,
    /// This process's peak resident memory (kB), from /proc/self/status.
    pub peak_rss_kb: Option<u64>,
}

/// Opens the corpus of `spec` (encoding it into the cache if needed).
pub fn report(spec: &Spec) -> Result<Report> {
    let corpus = super::Corpus::load(spec)?;
    let ids = corpus.train.ids_store();
    Ok(Report {
        description: corpus.description.clone(),
        tokens: ids.meta.tokens,
        vocab: corpus.vocab.len(),
        chars: ids.meta.chars,
        splits: [corpus.train.len(), corpus.val.len(), corpus.test.len()],
        bytes_per_id: ids.width(),
        mapped: ids.is_mapped(),
        peak_rss_kb: peak_rss_kb(),
    })
}

/// VmHWM of this process (Linux).
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests;
