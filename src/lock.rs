//! One process at a time per trial directory: an exclusive `flock` on its
//! `lock` file ([`crate::layout::LOCK_FILE`]), held for as long as the trial
//! trains, so two `rnnlab run`s on one results tree (`make run` twice, a
//! Slurm array beside a local sweep) never train the same trial at once.
//!
//! The kernel releases a `flock` when its holder dies, however it dies, so
//! a lock is never stale. The file's *content* names the holder (host, pid,
//! Slurm job) for the message another runner prints; a holder clears it when
//! it lets go, so content found on taking the lock is from one that died.
//!
//! A sweep takes the lock before it touches the directory and hands it to
//! the trial's child process, which inherits the open file (`RNNLAB_LOCK_FD`
//! names it), so there is no moment between parent and child when the trial
//! is unlocked.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::layout;

/// The environment variable that hands a sweep's lock to its child: the
/// file descriptor, inherited, of the trial's `lock` file.
pub const INHERITED_FD: &str = "RNNLAB_LOCK_FD";

/// An exclusive lock on one trial directory, released when dropped.
#[derive(Debug)]
pub struct TrialLock {
    file: File,
    path: PathBuf,
}

/// Why a trial could not be locked.
#[derive(Debug)]
pub enum Refused {
    /// Another process holds it; what its lock file says about it.
    Held {
        path: PathBuf,
        holder: String,
    },
    Io(anyhow::Error),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Held { path, holder } => write!(f, "{} is held by {holder}", path.display()),
            Refused::Io(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for Refused {}

impl TrialLock {
    /// Takes the lock of trial directory `dir` without waiting. A lock file
    /// left with a holder's name (its holder was killed) is taken over, with
    /// a note on stderr.
    pub fn acquire(dir: &Path) -> Result<TrialLock, Refused> {
        let path = dir.join(layout::LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))
            .map_err(Refused::Io)?;
        if !sys::try_lock(&file).with_context(|| format!("cannot lock {}", path.display())).map_err(Refused::Io)? {
            let holder = read_holder(&path);
            let holder = if holder.is_empty() { "another process".to_string() } else { holder };
            return Err(Refused::Held { path, holder });
        }
        let mut lock = TrialLock { file, path };
        let previous = lock.read_content();
        if let Some(note) = takeover_note(&previous) {
            eprintln!("note: {}: {note}", lock.path.display());
        }
        lock.record().map_err(Refused::Io)?;
        Ok(lock)
    }

    /// The lock a parent sweep handed to this process through
    /// [`INHERITED_FD`] if it names `dir`'s lock file, else [`Self::acquire`].
    pub fn inherit_or_acquire(dir: &Path) -> Result<TrialLock, Refused> {
        match sys::inherited(&dir.join(layout::LOCK_FILE)) {
            Some(file) => {
                let mut lock = TrialLock { file, path: dir.join(layout::LOCK_FILE) };
                // Still ours (the same open file): this cannot block.
                if !sys::try_lock(&lock.file).map_err(|e| Refused::Io(e.into()))? {
                    return Err(Refused::Held { path: lock.path.clone(), holder: read_holder(&lock.path) });
                }
                lock.record().map_err(Refused::Io)?;
                Ok(lock)
            }
            None => TrialLock::acquire(dir),
        }
    }

    fn read_content(&mut self) -> String {
        let mut s = String::new();
        let _ = self.file.rewind().and_then(|()| self.file.read_to_string(&mut s));
        s
    }

    /// Writes who holds the lock now.
    fn record(&mut self) -> Result<()> {
        let text = format!("{}\n", describe_self());
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())?;
        self.file.flush()?;
        Ok(())
    }
}

impl Drop for TrialLock {
    fn drop(&mut self) {
        // A clean exit leaves the file empty: content means a dead holder.
        // The flock itself goes when the last copy of the file closes.
        let _ = self.file.set_len(0);
    }
}

/// `host H pid N [slurm job J task T]`: this process, as its lock records it.
fn describe_self() -> String {
    let mut s = format!("host {} pid {}", sys::hostname(), std::process::id());
    for (var, name) in [("SLURM_JOB_ID", "slurm job"), ("SLURM_ARRAY_TASK_ID", "array task")] {
        if let Ok(v) = std::env::var(var) {
            s.push_str(&format!(" {name} {v}"));
        }
    }
    s
}

/// Who holds the lock of trial directory `dir`, if a live process does.
/// It only reads (no file is created or written), so `rnnlab status` can
/// ask on a login node while the trial trains elsewhere.
pub fn holder(dir: &Path) -> Option<String> {
    let path = dir.join(layout::LOCK_FILE);
    let file = File::open(&path).ok()?;
    // Taken means free: closing `file` below releases it again.
    match sys::try_lock(&file) {
        Ok(false) => {
            let h = read_holder(&path);
            Some(if h.is_empty() { "another process".to_string() } else { h })
        }
        _ => None,
    }
}

