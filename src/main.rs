//! The `rnnlab` command line: the only place errors become exit codes.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use rnnlab::spec::{self, sweep, DeviceSpec};
use rnnlab::{bench, generate, runner, trial};

#[derive(Parser)]
#[command(
    name = "rnnlab",
    version,
    about = "Sweep recurrent architectures described in YAML, train them with libtorch, log CSV, plot and summarise"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a sweep (or one trial of it) and write results/<name>/
    Run(RunArgs),
    /// List the trials a spec expands to, without running anything
    List {
        spec: PathBuf,
        /// Override a spec value: KEY=VALUE (VALUE is YAML), e.g. train.steps=50
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Rebuild summary.csv, summary.md and plots from an experiment directory's trials
    Plot { dir: PathBuf },
    /// Print the per-variant summary of an experiment directory (and rebuild its files)
    Summary { dir: PathBuf },
    /// Generate text from a trained trial, a checkpoint or an n-gram baseline
    Sample(SampleArgs),
    /// Apply a trained classifier, tagger or seq2seq model to new input
    Decode(DecodeArgs),
    /// Prepare a larger real corpus under data/ (downloads from a package registry)
    Data {
        /// Which corpus: `linux` (C source of the Linux kernel, from Debian's linux-source)
        corpus: String,
        /// Directory to write into
        #[arg(long, default_value = "data/linux")]
        out: PathBuf,
        /// Rebuild even if the corpus is already there
        #[arg(long)]
        force: bool,
    },
    /// Statistical comparison of the variants of an experiment directory: report.md and its plots
    Report(ReportArgs),
    /// Training throughput of one char-LSTM or LSTM seq2seq configuration, as one JSON line
    Bench(BenchArgs),
    /// Versions, threads and devices this binary sees
    Info,
}

#[derive(Args)]
struct RunArgs {
    /// Experiment spec (YAML)
    spec: PathBuf,
    /// Override a spec value: KEY=VALUE (VALUE is YAML), e.g. --set train.steps=50
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// auto, cpu, cuda or cuda:N (overrides the spec's device)
    #[arg(long)]
    device: Option<DeviceSpec>,
    /// Trials run at once (default: CPU cores on CPU, 1 on CUDA)
    #[arg(long)]
    jobs: Option<usize>,
    /// Root of the results tree
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Rerun trials that already finished or diverged (otherwise they are skipped)
    #[arg(long)]
    rerun: bool,
    /// Run only this trial, in this process (see `rnnlab list`)
    #[arg(long, conflicts_with = "trial_index")]
    trial: Option<String>,
    /// Run only the N-th trial (0-based), e.g. $SLURM_ARRAY_TASK_ID
    #[arg(long)]
    trial_index: Option<usize>,
    /// libtorch intra-op threads for a single trial (default: all cores)
    #[arg(long)]
    threads: Option<usize>,
    /// Print machine-readable progress lines (used by the sweep runner)
    #[arg(long, hide = true)]
    progress: bool,
}

#[derive(Args)]
struct SampleArgs {
    /// A trial directory (uses checkpoint-best/), a checkpoint directory, or a baseline's directory
    path: PathBuf,
    /// Text the model reads first; the output continues it (UTF-8)
    #[arg(long, default_value = "")]
    prime: String,
    /// Characters to generate
    #[arg(long, default_value_t = 500)]
    length: usize,
    /// Sampling temperature: below 1 is more conservative, above 1 more varied
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Sample only among the K most probable characters
    #[arg(long)]
    top_k: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Always take the most probable character
    #[arg(long, conflicts_with_all = ["top_k", "beam"])]
    greedy: bool,
    /// Beam search with this many prefixes instead of sampling
    #[arg(long, conflicts_with = "top_k")]
    beam: Option<usize>,
    /// Beam search ranks finished texts by ln P / length^A
    #[arg(long, default_value_t = 1.0, requires = "beam")]
    length_norm: f64,
    /// Stop after generating this character (e.g. $'\n' for one line)
    #[arg(long)]
    stop: Option<char>,
}

