//! The equivalence check: the discretised model, the IR interpreter, the generated Python and
//! the generated Rust must predict the same class at every real position of every input.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use burn::prelude::*;
use glassbox_core::{Error, Result};
use glassbox_data::rasp::{EncodedSplit, Example};
use serde::{Deserialize, Serialize};

use crate::ir::Program;
use crate::model::TransformerProgram;
use crate::train::predict;

/// Disagreements with the discretised model, counted over real positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Equivalence {
    /// Sequences checked.
    pub sequences: usize,
    /// Positions checked (every non-pad input position).
    pub positions: usize,
    /// Positions where the IR interpreter differs from the model.
    pub interpreter_mismatches: usize,
    /// Positions where the generated Python differs (`None`: not run).
    pub python_mismatches: Option<usize>,
    /// Positions where the generated Rust differs (`None`: not run).
    pub rust_mismatches: Option<usize>,
}

impl Equivalence {
    /// True when every checked form agrees with the model everywhere.
    pub fn exact(&self) -> bool {
        self.interpreter_mismatches == 0
            && self.python_mismatches.unwrap_or(0) == 0
            && self.rust_mismatches.unwrap_or(0) == 0
    }
}

/// The model's predicted class names at the real positions of each example.
pub fn model_predictions(
    model: &TransformerProgram,
    program: &Program,
    examples: &[Example],
    encoded: &EncodedSplit,
    device: &Device,
) -> Vec<Vec<String>> {
    let flat = predict(model, encoded, 1024, device);
    examples
        .iter()
        .enumerate()
        .map(|(r, ex)| {
            (0..ex.tokens.len())
                .map(|i| program.classes[flat[r * encoded.n_ctx + i] as usize].clone())
                .collect()
        })
        .collect()
}

fn count_mismatches(a: &[Vec<String>], b: &[Vec<String>]) -> usize {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).filter(|(u, v)| u != v).count() + x.len().abs_diff(y.len()))
        .sum::<usize>()
        + a.len().abs_diff(b.len())
}

/// Compare the interpreter (and, when given, the generated sources) with the model on
/// `examples`.
pub fn check_equivalence(
    model: &TransformerProgram,
    program: &Program,
    examples: &[Example],
    encoded: &EncodedSplit,
    python: Option<&str>,
    rust: Option<&str>,
    device: &Device,
) -> Result<Equivalence> {
    let reference = model_predictions(model, program, examples, encoded, device);
    let interpreted: Vec<Vec<String>> = examples
        .iter()
        .map(|ex| {
            let t: Vec<&str> = ex.tokens.iter().map(String::as_str).collect();
            program.run(&t)
        })
        .collect::<Result<_>>()?;
    let inputs: Vec<Vec<String>> = examples.iter().map(|e| e.tokens.clone()).collect();
    let python_mismatches = match python {
        Some(src) => Some(count_mismatches(&reference, &run_python(src, &inputs)?)),
        None => None,
    };
    let rust_mismatches = match rust {
        Some(src) => Some(count_mismatches(&reference, &run_rust(src, &inputs)?)),
        None => None,
    };
    Ok(Equivalence {
        sequences: examples.len(),
        positions: reference.iter().map(Vec::len).sum(),
        interpreter_mismatches: count_mismatches(&reference, &interpreted),
        python_mismatches,
        rust_mismatches,
    })
}

/// A fresh scratch directory under the system temp dir.
fn scratch() -> Result<PathBuf> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "glassbox-programs-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}

fn tool_error(what: &str, detail: String) -> Error {
    Error::Config(format!("{what}: {detail}"))
}

/// Pipe `input` into `cmd` and return its stdout lines.
fn pipe(mut cmd: Command, input: String, what: &str) -> Result<Vec<String>> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| tool_error(what, format!("could not start: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(input.as_bytes())
    });
    let out = child
        .wait_with_output()
        .map_err(|e| tool_error(what, e.to_string()))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(tool_error(
            what,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// Run generated Python (`python3`) on `inputs`: one prediction list per input.
pub fn run_python(source: &str, inputs: &[Vec<String>]) -> Result<Vec<Vec<String>>> {
    let dir = scratch()?;
    let path = dir.join("program.py");
    std::fs::write(&path, source).map_err(|e| Error::io(&path, e))?;
    let input: String = inputs
        .iter()
        .map(|t| serde_json::to_string(t).expect("strings serialise") + "\n")
        .collect();
    let mut cmd = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()));
    cmd.arg(&path);
    let lines = pipe(cmd, input, "generated Python program")?;
    let _ = std::fs::remove_dir_all(&dir);
    lines
        .iter()
        .map(|l| {
            serde_json::from_str(l).map_err(|source| Error::Json {
                what: "generated Python output".into(),
                source,
            })
        })
        .collect()
}

/// The harness compiled around a generated Rust module: tab-separated tokens per line in,
/// tab-separated classes per line out.
const RUST_HARNESS: &str = r#"mod program;
use std::io::BufRead;
fn main() {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        if line.is_empty() { continue; }
        let tokens: Vec<&str> = line.split('\t').collect();
        match program::run(&tokens) {
            Ok(out) => println!("{}", out.join("\t")),
            Err(e) => { eprintln!("{e}"); std::process::exit(2); }
        }
    }
}
"#;

/// Compile a generated Rust module with `rustc -O` into `dir`; returns the binary's path.
pub fn compile_rust(source: &str, dir: &Path) -> Result<PathBuf> {
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
    };
    write("program.rs", source)?;
    write("main.rs", RUST_HARNESS)?;
    let bin = dir.join("program-bin");
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--edition", "2021", "-O", "-o"])
        .arg(&bin)
        .arg(dir.join("main.rs"))
        .output()
        .map_err(|e| tool_error("rustc", format!("could not start: {e}")))?;
    if !out.status.success() {
        return Err(tool_error(
            "generated Rust program does not compile",
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    Ok(bin)
}

/// Compile and run generated Rust on `inputs`.
pub fn run_rust(source: &str, inputs: &[Vec<String>]) -> Result<Vec<Vec<String>>> {
    let dir = scratch()?;
    let bin = compile_rust(source, &dir)?;
    let input: String = inputs.iter().map(|t| t.join("\t") + "\n").collect();
    let lines = pipe(Command::new(&bin), input, "generated Rust program")?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(lines
        .iter()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect())
}
