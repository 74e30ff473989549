//! The built-in corpus: Python sources that ship inside the pinned PyTorch
//! wheel, so every install has the same text with no download.
//!
//! `torch-nn-modules` is every `*.py` file under `torch/nn/modules/` of
//! torch 2.11.0, in byte order of their paths relative to that folder,
//! concatenated as they are: 26 files, 834,915 characters (834,917 bytes),
//! 96 distinct characters. Its checksum is pinned: a different torch
//! version gives a clear error rather than silently different data.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

pub const DEFAULT: &str = crate::spec::DEFAULT_BUILTIN;
pub const NAMES: &[&str] = &[DEFAULT];

/// SHA-256 of the UTF-8 text of `torch-nn-modules` from torch 2.11.0.
pub const TORCH_NN_MODULES_SHA256: &str = "614dbd6dae39f9c1db3b38c4d9c3a31533e2bab9e85bfd01ae5ae58daf6c1463";

/// Where the torch Python package is: `$RNNLAB_TORCH_DIR`, else the one this
/// binary was built against.
pub fn torch_dir() -> PathBuf {
    match std::env::var_os("RNNLAB_TORCH_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("RNNLAB_TORCH_DIR")),
    }
}

/// Loads a built-in corpus by name and checks its pinned checksum.
pub fn load(name: &str) -> Result<String> {
    if name != DEFAULT {
        bail!("unknown built-in corpus '{name}'; known: {}", NAMES.join(", "));
    }
    let root = torch_dir().join("nn").join("modules");
    let text = concat_sources(&root)?;
    let sha = sha256_hex(text.as_bytes());
    if sha != TORCH_NN_MODULES_SHA256 {
        bail!(
            "the built-in corpus read from {} has SHA-256 {sha}, not the pinned {}; \
             it comes from torch 2.11.0 (set RNNLAB_TORCH_DIR to that torch package)",
            root.display(),
            TORCH_NN_MODULES_SHA256
        );
    }
    Ok(text)
}

fn concat_sources(root: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect_py(root, root, &mut files)
        .with_context(|| format!("cannot read the built-in corpus under {}", root.display()))?;
    if files.is_empty() {
        bail!("no Python sources under {}; set RNNLAB_TORCH_DIR to a torch 2.11.0 package", root.display());
    }
    files.sort();
    let mut text = String::new();
    for rel in files {
        let path = root.join(&rel);
        text.push_str(&std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    Ok(text)
}

fn collect_py(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_py(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "py") {
            let rel = path.strip_prefix(root).expect("under root");
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
