//! Developer tasks for glassbox, run as `cargo xtask <task>`.
//!
//! * `ci`: what `.ci/run` checks — fmt, clippy with `-D warnings`, the workspace tests.
//! * `fashion-subset`: redraw the embedded Fashion-MNIST subset from the Debian files
//!   (wraps `scripts/make_fashion_subset.py`, which needs only Python's standard library).
//! * `compare attribution`: regenerate the Captum, PAIR `saliency` (Blur IG, Guided IG, XRAI),
//!   scikit-image (Felzenszwalb, SLIC) and scikit-learn (Lasso) fixtures of
//!   glassbox-attribution's tests, and time Captum against glassbox on
//!   SmallCnn and ResNet-18, printing the ratios.
//! * `compare backbones`: time SmallCnn and ResNet-18 forward and training steps against
//!   PyTorch on the same machine and thread count, printing the ratios.
//! * `compare metrics`: regenerate the Quantus 0.6.0 fixtures of glassbox-metrics' tests and
//!   time Quantus against glassbox (256 SmallCnn / 64 ResNet-18 inputs), printing the ratios.
//!   Uses its own `.venv-metrics` (Quantus 0.6.0 needs numpy < 2).
//! * `fixtures backbones`: regenerate the torchvision parity fixtures of glassbox-backbones
//!   (torchvision's classes, exported as safetensors).
//! * `fixtures programs`: regenerate the PyTorch loss-and-gradient fixtures of
//!   glassbox-programs' Transformer Program, with the reference's initialisations they start
//!   from (`xtask/peers/programs.py`).
//!
//! The comparisons create `.venv` with torch, torchvision, captum, grad-cam, numpy,
//! safetensors, saliency 0.2.1, scikit-image 0.26 and scikit-learn from PyPI on first use.

use std::collections::BTreeMap;
use std::path::Path;
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

fn output(program: &str, args: &[&str]) -> Option<String> {
    eprintln!("== {program} {}", args.join(" "));
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Parse the flat `{"name": seconds, ...}` JSON both timing programs print.
fn parse_timings(text: &str) -> BTreeMap<String, f64> {
    let body = text.trim().trim_start_matches('{').trim_end_matches('}');
    body.split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once(':')?;
            Some((
                k.trim().trim_matches('"').to_string(),
                v.trim().parse().ok()?,
            ))
        })
        .collect()
}

/// Print a ratio table of two timing maps.
fn print_ratios(
    title: &str,
    peer_name: &str,
    ours: &BTreeMap<String, f64>,
    peer: &BTreeMap<String, f64>,
) {
    println!(
        "{title:<34} {:>11} {:>11} {:>7}",
        "glassbox s",
        format!("{peer_name} s"),
        "ratio"
    );
    for (name, ours_s) in ours {
        if let Some(peer_s) = peer.get(name) {
            println!(
                "{name:<34} {ours_s:>11.4} {peer_s:>11.4} {:>7.2}",
                ours_s / peer_s
            );
        }
    }
    if let Some(threads) = peer.get("torch_threads") {
        println!("(torch threads: {threads})");
    }
}

const PYTHON: &str = ".venv/bin/python";

/// Create `.venv` with the Python peers if it is missing.
fn ensure_venv() -> bool {
    Path::new(PYTHON).exists()
        || (run("python3", &["-m", "venv", ".venv"])
            && run(
                ".venv/bin/pip",
                &[
                    "install",
                    "torch",
                    "torchvision",
                    "captum",
                    "grad-cam",
                    "numpy",
                    "safetensors",
                    "saliency==0.2.1",
                    "scikit-image==0.26.0",
                    "scikit-learn",
                ],
            ))
}

/// Run the Python peer's timing and our timing example, and print the ratios.
fn compare_timings(peer_script: &str, example: &str, title: &str, peer_name: &str) -> bool {
    let Some(peer) = output(PYTHON, &[peer_script, "timing"]) else {
        return false;
    };
    let args = [
        "run",
        "--release",
        "--quiet",
        "-p",
        "glassbox",
        "--example",
        example,
    ];
    let Some(ours) = output("cargo", &args) else {
        return false;
    };
    print_ratios(
        title,
        peer_name,
        &parse_timings(&ours),
        &parse_timings(&peer),
    );
    true
}

