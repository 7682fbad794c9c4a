//! Reports: every metric's result for one explanation, and method × metric tables.

use std::collections::BTreeMap;
use std::path::Path;

use glassbox_core::io::write_new;
use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::MetricResult;

/// The results of several metrics on one set of attributions (what `glassbox evaluate
/// --metric a,b,c` writes).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetricReport {
    /// Free-form description of what was scored (method, model, inputs).
    pub subject: BTreeMap<String, serde_json::Value>,
    /// One entry per metric.
    pub results: Vec<MetricResult>,
}

impl MetricReport {
    /// Pretty JSON (NaN scores become `null`).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Config(format!("report to JSON: {e}")))
    }

    /// Write as JSON; refuses to replace an existing file unless `overwrite`.
    pub fn save_json(&self, path: impl AsRef<Path>, overwrite: bool) -> Result<()> {
        write_new(path.as_ref(), self.to_json()?.as_bytes(), overwrite)
    }
}

/// Aggregate scores of several explanation methods under several metrics.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetricTable {
    /// Method names, in row order.
    pub methods: Vec<String>,
    /// Metric names with their direction (`true`: higher is better), in column order.
    pub metrics: Vec<(String, Option<bool>)>,
    /// `scores[method][metric]` aggregates (NaN: undefined).
    pub scores: Vec<Vec<f64>>,
}

impl MetricTable {
    /// Add a method's row of results (metrics must come in the same order for every row).
    pub fn push(&mut self, method: &str, results: &[MetricResult]) -> Result<()> {
        if self.metrics.is_empty() {
            self.metrics = results
                .iter()
                .map(|r| (r.metric.clone(), r.higher_is_better))
                .collect();
        } else if self.metrics.len() != results.len()
            || self
                .metrics
                .iter()
                .zip(results)
                .any(|((m, _), r)| *m != r.metric)
        {
            return Err(Error::Config(format!(
                "method {method}: metrics differ from the table's columns"
            )));
        }
        self.methods.push(method.to_string());
        self.scores
            .push(results.iter().map(|r| r.aggregate).collect());
        Ok(())
    }

    /// A Markdown table; the best value of each column is bold (by the metric's direction).
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("| method |");
        for (m, dir) in &self.metrics {
            let arrow = match dir {
                Some(true) => " ↑",
                Some(false) => " ↓",
                None => "",
            };
            s.push_str(&format!(" {m}{arrow} |"));
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(self.metrics.len()));
        s.push('\n');
        let best: Vec<Option<usize>> = (0..self.metrics.len())
            .map(|j| {
                let dir = self.metrics[j].1?;
                (0..self.methods.len())
                    .filter(|&i| !self.scores[i][j].is_nan())
                    .max_by(|&a, &b| {
                        let (x, y) = (self.scores[a][j], self.scores[b][j]);
                        if dir {
                            x.total_cmp(&y)
                        } else {
                            y.total_cmp(&x)
                        }
                    })
            })
            .collect();
        for (i, method) in self.methods.iter().enumerate() {
            s.push_str(&format!("| {method} |"));
            for (j, b) in best.iter().enumerate() {
                let v = self.scores[i][j];
                let cell = if v.is_nan() {
                    "–".to_string()
                } else {
                    format!("{v:.4}")
                };
                if *b == Some(i) {
                    s.push_str(&format!(" **{cell}** |"));
                } else {
                    s.push_str(&format!(" {cell} |"));
                }
            }
            s.push('\n');
        }
        s
    }
}
