//! The typed program IR a discretised [`TransformerProgram`] compiles to, and its
//! interpreter.
//!
//! Every categorical value is an index `0..k`; a variable's [`ValueType`] says how to print it
//! (a vocabulary token or an integer). The IR mirrors the discrete model exactly (spec §3,
//! caveats a–c): `select_closest` ranks matches by the model's relative bias with ties to the
//! smaller position, numerical-MLP tables cover every input the model can produce, and the
//! classifier adds f32 rows in the model's order.

use burn::prelude::*;
use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::bias::relative_bias;
use crate::config::ProgramConfig;
use crate::model::{ProgramMlp, TransformerProgram};

/// How a categorical variable's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    /// Value `i` is the input token `vocab[i]`.
    Token,
    /// Value `i` is the integer `i`.
    Int,
}

/// A categorical variable of the residual stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatVar {
    /// Name, as the reference prints it (`tokens`, `attn_0_1_outputs`, ...).
    pub name: String,
    /// How its values print.
    pub ty: ValueType,
}

/// A one-to-one predicate: query value `i` selects keys whose value is `target[i]`.
pub type Predicate = Vec<usize>;

/// One operation of the program, in execution order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Categorical head: `out = aggregate(select_closest(key, query, pred), value)`.
    Select {
        /// Layer and head.
        at: (usize, usize),
        /// Output categorical variable.
        out: usize,
        /// Query categorical variable.
        query: usize,
        /// Key categorical variable.
        key: usize,
        /// Value categorical variable.
        value: usize,
        /// Predicate table.
        predicate: Predicate,
    },
    /// Numerical head: `out = aggregate_sum(select(key, query, pred), value)`.
    Count {
        /// Layer and head.
        at: (usize, usize),
        /// Output numerical variable.
        out: usize,
        /// Query categorical variable.
        query: usize,
        /// Key categorical variable.
        key: usize,
        /// Value numerical variable.
        value: usize,
        /// Predicate table.
        predicate: Predicate,
    },
    /// Categorical MLP: a lookup table over one or two categorical inputs.
    CatTable {
        /// Layer and MLP index.
        at: (usize, usize),
        /// Output categorical variable.
        out: usize,
        /// Input categorical variables (one when both reads chose the same variable).
        inputs: Vec<usize>,
        /// Row-major table, `k` or `k²` entries.
        table: Vec<usize>,
    },
    /// Numerical MLP: a lookup table over one or two numerical inputs, on their full ranges.
    NumTable {
        /// Layer and MLP index.
        at: (usize, usize),
        /// Output categorical variable.
        out: usize,
        /// Input numerical variables (one when both reads chose the same variable).
        inputs: Vec<usize>,
        /// Inclusive range of each input.
        ranges: Vec<(u32, u32)>,
        /// Row-major table over the ranges.
        table: Vec<usize>,
    },
}

/// The classifier: f32 rows per (categorical variable, value) and per numerical variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classifier {
    /// `cat[v][value]` = one score per class.
    pub cat: Vec<Vec<Vec<f32>>>,
    /// `num[u]` = one weight per class, multiplied by the variable's value.
    pub num: Vec<Vec<f32>>,
}

