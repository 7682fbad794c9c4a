//! Developer tasks for glassbox, run as `cargo xtask <task>`.
//!
//! * `ci`: what `.ci/run` checks — fmt, clippy with `-D warnings`, the workspace tests.
//! * `fashion-subset`: redraw the embedded Fashion-MNIST subset from the Debian files
//!   (wraps `scripts/make_fashion_subset.py`, which needs only Python's standard library).

use std::process::{Command, ExitCode};

fn run(program: &str, args: &[&str]) -> bool {
    eprintln!("== {program} {}", args.join(" "));
    match Command::new(program).args(args).status() {
        Ok(s) => s.success(),
        Err(e) => {
            eprintln!("cannot run {program}: {e}");
            false
        }
    }
}

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let ok = match task.as_str() {
        "ci" => {
            run("cargo", &["fmt", "--all", "--", "--check"])
                && run(
                    "cargo",
                    &[
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ],
                )
                && run("cargo", &["test", "--workspace"])
        }
        "fashion-subset" => run("python3", &["scripts/make_fashion_subset.py"]),
        _ => {
            eprintln!("usage: cargo xtask <ci|fashion-subset>");
            false
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
