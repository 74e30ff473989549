//! Packed trials: several trial directories of one shape trained in one
//! process as one model (`rnnlab run-pack DIR…`, and the sweep's
//! `sweep.pack` / `run --pack K`).
//!
//! Each member stays a trial of its own: its model is built from its own
//! seed exactly as unpacked, and it keeps its own optimizer state, learning
//! rate and schedule, weight decay, gradient clipping, batch order,
//! divergence, evaluations, checkpoints, `metrics.csv` and `status.json`
//! ([`crate::trial::Member`]). Only the training forward and backward pass
//! is shared ([`crate::train::packed::step`]). Evaluation runs each
//! member's own (unpacked) model, so its numbers are those of the weights
//! it has.
//!
//! Packed numbers equal unpacked ones to rounding, not bit for bit (the
//! pack runs hand-written equations, where an unpacked fused cell runs
//! libtorch's kernel, and GEMMs batched over trials round differently), so
//! packing is off unless asked for.
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::spec::sweep::Trial;
use crate::spec::Spec;
use crate::trial::{AbortAt, Member, Status};

/// What must be equal for trials to train in one pack: the trial's spec
/// without what each member keeps for itself (seed, optimizer and its
/// settings, schedule, clipping, initial forget bias). `None` for a
/// trial that cannot be packed: a baseline, a task whose models do not
/// pack ([`crate::tasks::TaskKind::packs`]: only `char_lm` today), or a model with dropout (whose
/// masks come from the trial's own generator, reseeded every step, which
/// one pass over several trials cannot reproduce).
pub fn signature(trial: &Trial) -> Option<String> {
    if trial.baseline.is_some() || trial.spec.model.dropout > 0.0 {
        return None;
    }
    if !crate::tasks::of(&trial.spec).is_ok_and(|t| t.packs()) {
        return None;
    }
    let Spec { task, data, model, train, device, .. } = &trial.spec;
    let model = crate::spec::ModelSpec { forget_bias: None, ..model.clone() };
    let d = crate::spec::TrainSpec::default();
    let train = crate::spec::TrainSpec {
        optimizer: d.optimizer,
        lr: d.lr,
        momentum: d.momentum,
        weight_decay: d.weight_decay,
        lr_schedule: d.lr_schedule,
        clip_grad_norm: d.clip_grad_norm,
        seed: d.seed,
        ..train.clone()
    };
    serde_json::to_string(&(task, data, model, train, device)).ok()
}

/// How one member of a pack ended: its status, or why it failed.
pub type Ended = Result<Status>;

