//! The Linux kernel C corpus of Karpathy, Johnson & Fei-Fei (2015), rebuilt
//! from Debian's `linux-source` package (`rnnlab data linux`, `make data`).
//!
//! Recipe, so the file can be rebuilt and checked:
//! 1. `apt-get download linux-source-X` (X from `apt-cache depends linux-source`);
//! 2. take `usr/src/linux-source-X.tar.xz` out of the package and extract
//!    only `*.c` and `*.h` under `kernel/` (11.6M characters in 6.1);
//! 3. concatenate whole files in byte order of their paths, skipping any
//!    that is not UTF-8, and stop before the first file that would take the
//!    total past 6,206,996 characters (the size of the paper's Linux corpus).
//!
//! The result is `data/linux/linux-kernel.txt` plus `SOURCE.md` with the
//! package version, file count, character count and SHA-256.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::fsutil::write_atomic;

pub const TEXT_FILE: &str = "linux-kernel.txt";
/// Characters in the paper's Linux corpus.
pub const TARGET_CHARS: usize = 6_206_996;
const SUBTREES: [&str; 1] = ["kernel"];

/// What was built.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub package: String,
    pub files: usize,
    pub skipped: usize,
    pub chars: usize,
    pub bytes: usize,
    pub sha256: String,
}

/// Builds the corpus into `out_dir` unless it is already there (`force` rebuilds).
pub fn prepare(out_dir: &Path, force: bool) -> Result<Option<Built>> {
    let text_path = out_dir.join(TEXT_FILE);
    if text_path.is_file() && !force {
        return Ok(None);
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let work = tempfile::Builder::new().prefix(".work").tempdir_in(out_dir)?;
    let package = source_package()?;
    eprintln!("downloading {package} with apt-get …");
    run(
        Command::new("apt-get").args(["download", &package]).current_dir(work.path()),
        "apt-get download (run `apt-get update` first if the package is not found)",
    )?;
    let deb = std::fs::read_dir(work.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("apt-get download left no .deb file")?;
    let version = deb.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    eprintln!("extracting {SUBTREES:?} *.c/*.h from {version} …");
    let tarball = work.path().join("linux.tar.xz");
    let inner = inner_tarball(&deb)?;
    let out = Command::new("sh")
        .arg("-c")
        .arg("dpkg-deb --fsys-tarfile \"$1\" | tar -xO \"$2\" > \"$3\"")
        .args(["sh", &deb.to_string_lossy(), &inner, &tarball.to_string_lossy()])
        .status()
        .context("cannot run dpkg-deb and tar")?;
    // `sh` has no pipefail: an empty tarball is how a failed dpkg-deb shows.
    if !out.success() || std::fs::metadata(&tarball).map_or(0, |m| m.len()) == 0 {
        bail!("extracting {inner} from {} failed", deb.display());
    }
    let src = work.path().join("src");
    std::fs::create_dir_all(&src)?;
    let mut tar = Command::new("tar");
    tar.arg("-xJf").arg(&tarball).arg("-C").arg(&src).arg("--wildcards");
    for sub in SUBTREES {
        tar.arg(format!("*/{sub}/*.c")).arg(format!("*/{sub}/*.h"));
    }
    run(&mut tar, "tar (needs xz)")?;
    let root = std::fs::read_dir(&src)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_dir())
        .context("the kernel tarball had no top directory")?;
    let mut files = Vec::new();
    for sub in SUBTREES {
        collect(&root.join(sub), &mut files)?;
    }
    files.sort();
    let (mut text, mut chars, mut used, mut skipped) = (String::new(), 0usize, 0usize, 0usize);
    for f in &files {
        let Ok(body) = String::from_utf8(std::fs::read(f)?) else {
            skipped += 1;
            continue;
        };
        let n = body.chars().count();
        if chars + n > TARGET_CHARS {
            break;
        }
        text.push_str(&body);
        chars += n;
        used += 1;
    }
    write_atomic(&text_path, text.as_bytes())?;
    let sha256: String = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let built = Built { path: text_path, package: version, files: used, skipped, chars, bytes: text.len(), sha256 };
    let last = files
        .get(used + skipped - 1)
        .and_then(|p| p.strip_prefix(&root).ok())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let readme = format!(
        "# Linux kernel C corpus\n\nBuilt by `rnnlab data linux` (see src/data/linux.rs for the recipe).\n\n\
         - package: {}\n- files: {} `*.c`/`*.h` under {} in path order, through `{last}` ({} skipped as not UTF-8)\n\
         - characters: {}\n- bytes: {}\n- SHA-256: {}\n",
        built.package,
        built.files,
        SUBTREES.join("/, ") + "/",
        built.skipped,
        built.chars,
        built.bytes,
        built.sha256
    );
    write_atomic(&out_dir.join("SOURCE.md"), readme.as_bytes())?;
    Ok(Some(built))
}

/// The versioned source package behind the `linux-source` metapackage.
fn source_package() -> Result<String> {
    let out = Command::new("apt-cache")
        .args(["depends", "linux-source"])
        .output()
        .context("cannot run apt-cache: `rnnlab data linux` needs a Debian-based system")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: "))
        .map(|s| s.trim().to_string())
        .filter(|s| s.starts_with("linux-source-"))
        .context("apt-cache knows no linux-source package: run `apt-get update` first")
}

/// The path of the kernel tarball inside the .deb.
fn inner_tarball(deb: &Path) -> Result<String> {
    let out = Command::new("dpkg-deb").arg("-c").arg(deb).output().context("cannot run dpkg-deb")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .find(|p| p.starts_with("./usr/src/linux-source-") && p.ends_with(".tar.xz"))
        .map(str::to_string)
        .with_context(|| format!("{} holds no kernel tarball", deb.display()))
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "c" || x == "h") {
            out.push(path);
        }
    }
    Ok(())
}
