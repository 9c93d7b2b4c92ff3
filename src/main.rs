//! The `tgbridge` binary; everything happens in [`tgbridge::cli`]. It only
//! tunes the process before that: the allocator, which belongs to the
//! binary and not to the library the tests link, and the one C math
//! function the program needs (see [`pow`]).

fn main() -> std::process::ExitCode {
    tune_malloc();
    tgbridge::cli::main()
}

/// Keeps glibc's malloc from holding memory the bridge no longer uses.
///
/// - glibc gives every thread that allocates its own arena (up to 8 per
///   core), and each keeps freed memory it cannot return to the system. The
///   bridge is I/O-bound and has few threads, so two shared arenas cost no
///   measurable contention and keep RSS independent of the core count.
/// - By default the mmap threshold grows each time a large block is freed,
///   after which megabyte-sized buffers (the Telegram connection's) come
///   from the heap, get zeroed there and pin it. A fixed threshold keeps
///   large blocks in their own mappings, returned to the system when freed,
///   and lets the heap top be trimmed as soon as 128 KiB are free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    const ARENAS: libc::c_int = 2;
    const LARGE_BLOCK: libc::c_int = 128 * 1024;
    // SAFETY: mallopt only changes allocator parameters; it is called before
    // any other thread exists. A 0 return (refused) leaves glibc's default.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_BLOCK);
        libc::mallopt(libc::M_TRIM_THRESHOLD, LARGE_BLOCK);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

/// The C library's `pow`, provided here so that the binary does not load
/// libm.so.6 for it.
///
/// The only call to a libm function in the whole program is one `powf` in
/// Tokio's multi-threaded scheduler (the moving average of task poll times
/// that tunes how often a worker checks the global queue). For that one
/// function the dynamic loader mapped and relocated all of libm, which stayed
/// resident at about 0.5 MiB of the idle bridge's RSS. With `pow` defined in
/// the executable the linker resolves the call here and drops libm (it links
/// with `--as-needed`). The `libm` crate is the FreeBSD/musl implementation
/// in Rust (within 1 ulp, as glibc's is), so the scheduler's arithmetic is
/// unchanged for any purpose it serves.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}
