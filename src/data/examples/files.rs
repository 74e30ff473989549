//! The example file formats. Each reader returns a file's examples as
//! tokens with the line each starts on; errors name the file and the line.
//! Blank lines between examples are skipped (in the tagging formats they
//! end a sentence).
use std::fmt::Display;
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use super::Raw;
use crate::spec::{ConlluColumn, Tokens};

/// Cuts text into tokens: Unicode characters or whitespace-separated words.
pub(super) fn tokenize(text: &str, tokens: Tokens) -> Vec<String> {
    match tokens {
        Tokens::Chars => text.chars().map(String::from).collect(),
        Tokens::Words => text.split_whitespace().map(String::from).collect(),
    }
}

/// Classification: `label<TAB>text` per line, or `label,text` records
/// (RFC 4180 quoting) when the file name ends in `.csv`.
pub(super) fn labeled(path: &Path, field: &str, tokens: Tokens, header: bool) -> Result<Vec<Raw>> {
    let text = read(path, field)?;
    let mut examples = Vec::new();
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        let mut reader = csv::ReaderBuilder::new().has_headers(header).flexible(true).from_reader(text.as_bytes());
        for record in reader.records() {
            // The csv crate's line numbers skip blank lines; count them from the byte offset.
            let line_at = |p: Option<&csv::Position>| p.map_or(0, |p| line_of(&text, p.byte() as usize));
            let record = record.map_err(|e| malformed(path, line_at(e.position()), e))?;
            let line = line_at(record.position());
            match record.len() {
                2 => examples.push(labeled_example(path, line, &record[0], &record[1], tokens)?),
                1 => return Err(malformed(path, line, "expected `label,text`, found a single field")),
                n => {
                    let message = format!(
                        "expected `label,text`, found {n} fields; put a text that contains commas \
                         in double quotes (\"like, this\")"
                    );
                    return Err(malformed(path, line, message));
                }
            }
        }
    } else {
        for (i, line) in text.lines().enumerate().skip(usize::from(header)) {
            if line.trim().is_empty() {
                continue;
            }
            let (label, body) = line
                .split_once('\t')
                .ok_or_else(|| malformed(path, i + 1, "expected `label<TAB>text`, found no tab"))?;
            examples.push(labeled_example(path, i + 1, label, body, tokens)?);
        }
    }
    nonempty(path, field, examples)
}

fn labeled_example(path: &Path, line: usize, label: &str, text: &str, tokens: Tokens) -> Result<Raw> {
    let label = label.trim();
    if label.is_empty() {
        return Err(malformed(path, line, "empty label"));
    }
    let source = tokenize(text, tokens);
    if source.is_empty() {
        return Err(malformed(path, line, "empty text"));
    }
    Ok(Raw { source, target: vec![label.to_string()], line, ..Raw::default() })
}

/// Tagging: `token<TAB>tag` per line, a blank line between sentences.
pub(super) fn tagged(path: &Path, field: &str) -> Result<Vec<Raw>> {
    sentences(path, field, |line| {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        match fields[..] {
            [_] => Err("expected `token<TAB>tag`, found no tab".into()),
            ["", _] => Err("empty token".into()),
            [_, ""] => Err("empty tag".into()),
            [token, tag] => Ok(Some((token.into(), tag.into()))),
            _ => Err(format!("expected `token<TAB>tag`, found {} tab-separated fields", fields.len())),
        }
    })
}

const NO_XPOS: &str = "no XPOS (column 5 is '_'): this treebank has no language-specific tags; use `column: upos`";

/// Tagging: a CoNLL-U treebank; FORM (column 2) is the token and UPOS
/// (column 4) or XPOS (column 5) the tag. Comments, multiword-token ranges
/// (`1-2`) and empty nodes (`1.1`) are skipped.
pub(super) fn conllu(path: &Path, field: &str, column: ConlluColumn) -> Result<Vec<Raw>> {
    sentences(path, field, |line| {
        if line.starts_with('#') {
            return Ok(None);
        }
        let columns: Vec<&str> = line.split('\t').collect();
        if columns.len() != 10 {
            return Err(format!("expected the 10 tab-separated CoNLL-U columns, found {}", columns.len()));
        }
        if columns[0].contains(['-', '.']) {
            return Ok(None);
        }
        let (form, tag) = match column {
            ConlluColumn::Upos => (columns[1], columns[3]),
            ConlluColumn::Xpos => (columns[1], columns[4]),
        };
        match (column, tag) {
            _ if form.is_empty() => Err("empty FORM (column 2)".into()),
            (ConlluColumn::Xpos, "_" | "") => Err(NO_XPOS.into()),
            (ConlluColumn::Upos, "_" | "") => Err("no UPOS (column 4 is '_')".into()),
            _ => Ok(Some((form.into(), tag.into()))),
        }
    })
}

/// Sequence to sequence: `source<TAB>target` per line.
pub(super) fn pairs(path: &Path, field: &str, tokens: Tokens) -> Result<Vec<Raw>> {
    let text = read(path, field)?;
    let mut examples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [source, target] = fields[..] else {
            let message = format!("expected `source<TAB>target`, found {} tab-separated fields", fields.len());
            return Err(malformed(path, i + 1, message));
        };
        let (source, target) = (tokenize(source, tokens), tokenize(target, tokens));
        if source.is_empty() {
            return Err(malformed(path, i + 1, "empty source"));
        }
        if target.is_empty() {
            return Err(malformed(path, i + 1, "empty target"));
        }
        examples.push(Raw { source, target, line: i + 1, ..Raw::default() });
    }
    nonempty(path, field, examples)
}

/// Sentences of one token and tag per line, a blank line after each;
/// `parse` gives a line's token and tag, `None` to skip the line, or what
/// is wrong with it.
fn sentences(
    path: &Path,
    field: &str,
    parse: impl Fn(&str) -> Result<Option<(String, String)>, String>,
) -> Result<Vec<Raw>> {
    let text = read(path, field)?;
    let mut done = Vec::new();
    let mut current: Option<Raw> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            done.extend(current.take());
            continue;
        }
        let Some((token, tag)) = parse(line).map_err(|message| malformed(path, i + 1, message))? else {
            continue;
        };
        let sentence = current.get_or_insert_with(|| Raw { line: i + 1, ..Raw::default() });
        sentence.source.push(token);
        sentence.target.push(tag);
        sentence.target_lines.push(i + 1);
    }
    done.extend(current);
    nonempty(path, field, done)
}

/// The whole file as text, without a byte-order mark; `field` is the spec
/// key that named the file.
fn read(path: &Path, field: &str) -> Result<String> {
    let bytes =
        crate::data::read_regular(path).map_err(|e| anyhow!("{field}: cannot read '{}': {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        anyhow!("{field}: '{}' is not UTF-8 text (invalid byte at offset {offset})", path.display())
    })?;
    Ok(text.strip_prefix('\u{feff}').map(String::from).unwrap_or(text))
}

/// The 1-based line of the first byte at or after `offset` that is not a
/// line break (a record's position is before the blank lines it skipped).
fn line_of(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len());
    let start = offset + bytes[offset..].iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
    1 + bytes[..start].iter().filter(|&&b| b == b'\n').count()
}

fn malformed(path: &Path, line: usize, message: impl Display) -> anyhow::Error {
    anyhow!("{}: line {line}: {message}", path.display())
}

fn nonempty(path: &Path, field: &str, examples: Vec<Raw>) -> Result<Vec<Raw>> {
    if examples.is_empty() {
        bail!("{field}: '{}' holds no examples", path.display());
    }
    Ok(examples)
}
