//! The warning signal's handling, in a test binary of its own: the flag it
//! sets is process-wide, and the library's unit tests train trials in
//! parallel, which a set flag would stop (so this cannot live beside them).

#[test]
#[allow(unsafe_code)]
fn the_signal_sets_the_flag_instead_of_killing() {
    assert!(!rnnlab::signal::requested());
    rnnlab::signal::install().unwrap();
    rnnlab::signal::install().unwrap();
    // SAFETY: kill sends SIGUSR1 to this process, whose handling is installed.
    // Fails if: install() leaves the default disposition (the test process dies).
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) }, 0);
    let start = std::time::Instant::now();
    while !rnnlab::signal::requested() {
        assert!(start.elapsed().as_secs() < 5, "the flag was never set");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
