//! The validation stage between the command line and execution, as in
//! ripgrep: each command's raw arguments are parsed (spec YAML, `--set`),
//! checked (every field, every sweep point: [`crate::spec`]), resolved
//! (sweep expansion, the device, the data: [`check_data`]) into a plan
//! that is ready to run. Every problem with the input surfaces here, before
//! anything is written; executing a plan only does the work.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::generate::{self, SampleOptions};
use crate::layout;
use crate::report::{self, Section};
use crate::spec::sweep::{self, Trial};
use crate::spec::{self, DeviceSpec, Loaded, ReportSpec};
use crate::summary::{self, Record};
use crate::tasks::examples::{DecodeOptions, Decoder};

/// A parsed, checked and expanded spec: its trials and its baselines'
/// pseudo-trials (data not yet checked).
pub struct Experiment {
    pub loaded: Loaded,
    pub trials: Vec<Trial>,
    pub baselines: Vec<Trial>,
}

impl Experiment {
    pub fn name(&self) -> &str {
        &self.loaded.spec.name
    }
}

/// Parses the spec, applies `--set` and expands the sweep, checking every
/// field of every trial (what `rnnlab list` shows).
pub fn experiment(spec_path: &Path, overrides: &[String]) -> Result<Experiment> {
    let loaded = spec::load(spec_path)?;
    let loaded = crate::tasks::resolve(&sweep::apply_overrides(&loaded, overrides)?)?;
    let trials = crate::tasks::expand(&loaded)?;
    let baselines = spec::baseline::trials(&loaded)?;
    Ok(Experiment { loaded, trials, baselines })
}

/// Which trials of a spec `rnnlab run` runs.
pub enum Pick {
    All,
    /// `--trial ID`: a trained trial or a baseline.
    Id(String),
    /// `--trial-index N`: the N-th trained trial, e.g. `$SLURM_ARRAY_TASK_ID`.
    Index(usize),
}

/// What `rnnlab run` asks for.
pub struct RunRequest<'a> {
    pub spec: &'a Path,
    pub overrides: &'a [String],
    pub device: Option<DeviceSpec>,
    pub results: &'a Path,
    pub pick: Pick,
    /// libtorch threads of a single trial (default: all cores).
    pub threads: Option<usize>,
}

/// `rnnlab run`, resolved: the experiment directory to record the spec in,
/// then either every pending trial (one child process each) and the
/// baselines, or the one trial picked, in this process.
pub struct RunPlan {
    pub experiment: Experiment,
    pub dir: PathBuf,
    pub device: tch::Device,
    pub one: Option<TrialPlan>,
}

/// One trial ready to run in this process: what `rnnlab run-trial DIR`
/// reads from the directory, and `rnnlab run SPEC --trial ID` resolves
/// from the spec (then writes into the directory).
#[derive(Debug, Clone)]
pub struct TrialPlan {
    pub trial: Trial,
    pub dir: PathBuf,
    pub device: tch::Device,
    pub threads: usize,
    /// Print `@progress` lines for a parent sweep.
    pub progress: bool,
}

/// The experiment directory under `results`. The name and every id were
/// checked with the spec; checking the joins again here keeps every path
/// a sweep writes inside `results`.
fn experiment_dir(results: &Path, experiment: &Experiment) -> Result<PathBuf> {
    crate::fsutil::join_inside(results, experiment.name()).context("name")?;
    let dir = layout::experiment_dir(results, experiment.name());
    for t in experiment.baselines.iter().chain(&experiment.trials) {
        crate::fsutil::join_inside(&dir, &t.id).with_context(|| format!("trial id {}", t.id))?;
    }
    Ok(dir)
}

pub fn run(r: RunRequest) -> Result<RunPlan> {
    let experiment = experiment(r.spec, r.overrides)?;
    let device = r.device.unwrap_or(experiment.loaded.spec.device).resolve()?;
    let dir = experiment_dir(r.results, &experiment)?;
    let spec = r.spec.display();
    let picked = match &r.pick {
        Pick::All => None,
        Pick::Id(id) => Some(
            experiment
                .baselines
                .iter()
                .chain(&experiment.trials)
                .find(|t| &t.id == id)
                .with_context(|| format!("no trial '{id}' in {spec}; `rnnlab list {spec}` shows the ids"))?,
        ),
        Pick::Index(i) => Some(experiment.trials.get(*i).with_context(|| {
            format!(
                "--trial-index {i} is out of range: {spec} has {} trials (0..{})",
                experiment.trials.len(),
                experiment.trials.len()
            )
        })?),
    };
    let one = match picked {
        Some(t) => {
            check_data(std::slice::from_ref(t))?;
            let dir = layout::trial_dir(&dir, &t.id);
            Some(TrialPlan { trial: t.clone(), dir, device, threads: threads_or_all(r.threads), progress: false })
        }
        None => {
            check_data(&experiment.trials)?;
            check_data(&experiment.baselines)?;
            None
        }
    };
    Ok(RunPlan { experiment, dir, device, one })
}

