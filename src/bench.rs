//! `rnnlab bench`: training throughput of one char-LSTM configuration, in
//! the same format as `scripts/torch_reference.py` so `make bench` can put
//! the two side by side. It times the harness's own training step.
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::data::Corpus;
use crate::spec::{self, Cell, DataSpec, ModelSpec, Source, Spec, TrainSpec};
use crate::train::{Data, Trainer};

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub bptt: usize,
    pub steps: usize,
    pub warmup: usize,
    pub device: tch::Device,
    pub corpus: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct BenchResult {
    #[serde(rename = "impl")]
    pub implementation: &'static str,
    pub device: String,
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub bptt: usize,
    pub steps: usize,
    pub tokens_per_s: f64,
    pub peak_rss_mb: Option<f64>,
    pub peak_gpu_mb: Option<f64>,
    pub final_loss: f64,
}

/// The spec the benchmark trains: Adam 2e-3, clip 5, one-hot input.
pub fn spec(c: &BenchConfig) -> Spec {
    let source = match &c.corpus {
        Some(path) => Source::File { path: path.clone() },
        None => Source::Builtin { name: crate::data::builtin::DEFAULT.into() },
    };
    Spec {
        name: "bench".into(),
        description: String::new(),
        task: spec::Task::CharLm,
        data: DataSpec { source, split: Default::default(), max_chars: None, max_examples: None },
        model: ModelSpec { cell: Cell::Lstm, hidden: c.hidden, layers: c.layers, ..Default::default() },
        train: TrainSpec { batch_size: c.batch, bptt: c.bptt, steps: Some(c.warmup + c.steps), ..Default::default() },
        decode: Default::default(),
        device: Default::default(),
        sweep: Default::default(),
        baselines: Vec::new(),
        report: None,
    }
}

pub fn run(c: &BenchConfig) -> Result<BenchResult> {
    let spec = spec(c);
    let data = Data::Text(Corpus::load(&spec)?);
    let mut trainer = Trainer::new(&spec, &data, c.device)?;
    for step in 0..c.warmup {
        let _ = trainer.step(step);
    }
    sync(c.device);
    let start = Instant::now();
    let mut tokens = 0;
    let mut last = None;
    for step in c.warmup..c.warmup + c.steps {
        let out = trainer.step(step);
        tokens += out.tokens;
        last = Some(out);
    }
    let final_loss = last
        .map(|o| f64::try_from(o.loss_sum).unwrap_or(f64::NAN) / f64::try_from(o.scored).unwrap_or(f64::NAN))
        .unwrap_or(f64::NAN);
    sync(c.device);
    let seconds = start.elapsed().as_secs_f64();
    Ok(BenchResult {
        implementation: "rnnlab",
        device: crate::device::name(c.device),
        hidden: c.hidden,
        layers: c.layers,
        batch: c.batch,
        bptt: c.bptt,
        steps: c.steps,
        tokens_per_s: tokens as f64 / seconds,
        peak_rss_mb: peak_rss_mb(),
        peak_gpu_mb: None,
        final_loss,
    })
}

fn sync(device: tch::Device) {
    if let tch::Device::Cuda(n) = device {
        tch::Cuda::synchronize(n as i64);
    }
}

/// Peak resident set size of this process (Linux `VmHWM`).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
