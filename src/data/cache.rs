//! Encoded corpora on disk: a text's token ids, encoded once
//! ([`super::encode`]) and memory-mapped by every process that reads it.
//!
//! A cache file is `<cache dir>/<content>-<tokenization>.ids`: the XXH3-128
//! of the source's bytes and a hash of how they were tokenized, so a
//! changed file or another tokenization gets a new file. Layout
//! (little-endian):
//!
//! ```text
//! 0   magic "RNNLABID"
//! 8   u32 format version (1)
//! 12  u32 bytes per id: 1, 2 or 4 (the smallest that holds the vocabulary)
//! 16  u64 number of ids
//! 24  u64 length of the JSON trailer
//! 32  u64 XXH3-64 of everything after the header (ids, then trailer)
//! 40  24 bytes reserved (zero)
//! 64  the ids
//! …   the JSON trailer: tokenization, vocabulary, sizes ([`Meta`])
//! ```
//!
//! Opening checks the magic, version, width, the size and the checksum;
//! a file that fails is reported as corrupt and encoded again. Files are
//! written beside their final name and renamed into place, so a mapped
//! file is never rewritten under a reader.
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3Default;

use crate::spec::Tokens;

const MAGIC: &[u8; 8] = b"RNNLABID";
const VERSION: u32 = 1;
pub const HEADER: usize = 64;

/// The cache directory: `$RNNLAB_CACHE`, else `$XDG_CACHE_HOME/rnnlab/corpora`,
/// else `~/.cache/rnnlab/corpora`.
pub fn dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("RNNLAB_CACHE").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|d| !d.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("rnnlab").join("corpora"))
}

/// What a cache file says about its ids, after them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub tokens: Tokens,
    /// Tokens in id order.
    pub vocab: Vec<String>,
    /// Characters of the text encoded (after `data.max_chars`).
    pub chars: u64,
    /// Word tokenizations: the train, validation and test parts, in order
    /// (characters are split when a corpus is opened).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<SplitStats>,
}

/// One split of a word-tokenized text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SplitStats {
    pub tokens: u64,
    pub chars: u64,
    /// Tokens that are not whitespace (words and punctuation): what a
    /// per-word perplexity divides by.
    pub words: u64,
    /// Tokens that became `<unk>`.
    pub unknown: u64,
    /// −ln P of the spellings of those unknown words under the training
    /// split's spelling model ([`super::words::Spelling`]): what a
    /// model of the whole text pays beyond P(`<unk>`).
    pub spell_nats: f64,
}

impl SplitStats {
    /// What a model with a mean `loss` (nats) per token of this split pays
    /// for its whole text: `bpc` = total nats ÷ characters ÷ ln 2 and
    /// `word_perplexity` = exp(total nats ÷ words), the total being
    /// `loss` × tokens plus the spelling of the unknown words.
    pub fn text_metrics(&self, loss: f64) -> [(&'static str, f64); 2] {
        let nats = loss * self.tokens as f64 + self.spell_nats;
        [
            ("bpc", nats / self.chars.max(1) as f64 / std::f64::consts::LN_2),
            ("word_perplexity", (nats / self.words.max(1) as f64).exp()),
        ]
    }

    /// The stats of the first `n` of its tokens, estimated pro rata.
    pub fn prorated(&self, n: usize) -> SplitStats {
        let f = n as f64 / self.tokens.max(1) as f64;
        let scale = |x: u64| (x as f64 * f).round() as u64;
        SplitStats {
            tokens: n as u64,
            chars: scale(self.chars),
            words: scale(self.words),
            unknown: scale(self.unknown),
            spell_nats: self.spell_nats * f,
        }
    }
}

/// The smallest id width that holds `vocab` ids.
pub fn width_for(vocab: usize) -> Result<u32> {
    Ok(match vocab {
        0..=0x100 => 1,
        0x101..=0x1_0000 => 2,
        _ if vocab as u64 <= u32::MAX as u64 + 1 => 4,
        _ => bail!("a vocabulary of {vocab} tokens does not fit 32-bit ids"),
    })
}

/// Writes ids of a fixed width after a placeholder header, then the
/// trailer, then the real header.
pub struct Writer<W: Write + Seek> {
    out: std::io::BufWriter<W>,
    width: u32,
    count: u64,
    vocab: usize,
    hash: Xxh3Default,
    buf: Vec<u8>,
}

impl<W: Write + Seek> Writer<W> {
    pub fn new(out: W, vocab: usize) -> Result<Writer<W>> {
        let width = width_for(vocab)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
        out.write_all(&[0u8; HEADER])?;
        Ok(Writer { out, width, count: 0, vocab, hash: Xxh3Default::new(), buf: Vec::with_capacity(1 << 16) })
    }