/// `rnnlab submit`, resolved: checked like `run` (every trial's data
/// included), with the spec's `executor:` section. The device is resolved
/// on the compute node, not here.
pub struct SubmitPlan {
    pub experiment: Experiment,
    pub dir: PathBuf,
    pub executor: crate::spec::ExecutorSpec,
}

pub fn submit(spec: &Path, overrides: &[String], results: &Path) -> Result<SubmitPlan> {
    let experiment = experiment(spec, overrides)?;
    let dir = experiment_dir(results, &experiment)?;
    check_data(&experiment.trials)?;
    check_data(&experiment.baselines)?;
    let executor = experiment.loaded.spec.executor.clone().unwrap_or_default();
    Ok(SubmitPlan { experiment, dir, executor })
}

/// `rnnlab run-trial DIR`: the trial its `trial.yaml` describes, nothing
/// else (no experiment spec, no `--set`, no sweep). `progress` marks a
/// sweep's child, whose parent has checked the data already.
pub fn trial(dir: &Path, device: Option<DeviceSpec>, threads: Option<usize>, progress: bool) -> Result<TrialPlan> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let file = dir.join(layout::TRIAL_FILE);
    if !file.is_file() {
        bail!(
            "{} has no {}: run-trial runs a trial directory as `rnnlab run` writes it (trials/<id>/)",
            dir.display(),
            layout::TRIAL_FILE
        );
    }
    let trial = Trial::read(dir)?;
    crate::tasks::check(&trial.spec).map_err(|(field, message)| anyhow!("{}: {field}: {message}", file.display()))?;
    let device = device.unwrap_or(trial.spec.device).resolve()?;
    if !progress {
        check_data(std::slice::from_ref(&trial))?;
    }
    Ok(TrialPlan { trial, dir: dir.to_path_buf(), device, threads: threads_or_all(threads), progress })
}

fn threads_or_all(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// Loads every distinct dataset once (as its task keys it) and resolves
/// each trial's model against it (its parameter budget), so data problems
/// surface before anything is written.
pub fn check_data(trials: &[Trial]) -> Result<()> {
    let mut loaded: HashMap<String, Box<dyn crate::tasks::TaskData>> = HashMap::new();
    for t in trials {
        let task = crate::tasks::of(&t.spec)?;
        let key = format!("{}/{}", task.name(), task.data_key(&t.spec));
        if !loaded.contains_key(&key) {
            loaded.insert(key.clone(), task.load(&t.spec).with_context(|| format!("trial {}", t.id))?);
        }
        loaded[&key].resolve_model(&t.spec).with_context(|| format!("trial {}", t.id))?;
    }
    Ok(())
}

/// An experiment directory that `rnnlab summary`, `plot` and `report` read:
/// its trial directories, or, in committed results without `trials/`, its
/// `summary.csv`.
pub struct Results {
    pub dir: PathBuf,
    pub records: Vec<Record>,
    /// Read from `summary.csv` ([`summary::from_summary_csv`]): no curves,
    /// no checkpoints, and `summary.csv` itself cannot be rebuilt.
    pub from_summary: bool,
}

/// `rnnlab summary DIR` and `rnnlab plot DIR`.
pub fn results(dir: &Path) -> Result<Results> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    if !layout::trials_dir(dir).is_dir() && dir.join(layout::SUMMARY_CSV).is_file() {
        let records = summary::from_summary_csv(dir)?;
        return Ok(Results { dir: dir.to_path_buf(), records, from_summary: true });
    }
    Ok(Results { dir: dir.to_path_buf(), records: summary::collect(dir)?, from_summary: false })
}

/// `rnnlab report` options given on the command line; each replaces the
/// spec's `report:` value.
#[derive(Default)]
pub struct ReportOverrides {
    pub metric: Option<String>,
    pub baseline: Option<String>,
    pub margin: Option<f64>,
    pub alpha: Option<f64>,
    pub split_by: Vec<String>,
    pub top: Option<f64>,
}

pub struct ReportPlan {
    pub results: Results,
    pub options: ReportSpec,
    pub sections: Vec<Section>,
}

/// `rnnlab report DIR`: the options (command line over the spec's), checked,
/// and the analysis they ask for.
pub fn report(dir: &Path, cli: ReportOverrides) -> Result<ReportPlan> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let mut o = report::spec_defaults(dir);
    if let Some(m) = cli.metric {
        o.metric = m;
    }
    if cli.baseline.is_some() {
        o.baseline = cli.baseline;
    }
    if let Some(m) = cli.margin {
        o.margin = m;
    }
    if let Some(x) = cli.alpha {
        o.alpha = x;
    }
    if !cli.split_by.is_empty() {
        o.split_by = cli.split_by;
    }
    if cli.top.is_some() {
        o.top = cli.top;
    }
    let results = results(dir)?;
    let options = report::with_default_metric(&o, &results.records);
    report::check_options(&options, summary::task_of(&results.records))?;
    let sections = report::analyse(&results.records, &options)?;
    Ok(ReportPlan { results, options, sections })
}

