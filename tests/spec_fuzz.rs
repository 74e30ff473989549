//! A seeded fuzz test of the spec front end (issue 13): the real specs of
//! `experiments/*.yaml`, mutated (values replaced by random YAML scalars,
//! wrong types, huge/negative/NaN/inf numbers; lines dropped, duplicated,
//! swapped; deep nesting; aliases; non-UTF-8 bytes), go through the path
//! `rnnlab list` takes (`rnnlab::plan::experiment`). Each case must answer
//! — an error or a plan — without a panic, within a time bound, and write
//! nothing. Reproducible: the RNG is seeded; a failure prints the case.
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CASES: usize = 2000;
/// One case's time bound: the slowest legitimate answer (a 10,000-trial
/// sweep expanded and checked) takes well under this.
const BOUND: Duration = Duration::from_secs(20);

const SCALARS: &[&str] = &[
    "",
    "~",
    "null",
    "0",
    "-1",
    "1",
    "2",
    "-0.5",
    "0.5",
    "1.0e309",
    "-1.0e309",
    ".nan",
    ".inf",
    "-.inf",
    "18446744073709551616",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "100000000000000",
    "1e-320",
    "true",
    "false",
    "[]",
    "{}",
    "[1, 2]",
    "{a: 1}",
    "x",
    "'..'",
    "../..",
    "/dev/zero",
    "\"\\u0000\"",
    "'\u{feff}'",
    "lstm",
    "gru",
    "[.inf, .nan]",
    "{uniform: [0, .inf]}",
    "!!binary aGVsbG8=",
    "*undefined",
    "&a 3",
    "[*a]",
];

fn mutate(rng: &mut ChaCha8Rng, source: &str) -> Vec<u8> {
    let mut lines: Vec<String> = source.lines().map(String::from).collect();
    for _ in 0..rng.gen_range(1..=3) {
        if lines.is_empty() {
            lines.push("x: 1".into());
        }
        let i = rng.gen_range(0..lines.len());
        match rng.gen_range(0..9) {
            // Replace the value after the key with a random scalar.
            0..=2 => {
                let scalar = SCALARS.choose(rng).unwrap();
                if let Some(colon) = lines[i].find(": ") {
                    lines[i] = format!("{}: {scalar}", &lines[i][..colon]);
                } else if let Some(dash) = lines[i].find("- ") {
                    lines[i] = format!("{}- {scalar}", &lines[i][..dash]);
                }
            }
            3 => {
                lines.remove(i);
            }
            // A repeated key (or list item).
            4 => {
                let line = lines[i].clone();
                lines.insert(i, line);
            }
            5 => {
                let j = rng.gen_range(0..lines.len());
                lines.swap(i, j);
            }
            // Deep nesting under a key.
            6 => {
                let depth = rng.gen_range(10..400);
                if let Some(colon) = lines[i].find(": ") {
                    lines[i] = format!("{}: {}1{}", &lines[i][..colon], "[".repeat(depth), "]".repeat(depth));
                }
            }
            // An anchor on one value and an alias to it on another.
            7 => {
                let j = rng.gen_range(0..lines.len());
                if let (Some(a), Some(b)) = (lines[i].find(": "), lines[j].find(": ")) {
                    let (ki, vi) = lines[i].split_at(a + 2);
                    lines[i] = format!("{ki}&a {vi}");
                    lines[j] = format!("{}*a", &lines[j][..b + 2]);
                }
            }
            // A number made huge, negative or not a number.
            _ => {
                let replaced: String = lines[i]
                    .split(' ')
                    .map(|w| if w.parse::<f64>().is_ok() { SCALARS[rng.gen_range(4..21)] } else { w })
                    .collect::<Vec<_>>()
                    .join(" ");
                lines[i] = replaced;
            }
        }
    }
    let mut bytes = lines.join("\n").into_bytes();
    bytes.push(b'\n');
    if rng.gen_bool(0.02) {
        let at = rng.gen_range(0..bytes.len());
        bytes.splice(at..at, [0xff, 0xfe, 0xc3]);
    }
    bytes
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all.extend(entries(&p));
        }
        all.push(p);
    }
    all
}

#[test]
fn mutated_specs_never_panic_hang_or_write() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources: Vec<String> = std::fs::read_dir(root.join("experiments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    sources.sort();
    assert!(!sources.is_empty());
    // The specs read data paths relative to the crate root, as `rnnlab list` does there.
    std::env::set_current_dir(root).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let spec_path = tmp.path().join("fuzz.yaml");
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (mut accepted, mut refused, mut slowest) = (0, 0, Duration::ZERO);
    let start = Instant::now();
    for case in 0..CASES {
        let source = sources.choose(&mut rng).unwrap();
        let bytes = mutate(&mut rng, source);
        std::fs::write(&spec_path, &bytes).unwrap();
        let (tx, rx) = mpsc::channel();
        let path = spec_path.clone();
        let t0 = Instant::now();
        std::thread::spawn(move || {
            let answer = std::panic::catch_unwind(|| rnnlab::plan::experiment(&path, &[]).map(|e| e.trials.len()));
            let _ = tx.send(answer.map(|r| r.map_err(|e| format!("{e:#}"))));
        });
        let shown = || String::from_utf8_lossy(&bytes).chars().take(4000).collect::<String>();
        let answer =
            rx.recv_timeout(BOUND).unwrap_or_else(|_| panic!("case {case} took more than {BOUND:?}:\n{}", shown()));
        slowest = slowest.max(t0.elapsed());
        match answer {
            Err(_) => panic!("case {case} panicked:\n{}", shown()),
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(_)) => refused += 1,
        }
        let written: Vec<PathBuf> = entries(tmp.path()).into_iter().filter(|p| p != &spec_path).collect();
        assert!(written.is_empty(), "case {case} wrote {written:?}:\n{}", shown());
    }
    println!(
        "spec fuzz: {CASES} cases ({accepted} accepted, {refused} refused) in {:.2?}, slowest {slowest:.2?}",
        start.elapsed()
    );
    assert!(accepted > CASES / 20 && refused > CASES / 20, "mutations too weak or too strong: {accepted}/{refused}");
}
