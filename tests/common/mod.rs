//! Helpers shared by the end-to-end tests: run the binary, read its output.
// Each test crate compiles this module on its own and uses only some of it.
#![allow(dead_code)]
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rnnlab");

/// Runs `rnnlab ARGS` in the crate root with extra environment variables.
pub fn rnnlab_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("rnnlab runs")
}

pub fn rnnlab(args: &[&str]) -> Output {
    rnnlab_env(args, &[])
}

/// Stdout then stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
