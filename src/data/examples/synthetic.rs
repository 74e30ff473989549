//! Generated example sets. The same seed gives the same examples on every
//! machine (ChaCha8 has a fixed, portable output stream), and the
//! vocabularies hold every symbol a generator can write, so they do not
//! depend on the sample. Every token is one character.
use std::cmp::Ordering;
use std::collections::HashSet;

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Raw, Symbols, BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, UNK_TOKEN};
use crate::spec::{Lengths, Source, Strings};

/// A generated set, before it is split.
pub(super) struct Generated {
    pub examples: Vec<Raw>,
    pub source: Symbols,
    pub target: Symbols,
    /// What the description says after the number of examples, e.g.
    /// `source lengths 4–16, 10 symbols (seed 0)`.
    pub details: String,
    pub seed: u64,
}

/// Generates the examples of a synthetic `source` (a file source is a bug).
pub(super) fn generate(source: &Source) -> Result<Generated> {
    let kind = source.kind();
    let longer = "allow longer sources (a larger max_length) or ask for fewer examples";
    let generated = match *source {
        Source::Parity(Lengths { examples, min_length, max_length, seed }) => Generated {
            examples: distinct(&kind, examples, seed, longer, |rng| {
                let bits: Vec<bool> = (0..rng.gen_range(min_length..=max_length)).map(|_| rng.gen()).collect();
                let ones = bits.iter().filter(|&&b| b).count();
                let source = bits.iter().map(|&b| if b { "1" } else { "0" }.to_string()).collect();
                (source, vec![if ones % 2 == 0 { "even" } else { "odd" }.to_string()])
            })?,
            source: source_symbols("01".chars()),
            target: Symbols::new(vec!["even".into(), "odd".into()]),
            details: format!("lengths {min_length}–{max_length} (seed {seed})"),
            seed,
        },
        Source::Adding(Lengths { examples, min_length, max_length, seed }) => Generated {
            examples: distinct(&kind, examples, seed, longer, |rng| {
                let length = rng.gen_range(min_length..=max_length);
                let digits: Vec<u8> = (0..length).map(|_| rng.gen_range(0..10)).collect();
                // For an odd length the middle position belongs to the second half.
                let (first, second) = (rng.gen_range(0..length / 2), rng.gen_range(length / 2..length));
                let source = digits
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| adding_token(d, i == first || i == second).to_string())
                    .collect();
                (source, vec![(digits[first] + digits[second]).to_string()])
            })?,
            source: source_symbols((0..10).flat_map(|d| [adding_token(d, false), adding_token(d, true)])),
            target: Symbols::new((0..=18).map(|s: u8| s.to_string()).collect()),
            details: format!("lengths {min_length}–{max_length} (seed {seed})"),
            seed,
        },
        Source::Lookahead { examples, min_length, max_length, symbols, distance, seed } => Generated {
            examples: distinct(&kind, examples, seed, longer, |rng| {
                let length = rng.gen_range(min_length..=max_length);
                let letters: Vec<char> = (0..length).map(|_| letter(rng.gen_range(0..symbols))).collect();
                let tags = (0..length).map(|t| lookahead_tag(&letters, t, distance).to_string()).collect();
                (letters.iter().map(char::to_string).collect(), tags)
            })?,
            source: source_symbols((0..symbols).map(letter)),
            target: Symbols::new(["end", "eq", "gt", "lt"].map(String::from).to_vec()),
            details: format!("lengths {min_length}–{max_length}, {symbols} symbols, distance {distance} (seed {seed})"),
            seed,
        },
        Source::Reverse(Strings { examples, min_length, max_length, symbols, seed })
        | Source::Sort(Strings { examples, min_length, max_length, symbols, seed }) => {
            let reverse = matches!(source, Source::Reverse(_));
            Generated {
                examples: distinct(&kind, examples, seed, longer, |rng| {
                    let length = rng.gen_range(min_length..=max_length);
                    let letters: Vec<char> = (0..length).map(|_| letter(rng.gen_range(0..symbols))).collect();
                    let mut target = letters.clone();
                    if reverse {
                        target.reverse();
                    } else {
                        target.sort_unstable();
                    }
                    (letters.iter().map(char::to_string).collect(), target.iter().map(char::to_string).collect())
                })?,
                source: source_symbols((0..symbols).map(letter)),
                target: target_symbols((0..symbols).map(letter)),
                details: format!("source lengths {min_length}–{max_length}, {symbols} symbols (seed {seed})"),
                seed,
            }
        }
        Source::Cipher(Strings { examples, min_length, max_length, symbols, seed }) => {
            let key = cipher_key(symbols, seed);
            Generated {
                examples: distinct(&kind, examples, seed, longer, |rng| {
                    let length = rng.gen_range(min_length..=max_length);
                    let plain: Vec<usize> = (0..length).map(|_| rng.gen_range(0..symbols)).collect();
                    (
                        plain.iter().map(|&i| letter(i).to_string()).collect(),
                        plain.iter().map(|&i| letter(key[i]).to_string()).collect(),
                    )
                })?,
                source: source_symbols((0..symbols).map(letter)),
                target: target_symbols((0..symbols).map(letter)),
                details: format!("source lengths {min_length}–{max_length}, {symbols} symbols (seed {seed})"),
                seed,
            }
        }
        Source::Addition { examples, min_length, max_length, seed } => Generated {
            examples: distinct(
                &kind,
                examples,
                seed,
                "allow more digits (a larger max_length) or ask for fewer examples",
                |rng| {
                    let (a, b) = (operand(rng, min_length, max_length), operand(rng, min_length, max_length));
                    (tokens(&format!("{a}+{b}")), tokens(&(a + b).to_string()))
                },
            )?,
            source: source_symbols("0123456789+".chars()),
            target: target_symbols("0123456789".chars()),
            details: format!("operands of {min_length}–{max_length} digits (seed {seed})"),
            seed,
        },
        Source::Dates { examples, seed } => {
            let (first, last) = (days_from_civil(1900, 1, 1), days_from_civil(2099, 12, 31));
            Generated {
                examples: distinct(&kind, examples, seed, "ask for fewer examples", |rng| {
                    let days = rng.gen_range(first..=last);
                    let (y, m, d) = civil_from_days(days);
                    let text = format_date(y, m, d, rng.gen_range(0..DATE_FORMATS));
                    (tokens(&text), tokens(&format!("{y:04}-{m:02}-{d:02}")))
                })?,
                source: source_symbols(
                    MONTHS.iter().chain(&WEEKDAYS).flat_map(|w| w.chars()).chain("0123456789 ,/.".chars()),
                ),
                target: target_symbols("0123456789-".chars()),
                details: format!("1900–2099 in {DATE_FORMATS} formats (seed {seed})"),
                seed,
            }
        }
        _ => bail!("data.source.kind: '{kind}' is not a generated example source"),
    };
    Ok(generated)
}

