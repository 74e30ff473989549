//! Sweep expansion: grid axes × seeds → fully resolved, validated trials with
//! stable ids derived from what they compute.
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use sha2::{Digest, Sha256};

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
    /// The swept keys and their values at this point (seed included).
    pub params: IndexMap<String, Value>,
    pub spec: Spec,
    /// Set for a baseline's pseudo-trial (fitted, not trained; `spec.model`
    /// and `spec.train` do not apply to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::BaselineSpec>,
}

/// Applies `key=value` overrides (values are YAML) to a loaded spec; used by
/// `--set` on the command line.
pub fn apply_overrides(loaded: &Loaded, overrides: &[String]) -> Result<Loaded, SpecError> {
    if overrides.is_empty() {
        return Ok(loaded.clone());
    }
    let mut value = to_value(&loaded.spec);
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

/// Expands and validates every trial; the first invalid point is an error
/// naming the field and, for swept values, the sweep point.
pub fn expand(loaded: &Loaded) -> Result<Vec<Trial>, SpecError> {
    let spec = &loaded.spec;
    spec.check().map_err(|(field, msg)| loaded.error(&field, msg))?;
    let SweepSpec { grid, seeds } = &spec.sweep;
    for (key, values) in grid {
        if values.is_empty() {
            return Err(loaded.error(&format!("sweep.grid.{key}"), "needs at least one value"));
        }
        if key == "train.seed" {
            return Err(loaded.error("sweep.grid", "list seeds under sweep.seeds, not as a grid axis"));
        }
    }
    let mut base = spec.clone();
    base.sweep = SweepSpec::default();
    base.baselines.clear();
    let base_value = to_value(&base);
    let seeds = if seeds.is_empty() { vec![spec.train.seed] } else { seeds.clone() };

    let mut trials = Vec::new();
    for point in cartesian(grid) {
        for &seed in &seeds {
            let mut value = base_value.clone();
            let mut params = IndexMap::new();
            for (key, v) in &point {
                set_dotted(&mut value, key, v.clone())
                    .map_err(|msg| loaded.error(&format!("sweep.grid.{key}"), msg))?;
                params.insert(key.clone(), v.clone());
            }
            set_dotted(&mut value, "train.seed", Value::from(seed)).expect("train.seed exists");
            params.insert("train.seed".into(), Value::from(seed));
            let where_ = describe(&point);
            let trial_spec: Spec = serde_path_to_error::deserialize(value).map_err(|e| {
                let field = e.path().to_string();
                loaded.error(&sweep_field(&point, &field), format!("{where_}: {}", e.into_inner()))
            })?;
            trial_spec
                .check()
                .map_err(|(field, msg)| loaded.error(&sweep_field(&point, &field), format!("{where_}: {msg}")))?;
            let variant = variant_label(&point);
            let id = trial_id(&point, seed, &trial_spec);
            trials.push(Trial { id, variant, params, spec: trial_spec, baseline: None });
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

/// The field to blame: the grid axis if the bad value came from the sweep.
fn sweep_field(point: &[(String, Value)], field: &str) -> String {
    match point.iter().find(|(k, _)| field.starts_with(k.as_str())) {
        Some((k, _)) => format!("sweep.grid.{k}"),
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

fn variant_label(point: &[(String, Value)]) -> String {
    if point.is_empty() {
        return "base".into();
    }
    let parts: Vec<String> =
        point.iter().map(|(k, v)| format!("{}={}", k.rsplit('.').next().unwrap_or(k), scalar(v))).collect();
    parts.join(" ")
}

/// `lstm-2-s1-3fa2c1`: swept values, seed, and 6 hex digits of the spec hash.
fn trial_id(point: &[(String, Value)], seed: u64, spec: &Spec) -> String {
    let mut parts: Vec<String> = point.iter().map(|(_, v)| slug(&scalar(v))).collect();
    parts.push(format!("s{seed}"));
    parts.push(spec_hash(spec)[..6].to_string());
    parts.join("-")
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
    let out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
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
mod tests {
    use super::*;
    use crate::spec::parse;

    fn load(src: &str) -> Loaded {
        parse(src, "test.yaml", "t").expect("parses")
    }

    const BASE: &str = "data:\n  source: {kind: xml, chars: 1000}\ntrain:\n  steps: 10\n";

    #[test]
    fn grid_times_seeds() {
        let src = format!(
            "{BASE}sweep:\n  grid:\n    model.cell: [rnn_tanh, lstm, gru]\n    model.layers: [1, 2]\n  seeds: [1, 2]\n"
        );
        let trials = expand(&load(&src)).unwrap();
        assert_eq!(trials.len(), 12);
        assert_eq!(trials[0].variant, "cell=rnn_tanh layers=1");
        assert!(trials[0].id.starts_with("rnn_tanh-1-s1-"), "{}", trials[0].id);
        assert_eq!(trials[11].spec.model.layers, 2);
        assert_eq!(trials[11].spec.train.seed, 2);
        assert_eq!(trials[11].spec.model.cell, crate::spec::Cell::Gru);
        assert!(trials.iter().all(|t| t.spec.sweep.is_empty()));
    }

    #[test]
    fn ids_are_stable_and_track_the_spec() {
        let a = expand(&load(BASE)).unwrap();
        let b = expand(&load(BASE)).unwrap();
        assert_eq!(a[0].id, b[0].id);
        let changed = expand(&load(&BASE.replace("steps: 10", "steps: 11"))).unwrap();
        assert_ne!(a[0].id, changed[0].id);
        // The device does not change what a trial computes.
        let on_cpu = expand(&load(&format!("{BASE}device: cpu\n"))).unwrap();
        assert_eq!(a[0].id, on_cpu[0].id);
    }

    #[test]
    fn bad_swept_value_names_the_axis() {
        let src = format!("{BASE}sweep:\n  grid:\n    model.dropout: [0.1, 1.5]\n");
        let err = expand(&load(&src)).unwrap_err();
        assert_eq!(err.field, "sweep.grid.model.dropout");
        assert!(err.message.contains("model.dropout=1.5"), "{err}");
    }

    #[test]
    fn unknown_swept_key_is_an_error() {
        let src = format!("{BASE}sweep:\n  grid:\n    model.hiden: [8]\n");
        let err = expand(&load(&src)).unwrap_err();
        assert!(err.to_string().contains("hiden"), "{err}");
        let src = format!("{BASE}sweep:\n  grid:\n    modle.hidden: [8]\n");
        assert!(expand(&load(&src)).unwrap_err().to_string().contains("unknown section"));
    }

    #[test]
    fn nested_keys_and_overrides() {
        let src = format!(
            "{BASE}sweep:\n  grid:\n    train.lr_schedule: [{{kind: constant}}, {{kind: step, every: 5, gamma: 0.5}}]\n"
        );
        let trials = expand(&load(&src)).unwrap();
        assert_eq!(trials.len(), 2);
        let o = apply_overrides(&load(BASE), &["model.hidden=7".into(), "train.steps=3".into()]).unwrap();
        assert_eq!(o.spec.model.hidden, 7);
        assert_eq!(o.spec.train.steps, Some(3));
        assert!(apply_overrides(&load(BASE), &["model.hidden".into()]).is_err());
        assert!(apply_overrides(&load(BASE), &["model.hidden=-1".into()]).is_err());
    }
}