    pub fn push(&mut self, id: u32) -> Result<()> {
        debug_assert!((id as usize) < self.vocab);
        match self.width {
            1 => self.buf.push(id as u8),
            2 => self.buf.extend_from_slice(&(id as u16).to_le_bytes()),
            _ => self.buf.extend_from_slice(&id.to_le_bytes()),
        }
        self.count += 1;
        if self.buf.len() >= 1 << 16 {
            self.drain()?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<()> {
        self.hash.update(&self.buf);
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Writes the trailer and the header; returns the writer's target.
    pub fn finish(mut self, meta: &Meta) -> Result<W> {
        if meta.vocab.len() != self.vocab {
            bail!("the vocabulary changed while encoding");
        }
        self.drain()?;
        let trailer = serde_json::to_vec(meta)?;
        self.hash.update(&trailer);
        self.out.write_all(&trailer)?;
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        header[12..16].copy_from_slice(&self.width.to_le_bytes());
        header[16..24].copy_from_slice(&self.count.to_le_bytes());
        header[24..32].copy_from_slice(&(trailer.len() as u64).to_le_bytes());
        header[32..40].copy_from_slice(&self.hash.digest().to_le_bytes());
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&header)?;
        self.out.flush()?;
        self.out.into_inner().map_err(|e| e.into_error().into())
    }
}

/// Where the bytes of an encoded corpus live.
#[derive(Debug)]
enum Backing {
    Mapped(memmap2::Mmap),
    Heap(Vec<u8>),
}

/// Token ids, mapped from a cache file or held in memory, read one at a time.
#[derive(Debug)]
pub struct Ids {
    backing: Backing,
    width: usize,
    len: usize,
    pub meta: Meta,
}

impl Ids {
    /// Maps a cache file and checks it whole; the error says what is wrong.
    pub fn open(path: &Path) -> Result<Ids> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        // Checked in full before mapping: a short or edited file is found here, not at a read.
        let (width, len, meta) = verify(&mut std::io::BufReader::with_capacity(1 << 20, &file))
            .with_context(|| format!("corpus cache {}", path.display()))?;
        // SAFETY: cache files are only ever replaced by rename, never
        // rewritten in place, so the mapped bytes do not change while mapped
        // (a process that truncates the file by hand would break this).
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.with_context(|| format!("cannot map {}", path.display()))?;
        if map.len() < HEADER + len * width {
            bail!("corpus cache {} changed while it was opened", path.display());
        }
        Ok(Ids { backing: Backing::Mapped(map), width, len, meta })
    }

    /// An encoded corpus held in memory (what [`Writer`] wrote into a `Vec`).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Ids> {
        let (width, len, meta) = verify(&mut &bytes[..])?;
        Ok(Ids { backing: Backing::Heap(bytes), width, len, meta })
    }

    fn bytes(&self) -> &[u8] {
        match &self.backing {
            Backing::Mapped(m) => &m[HEADER..HEADER + self.len * self.width],
            Backing::Heap(v) => &v[HEADER..HEADER + self.len * self.width],
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes per id.
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self.backing, Backing::Mapped(_))
    }

    /// Appends ids `from..from + n` to `out`.
    pub fn extend(&self, from: usize, n: usize, out: &mut Vec<i64>) {
        let b = &self.bytes()[from * self.width..(from + n) * self.width];
        match self.width {
            1 => out.extend(b.iter().map(|&x| x as i64)),
            2 => out.extend(b.chunks_exact(2).map(|x| u16::from_le_bytes([x[0], x[1]]) as i64)),
            _ => out.extend(b.chunks_exact(4).map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]) as i64)),
        }
    }

    pub fn get(&self, i: usize) -> i64 {
        let b = &self.bytes()[i * self.width..(i + 1) * self.width];
        match self.width {
            1 => b[0] as i64,
            2 => u16::from_le_bytes([b[0], b[1]]) as i64,
            _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
        }
    }
}

