//! The `rnnlab` command line: arguments → [`plan`] (every check, before
//! anything is written) → execution. The only place errors become exit codes.
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;

use rnnlab::plan::{self, Generation, RunPlan};
use rnnlab::{generate, runner};

mod args;

use args::*;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`rnnlab list ... | head`) like other CLI tools.
    // SAFETY: restoring the default disposition of SIGPIPE before any threads start.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run(args) => run(args),
        // The warning signal's handling goes in before libtorch starts threads.
        Cmd::RunTrial(a) => rnnlab::signal::install()
            .context("cannot install the SIGUSR1 handling")
            .and_then(|()| plan::trial(&a.dir, a.device, a.threads, a.progress))
            .and_then(|p| run_trial(&p)),
        Cmd::Submit(args) => submit(args),
        Cmd::Status { dir } => status(&dir),
        Cmd::Watch { dir, interval } => watch(&dir, interval),
        Cmd::RunPack(a) => {
            let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            rnnlab::pack::run_dirs(&a.dirs, a.device, threads).map(|failed| {
                if failed > 0 {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                }
            })
        }
        Cmd::List { spec, overrides } => list(&spec, &overrides),
        Cmd::Encode { spec, overrides } => encode(&spec, &overrides),
        Cmd::Plot { dir } | Cmd::Summary { dir } => summarise(&dir),
        Cmd::Sample(args) => sample_cmd(args),
        Cmd::Decode(args) => decode_cmd(args),
        Cmd::Data { corpus, out, force } => data_cmd(&corpus, &out, force),
        Cmd::Report(args) => report(args),
        Cmd::Bench(args) => bench_cmd(args),
        Cmd::Info => info(),
        Cmd::Tasks { name, json } => tasks(name.as_deref(), json),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: RunArgs) -> Result<ExitCode> {
    let pick = match (a.trial, a.trial_index) {
        (Some(id), _) => plan::Pick::Id(id),
        (None, Some(i)) => plan::Pick::Index(i),
        (None, None) => plan::Pick::All,
    };
    let request = plan::RunRequest {
        spec: &a.spec,
        overrides: &a.overrides,
        device: a.device,
        results: &a.results,
        pick,
        threads: a.threads,
    };
    let RunPlan { experiment: exp, dir, device, one } = &plan::run(request)?;
    // Recorded even for one trial, so summaries can be rebuilt later.
    runner::init_experiment_dir(dir, &exp.loaded)?;
    if let Some(t) = one {
        t.trial.write(&t.dir)?;
        return run_trial(t);
    }
    let pack = a.pack.unwrap_or(exp.loaded.spec.sweep.pack);
    let opts = runner::SweepOptions { device: *device, jobs: a.jobs, rerun: a.rerun, pack };
    let (fitted, baselines_failed) = runner::run_baselines(&opts, dir, &exp.baselines);
    let (ran, failed) = runner::run_sweep(&opts, dir, &exp.trials)?;
    let (ran, failed) = (ran + fitted, failed + baselines_failed);
    let (table, files) = rnnlab::rebuild_outputs(dir)?;
    println!("\n{}: {ran} trial(s) run, {failed} failed\n{table}", exp.name());
    println!("results: {}", dir.display());
    for f in files {
        println!("  {}", f.display());
    }
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// One trial directory, in this process: `run-trial` (each sweep child, each
/// Slurm task) and `run --trial`.
fn run_trial(p: &plan::TrialPlan) -> Result<ExitCode> {
    let status = runner::run_trial(p)?;
    if status.stopped() {
        // The warning signal: checkpointed, for the batch script to requeue.
        eprintln!("{}: {}", p.trial.id, status.message.as_deref().unwrap_or("stopped"));
        return Ok(ExitCode::from(rnnlab::slurm::script::STOPPED_EXIT));
    }
    eprintln!("{}: {} in {:.1}s — {}", p.trial.id, status.state.as_str(), status.elapsed_s, p.dir.display());
    Ok(ExitCode::SUCCESS)
}

fn submit(a: SubmitArgs) -> Result<ExitCode> {
    let p = plan::submit(&a.spec, &a.overrides, &a.results)?;
    rnnlab::slurm::submit_command(&p, a.device.map(|d| d.to_string()), a.dry_run)?;
    Ok(ExitCode::SUCCESS)
}

fn status(dir: &Path) -> Result<ExitCode> {
    print!("{}", rnnlab::status::report(dir, false)?.0);
    Ok(ExitCode::SUCCESS)
}

fn watch(dir: &Path, interval: f64) -> Result<ExitCode> {
    rnnlab::status::watch(dir, interval)?;
    Ok(ExitCode::SUCCESS)
}

fn encode(path: &Path, overrides: &[String]) -> Result<ExitCode> {
    let exp = plan::experiment(path, overrides)?;
    let trial = exp.trials.first().context("the spec has no trials")?;
    let clock = std::time::Instant::now();
    let report = rnnlab::data::encode::report(&trial.spec)?;
    let seconds = clock.elapsed().as_secs_f64();
    let mut json = serde_json::to_value(&report)?;
    json["seconds"] = seconds.into();
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

fn list(path: &Path, overrides: &[String]) -> Result<ExitCode> {
    let exp = plan::experiment(path, overrides)?;
    println!("{}: {} trial(s)", exp.name(), exp.trials.len());
    for (i, t) in exp.trials.iter().enumerate() {
        println!("{i:>4}  {:<32} {}  seed {}", t.id, t.variant, t.spec.train.seed);
    }
    if !exp.baselines.is_empty() {
        println!("baselines (run with --trial ID):");
        for b in &exp.baselines {
            println!("      {:<32} {}", b.id, b.variant);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn summarise(dir: &Path) -> Result<ExitCode> {
    let results = plan::results(dir)?;
    if results.from_summary {
        let rows = rnnlab::summary::by_variant(&results.records);
        println!("{}", rnnlab::summary::terminal_table(&rows));
        eprintln!(
            "note: {} has no trials/ directory: this table is read from its summary.csv, and nothing is \
             rebuilt (summary.csv, summary.md, metrics.json and the plots need the trial directories; \
             `rnnlab report` works from summary.csv, without learning curves or samples)",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (table, files) = rnnlab::write_outputs(&results.dir, &results.records)?;
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
    let cli = plan::ReportOverrides {
        metric: a.metric,
        baseline: a.baseline,
        margin: a.margin,
        alpha: a.alpha,
        split_by: a.split_by,
        top: a.top,
    };
    let p = plan::report(&a.dir, cli)?;
    if p.results.from_summary {
        eprintln!(
            "note: {} has no trials/ directory: the report is built from summary.csv, without learning \
             curves, length breakdowns or samples (they need the trial directories)",
            a.dir.display()
        );
    }
    let files = rnnlab::report::write(&p.results.dir, &p.results.records, &p.sections, &p.options)?;
    for f in files {
        println!("{}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn decode_cmd(a: DecodeArgs) -> Result<ExitCode> {
    let options =
        rnnlab::tasks::examples::DecodeOptions { beam: a.beam, length_norm: a.length_norm, max_length: a.max_length };
    let p = plan::decode(&a.path, options)?;
    eprintln!("decoding with {}", p.what);
    let inputs: Vec<String> = if a.inputs.is_empty() {
        std::io::stdin().lines().collect::<std::io::Result<_>>().context("reading standard input")?
    } else {
        a.inputs
    };
    for input in inputs.iter().filter(|l| !l.trim().is_empty()) {
        let unknown = p.decoder.unknown(input);
        if !unknown.is_empty() {
            eprintln!("note: read as <unk> (never seen in training): {}", unknown.join(" "));
        }
        println!("{}", p.decoder.decode(input, &p.options)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn sample_cmd(a: SampleArgs) -> Result<ExitCode> {
    let options = generate::SampleOptions {
        length: a.length,
        temperature: a.temperature,
        top_k: a.top_k,
        greedy: a.greedy,
        seed: a.seed,
        stop: a.stop,
    };
    let beam = a.beam.map(|width| plan::BeamRequest { width, length_norm: a.length_norm });
    let p = plan::sample(&a.path, &a.prime, options, beam)?;
    eprintln!("sampling {}", p.what);
    match &p.model {
        generate::Model::Rnn(m) => sample_with(m, &p),
        generate::Model::Ngram(m) => sample_with(m, &p),
    }
}

/// Prints the prime, then the continuation as it is generated.
fn sample_with<M: generate::LanguageModel>(m: &M, p: &plan::SamplePlan) -> Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match &p.generation {
        &Generation::Beam { width, length, stop, length_norm } => {
            let best = generate::beam_search(m, &p.prime_ids, width, length, stop, length_norm)?;
            let text = m.vocab().decode(&best.tokens);
            writeln!(out, "{}{text}", p.prime)?;
            eprintln!(
                "beam {width}: ln P = {:.3} over {} tokens, score {:.4}",
                best.log_prob,
                best.tokens.len(),
                best.score
            );
        }
        Generation::Sample(opts) => {
            write!(out, "{}", p.prime)?;
            generate::sample(m, &p.prime, opts, &mut |c| {
                write!(out, "{c}")?;
                out.flush()?;
                Ok(())
            })?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_cmd(a: BenchArgs) -> Result<ExitCode> {
    let config = plan::bench(plan::BenchRequest {
        task: a.task,
        hidden: a.hidden,
        layers: a.layers,
        batch: a.batch,
        bptt: a.bptt,
        length: a.length,
        attention: a.attention,
        steps: a.steps,
        warmup: a.warmup,
        device: a.device,
        corpus: a.corpus,
    })?;
    if let Some(t) = a.threads {
        tch::set_num_threads(t as i32);
    }
    let result = rnnlab::bench::run(&config)?;
    println!("{}", serde_json::to_string(&result)?);
    Ok(ExitCode::SUCCESS)
}

fn tasks(name: Option<&str>, json: bool) -> Result<ExitCode> {
    print!("{}", rnnlab::tasks::listing(name, json)?);
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
