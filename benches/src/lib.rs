//! Benchmarks live in `benches/`; this crate only hosts them. Run `cargo bench -p glassbox-benches`.
