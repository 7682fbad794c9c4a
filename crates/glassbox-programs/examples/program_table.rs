//! Summarise trained programs: for every run directory under the given directory (default
//! `runs/programs`; a `config.json` and `report.json` as `glassbox program train` writes them),
//! one row per run, grouped by task and configuration (layers, heads, MLPs, epochs), with the
//! best-validation seed of each group marked beside the paper's Table 1 accuracy, as Markdown.
//!
//! `cargo run --release -p glassbox-programs --example program_table [DIR]`

use std::collections::BTreeMap;
use std::path::PathBuf;

use glassbox_data::rasp::Task;
use glassbox_programs::TrainReport;
use glassbox_programs::artifacts::RunConfig;
use glassbox_programs::pipeline::ExtractReport;

/// The paper's Table 1 (discretised test accuracy, %); induction: "perfect accuracy".
fn paper(task: Task) -> f64 {
    match task {
        Task::Reverse => 99.79,
        Task::Hist => 100.0,
        Task::DoubleHist => 98.40,
        Task::Sort => 99.83,
        Task::MostFreq => 75.69,
        Task::Dyck1 => 99.30,
        Task::Dyck2 => 99.09,
        Task::Induction => 100.0,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "runs/programs".into()),
    );
    // (task order, layers, cat heads, num heads, cat MLPs, num MLPs, epochs) -> runs
    type Group = (usize, usize, usize, usize, usize, usize, usize);
    let mut runs: BTreeMap<Group, Vec<(u64, TrainReport, Option<ExtractReport>)>> = BTreeMap::new();
    for entry in std::fs::read_dir(&root)? {
        let dir = entry?.path();
        let (Ok(report), Ok(config)) = (
            std::fs::read_to_string(dir.join("report.json")),
            std::fs::read_to_string(dir.join("config.json")),
        ) else {
            continue;
        };
        let report: TrainReport = serde_json::from_str(&report)?;
        let config: RunConfig = serde_json::from_str(&config)?;
        let task = config.data.task;
        let extract = std::fs::read_to_string(dir.join("extract.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let m = &report.model;
        let group = (
            Task::ALL.iter().position(|t| *t == task).unwrap(),
            m.n_layers,
            m.n_heads_cat,
            m.n_heads_num,
            m.n_cat_mlps,
            m.n_num_mlps,
            report.train.epochs,
        );
        runs.entry(group)
            .or_default()
            .push((report.train.seed, report, extract));
    }
    println!(
        "| task | L | heads (cat+num) | MLPs (cat+num) | seed | epochs | train time | val % | test % | paper % | program lines (pruned / full) | equivalence |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (group, mut list) in runs {
        let task = Task::ALL[group.0];
        list.sort_by_key(|r| r.0);
        let best = list
            .iter()
            .map(|r| r.1.val_accuracy)
            .fold(f64::MIN, f64::max);
        for (seed, r, e) in &list {
            let m = &r.model;
            let mark = if r.val_accuracy == best {
                " **(best val)**"
            } else {
                ""
            };
            let (lines, eq) = match e {
                Some(e) => (
                    format!("{} / {}", e.lines.python_pruned, e.lines.python_full),
                    if e.equivalence.exact() && e.equivalence.python_mismatches.is_some() {
                        format!("exact on {} positions", e.equivalence.positions)
                    } else {
                        format!("{:?}", e.equivalence)
                    },
                ),
                None => ("–".into(), "not extracted".into()),
            };
            println!(
                "| {task}{mark} | {} | {}+{} | {}+{} | {seed} | {} | {:.0} s | {:.2} | {:.2} | {:.2} | {lines} | {eq} |",
                m.n_layers,
                m.n_heads_cat,
                m.n_heads_num,
                m.n_cat_mlps,
                m.n_num_mlps,
                r.train.epochs,
                r.train_seconds,
                100.0 * r.val_accuracy,
                100.0 * r.test_accuracy,
                paper(task)
            );
        }
    }
    Ok(())
}
