//! Validation of what serde cannot check: ranges, combinations, budgets.
//! Each problem names the field it is about. These are the checks every
//! spec gets whatever its task; each task adds its own
//! (`crate::tasks::TaskKind::check`), and the validation stage runs both.
use std::path::Path;

use super::{Cell, InputEncoding, Lengths, LrSchedule, OptimizerKind, Shape, Source, Spec, Strings, Tokens};

/// The cells whose input size must equal hidden, for messages: "mut1 and mut2".
pub(crate) fn input_is_hidden_cells() -> String {
    let names: Vec<&str> = Cell::all().filter(|c| c.input_is_hidden).map(|c| c.name()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

impl Spec {
    /// Checks the values serde cannot: ranges, combinations, the budget.
    /// Returns `(field, message)` for the first problem found.
    pub fn check(&self) -> Result<(), (String, String)> {
        let err = |field: &str, msg: &str| Err((field.to_string(), msg.to_string()));
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return err("name", "use letters, digits, '-', '_' or '.' (it names the results directory)");
        }
        if self.name.chars().all(|c| c == '.') || self.name.len() > crate::fsutil::MAX_FILE_NAME {
            return err("name", "must be a directory name inside the results root: not '.' or '..', at most 255 bytes");
        }
        if let Some(field) = non_finite(&serde_yaml::to_value(self).expect("spec serialises"), "") {
            return err(&field, "must be a finite number (not .inf or .nan)");
        }
        if let Some(e) = &self.executor {
            e.check()?;
        }
        self.check_data()?;
        if !self.baselines.is_empty() && self.data.source.shape() != Shape::Text {
            return err(
                "baselines",
                "n-gram baselines are language models of text; they need a text source and a task that reads one",
            );
        }
        for (i, b) in self.baselines.iter().enumerate() {
            b.check().map_err(|(f, m)| (format!("baselines.{i}.{f}"), m))?;
        }
        let m = &self.model;
        if m.hidden == 0 {
            return err("model.hidden", "must be at least 1");
        }
        if m.layers == 0 {
            return err("model.layers", "must be at least 1");
        }
        if !(0.0..1.0).contains(&m.dropout) {
            return err("model.dropout", "must be in [0, 1)");
        }
        if m.input == InputEncoding::Embedding && m.embedding_size == 0 {
            return err("model.embedding_size", "must be at least 1");
        }
        if let Some(fb) = m.forget_bias {
            if !m.cell.forget_gate {
                return err("model.forget_bias", "only LSTM cells with a forget gate have a forget bias");
            }
            if !fb.is_finite() {
                return err("model.forget_bias", "must be a finite number");
            }
        }
        if m.param_budget == Some(0) {
            return err("model.param_budget", "must be at least 1");
        }
        self.check_model_memory()?;
        if m.cell.input_is_hidden {
            let tied = input_is_hidden_cells();
            if m.param_budget.is_some() {
                return err(
                    "model.param_budget",
                    &format!("{tied} tie the input size to hidden; give hidden and embedding_size instead of a budget"),
                );
            }
            let input_ok = m.input == InputEncoding::Embedding && m.embedding_size == m.hidden;
            if !input_ok || (m.bidirectional && m.layers > 1) {
                return err(
                    "model.cell",
                    &format!(
                        "{tied} add the raw input to a hidden-size vector, so their input size must equal \
                         hidden: use `input: embedding` with `embedding_size` equal to `hidden` (and no \
                         bidirectional stack)"
                    ),
                );
            }
        }
        self.check_train()
    }

    /// Refuses a model that cannot fit in this machine's memory, from a
    /// lower bound of its parameters (each layer and direction has at
    /// least a hidden × hidden recurrent matrix; an embedding feeds at
    /// least embedding_size × hidden input weights) or from its budget,
    /// times [`BYTES_PER_PARAMETER`]. Without this, every trial fails at
    /// allocation (or the budget bisection builds ever larger models).
    fn check_model_memory(&self) -> Result<(), (String, String)> {
        let Some(memory) = crate::device::physical_memory() else {
            return Ok(());
        };
        let m = &self.model;
        let (field, parameters) = match m.param_budget {
            Some(budget) => ("model.param_budget", budget as f64),
            None => {
                let (h, e) = (m.hidden as f64, m.embedding_size as f64);
                let directions = if m.bidirectional { 2.0 } else { 1.0 };
                let layers = m.layers.max(m.decoder_layers.unwrap_or(0)) as f64;
                let embedding = if m.input == InputEncoding::Embedding { e * h } else { 0.0 };
                let field = if m.input == InputEncoding::Embedding && e > h {
                    "model.embedding_size"
                } else if layers * h > h * 64.0 {
                    "model.layers"
                } else {
                    "model.hidden"
                };
                (field, directions * layers * h * h + embedding)
            }
        };
        let needed = parameters * BYTES_PER_PARAMETER;
        if needed > memory as f64 {
            return Err((
                field.to_string(),
                format!(
                    "the model needs at least {parameters:.3e} parameters, {:.1} GiB at {BYTES_PER_PARAMETER} bytes \
                     each (weights, gradients and two optimizer moments in f32), more than this machine's {:.1} GiB \
                     of memory",
                    needed / GIB,
                    memory as f64 / GIB
                ),
            ));
        }
        Ok(())
    }

    fn check_data(&self) -> Result<(), (String, String)> {
        let err = |field: &str, msg: String| Err((field.to_string(), msg));
        let fields = ["data.source.path", "data.source.val_path", "data.source.test_path"];
        for (path, field) in self.data_paths().into_iter().zip(fields) {
            // A FIFO would block the read forever, a device never end; a
            // missing file is reported (with how to make it) when it is read.
            if let Ok(meta) = std::fs::metadata(path) {
                if !meta.is_file() {
                    return err(field, format!("'{}' is not a regular file", path.display()));
                }
            }
        }
        let s = self.data.split;
        for (name, v) in [("train", s.train), ("val", s.val)] {
            if !(v > 0.0 && v < 1.0) {
                return err(&format!("data.split.{name}"), format!("must be in (0, 1), got {v}"));
            }
        }
        // 0 is a plain train/validation split: no test evaluation, no test_* results.
        if !(s.test >= 0.0 && s.test < 1.0) {
            return err("data.split.test", format!("must be in [0, 1) (0: no test split), got {}", s.test));
        }
        if ((s.train + s.val + s.test) - 1.0).abs() > 1e-6 {
            return err("data.split", format!("fractions must sum to 1, got {}", s.train + s.val + s.test));
        }
        if self.data.max_chars == Some(0) {
            return err("data.max_chars", "must be at least 1".into());
        }
        if self.data.max_examples == Some(0) {
            return err("data.max_examples", "must be at least 1".into());
        }
        let text = self.data.source.shape() == Shape::Text;
        if text && self.data.max_examples.is_some() {
            return err(
                "data.max_examples",
                "applies to example tasks; a text corpus is cut with data.max_chars".into(),
            );
        }
        if !text && self.data.max_chars.is_some() {
            return err("data.max_chars", "applies to text corpora; cut an example task with data.max_examples".into());
        }
        if !text && self.data.tokens != Tokens::Chars {
            return err("data.tokens", "applies to text corpora; an example source sets its own source.tokens".into());
        }
        let words = self.data.tokens == Tokens::Words;
        if !words && (self.data.min_count.is_some() || self.data.max_vocab.is_some()) {
            let field = if self.data.min_count.is_some() { "data.min_count" } else { "data.max_vocab" };
            return err(field, "applies to a word vocabulary (data.tokens: words)".into());
        }
        if self.data.min_count == Some(0) {
            return err("data.min_count", "must be at least 1".into());
        }
        if let Some(n) = self.data.max_vocab {
            if !(2..=u32::MAX as usize).contains(&n) {
                return err(
                    "data.max_vocab",
                    format!("must be between 2 (<unk> and one word) and {} (ids are 32-bit), got {n}", u32::MAX),
                );
            }
        }
        self.check_examples()?;
        match &self.data.source {
            Source::File { path } if path.as_os_str().is_empty() => {
                err("data.source.path", "must name a UTF-8 text file".into())
            }
            Source::Xml { chars, max_depth, .. } => {
                if *chars < 100 {
                    return err("data.source.chars", "must be at least 100".into());
                }
                if *max_depth == 0 {
                    return err("data.source.max_depth", "must be at least 1".into());
                }
                Ok(())
            }
            Source::Arithmetic { chars, max_digits, distractor, .. } => {
                if *chars < 100 {
                    return err("data.source.chars", "must be at least 100".into());
                }
                if !(1..=17).contains(max_digits) {
                    return err("data.source.max_digits", "must be between 1 and 17".into());
                }
                if !(0.0..0.95).contains(distractor) {
                    return err("data.source.distractor", "must be in [0, 0.95)".into());
                }
                Ok(())
            }
            Source::Copy { chars, length, symbols, .. } => {
                if *chars < 100 {
                    return err("data.source.chars", "must be at least 100".into());
                }
                if *length == 0 {
                    return err("data.source.length", "must be at least 1".into());
                }
                if !(2..=26).contains(symbols) {
                    return err("data.source.symbols", "must be between 2 and 26".into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Sizes of the example-task sources.
    fn check_examples(&self) -> Result<(), (String, String)> {
        let err = |field: &str, msg: String| Err((field.to_string(), msg));
        let lengths = |examples: usize, min: usize, max: usize| {
            if examples < 10 {
                return err("data.source.examples", format!("must be at least 10, got {examples}"));
            }
            if min == 0 {
                return err("data.source.min_length", "must be at least 1".into());
            }
            if max < min {
                return err("data.source.max_length", format!("must be at least min_length ({min}), got {max}"));
            }
            if max > 10_000 {
                return err("data.source.max_length", format!("must be at most 10000, got {max}"));
            }
            Ok(())
        };
        let symbols = |n: usize| {
            if !(2..=26).contains(&n) {
                return err("data.source.symbols", format!("must be between 2 and 26, got {n}"));
            }
            Ok(())
        };
        let files = |path: &Path, val: &Option<std::path::PathBuf>, test: &Option<std::path::PathBuf>| {
            if path.as_os_str().is_empty() {
                return err("data.source.path", "must name a file".into());
            }
            if val.is_some() != test.is_some() {
                let missing = if val.is_some() { "test_path" } else { "val_path" };
                return err(
                    &format!("data.source.{missing}"),
                    "give both val_path and test_path (or neither, to split `path` by data.split)".into(),
                );
            }
            Ok(())
        };
        match &self.data.source {
            Source::Labeled { path, val_path, test_path, .. }
            | Source::Tagged { path, val_path, test_path, .. }
            | Source::Conllu { path, val_path, test_path, .. }
            | Source::Pairs { path, val_path, test_path, .. } => files(path, val_path, test_path),
            Source::Parity(Lengths { examples, min_length, max_length, .. })
            | Source::Adding(Lengths { examples, min_length, max_length, .. }) => {
                lengths(*examples, *min_length, *max_length)?;
                if matches!(self.data.source, Source::Adding(_)) && *min_length < 2 {
                    return err("data.source.min_length", "the adding problem needs at least 2 positions".into());
                }
                Ok(())
            }
            Source::Lookahead { examples, min_length, max_length, symbols: n, distance, .. } => {
                lengths(*examples, *min_length, *max_length)?;
                symbols(*n)?;
                if *distance == 0 {
                    return err("data.source.distance", "must be at least 1".into());
                }
                Ok(())
            }
            Source::Reverse(Strings { examples, min_length, max_length, symbols: n, .. })
            | Source::Sort(Strings { examples, min_length, max_length, symbols: n, .. })
            | Source::Cipher(Strings { examples, min_length, max_length, symbols: n, .. }) => {
                lengths(*examples, *min_length, *max_length)?;
                symbols(*n)
            }
            Source::Addition { examples, min_length, max_length, .. } => {
                lengths(*examples, *min_length, *max_length)?;
                if *max_length > 18 {
                    return err("data.source.max_length", format!("must be at most 18 digits, got {max_length}"));
                }
                Ok(())
            }
            Source::Dates { examples, .. } if *examples < 10 => {
                err("data.source.examples", format!("must be at least 10, got {examples}"))
            }
            _ => Ok(()),
        }
    }

    fn check_train(&self) -> Result<(), (String, String)> {
        let err = |field: &str, msg: &str| Err((field.to_string(), msg.to_string()));
        let t = &self.train;
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return err("train.lr", "must be a positive number");
        }
        if let Some(m) = t.momentum {
            if !matches!(t.optimizer, OptimizerKind::Momentum | OptimizerKind::Nesterov | OptimizerKind::Rmsprop) {
                return err("train.momentum", "only momentum, nesterov and rmsprop use momentum");
            }
            if !(0.0..1.0).contains(&m) {
                return err("train.momentum", "must be in [0, 1)");
            }
        }
        if t.weight_decay.is_nan() || t.weight_decay < 0.0 {
            return err("train.weight_decay", "must be >= 0");
        }
        match t.lr_schedule {
            LrSchedule::Step { every, gamma } => {
                if every == 0 {
                    return err("train.lr_schedule.every", "must be at least 1");
                }
                if !(gamma > 0.0 && gamma <= 1.0) {
                    return err("train.lr_schedule.gamma", "must be in (0, 1]");
                }
            }
            LrSchedule::Exponential { gamma } if !(gamma > 0.0 && gamma <= 1.0) => {
                return err("train.lr_schedule.gamma", "must be in (0, 1]");
            }
            LrSchedule::Cosine { min_lr } if !(min_lr >= 0.0 && min_lr < t.lr) => {
                return err("train.lr_schedule.min_lr", "must be in [0, lr)");
            }
            _ => {}
        }
        if let Some(c) = t.clip_grad_norm {
            if c.is_nan() || c <= 0.0 {
                return err("train.clip_grad_norm", "must be positive (or null to disable clipping)");
            }
        }
        if !(1..=MAX_SIZE).contains(&t.batch_size) {
            return err("train.batch_size", &format!("must be between 1 and {MAX_SIZE}"));
        }
        if !(1..=MAX_SIZE).contains(&t.bptt) {
            return err("train.bptt", &format!("must be between 1 and {MAX_SIZE}"));
        }
        match (t.steps, t.epochs) {
            (None, None) => return err("train.steps", "give a budget: train.steps or train.epochs"),
            (Some(_), Some(_)) => return err("train.epochs", "give train.steps or train.epochs, not both"),
            (Some(0), _) => return err("train.steps", "must be at least 1"),
            (_, Some(e)) if !(e > 0.0 && e.is_finite()) => return err("train.epochs", "must be a positive number"),
            _ => {}
        }
        if t.eval_every == 0 {
            return err("train.eval_every", "must be at least 1");
        }
        if t.log_every == 0 {
            return err("train.log_every", "must be at least 1");
        }
        if t.eval_chars == Some(0) {
            return err("train.eval_chars", "must be at least 1");
        }
        Ok(())
    }
}

/// Bytes a parameter takes in training: the f32 weight, its gradient and
/// Adam's two moments.
pub const BYTES_PER_PARAMETER: f64 = 16.0;
const GIB: f64 = (1u64 << 30) as f64;

/// The largest batch size and BPTT length: their products with each other
/// and with sequence lengths stay far inside `i64` (tensor sizes), and no
/// machine holds a batch larger than this anyway.
pub const MAX_SIZE: usize = 1 << 24;

/// The dotted field of the first number in `value` that is not finite.
fn non_finite(value: &serde_yaml::Value, path: &str) -> Option<String> {
    use serde_yaml::Value;
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match value {
        Value::Number(n) => n.as_f64().filter(|x| !x.is_finite()).map(|_| path.to_string()),
        Value::Sequence(items) => items.iter().enumerate().find_map(|(i, v)| non_finite(v, &join(&i.to_string()))),
        Value::Mapping(map) => map.iter().find_map(|(k, v)| non_finite(v, &join(&super::sweep::scalar(k)))),
        Value::Tagged(t) => non_finite(&t.value, path),
        _ => None,
    }
}

impl Spec {
    /// The data files this spec reads (a relative path is relative to the working directory).
    pub fn data_paths(&self) -> Vec<&Path> {
        match &self.data.source {
            Source::File { path } => vec![path],
            Source::Labeled { path, val_path, test_path, .. }
            | Source::Tagged { path, val_path, test_path, .. }
            | Source::Conllu { path, val_path, test_path, .. }
            | Source::Pairs { path, val_path, test_path, .. } => {
                std::iter::once(path.as_path()).chain(val_path.iter().chain(test_path).map(|p| p.as_path())).collect()
            }
            _ => vec![],
        }
    }
}
