//! The warning signal Slurm sends before a time limit or a preemption
//! (`sbatch --signal=B:USR1@N`, passed on to the trial by its batch script):
//! it only sets a flag, which the trial's observer turns into "write a
//! checkpoint and stop" at the next step ([`crate::train::Observer::checkpoint_requested`]).
//!
//! The signal is blocked in the thread that installs this (and so in every
//! thread it starts afterwards, libtorch's included) and taken by one
//! thread waiting for it (`sigwait`), so it never interrupts training code
//! mid-call. A handler that only sets the flag covers threads started
//! before, where it could still land.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    REQUESTED.store(true, Ordering::SeqCst);
}

/// From now on, SIGUSR1 asks this process's trial to checkpoint and stop
/// (instead of killing the process, its default). Call it early, before
/// libtorch starts its threads; calling it again does nothing.
pub fn install() -> std::io::Result<()> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED.get_or_init(|| sys::install().map_err(|e| e.to_string())).clone().map_err(std::io::Error::other)
}

/// Whether the warning signal has come.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

#[allow(unsafe_code)]
mod sys {
    use std::sync::atomic::Ordering;

    pub fn install() -> std::io::Result<()> {
        // SAFETY: plain libc calls on a sigset_t this function owns; the
        // handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let handler = super::on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            if libc::signal(libc::SIGUSR1, handler) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
            let waiting = SigSet(set);
            std::thread::Builder::new().name("sigusr1".into()).spawn(move || {
                let waiting = waiting;
                loop {
                    let mut signal = 0;
                    // SAFETY: sigwait reads the set and writes one int.
                    if libc::sigwait(&waiting.0, &mut signal) == 0 && signal == libc::SIGUSR1 {
                        super::REQUESTED.store(true, Ordering::SeqCst);
                    }
                }
            })?;
        }
        Ok(())
    }

    /// A signal set moved into the waiting thread.
    struct SigSet(libc::sigset_t);
    // SAFETY: a sigset_t is plain data.
    unsafe impl Send for SigSet {}
}