pub struct DecodePlan {
    pub decoder: Decoder,
    /// What was loaded, for the user.
    pub what: String,
    pub options: DecodeOptions,
}

/// `rnnlab decode PATH`: the options, then the model they apply to.
pub fn decode(path: &Path, options: DecodeOptions) -> Result<DecodePlan> {
    if options.beam == Some(0) {
        bail!("--beam must be at least 1");
    }
    if options.max_length == Some(0) {
        bail!("--max-length must be at least 1");
    }
    if !(options.length_norm >= 0.0 && options.length_norm.is_finite()) {
        bail!("--length-norm must be a number >= 0");
    }
    let (decoder, what) = Decoder::open(path)?;
    if options.beam.is_some() && !decoder.decodes_sequences() {
        bail!("--beam applies to seq2seq models; this one is a {} model", decoder.task());
    }
    Ok(DecodePlan { decoder, what, options })
}

/// Beam search options of `rnnlab sample`.
pub struct BeamRequest {
    pub width: usize,
    pub length_norm: f64,
}

pub struct SamplePlan {
    pub model: generate::Model,
    /// What was loaded, for the user.
    pub what: String,
    pub prime: String,
    /// The prime as token ids of the model's vocabulary.
    pub prime_ids: Vec<i64>,
    pub generation: Generation,
}

pub enum Generation {
    Sample(SampleOptions),
    /// `stop` as a token id of the model's vocabulary.
    Beam {
        width: usize,
        length: usize,
        stop: Option<i64>,
        length_norm: f64,
    },
}

/// `rnnlab sample PATH`: the options, the model, and the prime and stop
/// character read with the model's vocabulary.
pub fn sample(path: &Path, prime: &str, options: SampleOptions, beam: Option<BeamRequest>) -> Result<SamplePlan> {
    if beam.is_none() {
        options.check()?;
    }
    let (model, what) = generate::open(path)?;
    let vocab = match &model {
        generate::Model::Rnn(m) => generate::LanguageModel::vocab(m),
        generate::Model::Ngram(m) => generate::LanguageModel::vocab(m),
    };
    let prime_ids = generate::encode_prime(vocab, prime)?;
    let generation = match beam {
        None => Generation::Sample(options),
        Some(b) => {
            let stop = match options.stop {
                Some(c) => {
                    Some(vocab.id(c).with_context(|| format!("--stop: {c:?} is not in the model's vocabulary"))?)
                }
                None => None,
            };
            Generation::Beam { width: b.width, length: options.length, stop, length_norm: b.length_norm }
        }
    };
    Ok(SamplePlan { model, what, prime: prime.to_string(), prime_ids, generation })
}

/// What `rnnlab bench` trains.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum BenchTask {
    /// The char-LSTM language model on text (`char_lm`).
    #[value(name = "char_lm")]
    Text,
    /// The LSTM encoder-decoder on a letter cipher (`seq2seq`).
    #[value(name = "seq2seq")]
    Cipher,
}

/// The attentions `scripts/torch_seq2seq_reference.py` also implements.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum BenchAttention {
    None,
    Luong,
}

/// What `rnnlab bench` asks for; task options are `None` when not given.
pub struct BenchRequest {
    pub task: BenchTask,
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub bptt: Option<usize>,
    pub length: Option<usize>,
    pub attention: Option<BenchAttention>,
    pub steps: usize,
    pub warmup: usize,
    pub device: DeviceSpec,
    pub corpus: Option<PathBuf>,
}

/// `rnnlab bench`: each option checked against the task, the device resolved.
pub fn bench(r: BenchRequest) -> Result<crate::bench::BenchConfig> {
    use crate::bench::Workload;
    let workload = match r.task {
        BenchTask::Text => {
            if r.length.is_some() || r.attention.is_some() {
                bail!("--length and --attention are options of --task seq2seq");
            }
            Workload::Text { bptt: r.bptt.unwrap_or(64), corpus: r.corpus }
        }
        BenchTask::Cipher => {
            if r.bptt.is_some() || r.corpus.is_some() {
                bail!("--bptt and --corpus are options of --task char_lm");
            }
            let attention = match r.attention.unwrap_or(BenchAttention::None) {
                BenchAttention::None => spec::Attention::None,
                BenchAttention::Luong => spec::Attention::Luong,
            };
            Workload::Cipher { length: r.length.unwrap_or(20), attention }
        }
    };
    Ok(crate::bench::BenchConfig {
        hidden: r.hidden,
        layers: r.layers,
        batch: r.batch,
        steps: r.steps,
        warmup: r.warmup,
        device: r.device.resolve()?,
        workload,
    })
}