/// A complete program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// Cardinality of categorical variables.
    pub d_var: usize,
    /// Longest input.
    pub n_ctx: usize,
    /// Input vocabulary (`<pad>` first).
    pub vocab: Vec<String>,
    /// Output classes.
    pub classes: Vec<String>,
    /// Classes never predicted.
    pub masked_classes: Vec<usize>,
    /// Causal attention.
    pub autoregressive: bool,
    /// Categorical variables in stream order.
    pub cat_vars: Vec<CatVar>,
    /// Numerical variable names in stream order.
    pub num_vars: Vec<String>,
    /// Inclusive range of each numerical variable at real positions.
    pub num_ranges: Vec<(u32, u32)>,
    /// Operations in execution order.
    pub ops: Vec<Op>,
    /// The classifier.
    pub classifier: Classifier,
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// Row-wise argmax (first index on ties) of a row-major `[rows, cols]` matrix.
fn argmax_rows(values: &[f32], cols: usize) -> Vec<usize> {
    values
        .chunks(cols)
        .map(|row| {
            let mut best = 0;
            for (i, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

/// Evaluate an MLP on every row of `inputs` (`[rows, width]`, row-major) and return the
/// argmax output per row, exactly as the discretised model computes it.
fn mlp_table(mlp: &ProgramMlp, inputs: Vec<f32>, width: usize, device: &Device) -> Vec<usize> {
    let rows = inputs.len() / width;
    let mut out = Vec::with_capacity(rows);
    let chunk = 65_536;
    for start in (0..rows).step_by(chunk) {
        let end = (start + chunk).min(rows);
        let data = inputs[start * width..end * width].to_vec();
        let x = Tensor::<3>::from_data(TensorData::new(data, [1, end - start, width]), device);
        let logits = mlp.logits(x);
        let k = logits.dims()[2];
        out.extend(argmax_rows(&host(logits), k));
    }
    out
}

/// Index of the `positions` variable among a program's categorical variables (`tokens` is 0).
pub(crate) const POSITIONS: usize = 1;

impl Program {
    /// Compile a (trained) model into its program. Every choice is the argmax the
    /// discretised model takes.
    pub fn extract(model: &TransformerProgram, config: &ProgramConfig) -> Result<Self> {
        config.validate()?;
        let k = config.d_var;
        let n = config.n_ctx;
        let device = model.unembed.val().device();
        let mut cat_vars = vec![
            CatVar {
                name: "tokens".into(),
                ty: ValueType::Token,
            },
            CatVar {
                name: "positions".into(),
                ty: ValueType::Int,
            },
        ];
        let mut num_vars = vec!["ones".to_string()];
        let mut num_ranges = vec![(1u32, 1u32)];
        let mut ops = Vec::new();
        if model.blocks.len() != config.n_layers {
            return Err(Error::Config(format!(
                "model has {} layers, config says {}",
                model.blocks.len(),
                config.n_layers
            )));
        }
        for (l, block) in model.blocks.iter().enumerate() {
            let mc = cat_vars.len();
            let mn = num_vars.len();
            if let Some(att) = &block.cat_attn {
                let q = argmax_rows(&host(att.query.val()), mc);
                let kk = argmax_rows(&host(att.key.val()), mc);
                let v = argmax_rows(&host(att.value.val()), mc);
                let pred = argmax_rows(&host(att.predicate.val()), k);
                for h in 0..q.len() {
                    let out = cat_vars.len();
                    cat_vars.push(CatVar {
                        name: format!("attn_{l}_{h}_outputs"),
                        ty: cat_vars[v[h]].ty,
                    });
                    ops.push(Op::Select {
                        at: (l, h),
                        out,
                        query: q[h],
                        key: kk[h],
                        value: v[h],
                        predicate: pred[h * k..(h + 1) * k].to_vec(),
                    });
                }
            }
            if let Some(att) = &block.num_attn {
                let q = argmax_rows(&host(att.query.val()), mc);
                let kk = argmax_rows(&host(att.key.val()), mc);
                let v = argmax_rows(&host(att.value.val()), mn);
                let pred = argmax_rows(&host(att.predicate.val()), k);
                for h in 0..q.len() {
                    let out = num_vars.len();
                    num_vars.push(format!("num_attn_{l}_{h}_outputs"));
                    // At most n keys match, each contributing at most the value's maximum.
                    num_ranges.push((0, n as u32 * num_ranges[v[h]].1));
                    ops.push(Op::Count {
                        at: (l, h),
                        out,
                        query: q[h],
                        key: kk[h],
                        value: v[h],
                        predicate: pred[h * k..(h + 1) * k].to_vec(),
                    });
                }
            }
            let mc2 = cat_vars.len();
            let mut new_vars = Vec::new();
            for (i, mlp) in block.cat_mlps.iter().enumerate() {
                let reads = argmax_rows(&host(mlp.read.val()), mc2);
                let same = reads[0] == reads[1];
                let combos: Vec<(usize, usize)> = if same {
                    (0..k).map(|a| (a, a)).collect()
                } else {
                    (0..k).flat_map(|a| (0..k).map(move |b| (a, b))).collect()
                };
                let mut inputs = vec![0.0f32; combos.len() * 2 * k];
                for (r, (a, b)) in combos.iter().enumerate() {
                    inputs[r * 2 * k + a] = 1.0;
                    inputs[r * 2 * k + k + b] = 1.0;
                }
                let table = mlp_table(mlp, inputs, 2 * k, &device);
                new_vars.push(CatVar {
                    name: format!("mlp_{l}_{i}_outputs"),
                    ty: ValueType::Int,
                });
                ops.push(Op::CatTable {
                    at: (l, i),
                    out: mc2 + new_vars.len() - 1,
                    inputs: if same { vec![reads[0]] } else { reads },
                    table,
                });
            }
            for (i, mlp) in block.num_mlps.iter().enumerate() {
                let reads = argmax_rows(&host(mlp.read.val()), num_vars.len());
                let same = reads[0] == reads[1];
                let (ra, rb) = (num_ranges[reads[0]], num_ranges[reads[1]]);
                let mut inputs = Vec::new();
                if same {
                    for a in ra.0..=ra.1 {
                        inputs.extend([a as f32, a as f32]);
                    }
                } else {
                    for a in ra.0..=ra.1 {
                        for b in rb.0..=rb.1 {
                            inputs.extend([a as f32, b as f32]);
                        }
                    }
                }
                let table = mlp_table(mlp, inputs, 2, &device);
                new_vars.push(CatVar {
                    name: format!("num_mlp_{l}_{i}_outputs"),
                    ty: ValueType::Int,
                });
                ops.push(Op::NumTable {
                    at: (l, i),
                    out: mc2 + new_vars.len() - 1,
                    inputs: if same { vec![reads[0]] } else { reads },
                    ranges: if same { vec![ra] } else { vec![ra, rb] },
                    table,
                });
            }
            cat_vars.extend(new_vars);
        }
        let c = config.classes.len();
        let w = host(model.unembed.val());
        let m = cat_vars.len();
        if w.len() != (m * k + num_vars.len()) * c {
            return Err(Error::Config(
                "classifier width does not match the stream".into(),
            ));
        }
        let row = |r: usize| w[r * c..(r + 1) * c].to_vec();
        let classifier = Classifier {
            cat: (0..m)
                .map(|v| (0..k).map(|x| row(v * k + x)).collect())
                .collect(),
            num: (0..num_vars.len()).map(|u| row(m * k + u)).collect(),
        };
        Ok(Self {
            d_var: k,
            n_ctx: n,
            vocab: config.vocab.clone(),
            classes: config.classes.clone(),
            masked_classes: config.masked_classes(),
            autoregressive: config.autoregressive,
            cat_vars,
            num_vars,
            num_ranges,
            ops,
            classifier,
        })
    }

    /// Token ids of `tokens`, or an error naming the first token outside the vocabulary.
    pub fn encode(&self, tokens: &[&str]) -> Result<Vec<usize>> {
        if tokens.is_empty() || tokens.len() > self.n_ctx {
            return Err(Error::Shape {
                what: "program input".into(),
                expected: format!("1..={} tokens", self.n_ctx),
                got: vec![tokens.len()],
            });
        }
        tokens
            .iter()
            .map(|t| {
                self.vocab
                    .iter()
                    .position(|v| v == t)
                    .filter(|&i| i != 0)
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "token `{t}` is not in the program's vocabulary {:?}",
                            &self.vocab[1..]
                        ))
                    })
            })
            .collect()
    }

    /// Run the program on token strings: one predicted class per position.
    pub fn run(&self, tokens: &[&str]) -> Result<Vec<String>> {
        let ids = self.encode(tokens)?;
        Ok(self
            .run_ids(&ids)
            .into_iter()
            .map(|c| self.classes[c].clone())
            .collect())
    }

    /// `select_closest` for query `i`: among keys `j` (`j <= i` when causal) whose value
    /// satisfies the predicate, the highest relative bias, ties to the smaller `j`; no match →
    /// position 0.
    fn closest(&self, i: usize, len: usize, matches: impl Fn(usize) -> bool) -> usize {
        let last = if self.autoregressive { i + 1 } else { len };
        let mut best: Option<(f32, usize)> = None;
        for j in 0..last {
            if matches(j) {
                let b = relative_bias(i, j, self.n_ctx);
                if best.is_none_or(|(bb, _)| b > bb) {
                    best = Some((b, j));
                }
            }
        }
        best.map_or(0, |(_, j)| j)
    }

    /// Run on token ids (no padding, `1..=n_ctx` of them): predicted class ids.
    pub fn run_ids(&self, ids: &[usize]) -> Vec<usize> {
        let len = ids.len();
        let mut cat: Vec<Vec<usize>> = vec![ids.to_vec(), (0..len).collect()];
        cat.resize(self.cat_vars.len(), Vec::new());
        let mut num: Vec<Vec<u32>> = vec![vec![1; len]];
        num.resize(self.num_vars.len(), Vec::new());
        for op in &self.ops {
            match op {
                Op::Select {
                    out,
                    query,
                    key,
                    value,
                    predicate,
                    ..
                } => {
                    let col: Vec<usize> = (0..len)
                        .map(|i| {
                            let want = predicate[cat[*query][i]];
                            let j = self.closest(i, len, |j| cat[*key][j] == want);
                            cat[*value][j]
                        })
                        .collect();
                    cat[*out] = col;
                }
                Op::Count {
                    out,
                    query,
                    key,
                    value,
                    predicate,
                    ..
                } => {
                    let col: Vec<u32> = (0..len)
                        .map(|i| {
                            let want = predicate[cat[*query][i]];
                            let last = if self.autoregressive { i + 1 } else { len };
                            (0..last)
                                .filter(|&j| cat[*key][j] == want)
                                .map(|j| num[*value][j])
                                .sum()
                        })
                        .collect();
                    num[*out] = col;
                }
                Op::CatTable {
                    out, inputs, table, ..
                } => {
                    let k = self.d_var;
                    let col = (0..len)
                        .map(|i| match inputs.as_slice() {
                            [a] => table[cat[*a][i]],
                            [a, b] => table[cat[*a][i] * k + cat[*b][i]],
                            _ => unreachable!("tables have one or two inputs"),
                        })
                        .collect();
                    cat[*out] = col;
                }
                Op::NumTable {
                    out,
                    inputs,
                    ranges,
                    table,
                    ..
                } => {
                    let col = (0..len)
                        .map(|i| {
                            let x = num[inputs[0]][i] - ranges[0].0;
                            match inputs.as_slice() {
                                [_] => table[x as usize],
                                [_, b] => {
                                    let width = (ranges[1].1 - ranges[1].0 + 1) as usize;
                                    table[x as usize * width + (num[*b][i] - ranges[1].0) as usize]
                                }
                                _ => unreachable!("tables have one or two inputs"),
                            }
                        })
                        .collect();
                    cat[*out] = col;
                }
            }
        }
        (0..len)
            .map(|i| {
                let scores = self.scores(&cat, &num, i);
                let mut best: Option<usize> = None;
                for (c, s) in scores.iter().enumerate() {
                    if self.masked_classes.contains(&c) {
                        continue;
                    }
                    if best.is_none_or(|b| *s > scores[b]) {
                        best = Some(c);
                    }
                }
                best.unwrap_or(0)
            })
            .collect()
    }

    /// Class scores at position `i`: f32 rows added variable by variable, as the model does.
    fn scores(&self, cat: &[Vec<usize>], num: &[Vec<u32>], i: usize) -> Vec<f32> {
        let mut acc = self.classifier.cat[0][cat[0][i]].clone();
        for (v, col) in cat.iter().enumerate().skip(1) {
            for (a, w) in acc.iter_mut().zip(&self.classifier.cat[v][col[i]]) {
                *a += *w;
            }
        }
        for (u, col) in num.iter().enumerate() {
            let x = col[i] as f32;
            for (a, w) in acc.iter_mut().zip(&self.classifier.num[u]) {
                *a += x * *w;
            }
        }
        acc
    }

    /// How value `v` of categorical variable `var` prints (`None` for token ids outside the
    /// vocabulary, which never occur).
    pub fn value_name(&self, var: usize, v: usize) -> Option<String> {
        match self.cat_vars[var].ty {
            ValueType::Token => self.vocab.get(v).cloned(),
            ValueType::Int => Some(v.to_string()),
        }
    }
}
