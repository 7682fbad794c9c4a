//! `glassbox program train|extract|run`: Transformer Programs (Friedman et al., 2023).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use glassbox::device::parse_device;
use glassbox::programs::data::Task;
use glassbox::programs::pipeline::{extract_saved, train_to_dir};
use glassbox::programs::{Program, ProgramShape, TrainConfig};

/// `glassbox program …`
#[derive(Subcommand, Debug)]
pub enum ProgramCommand {
    /// Train a task (the paper's Table 1 configuration unless overridden); write the model, report.json,
    /// program.py, program.rs, program.json and extract.json (the equivalence check).
    Train(TrainArgs),
    /// Re-extract the program of a saved model (program.py/.rs/.json, extract.json).
    Extract(ExtractArgs),
    /// Run a saved program on tokens and print one class per position.
    Run(RunArgs),
}

/// Options of `glassbox program train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Task: reverse, hist, double_hist, sort, most_freq, dyck1, dyck2, induction.
    #[arg(long)]
    task: String,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Seed of data, initialisation and noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Start from the parameters of this safetensors file instead of a random
    /// initialisation (e.g. the reference's, from `xtask/peers/programs.py init TASK SEED OUT`).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Epochs (default: 250, 500 for induction, as the reference).
    #[arg(long)]
    epochs: Option<usize>,
    /// Batch size.
    #[arg(long, default_value_t = 512)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// Layers (default: the task's Table 1 configuration, as are the four below).
    #[arg(long)]
    layers: Option<usize>,
    /// Categorical attention heads per layer.
    #[arg(long)]
    heads_cat: Option<usize>,
    /// Numerical attention heads per layer.
    #[arg(long)]
    heads_num: Option<usize>,
    /// Categorical MLPs per layer.
    #[arg(long)]
    cat_mlps: Option<usize>,
    /// Numerical MLPs per layer.
    #[arg(long)]
    num_mlps: Option<usize>,
    /// Skip running the generated Python and Rust in the equivalence check (the IR
    /// interpreter is always checked).
    #[arg(long)]
    no_source_check: bool,
    /// Replace files in an existing output directory.
    #[arg(long)]
    overwrite: bool,
    /// Device: flex (default), ndarray, wgpu, cuda.
    #[arg(long, default_value = "flex")]
    device: String,
}

/// Options of `glassbox program extract`.
#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// Directory written by `glassbox program train`.
    #[arg(long)]
    model: PathBuf,
    /// Skip running the generated Python and Rust.
    #[arg(long)]
    no_source_check: bool,
    /// Replace the program files already in the directory.
    #[arg(long)]
    overwrite: bool,
    /// Device.
    #[arg(long, default_value = "flex")]
    device: String,
}

/// Options of `glassbox program run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Directory written by `glassbox program train`.
    #[arg(long)]
    model: PathBuf,
    /// Input tokens, BOS first (e.g. `<s> 3 1 3`).
    #[arg(required = true)]
    tokens: Vec<String>,
}

/// Dispatch a `glassbox program` subcommand.
pub fn run(cmd: ProgramCommand) -> Result<()> {
    match cmd {
        ProgramCommand::Train(args) => {
            let task: Task = args.task.parse()?;
            let device = parse_device(&args.device)?;
            let mut train = TrainConfig::for_task(task);
            train.seed = args.seed;
            train.batch_size = args.batch_size;
            train.learning_rate = args.lr;
            train.progress = true;
            train.init = args.init.clone();
            if let Some(e) = args.epochs {
                train.epochs = e;
            }
            let table = ProgramShape::for_task(task);
            let shape = ProgramShape {
                layers: args.layers.unwrap_or(table.layers),
                heads_cat: args.heads_cat.unwrap_or(table.heads_cat),
                heads_num: args.heads_num.unwrap_or(table.heads_num),
                cat_mlps: args.cat_mlps.unwrap_or(table.cat_mlps),
                num_mlps: args.num_mlps.unwrap_or(table.num_mlps),
            };
            let (report, extract) = train_to_dir(
                task,
                &train,
                Some(shape),
                &args.out,
                !args.no_source_check,
                args.overwrite,
                &device,
            )?;
            println!(
                "{task}: trained {} epochs in {:.1} s; discretised accuracy train {:.2}% val {:.2}% test {:.2}%",
                train.epochs,
                report.train_seconds,
                100.0 * report.train_accuracy,
                100.0 * report.val_accuracy,
                100.0 * report.test_accuracy
            );
            print_extract(&extract, &args.out);
        }
        ProgramCommand::Extract(args) => {
            let device = parse_device(&args.device)?;
            let extract =
                extract_saved(&args.model, !args.no_source_check, args.overwrite, &device)?;
            print_extract(&extract, &args.model);
        }
        ProgramCommand::Run(args) => {
            let text =
                std::fs::read_to_string(args.model.join("program.json")).with_context(|| {
                    format!(
                        "reading {}/program.json (run `glassbox program extract` first)",
                        args.model.display()
                    )
                })?;
            let program: Program =
                serde_json::from_str(&text).context("program.json is not a glassbox program")?;
            let tokens: Vec<&str> = args.tokens.iter().map(String::as_str).collect();
            let out = program.run(&tokens)?;
            println!("{}", out.join(" "));
        }
    }
    Ok(())
}

fn print_extract(extract: &glassbox::programs::pipeline::ExtractReport, dir: &std::path::Path) {
    let eq = &extract.equivalence;
    let fmt = |m: Option<usize>| m.map_or("not run".to_string(), |m| format!("{m} mismatches"));
    println!(
        "program: {} lines of Python ({} unpruned), {} lines of Rust in {}",
        extract.lines.python_pruned,
        extract.lines.python_full,
        extract.lines.rust_pruned,
        dir.display()
    );
    println!(
        "equivalence on {} test sequences ({} positions): interpreter {}, Python {}, Rust {}",
        eq.sequences,
        eq.positions,
        fmt(Some(eq.interpreter_mismatches)),
        fmt(eq.python_mismatches),
        fmt(eq.rust_mismatches)
    );
}
