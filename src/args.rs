//! The command line's arguments, as clap parses them (`main.rs` executes them).
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use rnnlab::plan::{BenchAttention, BenchTask};
use rnnlab::spec::DeviceSpec;

#[derive(Parser)]
#[command(
    name = "rnnlab",
    version,
    about = "Sweep recurrent architectures described in YAML, train them with libtorch, log CSV, plot and summarise"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Run a sweep (or one trial of it) and write results/<name>/
    Run(RunArgs),
    /// Run (or resume) the trial of a trial directory: its trial.yaml, nothing else
    RunTrial(RunTrialArgs),
    /// Submit a sweep's pending trials to Slurm as job arrays, then a job that rebuilds summary, plots and report
    Submit(SubmitArgs),
    /// How an experiment directory's trials stand: counts by state, running trials' progress, failures
    Status {
        /// An experiment directory (results/<name>)
        dir: PathBuf,
    },
    /// `status`, refreshed, with a loss sparkline per running trial; ends when nothing is queued or running
    Watch {
        /// An experiment directory (results/<name>)
        dir: PathBuf,
        /// Seconds between refreshes
        #[arg(long, default_value_t = 5.0)]
        interval: f64,
    },
    /// Train several same-shape trial directories as one packed model
    #[command(hide = true)]
    RunPack(RunPackArgs),
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
    /// Encode a spec's text corpus into the corpus cache now (ahead of a sweep), and print its sizes as JSON
    Encode {
        spec: PathBuf,
        /// Override a spec value: KEY=VALUE (VALUE is YAML), e.g. data.tokens=words
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Statistical comparison of the variants of an experiment directory: report.md and its plots
    Report(ReportArgs),
    /// Training throughput of one char-LSTM or LSTM seq2seq configuration, as one JSON line
    Bench(BenchArgs),
    /// Versions, threads and devices this binary sees
    Info,
    /// The tasks this binary knows: their data sources and the metrics they log
    Tasks {
        /// Only this task
        name: Option<String>,
        /// As JSON (one task: what an experiment's metrics.json holds)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Experiment spec (YAML)
    pub(crate) spec: PathBuf,
    /// Override a spec value: KEY=VALUE (VALUE is YAML), e.g. --set train.steps=50
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) overrides: Vec<String>,
    /// auto, cpu, cuda or cuda:N (overrides the spec's device)
    #[arg(long)]
    pub(crate) device: Option<DeviceSpec>,
    /// Trials run at once (default: CPU cores on CPU, 1 on CUDA)
    #[arg(long)]
    pub(crate) jobs: Option<usize>,
    /// Train same-shape trials together: off, auto or a pack size K (default: the spec's sweep.pack, else off)
    #[arg(long, value_name = "off|auto|K")]
    pub(crate) pack: Option<rnnlab::spec::PackSetting>,
    /// Root of the results tree
    #[arg(long, default_value = "results")]
    pub(crate) results: PathBuf,
    /// Rerun trials that already finished or diverged (otherwise they are skipped)
    #[arg(long)]
    pub(crate) rerun: bool,
    /// Run only this trial, in this process (see `rnnlab list`)
    #[arg(long, conflicts_with = "trial_index")]
    pub(crate) trial: Option<String>,
    /// Run only the N-th trial (0-based), e.g. $SLURM_ARRAY_TASK_ID
    #[arg(long)]
    pub(crate) trial_index: Option<usize>,
    /// libtorch intra-op threads for a single trial (default: all cores)
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

#[derive(Args)]
pub(crate) struct SubmitArgs {
    /// Experiment spec (YAML); its `executor:` section holds the sbatch options
    pub(crate) spec: PathBuf,
    /// Override a spec value: KEY=VALUE (VALUE is YAML), e.g. --set executor.partition=gpu
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) overrides: Vec<String>,
    /// auto, cpu, cuda or cuda:N for every trial (default: each trial's own, resolved on its node)
    #[arg(long)]
    pub(crate) device: Option<DeviceSpec>,
    /// Root of the results tree (on a file system the compute nodes share)
    #[arg(long, default_value = "results")]
    pub(crate) results: PathBuf,
    /// Print the sbatch scripts and the trials they would run; write and submit nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Args)]
pub(crate) struct RunTrialArgs {
    /// A trial directory (results/<name>/trials/<id>/) holding its trial.yaml
    pub(crate) dir: PathBuf,
    /// auto, cpu, cuda or cuda:N (overrides the trial's device)
    #[arg(long)]
    pub(crate) device: Option<DeviceSpec>,
    /// libtorch intra-op threads (default: all cores)
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Print machine-readable progress lines (a sweep's child; the sweep checked the data)
    #[arg(long, hide = true)]
    pub(crate) progress: bool,
}

#[derive(Args)]
pub(crate) struct RunPackArgs {
    /// Trial directories holding their trial.yaml, all of one packable shape
    #[arg(required = true)]
    pub(crate) dirs: Vec<PathBuf>,
    /// auto, cpu, cuda or cuda:N (overrides the trials' device)
    #[arg(long)]
    pub(crate) device: Option<DeviceSpec>,
    /// libtorch intra-op threads (default: all cores)
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

#[derive(Args)]
pub(crate) struct SampleArgs {
    /// A trial directory (uses checkpoint-best/), a checkpoint directory, or a baseline's directory
    pub(crate) path: PathBuf,
    /// Text the model reads first; the output continues it (UTF-8)
    #[arg(long, default_value = "")]
    pub(crate) prime: String,
    /// Characters to generate
    #[arg(long, default_value_t = 500)]
    pub(crate) length: usize,
    /// Sampling temperature: below 1 is more conservative, above 1 more varied
    #[arg(long, default_value_t = 1.0)]
    pub(crate) temperature: f64,
    /// Sample only among the K most probable characters
    #[arg(long)]
    pub(crate) top_k: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Always take the most probable character
    #[arg(long, conflicts_with_all = ["top_k", "beam"])]
    pub(crate) greedy: bool,
    /// Beam search with this many prefixes instead of sampling
    #[arg(long, conflicts_with = "top_k")]
    pub(crate) beam: Option<usize>,
    /// Beam search ranks finished texts by ln P / length^A
    #[arg(long, default_value_t = 1.0, requires = "beam")]
    pub(crate) length_norm: f64,
    /// Stop after generating this character (e.g. $'\n' for one line)
    #[arg(long)]
    pub(crate) stop: Option<char>,
}

#[derive(Args)]
pub(crate) struct DecodeArgs {
    /// A trial directory (uses checkpoint-best/) or a checkpoint directory
    pub(crate) path: PathBuf,
    /// Input text (repeatable); without it, each line of standard input
    #[arg(long = "input", value_name = "TEXT")]
    pub(crate) inputs: Vec<String>,
    /// Seq2seq: beam search with this many hypotheses (default: greedy)
    #[arg(long)]
    pub(crate) beam: Option<usize>,
    /// Seq2seq beam search ranks hypotheses by ln P / length^A
    #[arg(long, default_value_t = 1.0)]
    pub(crate) length_norm: f64,
    /// Seq2seq: longest output in tokens (default: the trial's decode.max_length, else 2 × input + 10)
    #[arg(long)]
    pub(crate) max_length: Option<usize>,
}

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// An experiment directory (results/<name>)
    pub(crate) dir: PathBuf,
    /// Result column to compare (default: the spec's report.metric, else the task's: val_bpc, val_accuracy or val_exact_accuracy)
    #[arg(long)]
    pub(crate) metric: Option<String>,
    /// Variant to test the others against (default: the spec's, else the first)
    #[arg(long)]
    pub(crate) baseline: Option<String>,
    /// Equivalence margin as a fraction of the baseline's mean (default 0.02)
    #[arg(long)]
    pub(crate) margin: Option<f64>,
    /// Significance level (default 0.05)
    #[arg(long)]
    pub(crate) alpha: Option<f64>,
    /// Swept keys analysed separately, e.g. --split-by data.source
    #[arg(long = "split-by")]
    pub(crate) split_by: Vec<String>,
    /// Also compare each variant's best fraction of trials (by the validation metric) with
    /// Welch's test, as Greff et al. did: --top 0.1
    #[arg(long)]
    pub(crate) top: Option<f64>,
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// What to train: the char-LSTM language model or an LSTM encoder-decoder on a letter cipher
    #[arg(long, value_enum, default_value_t = BenchTask::Text)]
    pub(crate) task: BenchTask,
    #[arg(long, default_value_t = 128)]
    pub(crate) hidden: usize,
    #[arg(long, default_value_t = 1)]
    pub(crate) layers: usize,
    #[arg(long, default_value_t = 32)]
    pub(crate) batch: usize,
    /// char_lm: window length [default: 64]
    #[arg(long)]
    pub(crate) bptt: Option<usize>,
    /// seq2seq: length of every source and target [default: 20]
    #[arg(long)]
    pub(crate) length: Option<usize>,
    /// seq2seq: attention of the decoder [default: none]
    #[arg(long, value_enum)]
    pub(crate) attention: Option<BenchAttention>,
    #[arg(long, default_value_t = 30)]
    pub(crate) steps: usize,
    #[arg(long, default_value_t = 5)]
    pub(crate) warmup: usize,
    #[arg(long, default_value = "cpu")]
    pub(crate) device: DeviceSpec,
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// char_lm: a UTF-8 text file instead of the built-in corpus
    #[arg(long)]
    pub(crate) corpus: Option<PathBuf>,
}
