//! The warning signal Slurm sends before a time limit or a preemption
//! (`sbatch --signal=B:USR1@N`, passed on to the trial by its batch script):
//! it only sets a flag, which the trial's observer turns into "write a
//! checkpoint and stop" at the next step ([`crate::train::Observer::checkpoint_requested`]).
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    REQUESTED.store(true, Ordering::SeqCst);
}

/// From now on, SIGUSR1 asks this process's trial to checkpoint and stop
/// (instead of killing the process, its default).
#[allow(unsafe_code)]
pub fn install() -> std::io::Result<()> {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let previous = unsafe { libc::signal(libc::SIGUSR1, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    if previous == libc::SIG_ERR {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the warning signal has come.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(unsafe_code)]
    fn the_signal_sets_the_flag_instead_of_killing() {
        assert!(!super::requested());
        super::install().unwrap();
        // SAFETY: raise sends a signal to this thread, whose handler is installed.
        // Fails if: install() leaves the default disposition (the test process dies).
        assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
        assert!(super::requested());
    }
}