/// Trains `trials` (each with its directory) as one pack on `device`
/// with `threads` libtorch threads: each resumes from its own
/// `checkpoint-last/` if it left one. A member that diverges is frozen
/// (recorded, dropped from the pack) and the others go on; one whose
/// directory cannot be written fails alone. A resumed member runs with
/// `threads`, not the count it started with (unlike `run-trial`). The caller holds every
/// member's lock. `abort` is the trial test hook (the first member to
/// reach it aborts the process).
pub fn run(
    trials: &[(Trial, &Path)],
    device: tch::Device,
    threads: usize,
    abort: Option<AbortAt>,
) -> Result<Vec<Ended>> {
    let Some((first, _)) = trials.first() else { bail!("run-pack: no trial directories") };
    let sig = signature(first)
        .with_context(|| format!("trial {} cannot be packed (a baseline, or dropout > 0)", first.id))?;
    for (t, dir) in trials {
        if signature(t).as_ref() != Some(&sig) {
            bail!(
                "{}: trial {} does not share the pack's shape (task, data, model, batch, steps, evaluation) with {}",
                dir.display(),
                t.id,
                first.id
            );
        }
    }
    let task = crate::tasks::of(&first.spec)?;
    let data = task.load(&first.spec);
    let mut progress: Vec<()> = vec![(); trials.len()];
    let mut ended: Vec<Option<Ended>> = (0..trials.len()).map(|_| None).collect();
    let mut members = Vec::new();
    for (k, ((trial, dir), progress)) in trials.iter().zip(progress.iter_mut()).enumerate() {
        match Member::start(trial, dir, data.as_deref(), device, threads, progress, abort) {
            Ok(Ok(member)) => members.push((k, member)),
            Ok(Err((end, e))) => ended[k] = Some(end.end(dir, Err(e))),
            Err(e) => ended[k] = Some(Err(e)),
        }
    }
    if let (Ok(data), Some((_, m))) = (data.as_deref(), members.first()) {
        let model = data.packed_model(m.model());
        let model = model.with_context(|| format!("task {}: its models cannot be packed", task.name()))?;
        if let Some((k, _)) = members.iter().find(|(_, m)| data.packed_model(m.model()) != Some(model)) {
            bail!("trial {}: its model does not have the pack's shape", trials[*k].0.id);
        }
        let mut runs: Vec<_> = members.iter_mut().map(|(_, m)| Some(m.trainer.begin())).collect();
        let total = members[0].1.trainer.total_steps();
        let start = runs.iter().flatten().map(|r| r.first).min().unwrap_or(total + 1);
        for step in start..=total {
            // Members resumed from a later checkpoint wait for the others.
            let active: Vec<usize> =
                (0..members.len()).filter(|&i| runs[i].as_ref().is_some_and(|r| r.first <= step)).collect();
            if active.is_empty() {
                continue;
            }
            let outs = {
                let mut trainers: Vec<&mut crate::train::Trainer> = members
                    .iter_mut()
                    .enumerate()
                    .filter(|(i, _)| active.contains(i))
                    .map(|(_, (_, m))| &mut m.trainer)
                    .collect();
                crate::train::packed::step(&mut trainers, &model, step - 1)?
            };
            for (i, out) in active.into_iter().zip(outs) {
                let run = runs[i].as_mut().expect("active members are running");
                let (k, member) = &mut members[i];
                let dir = trials[*k].1;
                match member.after_step(run, step, &out) {
                    Ok(true) => {}
                    Ok(false) => {
                        // Diverged: frozen; its report is written below.
                        let report = member.finish(runs[i].take().expect("running"));
                        ended[*k] = Some(member.end_in_place(dir, report));
                    }
                    Err(e) => {
                        runs[i] = None;
                        ended[*k] = Some(member.end_in_place(dir, Err(e)));
                    }
                }
            }
        }
        for (i, run) in runs.into_iter().enumerate() {
            if let Some(run) = run {
                let (k, member) = &mut members[i];
                let report = member.finish(run);
                ended[*k] = Some(member.end_in_place(trials[*k].1, report));
            }
        }
    }
    Ok(ended.into_iter().map(|e| e.unwrap_or_else(|| Err(anyhow::anyhow!("not run")))).collect())
}

/// `rnnlab run-pack DIR…`: locks each trial directory (one held by
/// another process is left out, with a message), reads its `trial.yaml`
/// and trains them as one pack ([`run`]); prints each member's end.
/// Returns how many members failed.
pub fn run_dirs(
    dirs: &[std::path::PathBuf],
    device: Option<crate::device::DeviceSpec>,
    threads: usize,
) -> Result<usize> {
    let mut locks = Vec::new();
    let mut trials = Vec::new();
    for dir in dirs {
        let plan = crate::plan::trial(dir, device, Some(threads), true)?;
        match crate::lock::TrialLock::acquire(dir) {
            Ok(lock) => locks.push(lock),
            Err(crate::lock::Refused::Held { holder, .. }) => {
                eprintln!("{}: skipped: another run is training it ({holder})", plan.trial.id);
                continue;
            }
            Err(crate::lock::Refused::Io(e)) => return Err(e),
        }
        trials.push((plan.trial, plan.device, dir.as_path()));
    }
    let Some(&(_, device, _)) = trials.first() else { return Ok(0) };
    if let Some((t, _, _)) = trials.iter().find(|(_, d, _)| *d != device) {
        bail!("trial {} runs on another device than the pack's first", t.id);
    }
    tch::set_num_threads(threads as i32);
    tch::set_num_interop_threads(1);
    let abort = std::env::var("RNNLAB_TEST_ABORT_AT").ok().and_then(|v| AbortAt::parse(&v));
    let members: Vec<(Trial, &Path)> = trials.into_iter().map(|(t, _, dir)| (t, dir)).collect();
    let ended = run(&members, device, threads, abort)?;
    let mut failed = 0;
    for ((t, dir), end) in members.iter().zip(ended) {
        match end {
            Ok(s) => eprintln!("{}: {} in {:.1}s — {}", t.id, s.state.as_str(), s.elapsed_s, dir.display()),
            Err(e) => {
                failed += 1;
                eprintln!("{}: failed: {e:#}", t.id);
            }
        }
    }
    drop(locks);
    Ok(failed)
}

/// Largest pack `auto` makes: see [`group`].
pub const AUTO_SIZE: usize = 8;