fn compare_backbones() -> bool {
    ensure_venv()
        && compare_timings(
            "xtask/peers/backbones.py",
            "backbone_timing",
            "model/op",
            "torch",
        )
}

fn compare_attribution() -> bool {
    let fixture = "crates/glassbox-attribution/tests/fixtures/captum_tiny.json";
    let pair = "crates/glassbox-attribution/tests/fixtures";
    ensure_venv()
        && run(PYTHON, &["xtask/peers/attribution.py", "fixtures", fixture])
        && run(
            PYTHON,
            &[
                "xtask/peers/attribution.py",
                "deeplift",
                &format!("{pair}/captum_deeplift.json"),
            ],
        )
        && run(
            PYTHON,
            &[
                "xtask/peers/pair_saliency.py",
                &format!("{pair}/blur_ig.json"),
                &format!("{pair}/guided_ig.json"),
            ],
        )
        && run(
            PYTHON,
            &["xtask/peers/pair_xrai.py", &format!("{pair}/xrai.json")],
        )
        && run(
            PYTHON,
            &["xtask/peers/lime.py", &format!("{pair}/lime.json")],
        )
        && compare_timings(
            "xtask/peers/attribution.py",
            "attribution_timing",
            "method (SmallCnn N=8, resnet18 N=4)",
            "captum",
        )
}

const METRICS_PYTHON: &str = ".venv-metrics/bin/python";

/// Create `.venv-metrics` with torch, quantus==0.6.0 and numpy<2 (Quantus 0.6.0 calls
/// `np.trapz`, removed in numpy 2) if it is missing.
fn ensure_metrics_venv() -> bool {
    Path::new(METRICS_PYTHON).exists()
        || (run("python3", &["-m", "venv", ".venv-metrics"])
            && run(
                ".venv-metrics/bin/pip",
                &[
                    "install",
                    "torch",
                    "torchvision",
                    "numpy<2",
                    "quantus==0.6.0",
                    "scipy==1.14.1",
                    "scikit-image",
                ],
            ))
}

fn compare_metrics() -> bool {
    let fixture = "crates/glassbox-metrics/tests/fixtures/quantus_tiny.json";
    if !(ensure_metrics_venv()
        && run(
            METRICS_PYTHON,
            &["xtask/peers/metrics.py", "fixtures", fixture],
        ))
    {
        return false;
    }
    let Some(peer) = output(METRICS_PYTHON, &["xtask/peers/metrics.py", "timing"]) else {
        return false;
    };
    let args = [
        "run",
        "--release",
        "--quiet",
        "-p",
        "glassbox",
        "--example",
        "metric_timing",
    ];
    let Some(ours) = output("cargo", &args) else {
        return false;
    };
    print_ratios(
        "metric (SmallCnn N=256, resnet18 N=64)",
        "quantus",
        &parse_timings(&ours),
        &parse_timings(&peer),
    );
    true
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["ci"] => {
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
        ["fashion-subset"] => run("python3", &["scripts/make_fashion_subset.py"]),
        ["compare", "attribution"] => compare_attribution(),
        ["compare", "backbones"] => compare_backbones(),
        ["compare", "metrics"] => compare_metrics(),
        ["fixtures", "backbones"] => {
            ensure_venv()
                && run(
                    PYTHON,
                    &[
                        "xtask/peers/backbones.py",
                        "fixtures",
                        "crates/glassbox-backbones/tests/fixtures",
                    ],
                )
        }
        ["fixtures", "programs"] => {
            ensure_venv()
                && run(
                    PYTHON,
                    &[
                        "xtask/peers/programs.py",
                        "gradients",
                        "crates/glassbox-programs/tests/fixtures",
                    ],
                )
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | fashion-subset | compare attribution|backbones|metrics | fixtures backbones|programs>"
            );
            false
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