#[derive(Args)]
struct DecodeArgs {
    /// A trial directory (uses checkpoint-best/) or a checkpoint directory
    path: PathBuf,
    /// Input text (repeatable); without it, each line of standard input
    #[arg(long = "input", value_name = "TEXT")]
    inputs: Vec<String>,
    /// Seq2seq: beam search with this many hypotheses (default: greedy)
    #[arg(long)]
    beam: Option<usize>,
    /// Seq2seq beam search ranks hypotheses by ln P / length^A
    #[arg(long, default_value_t = 1.0)]
    length_norm: f64,
    /// Seq2seq: longest output in tokens (default: the trial's decode.max_length, else 2 × input + 10)
    #[arg(long)]
    max_length: Option<usize>,
}

#[derive(Args)]
struct ReportArgs {
    /// An experiment directory (results/<name>)
    dir: PathBuf,
    /// Result column to compare (default: the spec's report.metric, else the task's: val_bpc, val_accuracy or val_exact_accuracy)
    #[arg(long)]
    metric: Option<String>,
    /// Variant to test the others against (default: the spec's, else the first)
    #[arg(long)]
    baseline: Option<String>,
    /// Equivalence margin as a fraction of the baseline's mean (default 0.02)
    #[arg(long)]
    margin: Option<f64>,
    /// Significance level (default 0.05)
    #[arg(long)]
    alpha: Option<f64>,
    /// Swept keys analysed separately, e.g. --split-by data.source
    #[arg(long = "split-by")]
    split_by: Vec<String>,
}

