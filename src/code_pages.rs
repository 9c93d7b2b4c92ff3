//! The executable's own code pages: once start-up is over, the pages of
//! code that ran only then (configuration, migrations, the login check,
//! the chat sync) are let go, so that what stays mapped is the code the
//! running bridge uses; and the heap memory start-up freed goes back to
//! the system. It touches no other mapping and no live data.
//!
//! Why: the kernel maps a 64 KiB window of the binary around every page
//! fault in its code (fault-around), and start-up runs code spread over
//! nearly every window of the 6.5 MB code segment, so an idle bridge kept
//! almost all of it mapped. `MADV_RANDOM` does not change that (it stops
//! readahead from the disk, not the mapping of pages already cached), and
//! `MADV_PAGEOUT` skips the pages of a file the process may not write,
//! which is how the binary is installed. `MADV_DONTNEED` unmaps them: each
//! page the bridge runs again is mapped again from the page cache at its
//! next use (a minor fault, no disk read while the page is cached); the
//! others stay in the page cache as unmapped file cache, which the kernel
//! reclaims before mapped code when memory runs short, and which no longer
//! counts in the bridge's resident set.

/// Unmaps the executable's code pages (see the module documentation), and
/// gives the memory start-up allocated and freed back to the system.
/// Harmless when it fails: the pages stay mapped and a debug line says why.
pub fn release_startup_code() {
    #[cfg(target_os = "linux")]
    match linux::release() {
        Ok(bytes) => tracing::debug!(bytes, "start-up code pages released"),
        Err(reason) => tracing::debug!(reason, "start-up code pages kept"),
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of malloc's own arenas
    // to the system (madvise of whole free pages, shrinking the heap top);
    // it is thread-safe and touches no allocated block.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(target_os = "linux")]
mod linux {
    /// Finds the executable's code mapping and unmaps its pages; returns
    /// the mapping's length.
    pub(super) fn release() -> Result<usize, String> {
        let exe = std::fs::read_link("/proc/self/exe").map_err(|e| e.to_string())?;
        let exe = exe.to_str().ok_or("the executable's path is not UTF-8")?;
        let smaps = std::fs::read_to_string("/proc/self/smaps").map_err(|e| e.to_string())?;
        let text = code_mapping(&smaps, exe).ok_or("no single code mapping of the executable")?;
        if text.private_copies_kb != 0 {
            // A page written in place (a debugger's breakpoint, relocated
            // code) exists only in this process: unmapping would lose it.
            return Err(format!(
                "{} kB of the code mapping are private copies",
                text.private_copies_kb
            ));
        }
        let len = text.end - text.start;
        // SAFETY: [start, end) is, per /proc/self/smaps just read, the one
        // read-only, executable, private mapping of the executable file
        // itself, holding no private (copied) pages. MADV_DONTNEED on such
        // a mapping only drops page table entries: the next access, by any
        // thread, maps the same page of the same unchanged file again, so
        // no code or data the program relies on changes. The mapping does
        // not change meanwhile: the bridge maps no code of its own after
        // start (no dlopen, no JIT).
        let result =
            unsafe { libc::madvise(text.start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if result != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok(len)
    }

    /// One mapping of `/proc/self/smaps`.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct CodeMapping {
        pub(super) start: usize,
        pub(super) end: usize,
        /// `Anonymous:` of the mapping: pages copied on write.
        pub(super) private_copies_kb: u64,
    }

    /// The `r-xp` mapping of `exe` in `smaps`, if there is exactly one.
    pub(super) fn code_mapping(smaps: &str, exe: &str) -> Option<CodeMapping> {
        let mut found: Option<CodeMapping> = None;
        let mut count = 0;
        let mut in_text = false;
        for line in smaps.lines() {
            let mut fields = line.split_whitespace();
            let first = fields.next().unwrap_or_default();
            let range = first.split_once('-').and_then(|(start, end)| {
                Some((
                    usize::from_str_radix(start, 16).ok()?,
                    usize::from_str_radix(end, 16).ok()?,
                ))
            });
            if let Some((start, end)) = range {
                let perms = fields.next().unwrap_or_default();
                // Offset, device and inode, then the path (may hold spaces).
                let path = fields.skip(3).collect::<Vec<_>>().join(" ");
                in_text = perms == "r-xp" && path == exe;
                if in_text {
                    count += 1;
                    found = Some(CodeMapping {
                        start,
                        end,
                        private_copies_kb: 0,
                    });
                }
            } else if in_text && first == "Anonymous:" {
                // Unreadable counts as copied: then nothing is released.
                let kb = fields
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(u64::MAX);
                if let Some(text) = found.as_mut() {
                    text.private_copies_kb = kb;
                }
            }
        }
        (count == 1).then_some(found).flatten()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const SMAPS: &str = "\
5600aa000000-5600aa100000 r--p 00000000 fd:01 42 /usr/local/bin/tgbridge
Rss:                 100 kB
Anonymous:             0 kB
5600aa100000-5600aa780000 r-xp 00100000 fd:01 42 /usr/local/bin/tgbridge
Size:               6656 kB
Rss:                6400 kB
Anonymous:             8 kB
VmFlags: rd ex mr mw me
7f0000000000-7f0000100000 r-xp 00000000 fd:01 7 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
";

        #[test]
        fn finds_the_executables_code_mapping_and_its_private_pages() {
            assert_eq!(
                code_mapping(SMAPS, "/usr/local/bin/tgbridge"),
                Some(CodeMapping {
                    start: 0x5600_aa10_0000,
                    end: 0x5600_aa78_0000,
                    private_copies_kb: 8,
                })
            );
            assert_eq!(code_mapping(SMAPS, "/usr/bin/other"), None);
        }

        #[test]
        fn releases_its_own_code_and_runs_on() {
            let released = release().expect("the test binary's code mapping is released");
            assert!(released > 0);
            // Code that runs after the release is mapped again on its own:
            // this test goes on to read and parse its smaps once more.
            let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
            let exe = std::fs::read_link("/proc/self/exe").expect("exe");
            let exe = exe.to_str().expect("UTF-8 path");
            assert!(code_mapping(&smaps, exe).is_some());
        }
    }
}