/// The cipher's substitution: letter i becomes letter `key[i]`, a
/// permutation without fixed points (no letter stands for itself), drawn
/// from its own stream so it does not depend on the examples.
fn cipher_key(symbols: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC1F3_E7A1);
    loop {
        let mut key: Vec<usize> = (0..symbols).collect();
        rand::seq::SliceRandom::shuffle(key.as_mut_slice(), &mut rng);
        if key.iter().enumerate().all(|(i, &k)| i != k) {
            return key;
        }
    }
}

/// `examples` examples from `draw` (source tokens, target tokens), no two
/// with the same source, so that val and test never repeat a training source.
fn distinct(
    kind: &str,
    examples: usize,
    seed: u64,
    advice: &str,
    mut draw: impl FnMut(&mut ChaCha8Rng) -> (Vec<String>, Vec<String>),
) -> Result<Vec<Raw>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(examples);
    let attempts = examples.saturating_mul(20);
    for _ in 0..attempts {
        if out.len() == examples {
            break;
        }
        let (source, target) = draw(&mut rng);
        if seen.insert(source.clone()) {
            out.push(Raw { source, target, ..Raw::default() });
        }
    }
    if out.len() < examples {
        bail!(
            "data.source: {kind} found only {} distinct sources in {attempts} tries, but {examples} examples \
             were asked for; {advice}",
            out.len()
        );
    }
    Ok(out)
}

fn source_symbols(tokens: impl IntoIterator<Item = char>) -> Symbols {
    Symbols::with_reserved(&[PAD_TOKEN, UNK_TOKEN], tokens.into_iter().map(String::from))
}

fn target_symbols(tokens: impl IntoIterator<Item = char>) -> Symbols {
    Symbols::with_reserved(&[PAD_TOKEN, EOS_TOKEN, BOS_TOKEN], tokens.into_iter().map(String::from))
}

fn tokens(s: &str) -> Vec<String> {
    s.chars().map(String::from).collect()
}

/// The `i`th lowercase letter.
fn letter(i: usize) -> char {
    char::from(b'a' + i as u8)
}

/// A digit of the adding problem: `0`–`9`, or `a`–`j` when it is marked.
pub(super) fn adding_token(digit: u8, marked: bool) -> char {
    char::from(if marked { b'a' } else { b'0' } + digit)
}

/// How token `t` compares with the token `distance` places to its right.
pub(super) fn lookahead_tag(tokens: &[char], t: usize, distance: usize) -> &'static str {
    match tokens.get(t + distance).map(|later| tokens[t].cmp(later)) {
        None => "end",
        Some(Ordering::Less) => "lt",
        Some(Ordering::Equal) => "eq",
        Some(Ordering::Greater) => "gt",
    }
}

/// A number of `min_digits` to `max_digits` digits (a uniform digit count,
/// then a uniform number with that many digits, without leading zeros).
fn operand(rng: &mut ChaCha8Rng, min_digits: usize, max_digits: usize) -> u64 {
    let digits = rng.gen_range(min_digits..=max_digits) as u32;
    let low = if digits == 1 { 0 } else { 10u64.pow(digits - 1) };
    rng.gen_range(low..10u64.pow(digits))
}

pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub(super) const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
pub(super) const DATE_FORMATS: usize = 8;

/// A date in human format `format` (0 to [`DATE_FORMATS`] − 1), for
/// Thursday 1998-03-05: `March 5, 1998`, `5 March 1998`, `5 Mar 1998`,
/// `05/03/1998` (day/month/year), `1998.03.05`, `Thursday, March 5, 1998`,
/// `Mar 5, 1998`, `Thu, 5 Mar 1998`.
pub(super) fn format_date(y: i64, m: u32, d: u32, format: usize) -> String {
    let month = MONTHS[m as usize - 1];
    let mon = &month[..3];
    let weekday = WEEKDAYS[weekday(days_from_civil(y, m, d))];
    match format {
        0 => format!("{month} {d}, {y}"),
        1 => format!("{d} {month} {y}"),
        2 => format!("{d} {mon} {y}"),
        3 => format!("{d:02}/{m:02}/{y}"),
        4 => format!("{y}.{m:02}.{d:02}"),
        5 => format!("{weekday}, {month} {d}, {y}"),
        6 => format!("{mon} {d}, {y}"),
        _ => format!("{}, {d} {mon} {y}", &weekday[..3]),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub(super) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01 (H. Hinnant's `civil_from_days`).
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
pub(super) fn weekday(days: i64) -> usize {
    (days + 3).rem_euclid(7) as usize
}
