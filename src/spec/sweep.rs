//! Sweep expansion: grid axes × seeds → fully resolved, validated trials with
//! stable ids derived from what they compute.
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use sha2::{Digest, Sha256};

pub use super::random::{Distribution, RandomSpec};
use super::{Loaded, Spec, SpecError, SweepSpec};

/// One point of the sweep, fully resolved: what a trial directory records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    /// Stable id: readable values of the swept keys, the seed, and a hash of
    /// everything that affects the numbers (so editing the spec changes it).
    pub id: String,
    /// Label shared by all seeds of a grid point, e.g. `cell=lstm layers=2`.
    pub variant: String,
    /// The variant's explicit label (`sweep.variants[].label`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Keys set by that named variant (the label stands for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variant_keys: Vec<String>,
    /// The swept keys that define the variant and their values, then the seed.
    pub params: IndexMap<String, Value>,
    /// Values drawn by random search for this trial.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub sampled: IndexMap<String, Value>,
    pub spec: Spec,
    /// Set for a baseline's pseudo-trial (fitted, not trained; `spec.model`
    /// and `spec.train` do not apply to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::BaselineSpec>,
}

impl Trial {
    /// The trial a trial directory's `trial.yaml` describes.
    pub fn read(dir: &std::path::Path) -> anyhow::Result<Trial> {
        use anyhow::Context;
        let path = dir.join(crate::layout::TRIAL_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_yaml::from_str(&text).with_context(|| format!("{} is not a valid trial spec", path.display()))
    }

    /// Creates the trial directory `dir` and writes this trial's `trial.yaml`.
    pub fn write(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        use anyhow::Context;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        crate::fsutil::write_atomic(&dir.join(crate::layout::TRIAL_FILE), serde_yaml::to_string(self)?.as_bytes())
    }
}

/// Applies `key=value` overrides (values are YAML) to a loaded spec; used by
/// `--set` on the command line.
pub fn apply_overrides(loaded: &Loaded, overrides: &[String]) -> Result<Loaded, SpecError> {
    if overrides.is_empty() {
        return Ok(loaded.clone());
    }
    let mut value = to_value(&loaded.spec);
    // `executor` is optional and absent when unset; `--set executor.K=V` may start it.
    if let Some(map) = value.as_mapping_mut() {
        map.entry(Value::from("executor")).or_insert(Value::Null);
    }
    for item in overrides {
        let bad = |msg: String| SpecError { origin: "--set".into(), field: item.clone(), message: msg, line: None };
        let (key, raw) = item.split_once('=').ok_or_else(|| bad("expected KEY=VALUE".into()))?;
        let parsed: Value = serde_yaml::from_str(raw).map_err(|e| bad(format!("value is not YAML: {e}")))?;
        set_dotted(&mut value, key.trim(), parsed).map_err(bad)?;
    }
    let spec: Spec = serde_path_to_error::deserialize(value).map_err(|e| SpecError {
        origin: "--set".into(),
        field: e.path().to_string(),
        message: e.into_inner().to_string(),
        line: None,
    })?;
    Ok(Loaded { spec, ..loaded.clone() })
}

/// One sweep point before seeds: a named variant, grid values and, with
/// random search, one sample of the random axes.
#[derive(Debug, Clone)]
struct Point {
    /// The variant's `label`, if it gave one.
    label: Option<String>,
    /// Variant keys, then grid axes: what defines the variant.
    fixed: Vec<(String, Value)>,
    /// The keys among `fixed` set by the named variant.
    variant_keys: Vec<String>,
    /// Random-search values and the sample's index.
    sampled: Vec<(String, Value)>,
    sample: Option<usize>,
}

/// Checks of one resolved spec: `(field, message)` of the first problem.
pub type Check<'c> = &'c dyn Fn(&Spec) -> Result<(), (String, String)>;

/// Expands and validates every trial with the checks every spec gets
/// ([`Spec::check`]); the validation stage adds its task's checks with
/// [`expand_with`].
pub fn expand(loaded: &Loaded) -> Result<Vec<Trial>, SpecError> {
    expand_with(loaded, &|s: &Spec| s.check())
}

/// Expands and validates every trial with `check`; the first invalid point
/// is an error naming the field and, for swept values, the sweep point.
pub fn expand_with(loaded: &Loaded, check: Check) -> Result<Vec<Trial>, SpecError> {
    let spec = &loaded.spec;
    check(spec).map_err(|(field, msg)| loaded.error(&field, msg))?;
    check_sweep(loaded)?;
    let mut base = spec.clone();
    base.sweep = SweepSpec::default();
    base.report = None;
    base.executor = None;
    base.baselines.clear();
    let base_value = to_value(&base);
    let sweep = &spec.sweep;
    let seeds = if sweep.seeds.is_empty() { vec![spec.train.seed] } else { sweep.seeds.clone() };

    let mut trials = Vec::new();
    for point in points(sweep) {
        for &seed in &seeds {
            let mut value = base_value.clone();
            for (key, v) in point.fixed.iter().chain(&point.sampled) {
                set_dotted(&mut value, key, v.clone()).map_err(|msg| loaded.error(&format!("sweep.{key}"), msg))?;
            }
            set_dotted(&mut value, "train.seed", Value::from(seed)).expect("train.seed exists");
            let where_ = describe(&point.fixed.iter().chain(&point.sampled).cloned().collect::<Vec<_>>());
            let all: Vec<(String, Value)> = point.fixed.iter().chain(&point.sampled).cloned().collect();
            let trial_spec: Spec = serde_path_to_error::deserialize(value).map_err(|e| {
                let field = e.path().to_string();
                loaded.error(&sweep_field(sweep, &all, &field), format!("{where_}: {}", e.into_inner()))
            })?;
            check(&trial_spec)
                .map_err(|(field, msg)| loaded.error(&sweep_field(sweep, &all, &field), format!("{where_}: {msg}")))?;
            let mut params: IndexMap<String, Value> = point.fixed.iter().cloned().collect();
            params.insert("train.seed".into(), Value::from(seed));
            trials.push(Trial {
                id: trial_id(&point, seed, &trial_spec),
                variant: label(point.label.as_deref(), &point.fixed, &point.variant_keys),
                label: point.label.clone(),
                variant_keys: point.variant_keys.clone(),
                params,
                sampled: point.sampled.iter().cloned().collect(),
                spec: trial_spec,
                baseline: None,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for t in &trials {
        if !seen.insert(&t.id) {
            return Err(loaded.error("sweep", format!("two sweep points resolve to the same trial {}", t.id)));
        }
    }
    Ok(trials)
}

fn check_sweep(loaded: &Loaded) -> Result<(), SpecError> {
    let sweep = &loaded.spec.sweep;
    for (key, values) in &sweep.grid {
        if values.is_empty() {
            return Err(loaded.error(&format!("sweep.grid.{key}"), "needs at least one value"));
        }
        if key == "train.seed" {
            return Err(loaded.error("sweep.grid", "list seeds under sweep.seeds, not as a grid axis"));
        }
    }
    // The seed list (or the base train.seed) sets every trial's seed last,
    // so a seed set by a variant or drawn at random would be overwritten.
    let seed_set = sweep.variants.iter().any(|v| v.keys.contains_key("train.seed"))
        || sweep.random.as_ref().is_some_and(|r| r.params.contains_key("train.seed"));
    if seed_set {
        let field = if sweep.random.as_ref().is_some_and(|r| r.params.contains_key("train.seed")) {
            "sweep.random.params.train.seed"
        } else {
            "sweep.variants"
        };
        return Err(loaded.error(
            field,
            "train.seed is set by sweep.seeds (or the base train.seed), which every trial's seed comes from; \
             list the seeds under sweep.seeds instead",
        ));
    }
    check_size(loaded)?;
    let mut labels = std::collections::HashSet::new();
    for (i, v) in sweep.variants.iter().enumerate() {
        if v.keys.is_empty() && v.label.is_none() {
            return Err(loaded.error("sweep.variants", format!("variant {i} is empty")));
        }
        if let Some(l) = &v.label {
            if !labels.insert(l) {
                return Err(loaded.error("sweep.variants", format!("label '{l}' is used twice")));
            }
        }
        if let Some(k) = v.keys.keys().find(|k| sweep.grid.contains_key(*k)) {
            return Err(loaded.error("sweep.variants", format!("'{k}' is both a variant key and a grid axis")));
        }
    }
    if let Some(r) = &sweep.random {
        if r.trials == 0 {
            return Err(loaded.error("sweep.random.trials", "must be at least 1"));
        }
        if r.params.is_empty() {
            return Err(loaded.error("sweep.random.params", "name at least one key to sample"));
        }
        for (key, dist) in &r.params {
            dist.check().map_err(|msg| loaded.error(&format!("sweep.random.params.{key}"), msg))?;
            if sweep.grid.contains_key(key) || sweep.variants.iter().any(|v| v.keys.contains_key(key)) {
                return Err(loaded.error("sweep.random.params", format!("'{key}' is both sampled and swept")));
            }
        }
    }
    Ok(())
}

/// The most trials a sweep may expand to: more is surely a mistake (a
/// random search with too many trials, a grid axis from a generated list),
/// and expanding it would take minutes before a single trial runs.
pub const MAX_TRIALS: usize = 10_000;

/// Refuses a sweep of more than [`MAX_TRIALS`] trials from the product of
/// its sizes, before expanding anything.
fn check_size(loaded: &Loaded) -> Result<(), SpecError> {
    let sweep = &loaded.spec.sweep;
    let mut factors = std::iter::once(sweep.variants.len().max(1))
        .chain(sweep.grid.values().map(Vec::len))
        .chain(sweep.random.iter().map(|r| r.trials))
        .chain(std::iter::once(sweep.seeds.len().max(1)));
    let total = factors.try_fold(1usize, |n, f| n.checked_mul(f));
    match total {
        Some(n) if n <= MAX_TRIALS => Ok(()),
        _ => Err(loaded.error(
            "sweep",
            format!(
                "expands to {} trials (variants × grid values × random trials × seeds); at most {MAX_TRIALS} are allowed",
                total.map_or("more than 2^64".to_string(), |n| n.to_string())
            ),
        )),
    }
}

/// Variants × grid points × random samples, in that nesting order.
fn points(sweep: &SweepSpec) -> Vec<Point> {
    type Named = (Option<String>, Vec<(String, Value)>);
    let variants: Vec<Named> = if sweep.variants.is_empty() {
        vec![(None, vec![])]
    } else {
        sweep.variants.iter().map(|v| (v.label.clone(), v.keys.clone().into_iter().collect())).collect()
    };
    let mut out = Vec::new();
    for (label_, keys) in &variants {
        let variant_keys: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
        for grid_point in cartesian(&sweep.grid) {
            let fixed: Vec<(String, Value)> = keys.iter().cloned().chain(grid_point).collect();
            match &sweep.random {
                None => out.push(Point {
                    label: label_.clone(),
                    fixed,
                    variant_keys: variant_keys.clone(),
                    sampled: vec![],
                    sample: None,
                }),
                Some(r) => {
                    let name = label(label_.as_deref(), &fixed, &variant_keys);
                    for k in 0..r.trials {
                        let sampled = r.sample(&name, k);
                        out.push(Point {
                            label: label_.clone(),
                            fixed: fixed.clone(),
                            variant_keys: variant_keys.clone(),
                            sampled,
                            sample: Some(k),
                        });
                    }
                }
            }
        }
    }
    out
}

/// The field to blame: the sweep section a bad value came from, if it did.
fn sweep_field(sweep: &SweepSpec, point: &[(String, Value)], field: &str) -> String {
    match point.iter().find(|(k, _)| field.starts_with(k.as_str())) {
        Some((k, _)) if sweep.grid.contains_key(k) => format!("sweep.grid.{k}"),
        Some((k, _)) if sweep.random.as_ref().is_some_and(|r| r.params.contains_key(k)) => {
            format!("sweep.random.params.{k}")
        }
        Some((k, _)) => format!("sweep.variants.{k}"),
        None => field.to_string(),
    }
}

fn describe(point: &[(String, Value)]) -> String {
    if point.is_empty() {
        return "base spec".into();
    }
    let parts: Vec<String> = point.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect();
    format!("sweep point {}", parts.join(", "))
}

/// A variant's name: its `label` if given, then `key=value` for the other
/// axes (last segment of each dotted key), e.g. `lstm-b data=xml`.
/// A labelled variant's own keys are named by the label and not repeated.
pub fn label(label: Option<&str>, fixed: &[(String, Value)], variant_keys: &[String]) -> String {
    let mut parts: Vec<String> = label.map(|l| vec![l.to_string()]).unwrap_or_default();
    let shown = fixed.iter().filter(|(k, _)| label.is_none() || !variant_keys.contains(k));
    parts.extend(shown.map(|(k, v)| format!("{}={}", k.rsplit('.').next().unwrap_or(k), short_value(v))));
    if parts.is_empty() {
        "base".into()
    } else {
        parts.join(" ")
    }
}

/// `lstm-2-r3-s1-3fa2c1`: label or values, random-sample index, seed, and
/// 6 hex digits of the spec hash.
fn trial_id(point: &Point, seed: u64, spec: &Spec) -> String {
    let mut parts: Vec<String> = point.label.iter().map(|l| slug(l)).collect();
    let shown = point.fixed.iter().filter(|(k, _)| point.label.is_none() || !point.variant_keys.contains(k));
    parts.extend(shown.map(|(_, v)| slug(&short_value(v))));
    let readable = parts.join("-");
    let sample = point.sample.map(|k| format!("r{k}-")).unwrap_or_default();
    let tail = format!("{sample}s{seed}-{}", &spec_hash(spec)[..6]);
    shorten_id(&readable, &tail)
}

/// `readable-tail`, cut to a file name's [`crate::fsutil::MAX_FILE_NAME`]
/// bytes by truncating the readable part; the tail (sample, seed, hash) is
/// kept whole, so the id still names its trial. Ids that fit are unchanged.
fn shorten_id(readable: &str, tail: &str) -> String {
    let max = crate::fsutil::MAX_FILE_NAME;
    let id = if readable.is_empty() { tail.to_string() } else { format!("{readable}-{tail}") };
    if id.len() <= max {
        return id;
    }
    let mut keep = max.saturating_sub(tail.len() + 1);
    while !readable.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}-{tail}", readable[..keep].trim_end_matches(['-', '_', '.']))
}

/// A value as a short label: scalars as they are, a mapping by its `kind`
/// or `name` when it has one (`{kind: xml, ...}` → `xml`).
fn short_value(v: &Value) -> String {
    if let Value::Mapping(m) = v {
        for key in ["name", "kind"] {
            if let Some(Value::String(s)) = m.get(key) {
                return s.clone();
            }
        }
    }
    scalar(v)
}

/// SHA-256 of the canonical JSON of what affects the numbers: everything
/// but the experiment's name, description, device and checkpoint interval.
pub fn spec_hash(spec: &Spec) -> String {
    let mut s = spec.clone();
    s.name.clear();
    s.description.clear();
    s.device = Default::default();
    s.train.checkpoint_every = None;
    let json = serde_json::to_string(&s).expect("spec serialises");
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn slug(s: &str) -> String {
    let out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    out.trim_matches('_').to_string()
}

/// A YAML scalar as plain text (`lstm`, `2`, `0.001`); other values as flow YAML.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn cartesian(grid: &IndexMap<String, Vec<Value>>) -> Vec<Vec<(String, Value)>> {
    let mut points: Vec<Vec<(String, Value)>> = vec![vec![]];
    for (key, values) in grid {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((key.clone(), v.clone()));
                    q
                })
            })
            .collect();
    }
    points
}

fn to_value(spec: &Spec) -> Value {
    serde_yaml::to_value(spec).expect("spec serialises")
}

/// Sets `a.b.c` in a YAML mapping. Intermediate mappings must exist unless
/// the parent is null (an unset optional section); unknown leaf keys are
/// caught when the result is deserialised with `deny_unknown_fields`.
fn set_dotted(root: &mut Value, key: &str, v: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("'{key}' is not a dotted key like model.cell"));
    }
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        if node.is_null() {
            *node = Value::Mapping(Default::default());
        }
        let map = node.as_mapping_mut().ok_or_else(|| format!("'{}' is not a section", parts[..i].join(".")))?;
        let k = Value::from(*part);
        if i + 1 == parts.len() {
            map.insert(k, v);
            return Ok(());
        }
        if !map.contains_key(&k) {
            if i == 0 {
                return Err(format!("unknown section '{part}'"));
            }
            map.insert(k.clone(), Value::Null);
        }
        node = map.get_mut(&k).expect("just inserted");
    }
    unreachable!("loop returns at the last part")
}

#[cfg(test)]
mod tests;
