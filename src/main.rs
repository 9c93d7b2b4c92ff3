//! The `tgbridge` binary; everything happens in [`tgbridge::cli`]. It only
//! tunes the process before that: the allocator, which belongs to the
//! binary and not to the library the tests link.

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    tgbridge::cli::main()
}

/// glibc gives every thread that allocates its own arena (up to 8 per core),
/// and each keeps freed memory it cannot return to the system. The bridge is
/// I/O-bound and has few threads, so two shared arenas cost no measurable
/// contention and keep idle RSS lower and independent of the core count.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    const ARENAS: libc::c_int = 2;
    // SAFETY: mallopt only changes allocator parameters; it is called before
    // any other thread exists. A 0 return (refused) leaves glibc's default.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