#[derive(Args)]
struct BenchArgs {
    /// What to train: the char-LSTM language model or an LSTM encoder-decoder on a letter cipher
    #[arg(long, value_enum, default_value_t = BenchTask::Text)]
    task: BenchTask,
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    #[arg(long, default_value_t = 1)]
    layers: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// char_lm: window length [default: 64]
    #[arg(long)]
    bptt: Option<usize>,
    /// seq2seq: length of every source and target [default: 20]
    #[arg(long)]
    length: Option<usize>,
    /// seq2seq: attention of the decoder [default: none]
    #[arg(long, value_enum)]
    attention: Option<BenchAttention>,
    #[arg(long, default_value_t = 30)]
    steps: usize,
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    #[arg(long)]
    threads: Option<usize>,
    /// char_lm: a UTF-8 text file instead of the built-in corpus
    #[arg(long)]
    corpus: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BenchTask {
    /// The char-LSTM language model on text (`char_lm`).
    #[value(name = "char_lm")]
    Text,
    /// The LSTM encoder-decoder on a letter cipher (`seq2seq`).
    #[value(name = "seq2seq")]
    Cipher,
}

/// The attentions `scripts/torch_seq2seq_reference.py` also implements.
#[derive(Clone, Copy, clap::ValueEnum)]
enum BenchAttention {
    None,
    Luong,
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`rnnlab list ... | head`) like other CLI tools.
    // SAFETY: restoring the default disposition of SIGPIPE before any threads start.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run(args) => run(args),
        Cmd::List { spec, overrides } => list(&spec, &overrides),
        Cmd::Plot { dir } | Cmd::Summary { dir } => summarise(&dir),
        Cmd::Sample(args) => sample_cmd(args),
        Cmd::Decode(args) => decode_cmd(args),
        Cmd::Data { corpus, out, force } => data_cmd(&corpus, &out, force),
        Cmd::Report(args) => report(args),
        Cmd::Bench(args) => bench_cmd(args),
        Cmd::Info => info(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Parses, applies `--set` and expands the sweep: every spec problem is
/// reported here, before anything is written. Returns the trained trials
/// and the baselines' pseudo-trials.
fn load_trials(path: &Path, overrides: &[String]) -> Result<(spec::Loaded, Vec<sweep::Trial>, Vec<sweep::Trial>)> {
    let loaded = spec::load(path)?;
    let loaded = rnnlab::tasks::resolve(&sweep::apply_overrides(&loaded, overrides)?)?;
    let trials = rnnlab::tasks::expand(&loaded)?;
    let baselines = spec::baseline::trials(&loaded)?;
    Ok((loaded, trials, baselines))
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let (loaded, trials, baselines) = load_trials(&args.spec, &args.overrides)?;
    let device = args.device.unwrap_or(loaded.spec.device).resolve()?;
    let exp_dir = runner::experiment_dir(&args.results, &loaded);
    if let Some(b) = baselines.iter().find(|b| args.trial.as_ref() == Some(&b.id)) {
        runner::check_data(std::slice::from_ref(b))?;
        runner::init_experiment_dir(&exp_dir, &loaded)?;
        let status = rnnlab::baseline::run(b, &trial::trial_dir(&exp_dir, &b.id))?;
        eprintln!("{}: {} in {:.1}s", b.id, status.state.as_str(), status.elapsed_s);
        return Ok(ExitCode::SUCCESS);
    }
    let single = match (&args.trial, args.trial_index) {
        (Some(id), _) => Some(trials.iter().find(|t| &t.id == id).with_context(|| {
            format!("no trial '{id}' in {}; `rnnlab list {}` shows the ids", args.spec.display(), args.spec.display())
        })?),
        (None, Some(i)) => Some(trials.get(i).with_context(|| {
            format!(
                "--trial-index {i} is out of range: {} has {} trials (0..{})",
                args.spec.display(),
                trials.len(),
                trials.len()
            )
        })?),
        (None, None) => None,
    };
    if let Some(t) = single {
        return run_single(&args, &loaded, t, device, &exp_dir);
    }
    runner::check_data(&trials)?;
    runner::check_data(&baselines)?;
    let opts = runner::SweepOptions {
        spec_path: args.spec.clone(),
        overrides: args.overrides.clone(),
        results_root: args.results.clone(),
        device,
        jobs: args.jobs,
        rerun: args.rerun,
    };
    runner::init_experiment_dir(&exp_dir, &loaded)?;
    let (fitted, baselines_failed) = runner::run_baselines(&opts, &exp_dir, &baselines);
    let (ran, failed) = runner::run_sweep(&opts, &loaded, &trials)?;
    let (ran, failed) = (ran + fitted, failed + baselines_failed);
    let (table, files) = rnnlab::rebuild_outputs(&exp_dir)?;
    println!("\n{}: {ran} trial(s) run, {failed} failed\n{table}", loaded.spec.name);
    println!("results: {}", exp_dir.display());
    for f in files {
        println!("  {}", f.display());
    }
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// One trial in this process (what each sweep child and each Slurm task runs).
fn run_single(
    args: &RunArgs,
    loaded: &spec::Loaded,
    t: &sweep::Trial,
    device: tch::Device,
    exp_dir: &Path,
) -> Result<ExitCode> {
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    tch::set_num_threads(threads as i32);
    tch::set_num_interop_threads(1);
    if !args.progress {
        // Standalone (e.g. a Slurm task): check the data and record the
        // experiment spec so summaries can be rebuilt later.
        runner::check_data(std::slice::from_ref(t))?;
        runner::init_experiment_dir(exp_dir, loaded)?;
    }
    let dir = trial::trial_dir(exp_dir, &t.id);
    // Test hook: simulate a trial process that crashes before recording anything.
    if std::env::var("RNNLAB_TEST_CRASH_TRIAL").is_ok_and(|prefix| t.id.starts_with(&prefix)) {
        std::process::abort();
    }
    // Test hook: abort the trial process (as a kill would) after this training step.
    let abort_after = std::env::var("RNNLAB_TEST_ABORT_AFTER_STEP").ok().and_then(|v| v.parse::<usize>().ok());
    let status = if args.progress {
        trial::run(t, &dir, device, threads, &mut runner::ChildProgress, abort_after)?
    } else {
        trial::run(t, &dir, device, threads, &mut (), abort_after)?
    };
    eprintln!("{}: {} in {:.1}s — {}", t.id, status.state.as_str(), status.elapsed_s, dir.display());
    Ok(ExitCode::SUCCESS)
}

fn list(path: &Path, overrides: &[String]) -> Result<ExitCode> {
    let (loaded, trials, baselines) = load_trials(path, overrides)?;
    println!("{}: {} trial(s)", loaded.spec.name, trials.len());
    for (i, t) in trials.iter().enumerate() {
        println!("{i:>4}  {:<32} {}  seed {}", t.id, t.variant, t.spec.train.seed);
    }
    if !baselines.is_empty() {
        println!("baselines (run with --trial ID):");
        for b in &baselines {
            println!("      {:<32} {}", b.id, b.variant);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn summarise(dir: &Path) -> Result<ExitCode> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let (table, files) = rnnlab::rebuild_outputs(dir)?;
    println!("{table}");
    for f in files {
        println!("  {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn data_cmd(corpus: &str, out: &Path, force: bool) -> Result<ExitCode> {
    if corpus != "linux" {
        bail!("unknown corpus '{corpus}'; known: linux");
    }
    match rnnlab::data::linux::prepare(out, force)? {
        None => println!("{} already exists (--force rebuilds it)", out.join(rnnlab::data::linux::TEXT_FILE).display()),
        Some(b) => println!(
            "{}: {} characters ({} bytes) from {} files of {}
SHA-256 {}",
            b.path.display(),
            b.chars,
            b.bytes,
            b.files,
            b.package,
            b.sha256
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn report(a: ReportArgs) -> Result<ExitCode> {
    if !a.dir.is_dir() {
        bail!("{} is not a directory", a.dir.display());
    }
    let mut o = rnnlab::report::spec_defaults(&a.dir);
    if let Some(m) = a.metric {
        o.metric = m;
    }
    if a.baseline.is_some() {
        o.baseline = a.baseline;
    }
    if let Some(m) = a.margin {
        o.margin = m;
    }
    if let Some(x) = a.alpha {
        o.alpha = x;
    }
    if !a.split_by.is_empty() {
        o.split_by = a.split_by;
    }
    let files = rnnlab::report::write(&a.dir, &o)?;
    for f in files {
        println!("{}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn decode_cmd(a: DecodeArgs) -> Result<ExitCode> {
    use rnnlab::tasks::examples::{DecodeOptions, Decoder};
    if a.beam == Some(0) {
        bail!("--beam must be at least 1");
    }
    if a.max_length == Some(0) {
        bail!("--max-length must be at least 1");
    }
    if !(a.length_norm >= 0.0 && a.length_norm.is_finite()) {
        bail!("--length-norm must be a number >= 0");
    }
    let (decoder, what) = Decoder::open(&a.path)?;
    eprintln!("decoding with {what}");
    if a.beam.is_some() && !decoder.decodes_sequences() {
        bail!("--beam applies to seq2seq models; this one is a {} model", decoder.task());
    }
    let options = DecodeOptions { beam: a.beam, length_norm: a.length_norm, max_length: a.max_length };
    let inputs: Vec<String> = if a.inputs.is_empty() {
        std::io::stdin().lines().collect::<std::io::Result<_>>().context("reading standard input")?
    } else {
        a.inputs
    };
    for input in inputs.iter().filter(|l| !l.trim().is_empty()) {
        let unknown = decoder.unknown(input);
        if !unknown.is_empty() {
            eprintln!("note: read as <unk> (never seen in training): {}", unknown.join(" "));
        }
        println!("{}", decoder.decode(input, &options)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn sample_cmd(a: SampleArgs) -> Result<ExitCode> {
    let (model, what) = generate::open(&a.path)?;
    eprintln!("sampling {what}");
    match model {
        generate::Model::Rnn(m) => sample_with(&m, &a),
        generate::Model::Ngram(m) => sample_with(&m, &a),
    }
}

/// Prints the prime, then the continuation as it is generated.
fn sample_with<M: generate::LanguageModel>(m: &M, a: &SampleArgs) -> Result<ExitCode> {
    use std::io::Write;
    let prime = generate::encode_prime(m.vocab(), &a.prime)?;
    let mut out = std::io::stdout().lock();
    if let Some(width) = a.beam {
        let stop = match a.stop {
            Some(c) => {
                Some(m.vocab().id(c).with_context(|| format!("--stop: {c:?} is not in the model's vocabulary"))?)
            }
            None => None,
        };
        let best = generate::beam_search(m, &prime, width, a.length, stop, a.length_norm)?;
        let text: String = best.tokens.iter().filter_map(|&t| m.vocab().char(t)).collect();
        writeln!(out, "{}{text}", a.prime)?;
        eprintln!(
            "beam {width}: ln P = {:.3} over {} characters, score {:.4}",
            best.log_prob,
            best.tokens.len(),
            best.score
        );
        return Ok(ExitCode::SUCCESS);
    }
    let opts = generate::SampleOptions {
        length: a.length,
        temperature: a.temperature,
        top_k: a.top_k,
        greedy: a.greedy,
        seed: a.seed,
        stop: a.stop,
    };
    opts.check()?;
    write!(out, "{}", a.prime)?;
    generate::sample(m, &a.prime, &opts, &mut |c| {
        write!(out, "{c}")?;
        out.flush()?;
        Ok(())
    })?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

fn bench_cmd(a: BenchArgs) -> Result<ExitCode> {
    let workload = match a.task {
        BenchTask::Text => {
            if a.length.is_some() || a.attention.is_some() {
                bail!("--length and --attention are options of --task seq2seq");
            }
            bench::Workload::Text { bptt: a.bptt.unwrap_or(64), corpus: a.corpus }
        }
        BenchTask::Cipher => {
            if a.bptt.is_some() || a.corpus.is_some() {
                bail!("--bptt and --corpus are options of --task char_lm");
            }
            let attention = match a.attention.unwrap_or(BenchAttention::None) {
                BenchAttention::None => spec::Attention::None,
                BenchAttention::Luong => spec::Attention::Luong,
            };
            bench::Workload::Cipher { length: a.length.unwrap_or(20), attention }
        }
    };
    if let Some(t) = a.threads {
        tch::set_num_threads(t as i32);
    }
    let config = bench::BenchConfig {
        hidden: a.hidden,
        layers: a.layers,
        batch: a.batch,
        steps: a.steps,
        warmup: a.warmup,
        device: a.device.resolve()?,
        workload,
    };
    let result = bench::run(&config)?;
    println!("{}", serde_json::to_string(&result)?);
    Ok(ExitCode::SUCCESS)
}

fn info() -> Result<ExitCode> {
    println!("rnnlab {}", env!("CARGO_PKG_VERSION"));
    println!("torch package: {}", rnnlab::data::builtin::torch_dir().display());
    println!("intra-op threads: {}", tch::get_num_threads());
    println!(
        "CUDA available: {} ({} device(s)), cuDNN: {}",
        tch::Cuda::is_available(),
        tch::Cuda::device_count(),
        tch::Cuda::cudnn_is_available()
    );
    match rnnlab::data::builtin::load(rnnlab::data::builtin::DEFAULT) {
        Ok(text) => {
            println!("built-in corpus {}: {} chars, checksum ok", rnnlab::data::builtin::DEFAULT, text.chars().count())
        }
        Err(e) => println!("built-in corpus unavailable: {e:#}"),
    }
    Ok(ExitCode::SUCCESS)
}