fn read_holder(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default().trim().to_string()
}

/// What to say when taking over a lock file whose content names a holder
/// that no longer holds it.
fn takeover_note(previous: &str) -> Option<String> {
    let previous = previous.trim();
    if previous.is_empty() {
        return None;
    }
    let mut words = previous.split_whitespace();
    let (mut host, mut pid) = (None, None);
    while let Some(w) = words.next() {
        match w {
            "host" => host = words.next(),
            "pid" => pid = words.next(),
            _ => {}
        }
    }
    Some(match (host, pid) {
        (Some(h), Some(p)) if h == sys::hostname() => format!("taken over from dead pid {p} ({previous})"),
        _ => format!("taken over from a holder that no longer holds it ({previous})"),
    })
}

/// This machine's host name (`unknown` if it cannot be read).
pub fn hostname() -> String {
    sys::hostname()
}

#[cfg(unix)]
#[allow(unsafe_code)]
mod sys {
    use std::fs::File;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    /// `flock(LOCK_EX | LOCK_NB)`: true if taken, false if another holds it.
    pub fn try_lock(file: &File) -> std::io::Result<bool> {
        // SAFETY: flock on a file descriptor this `File` owns.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(false)
        } else {
            Err(e)
        }
    }

    /// The file of [`super::INHERITED_FD`] if it is `path` (same device and
    /// inode), so a stray variable cannot make another file count as the lock.
    pub fn inherited(path: &Path) -> Option<File> {
        let fd: i32 = std::env::var(super::INHERITED_FD).ok()?.parse().ok()?;
        let want = std::fs::metadata(path).ok()?;
        // SAFETY: fstat only reads the descriptor's metadata.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            return None;
        }
        if st.st_dev != want.dev() || st.st_ino != want.ino() {
            return None;
        }
        // SAFETY: the descriptor is open (fstat succeeded), refers to the
        // lock file, and nothing else in this process owns it.
        Some(unsafe { File::from_raw_fd(fd) })
    }

    /// Makes `cmd`'s child inherit `file` across exec (in the child only,
    /// after fork: children other threads start meanwhile do not get it).
    pub fn inherit_in_child(cmd: &mut std::process::Command, file: &File) -> i32 {
        use std::os::unix::process::CommandExt;
        let fd = file.as_raw_fd();
        // SAFETY: fcntl is async-signal-safe, and `fd` stays open in the
        // parent (the lock outlives the child) so it is valid after fork.
        unsafe {
            cmd.pre_exec(move || {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        fd
    }

    pub fn hostname() -> String {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most buf.len() bytes into buf.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return "unknown".into();
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    }
}

/// Hands `lock` to the child `cmd` starts: it inherits the locked file and
/// [`TrialLock::inherit_or_acquire`] finds it through [`INHERITED_FD`]. The
/// caller keeps `lock` until the child has ended.
pub fn hand_to_child(cmd: &mut std::process::Command, lock: &TrialLock) {
    let fd = sys::inherit_in_child(cmd, &lock.file);
    cmd.env(INHERITED_FD, fd.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_named_and_a_dead_one_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let first = TrialLock::acquire(dir.path()).unwrap();
        let content = std::fs::read_to_string(dir.path().join(layout::LOCK_FILE)).unwrap();
        assert!(content.contains(&format!("pid {}", std::process::id())), "{content}");
        // flock locks belong to open files: a second open in one process is refused too.
        match TrialLock::acquire(dir.path()) {
            Err(Refused::Held { holder, .. }) => assert!(holder.contains("pid "), "{holder}"),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert_eq!(std::fs::read_to_string(dir.path().join(layout::LOCK_FILE)).unwrap(), "");
        // A holder killed while holding leaves its name behind.
        let dead = format!("host {} pid 999999999\n", sys::hostname());
        std::fs::write(dir.path().join(layout::LOCK_FILE), &dead).unwrap();
        assert!(takeover_note(&dead).unwrap().starts_with("taken over from dead pid 999999999"));
        assert_eq!(holder(dir.path()), None, "a dead holder's name is no holder");
        let again = TrialLock::acquire(dir.path()).unwrap();
        // Fails if: holder() reads the file's content instead of trying the flock.
        assert!(holder(dir.path()).unwrap().contains(&format!("pid {}", std::process::id())));
        drop(again);
        assert_eq!(holder(dir.path()), None);
    }
}
