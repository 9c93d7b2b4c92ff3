//! The `tgbridge` command line.

fn main() {
    println!("tgbridge {}", env!("CARGO_PKG_VERSION"));
}
