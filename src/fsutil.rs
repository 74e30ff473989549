//! Files that are either whole or absent.
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The longest file name most file systems take (ext4, APFS, NTFS: 255 bytes).
pub const MAX_FILE_NAME: usize = 255;

/// `root/name`, where `name` must be one ordinary file name (no separator,
/// not `.` or `..`, not absolute, at most [`MAX_FILE_NAME`] bytes), so the
/// joined path stays inside `root` whatever `root` is. Names from a spec
/// (the experiment name, trial ids) go through this before anything is
/// written under the results root.
pub fn join_inside(root: &Path, name: &str) -> Result<PathBuf> {
    let mut components = Path::new(name).components();
    let single = matches!((components.next(), components.next()), (Some(Component::Normal(c)), None) if c == name);
    if !single || name.contains(['/', '\\']) {
        bail!("'{name}' is not a plain file name: it would leave {}", root.display());
    }
    if name.len() > MAX_FILE_NAME {
        bail!("'{name}' is {} bytes long; a file name may have at most {MAX_FILE_NAME}", name.len());
    }
    Ok(root.join(name))
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it
/// over `path`, so readers never see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn joins_stay_inside_the_root() {
        // Mutation check: with `single` always true, '..' and '../x' join outside and this fails.
        let root = Path::new("results");
        assert_eq!(super::join_inside(root, "tiny").unwrap(), root.join("tiny"));
        assert_eq!(super::join_inside(root, "a..b").unwrap(), root.join("a..b"));
        for bad in ["..", ".", "../x", "/etc", "a/b", "a\\b", ""] {
            assert!(super::join_inside(root, bad).is_err(), "{bad}");
        }
        assert!(super::join_inside(root, &"x".repeat(256)).is_err());
    }

    #[test]
    fn replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        super::write_atomic(&p, b"one").unwrap();
        super::write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
