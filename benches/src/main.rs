//! Load scenario runner (see BENCHMARKS.md).

fn main() {}
