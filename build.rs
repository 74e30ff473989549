//! Links libtorch from the PyTorch wheel so that one binary runs on CPU-only
//! and CUDA machines.
//!
//! `torch-sys` finds the wheel (with `LIBTORCH_USE_PYTORCH=1`) but links with
//! the default `--as-needed`, which drops `libtorch_cuda.so` because no symbol
//! of it is referenced directly; CUDA then silently stays unavailable. We link
//! it explicitly with `--no-as-needed` and add an rpath to the wheel's lib
//! directory so the binary runs without `LD_LIBRARY_PATH`. On a machine where
//! that path does not exist (a carried binary), `LD_LIBRARY_PATH` takes over.
use std::path::PathBuf;
use std::process::Command;

const PRINT_TORCH_DIR: &str = "import os, torch; print(os.path.dirname(torch.__file__))";

fn python() -> PathBuf {
    match std::env::var_os("VIRTUAL_ENV") {
        Some(venv) => PathBuf::from(venv).join("bin").join("python"),
        None => PathBuf::from("python3"),
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=VIRTUAL_ENV");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    let python = python();
    let out = Command::new(&python)
        .args(["-c", PRINT_TORCH_DIR])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python:?} to locate torch ({e}); run `make build`"));
    assert!(
        out.status.success(),
        "{python:?} cannot import torch: {}; run `make build`, which creates the venv",
        String::from_utf8_lossy(&out.stderr)
    );
    let torch_dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let lib = torch_dir.join("lib");
    println!("cargo:rustc-env=RNNLAB_TORCH_DIR={}", torch_dir.display());
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-L{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-ltorch_cuda");
    }
    println!("cargo:rustc-link-arg=-ltorch");
    println!("cargo:rustc-link-arg=-Wl,--as-needed");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
}
