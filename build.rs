//! Build script: link options for the `tgbridge` binary only. It owns no
//! code generation and touches no dependency; it only adds a linker flag
//! when the toolchain and the C library that will load the binary support it.
//!
//! Packed relative relocations (`-z pack-relative-relocs`, DT_RELR): a
//! position-independent executable carries one 24-byte relocation record
//! per pointer in its read-only data (vtables, string tables, the TL and
//! ruma type tables), about 600 KB for this binary, which the dynamic loader
//! reads at every start (so they also count in the resident set). DT_RELR
//! encodes the same fixups as bitmaps in a few kilobytes. It needs GNU ld
//! 2.38 or newer and glibc 2.36 or newer at run time (Debian 12, Raspberry
//! Pi OS bookworm, Ubuntu 22.10); a binary built with it refuses to start
//! on an older glibc. So the flag is added only when a probe program linked
//! with it here both links without a warning and runs, i.e. only for a
//! native build on a system that has both; otherwise the binary is linked
//! as before.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-env-changed=TGBRIDGE_NO_RELR");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    if target_os != "linux" || target_env != "gnu" || !native {
        return;
    }
    if std::env::var_os("TGBRIDGE_NO_RELR").is_some() {
        return;
    }
    if packed_relocations_work() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Links and runs a small position-independent program with packed
/// relative relocations; true only if both succeed silently.
fn packed_relocations_work() -> bool {
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let source = out_dir.join("relr_probe.c");
    let binary = out_dir.join("relr_probe");
    // Pointers in initialised data: each needs a relative relocation in a
    // position-independent executable, so the linker emits DT_RELR and the
    // C library's loader must understand it for the probe to run.
    let program = "static int v[4];\n\
                   int *const table[4] = { &v[0], &v[1], &v[2], &v[3] };\n\
                   int main(void) { return *table[0] + *table[3]; }\n";
    if std::fs::write(&source, program).is_err() {
        return false;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let linked = Command::new(&cc)
        .args(["-pie", "-fPIE", "-Wl,-z,pack-relative-relocs", "-o"])
        .arg(&binary)
        .arg(&source)
        .output();
    match linked {
        // A linker that does not know the option only warns and ignores it.
        Ok(output) if output.status.success() && output.stderr.is_empty() => {}
        _ => return false,
    }
    matches!(Command::new(&binary).status(), Ok(status) if status.success())
}