/// The units a sweep runs `pending` trials in: packs of up to K trials of
/// one [`signature`] (in the order the trials first appear), and every
/// other trial alone. `auto` packs, up to [`AUTO_SIZE`], only where the
/// README's measured table (`scripts/bench_pack.py`, 1 CPU thread) shows
/// packs faster than the same trials unpacked: hand-written cells up to
/// hidden 128, fused cells (whose unpacked kernel is faster than the
/// pack's written-out equations) up to hidden 32; never with a parameter
/// budget (the hidden size is not known before the data is).
pub fn group<'t>(pending: &[&'t Trial], setting: crate::spec::PackSetting) -> Vec<Vec<&'t Trial>> {
    use crate::spec::PackSetting;
    let size = |t: &Trial| match setting {
        PackSetting::Off => 1,
        PackSetting::Size(k) => k,
        PackSetting::Auto if t.spec.model.param_budget.is_none() && t.spec.model.hidden <= auto_max_hidden(t) => {
            AUTO_SIZE
        }
        PackSetting::Auto => 1,
    };
    let mut units: Vec<(Option<String>, Vec<&Trial>)> = Vec::new();
    for &t in pending {
        let k = size(t);
        let sig = if k > 1 { signature(t) } else { None };
        match units.iter_mut().find(|(s, unit)| sig.is_some() && s == &sig && unit.len() < k) {
            Some((_, unit)) => unit.push(t),
            None => units.push((sig, vec![t])),
        }
    }
    units.into_iter().map(|(_, unit)| unit).collect()
}

/// The largest hidden size `auto` packs a trial's cell at (see [`group`]).
fn auto_max_hidden(t: &Trial) -> usize {
    if t.spec.model.cell.is_fused() {
        32
    } else {
        128
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::PackSetting;

    fn trials(grid: &str) -> Vec<Trial> {
        let src = format!(
            "task: char_lm\ndata:\n  source: {{kind: xml, chars: 1000}}\ntrain:\n  steps: 10\nsweep:\n  grid:\n{grid}  seeds: [1, 2, 3]\n"
        );
        crate::spec::sweep::expand(&crate::spec::parse(&src, "t.yaml", "t").unwrap()).unwrap()
    }

    fn sizes(trials: &[Trial], setting: PackSetting) -> Vec<usize> {
        let refs: Vec<&Trial> = trials.iter().collect();
        group(&refs, setting).iter().map(Vec::len).collect()
    }

    // Fails if: `auto` packs a fused cell above hidden 32 (checked: with
    // `auto_max_hidden` 128 for every cell, the lstm at 64 packs: [3, 3]).
    #[test]
    fn packs_hold_one_shape_and_auto_packs_only_where_measured_faster() {
        // Two learning rates share a shape; two cells do not.
        let mixed = trials(
            "    model.cell: [lstm_vanilla, gru_lecture]\n    train.lr: [0.01, 0.001]\n    model.hidden: [64]\n",
        );
        assert_eq!(sizes(&mixed, PackSetting::Off), vec![1; 12]);
        assert_eq!(sizes(&mixed, PackSetting::Size(4)), vec![4, 2, 4, 2]);
        assert_eq!(sizes(&mixed, PackSetting::Auto), vec![6, 6]);
        let fused = trials("    model.cell: [lstm]\n    model.hidden: [32, 64]\n");
        assert_eq!(sizes(&fused, PackSetting::Auto), vec![3, 1, 1, 1]);
        let dropout = trials("    model.cell: [lstm_vanilla]\n    model.dropout: [0.1]\n");
        assert_eq!(sizes(&dropout, PackSetting::Size(8)), vec![1, 1, 1]);
    }

    // Fails if: `signature` ignores `TaskKind::packs`: the classifier's
    // three seeds form one pack of 3, which run-pack refuses (checked with
    // the test inverted).
    #[test]
    fn tasks_whose_models_do_not_pack_train_alone() {
        let src = "task: classify\ndata:\n  source: {kind: adding, examples: 200, min_length: 2, max_length: 6}\n\
                   train:\n  steps: 10\nsweep:\n  seeds: [1, 2, 3]\n";
        let classify = crate::spec::sweep::expand(&crate::spec::parse(src, "t.yaml", "t").unwrap()).unwrap();
        assert_eq!(sizes(&classify, PackSetting::Size(4)), vec![1, 1, 1]);
        assert_eq!(sizes(&classify, PackSetting::Auto), vec![1, 1, 1]);
    }
}
