//! `fake-telegram`: runs the fake datacenter from a world file.

fn main() {}