/// Reads a whole encoded corpus from `r`, checking the header, sizes,
/// checksum and trailer: (width, count, trailer).
fn verify(r: &mut impl Read) -> Result<(usize, usize, Meta)> {
    let mut header = [0u8; HEADER];
    r.read_exact(&mut header).context("shorter than its header (truncated)")?;
    if &header[..8] != MAGIC {
        bail!("not an rnnlab corpus cache (bad magic)");
    }
    let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        bail!("format version {version}, this rnnlab reads {VERSION}");
    }
    let width = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes")) as usize;
    if ![1, 2, 4].contains(&width) {
        bail!("id width {width} is not 1, 2 or 4 bytes");
    }
    let (count, trailer_len, checksum) = (word(16), word(24), word(32));
    let id_bytes = count.checked_mul(width as u64).context("impossible id count")?;
    let mut hash = Xxh3Default::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = id_bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        r.read_exact(&mut buf[..n]).context("shorter than its header says (truncated)")?;
        hash.update(&buf[..n]);
        left -= n as u64;
    }
    let mut trailer = vec![0u8; usize::try_from(trailer_len).context("impossible trailer length")?];
    r.read_exact(&mut trailer).context("shorter than its header says (truncated)")?;
    hash.update(&trailer);
    if r.read(&mut buf[..1])? != 0 {
        bail!("longer than its header says");
    }
    if hash.digest() != checksum {
        bail!("checksum mismatch (the file was changed after it was written)");
    }
    let meta: Meta = serde_json::from_slice(&trailer).context("unreadable trailer")?;
    if width_for(meta.vocab.len())? as usize != width {
        bail!("{} bytes per id do not match a vocabulary of {}", width, meta.vocab.len());
    }
    Ok((width, count as usize, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(ids: &[u32], vocab: usize) -> Vec<u8> {
        let mut w = Writer::new(std::io::Cursor::new(Vec::new()), vocab).unwrap();
        for &i in ids {
            w.push(i).unwrap();
        }
        let meta = Meta {
            tokens: Tokens::Chars,
            vocab: (0..vocab).map(|i| i.to_string()).collect(),
            chars: 0,
            splits: vec![],
        };
        w.finish(&meta).unwrap().into_inner()
    }

    #[test]
    fn ids_take_the_smallest_width_and_read_back() {
        for (vocab, width) in [(2, 1), (256, 1), (257, 2), (65_536, 2), (65_537, 4)] {
            let ids: Vec<u32> = (0..1000).map(|i| (i * 7919 % vocab) as u32).collect();
            let back = Ids::from_bytes(encoded(&ids, vocab)).unwrap();
            assert_eq!(back.width(), width, "vocab {vocab}");
            let mut all = Vec::new();
            back.extend(0, back.len(), &mut all);
            assert_eq!(all, ids.iter().map(|&i| i as i64).collect::<Vec<_>>());
            assert_eq!(back.get(999), ids[999] as i64);
        }
        assert_eq!(width_for(u32::MAX as usize + 1).unwrap(), 4);
        // Fails if: width_for accepts a vocabulary beyond 32-bit ids.
        assert!(width_for(u32::MAX as usize + 2).unwrap_err().to_string().contains("32-bit"));
    }

    #[test]
    fn damage_is_detected() {
        let good = encoded(&[1, 2, 3, 4, 5], 10);
        assert!(Ids::from_bytes(good.clone()).is_ok());
        // Fails if: the checksum is not compared.
        let mut edited = good.clone();
        edited[HEADER + 2] = 7;
        assert!(Ids::from_bytes(edited).unwrap_err().to_string().contains("checksum"));
        let truncated = good[..good.len() - 3].to_vec();
        assert!(Ids::from_bytes(truncated).unwrap_err().to_string().contains("truncated"));
        let mut longer = good.clone();
        longer.push(0);
        assert!(Ids::from_bytes(longer).unwrap_err().to_string().contains("longer"));
        assert!(Ids::from_bytes(b"hello".to_vec()).is_err());
    }
}
