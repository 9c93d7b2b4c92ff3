//! The `tgbridge` binary; everything happens in [`tgbridge::cli`].

fn main() -> std::process::ExitCode {
    tgbridge::cli::main()
}
