//! Render a [`Program`] as a standalone Python module or a standalone Rust module.
//!
//! Both have one function per head (its predicate) and per MLP (its lookup table), each with a
//! comment saying what it reads, and a `run(tokens)` that executes them in layer order and
//! scores the classes with the model's f32 arithmetic (rows added in stream order), so the
//! predictions are exactly the discretised model's. Python emulates f32 with `struct`; both
//! need nothing beyond their standard library.

use std::fmt::Write;
use std::ops::Range;

use crate::ir::{Op, POSITIONS, Program, ValueType};
use crate::prune::{Reach, Run, predicate_groups, runs, table_groups};

/// Output language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Python 3, standard library only.
    Python,
    /// Rust (2021 edition or later), std only.
    Rust,
}

/// Rendering options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Target language.
    pub language: Language,
    /// Drop branches for values that cannot occur (the readable form); `false` renders every
    /// value of every variable (the "full" program of the paper's Table 4).
    pub prune: bool,
    /// A name for the header (e.g. the task).
    pub title: &'static str,
}

/// Render `program`.
pub fn render(program: &Program, options: &RenderOptions) -> String {
    let reach = if options.prune {
        Reach::analyse(program)
    } else {
        Reach::everything(program)
    };
    let r = Renderer {
        p: program,
        reach,
        lang: options.language,
        prune: options.prune,
    };
    r.program(options.title)
}

/// Singular argument name of a variable (`tokens` → `token`, `attn_0_1_outputs` →
/// `attn_0_1_output`).
fn arg_name(var: &str) -> String {
    var.strip_suffix('s').unwrap_or(var).to_string()
}

fn str_lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// One term of the classifier's sum in generated Rust: a row per value of a variable.
struct Term {
    /// The variable (`tokens`, `num_attn_0_1_outputs`).
    var: String,
    /// The table of its rows, indexed by value (`W_TOKENS`, `W_ONES_TIMES`); `None` for a
    /// numerical variable whose products are computed at run time.
    rows: Option<String>,
    /// The row index at position `i`.
    index: String,
    /// How many rows the table has.
    values: usize,
    /// The variable's value at every reachable position, when it has only one.
    constant: Option<usize>,
}

struct Renderer<'a> {
    p: &'a Program,
    reach: Reach,
    lang: Language,
    prune: bool,
}

impl Renderer<'_> {
    fn py(&self) -> bool {
        self.lang == Language::Python
    }

    /// Literal of value `v` of categorical variable `var`.
    fn lit(&self, var: usize, v: usize) -> String {
        match (self.p.cat_vars[var].ty, self.py()) {
            // Token ids past the vocabulary never occur; they only label unused rows.
            (ValueType::Token, py) if v >= self.p.vocab.len() => {
                if py {
                    "\"\"".into()
                } else {
                    v.to_string()
                }
            }
            (ValueType::Token, true) => str_lit(&self.p.vocab[v]),
            (ValueType::Token, false) => token_const(&self.p.vocab, v),
            (ValueType::Int, _) => v.to_string(),
        }
    }

    fn cat_name(&self, var: usize) -> &str {
        &self.p.cat_vars[var].name
    }

    /// Rust carries every categorical value as its index (`u8`); token values are named by
    /// the `T_*` constants.
    fn rust_ty(&self, _var: usize) -> &'static str {
        "u8"
    }

    fn float(&self, x: f32) -> String {
        if self.py() {
            // The f64 holding the f32 exactly; Python parses it back to the same value.
            format!("{:?}", x as f64)
        } else {
            format!("{x:?}")
        }
    }

    /// A classifier row as Rust literals, zero-padded to the score lanes.
    fn padded_row(&self, row: &[f32]) -> Vec<String> {
        let mut out: Vec<String> = row.iter().map(|&w| self.float(w)).collect();
        out.resize(score_lanes(row.len()), "0.0".into());
        out
    }

    fn program(&self, title: &str) -> String {
        let mut s = String::new();
        let p = self.p;
        let c = p.classes.len();
        let header = format!(
            "{title} as a Transformer Program, extracted by glassbox-programs from a trained,\n\
             discretised model ({} layer(s), {} categorical and {} numerical variables, {}).\n\n\
             `run(tokens)` returns one class per input position and reproduces the model's\n\
             predictions exactly (its float32 classifier arithmetic included). Standard library only.",
            p.ops.iter().map(op_layer).max().map_or(0, |l| l + 1),
            p.cat_vars.len(),
            p.num_vars.len(),
            if self.prune {
                "unreachable branches pruned"
            } else {
                "unpruned"
            }
        );
        let vocab: Vec<String> = p.vocab.iter().map(|v| str_lit(v)).collect();
        let classes: Vec<String> = p.classes.iter().map(|v| str_lit(v)).collect();
        let masked: Vec<String> = p.masked_classes.iter().map(|m| m.to_string()).collect();
        if self.py() {
            let _ = writeln!(
                s,
                "\"\"\"{header}\n\"\"\"\n\nimport json\nimport struct\nimport sys\n"
            );
            let _ = writeln!(s, "VOCAB = [{}]", vocab.join(", "));
            let _ = writeln!(s, "CLASSES = [{}]", classes.join(", "));
            let _ = writeln!(
                s,
                "MASKED_CLASSES = {}",
                if masked.is_empty() {
                    "set()".to_string()
                } else {
                    format!("{{{}}}", masked.join(", "))
                }
            );
            let _ = writeln!(
                s,
                "N_CTX = {}\nCAUSAL = {}\n",
                p.n_ctx,
                if p.autoregressive { "True" } else { "False" }
            );
            s.push_str(PY_PRELUDE);
        } else {
            for line in header.lines() {
                let _ = writeln!(s, "//! {line}").map(|_| ());
            }
            s = s.replace("//! \n", "//!\n");
            let _ = writeln!(s, "\n#![allow(clippy::all, unused, non_snake_case)]\n");
            let _ = writeln!(s, "/// Input vocabulary (`<pad>` first).");
            let _ = writeln!(
                s,
                "pub const VOCAB: [&str; {}] = [{}];",
                vocab.len(),
                vocab.join(", ")
            );
            let _ = writeln!(s, "/// Output classes.");
            let _ = writeln!(
                s,
                "pub const CLASSES: [&str; {c}] = [{}];",
                classes.join(", ")
            );
            // The classes argmax may pick (the masked ones can never win in the model).
            let mut unmasked: Vec<String> = (0..c)
                .filter(|k| !p.masked_classes.contains(k))
                .map(|k| k.to_string())
                .collect();
            if unmasked.is_empty() {
                unmasked.push("0".into());
            }
            let _ = writeln!(
                s,
                "const UNMASKED: [usize; {}] = [{}];",
                unmasked.len(),
                unmasked.join(", ")
            );
            // Score lanes argmax may pick: the unmasked classes, not the padding.
            let keep: Vec<&str> = (0..score_lanes(c))
                .map(|k| {
                    if k < c && !p.masked_classes.contains(&k) {
                        "true"
                    } else {
                        "false"
                    }
                })
                .collect();
            let _ = writeln!(
                s,
                "const KEEP: [bool; {}] = [{}];",
                keep.len(),
                keep.join(", ")
            );
            let _ = writeln!(
                s,
                "/// Longest input.\npub const N_CTX: usize = {};",
                p.n_ctx
            );
            let _ = writeln!(
                s,
                "const CAUSAL: bool = {};\nconst C: usize = {c};\n/// Score lanes: `C` rounded up to a multiple of 4 (zero-padded rows), so that adding a\n/// row is whole vector instructions.\nconst CP: usize = {};\n/// Values per categorical variable.\nconst K: usize = {};\n\
                 /// What a predicate table holds for a query value that selects no key.\nconst NONE: u8 = K as u8;\n\
                 /// Per-value arrays hold `KM + 1 > K` entries (a power of two), so that a value or\n/// `NONE` masked with `KM` indexes them without a bounds check.\nconst KM: usize = (K + 1).next_power_of_two() - 1;\n\
                 /// A set of positions, bit `j` for position `j`.\ntype Set = {};\n",
                p.autoregressive,
                score_lanes(c),
                p.d_var,
                set_type(p.n_ctx)
            );
            let _ = writeln!(s, "// Token values, as indices into VOCAB.");
            for (i, t) in p.vocab.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "const {}: u8 = {i}; // {}",
                    token_const(&p.vocab, i),
                    str_lit(t)
                );
            }
            // Byte-slice patterns compile to a switch on the length and then on each byte,
            // not to one string comparison per vocabulary entry.
            let _ = writeln!(
                s,
                "\nfn token_id(t: &str) -> Option<u8> {{\n    match t.as_bytes() {{"
            );
            for (i, t) in p.vocab.iter().enumerate().skip(1) {
                let bytes: Vec<String> = t.bytes().map(byte_lit).collect();
                let _ = writeln!(
                    s,
                    "        [{}] => Some({}),",
                    bytes.join(", "),
                    token_const(&p.vocab, i)
                );
            }
            let _ = writeln!(s, "        _ => None,\n    }}\n}}\n");
            s.push_str(RS_PRELUDE);
        }
        for op in &p.ops {
            s.push('\n');
            self.op_function(&mut s, op);
        }
        s.push('\n');
        self.classifier(&mut s);
        s.push('\n');
        self.run_function(&mut s);
        if self.py() {
            s.push_str(PY_MAIN);
        }
        s
    }

    fn op_function(&self, s: &mut String, op: &Op) {
        let py = self.py();
        match op {
            Op::Select {
                at,
                query,
                key,
                value,
                predicate,
                ..
            }
            | Op::Count {
                at,
                query,
                key,
                predicate,
                value,
                ..
            } => {
                let numeric = matches!(op, Op::Count { .. });
                let name = if numeric {
                    format!("num_predicate_{}_{}", at.0, at.1)
                } else {
                    format!("predicate_{}_{}", at.0, at.1)
                };
                let value_name = if numeric {
                    self.p.num_vars[*value].clone()
                } else {
                    self.cat_name(*value).to_string()
                };
                let (qa, ka) = (
                    format!("q_{}", arg_name(self.cat_name(*query))),
                    format!("k_{}", arg_name(self.cat_name(*key))),
                );
                let what = if numeric { "sum of" } else { "aggregate" };
                let comment = format!(
                    "{}attn_{}_{}: query `{}`, key `{}`, {what} `{}`",
                    if numeric { "num_" } else { "" },
                    at.0,
                    at.1,
                    self.cat_name(*query),
                    self.cat_name(*key),
                    value_name
                );
                let groups = predicate_groups(&self.reach, *query, *key, predicate);
                if py {
                    let _ = writeln!(s, "# {comment}\ndef {name}({qa}, {ka}):");
                    for (t, qs) in &groups {
                        let set: Vec<String> = qs.iter().map(|&q| self.lit(*query, q)).collect();
                        let _ = writeln!(
                            s,
                            "    if {qa} in {{{}}}:\n        return {ka} == {}",
                            set.join(", "),
                            self.lit(*key, *t)
                        );
                    }
                    let _ = writeln!(s, "    return False\n");
                } else {
                    // The one-to-one predicate as the key value each query value selects.
                    let _ = writeln!(
                        s,
                        "/// {comment}\n/// (the `{ka}` value each `{qa}` selects; `None`: nothing matches).\nconst fn {name}({qa}: u8) -> Option<u8> {{\n    match {qa} {{",
                    );
                    for (t, qs) in &groups {
                        let set: Vec<String> = qs.iter().map(|&q| self.lit(*query, q)).collect();
                        let _ = writeln!(
                            s,
                            "        {} => Some({}),",
                            set.join(" | "),
                            self.lit(*key, *t)
                        );
                    }
                    let _ = writeln!(s, "        _ => None,\n    }}\n}}");
                    let _ = writeln!(
                        s,
                        "const {}: [u8; K] = predicate_table!({name});",
                        name.to_uppercase()
                    );
                }
            }
            Op::CatTable {
                at,
                out,
                inputs,
                table,
            } => {
                let name = format!("mlp_{}_{}", at.0, at.1);
                let k = self.p.d_var;
                let args: Vec<String> =
                    inputs.iter().map(|&v| arg_name(self.cat_name(v))).collect();
                let args = dedup_args(args);
                let comment = format!(
                    "{name}: lookup table over {}",
                    inputs
                        .iter()
                        .map(|&v| format!("`{}`", self.cat_name(v)))
                        .collect::<Vec<_>>()
                        .join(" and ")
                );
                let entries: Vec<(String, usize)> = match inputs.as_slice() {
                    [a] => self
                        .reach
                        .values(*a)
                        .into_iter()
                        .map(|x| (self.lit(*a, x), table[x]))
                        .collect(),
                    [a, b] => {
                        let mut e = Vec::new();
                        for x in self.reach.values(*a) {
                            for y in self.reach.values(*b) {
                                e.push((
                                    format!("({}, {})", self.lit(*a, x), self.lit(*b, y)),
                                    table[x * k + y],
                                ));
                            }
                        }
                        e
                    }
                    _ => Vec::new(),
                };
                let (default, groups) = table_groups(&entries);
                let key = if args.len() == 1 {
                    args[0].clone()
                } else {
                    format!("({})", args.join(", "))
                };
                if py {
                    let _ = writeln!(
                        s,
                        "# {comment}\ndef {name}({}):\n    key = {key}",
                        args.join(", ")
                    );
                    for (o, keys) in &groups {
                        let _ = writeln!(
                            s,
                            "    if key in {{{}}}:\n        return {o}",
                            keys.join(", ")
                        );
                    }
                    let _ = writeln!(s, "    return {default}\n");
                } else {
                    let params: Vec<String> = args
                        .iter()
                        .zip(inputs)
                        .map(|(a, &v)| format!("{a}: {}", self.rust_ty(v)))
                        .collect();
                    let _ = writeln!(
                        s,
                        "/// {comment}\nconst fn {name}({}) -> u8 {{\n    match {key} {{",
                        params.join(", ")
                    );
                    for (o, keys) in &groups {
                        let _ = writeln!(s, "        {} => {o},", keys.join(" | "));
                    }
                    let _ = writeln!(s, "        _ => {default},\n    }}\n}}");
                    let (ty, dims) = if inputs.len() == 1 {
                        ("[u8; K]", "K")
                    } else {
                        ("[[u8; K]; K]", "K, K")
                    };
                    let _ = writeln!(
                        s,
                        "const {}: {ty} = table!({name}, u8; {dims});",
                        name.to_uppercase()
                    );
                    let _ = out;
                }
            }
            Op::NumTable {
                at,
                inputs,
                ranges,
                table,
                ..
            } => {
                let name = format!("num_mlp_{}_{}", at.0, at.1);
                let args = dedup_args(
                    inputs
                        .iter()
                        .map(|&u| arg_name(&self.p.num_vars[u]))
                        .collect(),
                );
                let comment = format!(
                    "{name}: lookup table over {} (inputs range over {})",
                    inputs
                        .iter()
                        .map(|&u| format!("`{}`", self.p.num_vars[u]))
                        .collect::<Vec<_>>()
                        .join(" and "),
                    ranges
                        .iter()
                        .map(|(a, b)| format!("{a}..={b}"))
                        .collect::<Vec<_>>()
                        .join(" × ")
                );
                // Rows over the first input; each row is runs over the second.
                let rows: Vec<(u32, Vec<Run>)> = if inputs.len() == 1 {
                    vec![(0, runs(ranges[0].0, table))]
                } else {
                    let width = (ranges[1].1 - ranges[1].0 + 1) as usize;
                    table
                        .chunks(width)
                        .enumerate()
                        .map(|(i, row)| (ranges[0].0 + i as u32, runs(ranges[1].0, row)))
                        .collect()
                };
                let all: Vec<((), usize)> = table.iter().map(|&o| ((), o)).collect();
                let (default, _) = table_groups(&all);
                let emit_runs = |s: &mut String,
                                 var: &str,
                                 runs: &[(u32, u32, usize)],
                                 indent: &str,
                                 row_default: usize| {
                    for &(a, b, o) in runs.iter().filter(|r| r.2 != row_default) {
                        if py {
                            let cond = if a == b {
                                format!("{var} == {a}")
                            } else {
                                format!("{a} <= {var} <= {b}")
                            };
                            let _ = writeln!(s, "{indent}if {cond}:\n{indent}    return {o}");
                        } else {
                            let pat = if a == b {
                                a.to_string()
                            } else {
                                format!("{a}..={b}")
                            };
                            let _ = writeln!(s, "{indent}{pat} => {o},");
                        }
                    }
                };
                if py {
                    let _ = writeln!(s, "# {comment}\ndef {name}({}):", args.join(", "));
                } else {
                    let params: Vec<String> = args.iter().map(|a| format!("{a}: u32")).collect();
                    let _ = writeln!(
                        s,
                        "/// {comment}\nconst fn {name}({}) -> u8 {{",
                        params.join(", ")
                    );
                }
                if inputs.len() == 1 {
                    if py {
                        emit_runs(s, &args[0], &rows[0].1, "    ", default);
                        let _ = writeln!(s, "    return {default}\n");
                    } else {
                        let _ = writeln!(s, "    match {} {{", args[0]);
                        emit_runs(s, &args[0], &rows[0].1, "        ", default);
                        let _ = writeln!(s, "        _ => {default},\n    }}\n}}");
                    }
                } else {
                    // Group first-input values whose rows are identical.
                    let mut groups: Vec<(Vec<u32>, &Vec<Run>)> = Vec::new();
                    for (x, r) in &rows {
                        if r.iter().all(|run| run.2 == default) {
                            continue;
                        }
                        match groups.iter_mut().find(|(_, rr)| *rr == r) {
                            Some((xs, _)) => xs.push(*x),
                            None => groups.push((vec![*x], r)),
                        }
                    }
                    let (a, b) = (&args[0], &args[1]);
                    if !py {
                        let _ = writeln!(s, "    match {a} {{");
                    }
                    for (xs, r) in groups {
                        let row_entries: Vec<((), usize)> = r
                            .iter()
                            .flat_map(|&(lo, hi, o)| (lo..=hi).map(move |_| ((), o)))
                            .collect();
                        let (row_default, _) = table_groups(&row_entries);
                        let pattern = collapse(&xs);
                        if py {
                            let cond = pattern
                                .iter()
                                .map(|(lo, hi)| {
                                    if lo == hi {
                                        format!("{a} == {lo}")
                                    } else {
                                        format!("{lo} <= {a} <= {hi}")
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(" or ");
                            let _ = writeln!(s, "    if {cond}:");
                            emit_runs(s, b, r, "        ", row_default);
                            let _ = writeln!(s, "        return {row_default}");
                        } else {
                            let pat = pattern
                                .iter()
                                .map(|(lo, hi)| {
                                    if lo == hi {
                                        lo.to_string()
                                    } else {
                                        format!("{lo}..={hi}")
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(" | ");
                            let _ = writeln!(s, "        {pat} => match {b} {{");
                            emit_runs(s, b, r, "            ", row_default);
                            let _ = writeln!(s, "            _ => {row_default},\n        }},");
                        }
                    }
                    if py {
                        let _ = writeln!(s, "    return {default}\n");
                    } else {
                        let _ = writeln!(s, "        _ => {default},\n    }}\n}}");
                    }
                }
                if let (false, Some(dims)) = (py, num_table_dims(ranges)) {
                    let ty = dims
                        .iter()
                        .rev()
                        .fold("u8".to_string(), |t, d| format!("[{t}; {d}]"));
                    let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
                    let _ = writeln!(
                        s,
                        "const {}: {ty} = table!({name}, u32; {});",
                        name.to_uppercase(),
                        dims.join(", ")
                    );
                }
            }
        }
    }

    fn classifier(&self, s: &mut String) {
        let p = self.p;
        if self.py() {
            let _ = writeln!(
                s,
                "# Classifier: one float32 score row per (variable, value), one weight row per numerical variable."
            );
        } else {
            let _ = writeln!(
                s,
                "// Classifier: one f32 score row per (variable, value), one weight row per numerical variable."
            );
        }
        for (v, var) in p.cat_vars.iter().enumerate() {
            let name = format!("W_{}", var.name.to_uppercase());
            let rows: Vec<(String, String)> = self
                .reach
                .values(v)
                .into_iter()
                .map(|x| {
                    let row: Vec<String> = p.classifier.cat[v][x]
                        .iter()
                        .map(|&w| self.float(w))
                        .collect();
                    (self.lit(v, x), row.join(", "))
                })
                .collect();
            if self.py() {
                let _ = writeln!(s, "{name} = {{");
                for (k, row) in rows {
                    let _ = writeln!(s, "    {k}: [{row}],");
                }
                let _ = writeln!(s, "}}");
            } else {
                // Indexed by value; rows of values that cannot occur are kept (never read) so
                // that lookups need no branch.
                let k = p.d_var;
                let _ = writeln!(s, "static {name}: [[f32; CP]; {k}] = [");
                for x in 0..k {
                    let row = self.padded_row(&p.classifier.cat[v][x]);
                    let label = if self.reach.cat[v][x] {
                        self.lit(v, x)
                    } else {
                        format!("{} (unreachable)", self.lit(v, x))
                    };
                    let _ = writeln!(s, "    [{}], // {label}", row.join(", "));
                }
                let _ = writeln!(s, "];");
            }
        }
        for (u, name) in p.num_vars.iter().enumerate() {
            if self.py() {
                let row: Vec<String> = p.classifier.num[u].iter().map(|&w| self.float(w)).collect();
                let _ = writeln!(s, "W_{} = [{}]", name.to_uppercase(), row.join(", "));
            } else {
                let row = self.padded_row(&p.classifier.num[u]);
                let w = format!("W_{}", name.to_uppercase());
                let _ = writeln!(s, "const {w}: [f32; CP] = [{}];", row.join(", "));
                if let Some(rows) = product_rows(p.num_ranges[u]) {
                    let _ = writeln!(
                        s,
                        "static {w}_TIMES: [[f32; CP]; {rows}] = products!({w}, {rows});"
                    );
                }
            }
        }
        if !self.py() {
            if self.decision_entries().is_some() {
                self.decision_table(s);
            } else {
                self.group_tables(s);
            }
        }
    }

    /// The classifier's terms in the order the model adds them: categorical variables in
    /// stream order, then numerical ones (Rust).
    fn classifier_terms(&self) -> Vec<Term> {
        let p = self.p;
        let cat = p.cat_vars.iter().enumerate().map(|(v, var)| Term {
            var: var.name.clone(),
            rows: Some(format!("W_{}", var.name.to_uppercase())),
            index: format!("{}[i] as usize % K", var.name),
            values: p.d_var,
            constant: if self.prune {
                self.reach.constant(v)
            } else {
                None
            },
        });
        let num = p.num_vars.iter().enumerate().map(|(u, name)| {
            let (lo, hi) = p.num_ranges[u];
            let w = format!("W_{}", name.to_uppercase());
            Term {
                var: name.clone(),
                rows: product_rows(p.num_ranges[u]).map(|_| format!("{w}_TIMES")),
                index: format!("({name}[i] as usize).min({hi})"),
                values: hi as usize + 1,
                constant: (self.prune && lo == hi).then_some(lo as usize),
            }
        });
        cat.chain(num).collect()
    }

    /// The fast path's groups of classifier terms ([`term_groups`]); `None` when grouping
    /// would save no addition, and the scores are summed in the model's order only.
    fn groups(&self, terms: &[Term]) -> Option<Vec<Range<usize>>> {
        let groups = term_groups(
            terms,
            MAX_GROUP_BYTES / (4 * score_lanes(self.p.classes.len())),
        );
        (groups.len() < terms.len()).then_some(groups)
    }

    /// `W_GROUP_k`: the sum of each group of two or more consecutive classifier terms for
    /// every combination of the values of those that vary (compile time), and `MARGIN`, how
    /// far ahead of the rest a class scored from them must be to be the model's class.
    fn group_tables(&self, s: &mut String) {
        let terms = self.classifier_terms();
        let Some(groups) = self.groups(&terms) else {
            return;
        };
        let margin = self.margin(&terms);
        let _ = writeln!(
            s,
            "\n/// How far the best score of the fast path (the group tables below, which add the {} terms\n\
             /// in another order than the model) must lead every other class's for its class to be\n\
             /// the model's. Any order of adding T f32 terms is within γ(T−1)·Σ|term| of the exact\n\
             /// sum (Higham, *Accuracy and Stability of Numerical Algorithms*, §4.2), so the fast\n\
             /// path and the model's order differ by at most 2γ(T−1)·Σ|term| in each class: this is\n\
             /// twice that for the largest Σ|term| any class can reach, plus room for rounding the\n\
             /// comparison. Closer calls are scored again in the model's order.\n\
             const MARGIN: f32 = {};\n\
             /// Marks a position whose call was too close for the fast path.\n\
             const CLOSE: u16 = u16::MAX;",
            terms.len(),
            self.float(margin)
        );
        for (k, range) in groups.iter().enumerate() {
            let group = &terms[range.clone()];
            if group.len() < 2 {
                continue;
            }
            let varying: Vec<&Term> = group.iter().filter(|t| t.constant.is_none()).collect();
            let rows = group_rows(group);
            let names = group.iter().enumerate().map(|(j, t)| {
                let name = match t.constant {
                    Some(c) => format!("`{}` (always {c})", t.var),
                    None => format!("`{}`", t.var),
                };
                if j + 1 < group.len() {
                    format!("{name} +")
                } else {
                    format!("{name}, at compile time (fast path: see `MARGIN`).")
                }
            });
            let radix = varying
                .iter()
                .map(|t| format!("`{}` ({})", t.var, t.values));
            let _ = writeln!(s);
            doc_lines(
                s,
                std::iter::once(format!("`W_GROUP_{k}[group_{k}[i]]` is"))
                    .chain(names)
                    .chain([format!(
                        "`group_{k}[i]` is the mixed-radix number (the last fastest) of"
                    )])
                    .chain(radix.map(|x| format!("{x},")))
                    .chain([format!("padded to {rows} rows.")]),
            );
            let _ = writeln!(
                s,
                "static W_GROUP_{k}: [[f32; CP]; {rows}] = {{\n    let mut t = [[0f32; CP]; {rows}];"
            );
            let flat = mixed_radix(
                varying
                    .iter()
                    .enumerate()
                    .map(|(d, t)| (format!("x{d}"), t.values)),
            );
            nested_sums(s, group, 1, |_| format!("t[{flat}] = s;"));
            let _ = writeln!(s, "    t\n}};");
        }
    }

    /// `group_k`: for every position, the row of `W_GROUP_k` it reads (the mixed-radix number
    /// of its varying terms' values), computed for all positions at once before the scoring
    /// loop (the compiler vectorises these), so that the loop does one lookup per group.
    fn group_indices(&self, s: &mut String) {
        let terms = self.classifier_terms();
        let Some(groups) = self.groups(&terms) else {
            return;
        };
        for (k, range) in groups.iter().enumerate() {
            let group = &terms[range.clone()];
            if group.len() < 2 {
                continue;
            }
            let flat = mixed_radix(varying_digits(group));
            let _ = writeln!(
                s,
                "    let group_{k}: [u16; N_CTX] = std::array::from_fn(|i| ({flat}) as u16);"
            );
        }
    }

    /// `MARGIN` ([`Self::group_tables`]) for the program's classifier `terms`, rounded up.
    fn margin(&self, terms: &[Term]) -> f32 {
        let p = self.p;
        let mut bound = vec![0f64; p.classes.len()];
        for (v, rows) in p.classifier.cat.iter().enumerate() {
            let values: Vec<usize> = match self.prune.then(|| self.reach.constant(v)).flatten() {
                Some(c) => vec![c],
                None => (0..rows.len()).collect(),
            };
            for (c, b) in bound.iter_mut().enumerate() {
                *b += values
                    .iter()
                    .map(|&x| f64::from(rows[x][c]).abs())
                    .fold(0.0, f64::max);
            }
        }
        // The unit roundoff of f32.
        let unit = f64::from(f32::EPSILON) / 2.0;
        for (u, w) in p.classifier.num.iter().enumerate() {
            let (lo, hi) = p.num_ranges[u];
            let x = if self.prune && lo == hi { lo } else { hi };
            for (c, b) in bound.iter_mut().enumerate() {
                // The f32 product is within one rounding of the exact one.
                *b += f64::from(x) * f64::from(w[c]).abs() * (1.0 + unit);
            }
        }
        let most = bound.into_iter().fold(0.0, f64::max);
        let margin = 4.0 * (terms.len() as f64 + 2.0) * unit * most * 1.01;
        let rounded = margin as f32;
        if f64::from(rounded) < margin {
            f32::from_bits(rounded.to_bits() + 1)
        } else {
            rounded
        }
    }

    /// Entries of the decision table ([`decision_entries`]), if the program gets one.
    fn decision_entries(&self) -> Option<usize> {
        decision_entries(&self.classifier_terms())
    }

    /// `decision()`: the class the classifier picks for every combination of the values of
    /// its varying terms, built once at the first call by the same f32 additions in the
    /// model's order and the same `argmax` that scoring a position does, so that one lookup
    /// per position gives exactly the model's class. (Built at run time: the compiler's
    /// const evaluator takes tens of seconds for a table this size, and as a literal it
    /// would be megabytes of source.)
    fn decision_table(&self, s: &mut String) {
        let terms = self.classifier_terms();
        let entries = self.decision_entries().expect("a decision table fits");
        let ty = decision_type(self.p.classes.len());
        let varying: Vec<&Term> = terms.iter().filter(|t| t.constant.is_none()).collect();
        let _ = writeln!(
            s,
            "\n/// The class the classifier picks for every combination of the values its {} terms can\n\
             /// take, built once at the first call by the same f32 additions in the model's order\n\
             /// and the same `argmax` that scoring a position does: one lookup per position gives\n\
             /// exactly the model's class. {entries} entries, indexed by",
            terms.len()
        );
        let parts = varying.iter().enumerate().map(|(j, t)| {
            let sep = if j + 1 < varying.len() { "," } else { "" };
            format!("`{}` ({}){sep}", t.var, t.values)
        });
        doc_lines(
            s,
            parts.chain(["(mixed radix, the last fastest).".to_string()]),
        );
        let _ = writeln!(
            s,
            "fn decision() -> &'static [{ty}] {{\n    \
             static TABLE: std::sync::OnceLock<Box<[{ty}]>> = std::sync::OnceLock::new();\n    \
             TABLE.get_or_init(|| {{\n        let mut t = Vec::with_capacity({entries});"
        );
        nested_sums(s, &terms, 2, |_| format!("t.push(argmax(&s) as {ty});"));
        let _ = writeln!(s, "        t.into_boxed_slice()\n    }})\n}}");
    }

    fn run_function(&self, s: &mut String) {
        let p = self.p;
        let py = self.py();
        if py {
            s.push_str(
                "\ndef run(tokens):\n    \"\"\"One predicted class per position of `tokens` (starting with the BOS token).\"\"\"\n    \
                 if not isinstance(tokens, (list, tuple)) or not 1 <= len(tokens) <= N_CTX:\n        \
                 raise ValueError(f\"expected a list of 1 to {N_CTX} tokens, got {tokens!r}\")\n    \
                 for t in tokens:\n        if t not in VOCAB[1:]:\n            \
                 raise ValueError(f\"token {t!r} is not in the vocabulary {VOCAB[1:]}\")\n    \
                 tokens = list(tokens)\n    n = len(tokens)\n    positions = list(range(n))\n    ones = [1] * n\n",
            );
        } else {
            s.push_str(RS_ENTRY_POINTS);
            // One copy of `forward` per short input length: with `n` a constant, its loops
            // have fixed trip counts (no mispredicted loop exits) and unroll.
            let _ = writeln!(
                s,
                "\n/// `forward` for inputs of `n` tokens, compiled for each length up to {} and for any\n/// length.\nfn forward_any(n: usize, tokens: [u8; N_CTX]) -> [u16; N_CTX] {{\n    match n {{",
                p.n_ctx.min(MAX_SPECIALISED_LENGTH)
            );
            for len in 1..=p.n_ctx.min(MAX_SPECIALISED_LENGTH) {
                let _ = writeln!(s, "        {len} => forward::<{len}>(n, tokens),");
            }
            s.push_str(
                "        _ => forward::<0>(n, tokens),\n    }\n}\n\n\
                 /// The program on the first `n` of `tokens` (valid ids): a class id per position.\n\
                 /// `N > 0`: `n` is known to be `N` at compile time.\n\
                 fn forward<const N: usize>(n: usize, tokens: [u8; N_CTX]) -> [u16; N_CTX] {\n    \
                 let n = if N > 0 { N } else { n };\n    \
                 let positions: [u8; N_CTX] = std::array::from_fn(|i| i as u8);\n    let ones = [1u32; N_CTX];\n",
            );
        }
        let reach_const = |out: usize| {
            if self.prune {
                self.reach.constant(out)
            } else {
                None
            }
        };
        // Rust: per-value key sets and sums, each computed once and shared by every head
        // that reads the same key (and value) variables.
        let mut shared: Vec<String> = Vec::new();
        let mut share = |s: &mut String, name: String, expr: String| {
            if !shared.contains(&name) {
                let _ = writeln!(s, "    let {name} = {expr};");
                shared.push(name.clone());
            }
            name
        };
        for op in &p.ops {
            match op {
                Op::Select {
                    at,
                    out,
                    query,
                    key,
                    value,
                    ..
                } => {
                    let (o, q, k, v) = (
                        self.cat_name(*out),
                        self.cat_name(*query),
                        self.cat_name(*key),
                        self.cat_name(*value),
                    );
                    if py {
                        let _ = writeln!(
                            s,
                            "    {o} = aggregate(select_closest({k}, {q}, predicate_{}_{}), {v})",
                            at.0, at.1
                        );
                    } else if *key == POSITIONS {
                        // Keys that are the positions themselves: the predicate names the one
                        // key that can match.
                        let _ = writeln!(
                            s,
                            "    let {o} = aggregate(&select_position(n, &{q}, &PREDICATE_{}_{}), &{v});",
                            at.0, at.1
                        );
                    } else {
                        let sets =
                            share(s, format!("{k}_at"), format!("positions_by_value(n, &{k})"));
                        let _ = writeln!(
                            s,
                            "    let {o} = aggregate(&select_closest(n, &{sets}, &{q}, &PREDICATE_{}_{}), &{v});",
                            at.0, at.1
                        );
                    }
                }
                Op::Count {
                    at,
                    out,
                    query,
                    key,
                    value,
                    ..
                } => {
                    let (o, q, k, v) = (
                        &p.num_vars[*out],
                        self.cat_name(*query),
                        self.cat_name(*key),
                        &p.num_vars[*value],
                    );
                    if py {
                        let _ = writeln!(
                            s,
                            "    {o} = aggregate_sum(select({k}, {q}, num_predicate_{}_{}), {v})",
                            at.0, at.1
                        );
                    } else if p.autoregressive {
                        let _ = writeln!(
                            s,
                            "    let {o} = select_sum_causal(n, &{k}, &{q}, &NUM_PREDICATE_{}_{}, &{v});",
                            at.0, at.1
                        );
                    } else {
                        let sums = share(
                            s,
                            format!("{v}_by_{k}"),
                            format!("sums_by_value(n, &{k}, &{v})"),
                        );
                        let _ = writeln!(
                            s,
                            "    let {o} = select_sum(n, &{sums}, &{q}, &NUM_PREDICATE_{}_{});",
                            at.0, at.1
                        );
                    }
                }
                Op::CatTable {
                    at, out, inputs, ..
                }
                | Op::NumTable {
                    at, out, inputs, ..
                } => {
                    let numeric = matches!(op, Op::NumTable { .. });
                    let o = self.cat_name(*out);
                    let f = format!("{}mlp_{}_{}", if numeric { "num_" } else { "" }, at.0, at.1);
                    let names: Vec<&str> = inputs
                        .iter()
                        .map(|&v| {
                            if numeric {
                                p.num_vars[v].as_str()
                            } else {
                                self.cat_name(v)
                            }
                        })
                        .collect();
                    if let Some(c) = reach_const(*out) {
                        if py {
                            let _ = writeln!(
                                s,
                                "    {o} = [{c}] * n  # {f} is constant on every reachable input"
                            );
                        } else {
                            let _ = writeln!(
                                s,
                                "    let {o} = [{c}u8; N_CTX]; // {f} is constant on every reachable input"
                            );
                        }
                        continue;
                    }
                    let args: Vec<String> = (0..names.len()).map(|i| format!("x{i}")).collect();
                    if py && names.len() == 1 {
                        let _ = writeln!(s, "    {o} = [{f}(x0) for x0 in {}]", names[0]);
                    } else if py {
                        let _ = writeln!(
                            s,
                            "    {o} = [{f}({}) for {} in zip({})]",
                            args.join(", "),
                            args.join(", "),
                            names.join(", ")
                        );
                    } else {
                        // Every lane, also past `n`: those lanes hold in-range values that no
                        // later step reads, and the loop has no data-dependent exit.
                        let table = f.to_uppercase();
                        let lookup = match op {
                            Op::CatTable { .. } => {
                                let idx: String = names
                                    .iter()
                                    .map(|n| format!("[{n}[i] as usize % K]"))
                                    .collect();
                                format!("{table}{idx}")
                            }
                            Op::NumTable { ranges, .. } if num_table_dims(ranges).is_some() => {
                                let idx: String = names
                                    .iter()
                                    .zip(ranges)
                                    .map(|(n, r)| format!("[({n}[i] as usize).min({})]", r.1))
                                    .collect();
                                format!("{table}{idx}")
                            }
                            _ => {
                                let idx: Vec<String> =
                                    names.iter().map(|n| format!("{n}[i]")).collect();
                                format!("{f}({})", idx.join(", "))
                            }
                        };
                        let _ = writeln!(
                            s,
                            "    let {o}: [u8; N_CTX] = std::array::from_fn(|i| {lookup});"
                        );
                    }
                }
            }
        }
        if py {
            let _ = writeln!(s, "    out = []\n    for i in range(n):");
        } else {
            if self.decision_entries().is_some() {
                let _ = writeln!(s, "    let decision = decision();");
            } else {
                self.group_indices(s);
            }
            let _ = writeln!(s, "    let mut out = [0u16; N_CTX];\n    for i in 0..n {{");
        }
        if py {
            for (v, var) in p.cat_vars.iter().enumerate() {
                let w = format!("W_{}", var.name.to_uppercase());
                if v == 0 {
                    let _ = writeln!(s, "        acc = list({w}[{}[i]])", var.name);
                } else {
                    let _ = writeln!(s, "        acc = _add(acc, {w}[{}[i]])", var.name);
                }
            }
            for name in &p.num_vars {
                let w = format!("W_{}", name.to_uppercase());
                let _ = writeln!(s, "        acc = _add_scaled(acc, {w}, {name}[i])");
            }
        } else if self.decision_entries().is_some() {
            let terms = self.classifier_terms();
            // Mixed radix over the varying terms, in the order the table was built.
            let idx = mixed_radix(varying_digits(&terms));
            let _ = writeln!(
                s,
                "        out[i] = decision[{idx}] as u16;\n    }}\n    out\n}}"
            );
            return;
        } else {
            let terms = self.classifier_terms();
            match self.groups(&terms) {
                Some(groups) => {
                    // The fast path: the group tables; then, for the close calls only, the
                    // model's order, in a loop of its own (it keeps the fast loop small).
                    for (k, range) in groups.iter().enumerate() {
                        let group = &terms[range.clone()];
                        let row = if group.len() > 1 {
                            Some(format!(
                                "W_GROUP_{k}[group_{k}[i] as usize % {}]",
                                group_rows(group)
                            ))
                        } else {
                            group[0].rows.as_ref().map(|rows| match group[0].constant {
                                Some(c) => format!("{rows}[{c}]"),
                                None => format!("{rows}[{}]", group[0].index),
                            })
                        };
                        add_term(s, 2, k == 0, row.as_deref(), &group[0].var);
                    }
                    let _ = writeln!(
                        s,
                        "        out[i] = match clear_argmax(&acc, MARGIN) {{\n            \
                         Some(class) => class as u16,\n            \
                         None => CLOSE,\n        }};\n    }}\n    \
                         // Too close to call from another order of additions: the model's order.\n    \
                         for i in 0..n {{\n        if out[i] != CLOSE {{\n            continue;\n        }}"
                    );
                    add_in_model_order(s, &terms);
                    let _ = writeln!(
                        s,
                        "        out[i] = argmax(&acc) as u16;\n    }}\n    out\n}}"
                    );
                    return;
                }
                None => add_in_model_order(s, &terms),
            }
        }
        if py {
            let _ = writeln!(
                s,
                "        out.append(CLASSES[_argmax(acc)])\n    return out\n"
            );
        } else {
            let _ = writeln!(
                s,
                "        out[i] = argmax(&acc) as u16;\n    }}\n    out\n}}"
            );
        }
    }
}

/// Split the classifier `terms` (in the model's order) into runs of consecutive terms for the
/// fast path: each run of tabulated terms grows while the combinations of its varying terms'
/// values stay within `max_entries` (constant terms are free); a term without a table (its
/// products computed at run time) is a run of its own.
fn term_groups(terms: &[Term], max_entries: usize) -> Vec<Range<usize>> {
    let mut groups: Vec<Range<usize>> = Vec::new();
    let mut entries = 1usize;
    for (j, t) in terms.iter().enumerate() {
        let joins = match groups.last() {
            Some(last) if t.rows.is_some() && terms[last.start].rows.is_some() => {
                match t.constant {
                    Some(_) => true,
                    None => entries
                        .checked_mul(t.values)
                        .is_some_and(|e| e <= max_entries),
                }
            }
            _ => false,
        };
        if joins {
            groups.last_mut().expect("a group to join").end = j + 1;
        } else {
            groups.push(j..j + 1);
            entries = 1;
        }
        if t.constant.is_none() {
            entries = entries.saturating_mul(t.values);
        }
    }
    groups
}

/// `digits` (an expression and its radix each) as one mixed-radix number, the last digit
/// fastest: `(d0 * r1 + d1) * r2 + d2`; `0` without digits.
fn mixed_radix(digits: impl IntoIterator<Item = (String, usize)>) -> String {
    digits
        .into_iter()
        .fold(None, |acc: Option<String>, (digit, radix)| {
            Some(match acc {
                None => digit,
                Some(acc) => format!("({acc}) * {radix} + {digit}"),
            })
        })
        .unwrap_or_else(|| "0".to_string())
}

/// The row index of each varying term in `terms`, with its value count, as digits for
/// [`mixed_radix`].
fn varying_digits(terms: &[Term]) -> impl Iterator<Item = (String, usize)> + '_ {
    terms
        .iter()
        .filter(|t| t.constant.is_none())
        .map(|t| (t.index.clone(), t.values))
}

/// Rows of a group's table: the combinations of its varying terms' values, rounded up to a
/// power of two so that a masked index needs no bounds check.
fn group_rows(group: &[Term]) -> usize {
    group
        .iter()
        .filter(|t| t.constant.is_none())
        .map(|t| t.values)
        .product::<usize>()
        .next_power_of_two()
}

/// Emit the statements summing every classifier term's row into `acc` in the model's order.
fn add_in_model_order(s: &mut String, terms: &[Term]) {
    for (j, t) in terms.iter().enumerate() {
        let row = t.rows.as_ref().map(|rows| format!("{rows}[{}]", t.index));
        add_term(s, 2, j == 0, row.as_deref(), &t.var);
    }
}

/// Emit the statement adding one classifier term to `acc` (`first`: starting it) at `indent`
/// levels: its `row` when tabulated, else the product of `var`'s value and its weights.
fn add_term(s: &mut String, indent: usize, first: bool, row: Option<&str>, var: &str) {
    let pad = "    ".repeat(indent);
    if first {
        let start = row.unwrap_or("[0f32; CP]");
        let _ = writeln!(s, "{pad}let mut acc: [f32; CP] = {start};");
        if row.is_some() {
            return;
        }
    }
    match row {
        Some(row) => {
            let _ = writeln!(s, "{pad}add(&mut acc, &{row});");
        }
        None => {
            let w = format!("W_{}", var.to_uppercase());
            let _ = writeln!(s, "{pad}add_scaled(&mut acc, &{w}, {var}[i]);");
        }
    }
}

/// Emit `parts` as `///` doc lines, each at most 92 characters wide.
fn doc_lines(s: &mut String, parts: impl IntoIterator<Item = String>) {
    let mut line = "///".to_string();
    for part in parts {
        if line.len() + 1 + part.len() > 92 {
            let _ = writeln!(s, "{line}");
            line = "///".into();
        }
        line.push(' ');
        line.push_str(&part);
    }
    let _ = writeln!(s, "{line}");
}

/// Emit nested loops over the varying `terms`' values that keep the running sum `s` of their
/// rows (and the constant terms' rows) in the model's order, with `leaf(idx)` (`idx`: the
/// loop variables as `[x0][x1]…`) in the innermost body; `base` is the indentation level of
/// the outermost loop.
fn nested_sums(s: &mut String, terms: &[Term], base: usize, leaf: impl Fn(&str) -> String) {
    let mut depth = 0;
    let mut idx = String::new();
    for (j, t) in terms.iter().enumerate() {
        let rows = t.rows.as_deref().expect("summed terms are tabulated");
        let indent = "    ".repeat(depth + base);
        let row = match t.constant {
            Some(c) => format!("{rows}[{c}]"),
            None => {
                let _ = writeln!(
                    s,
                    "{indent}let mut x{depth} = 0;\n{indent}while x{depth} < {} {{",
                    t.values
                );
                idx.push_str(&format!("[x{depth}]"));
                depth += 1;
                format!("{rows}[x{}]", depth - 1)
            }
        };
        let indent = "    ".repeat(depth + base);
        // The running sum `s` starts as the first term's row.
        let sum = if j == 0 {
            row
        } else {
            format!("sum_rows(s, &{row})")
        };
        let _ = writeln!(s, "{indent}let s = {sum};");
    }
    let indent = "    ".repeat(depth + base);
    let _ = writeln!(s, "{indent}{}", leaf(&idx));
    for d in (0..depth).rev() {
        let indent = "    ".repeat(d + base);
        let _ = writeln!(s, "{indent}    x{d} += 1;\n{indent}}}");
    }
}

/// Entries of the decision table generated Rust builds (the class for every combination of
/// the classifier terms' values: the product of the varying terms' value counts), or `None`
/// when a term is not tabulated or the table would exceed [`MAX_DECISION_ENTRIES`].
fn decision_entries(terms: &[Term]) -> Option<usize> {
    let mut entries = 1usize;
    for t in terms {
        t.rows.as_ref()?;
        if t.constant.is_none() {
            entries = entries
                .checked_mul(t.values)
                .filter(|&e| e <= MAX_DECISION_ENTRIES)?;
        }
    }
    Some(entries)
}

/// The integer type of a decision-table entry (a class id) in generated Rust.
fn decision_type(classes: usize) -> &'static str {
    if classes <= 256 { "u8" } else { "u16" }
}

/// Score lanes for `c` classes: rounded up to a multiple of 4.
fn score_lanes(c: usize) -> usize {
    c.div_ceil(4) * 4
}

/// A byte as a Rust `u8` literal pattern: `b'x'` for printable ASCII, else a number.
fn byte_lit(b: u8) -> String {
    if b.is_ascii_graphic() && b != b'\\' && b != b'\'' {
        format!("b'{}'", b as char)
    } else {
        b.to_string()
    }
}

fn op_layer(op: &Op) -> usize {
    match op {
        Op::Select { at, .. }
        | Op::Count { at, .. }
        | Op::CatTable { at, .. }
        | Op::NumTable { at, .. } => at.0,
    }
}

/// The integer type of a set of `n_ctx` positions in generated Rust.
fn set_type(n_ctx: usize) -> &'static str {
    match n_ctx {
        0..=32 => "u32",
        33..=64 => "u64",
        _ => "u128",
    }
}

/// Numerical lookup tables up to this many entries are precomputed in generated Rust; larger
/// ones stay calls of their (readable) function.
const MAX_NUM_TABLE: usize = 1 << 16;

/// Generated Rust compiles its forward pass once for each input length up to this one.
const MAX_SPECIALISED_LENGTH: usize = 16;

/// The largest group table (`W_GROUP_k`) generated Rust precomputes, in bytes: a dozen of
/// them are read once per position at random, so together they should stay in a core's L2
/// cache.
const MAX_GROUP_BYTES: usize = 16 << 10;

/// The largest decision table (one class per combination of the classifier terms' values)
/// generated Rust builds. Built at the first call (about 5 ns an entry) and read once per
/// position, so it should stay in a core's L2 cache: 1 Mi entries of `u8`.
const MAX_DECISION_ENTRIES: usize = 1 << 20;

/// Numerical variables ranging up to this many values get their classifier products
/// precomputed in generated Rust; larger ones multiply at run time.
const MAX_PRODUCT_ROWS: usize = 1024;

/// Rows of the precomputed products `x · w` (`x` in `0..=hi`) of a numerical variable's
/// classifier row, or `None` when there would be more than [`MAX_PRODUCT_ROWS`]. Each is the
/// very f32 product the model adds, so adding it keeps the scores exact.
fn product_rows(range: (u32, u32)) -> Option<usize> {
    let rows = range.1 as usize + 1;
    (rows <= MAX_PRODUCT_ROWS).then_some(rows)
}

/// Dimensions of the precomputed table of a numerical MLP over inputs ranging over `ranges`
/// (indexed from 0), or `None` when it would exceed [`MAX_NUM_TABLE`] entries.
fn num_table_dims(ranges: &[(u32, u32)]) -> Option<Vec<usize>> {
    let dims: Vec<usize> = ranges.iter().map(|r| r.1 as usize + 1).collect();
    (dims.iter().product::<usize>() <= MAX_NUM_TABLE).then_some(dims)
}

/// The Rust constant naming token `vocab[i]` (`T_BOS`, `T_3`, `T_LPAREN`, ...).
fn token_const(vocab: &[String], i: usize) -> String {
    let t = vocab[i].as_str();
    let name = match t {
        "<pad>" => "PAD".to_string(),
        "<s>" => "BOS".to_string(),
        "</s>" => "EOS".to_string(),
        "<unk>" => "UNK".to_string(),
        "(" => "LPAREN".to_string(),
        ")" => "RPAREN".to_string(),
        "{" => "LBRACE".to_string(),
        "}" => "RBRACE".to_string(),
        t if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric()) => {
            t.to_ascii_uppercase()
        }
        _ => format!("{i}"),
    };
    let clash = vocab.iter().enumerate().any(|(j, u)| {
        j != i && u.to_ascii_uppercase() == name && u.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if clash {
        format!("T_{name}_{i}")
    } else {
        format!("T_{name}")
    }
}

/// Distinct argument names when both reads chose variables with the same name.
fn dedup_args(args: Vec<String>) -> Vec<String> {
    if args.len() == 2 && args[0] == args[1] {
        vec![format!("{}_a", args[0]), format!("{}_b", args[1])]
    } else {
        args
    }
}

/// Collapse sorted integers into inclusive ranges.
fn collapse(xs: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &x in xs {
        match out.last_mut() {
            Some(last) if last.1 + 1 == x => last.1 = x,
            _ => out.push((x, x)),
        }
    }
    out
}

const PY_PRELUDE: &str = r#"
def _f32(x):
    """Round to float32, as the model computes."""
    return struct.unpack("f", struct.pack("f", x))[0]


def _add(acc, row):
    return [_f32(a + w) for a, w in zip(acc, row)]


def _add_scaled(acc, row, x):
    return [_f32(a + _f32(x * w)) for a, w in zip(acc, row)]


def _argmax(scores):
    best = None
    for c, s in enumerate(scores):
        if c not in MASKED_CLASSES and (best is None or s > scores[best]):
            best = c
    return best


def _bias(i, j):
    """The model's fixed relative-position bias: nearest key first, self last."""
    d = j - i
    if d == 0:
        return -2.0
    if d > 0:
        return -(d - 1) / (N_CTX - 2)
    return (d + 1) / (N_CTX - 1)


def select_closest(keys, queries, predicate):
    """For each query, the matching key with the highest bias (ties: leftmost); none: 0."""
    out = []
    for i, q in enumerate(queries):
        best, best_bias = 0, None
        for j in range(i + 1 if CAUSAL else len(keys)):
            if predicate(q, keys[j]):
                b = _bias(i, j)
                if best_bias is None or b > best_bias:
                    best, best_bias = j, b
        out.append(best)
    return out


def select(keys, queries, predicate):
    """For each query, every matching key."""
    return [
        [j for j in range(i + 1 if CAUSAL else len(keys)) if predicate(q, keys[j])]
        for i, q in enumerate(queries)
    ]


def aggregate(pattern, values):
    return [values[j] for j in pattern]


def aggregate_sum(pattern, values):
    return [sum(values[j] for j in row) for row in pattern]

"#;

const PY_MAIN: &str = r#"
if __name__ == "__main__":
    # One JSON list of tokens per input line -> one JSON list of classes per output line.
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run(json.loads(line))))
"#;

const RS_ENTRY_POINTS: &str = r#"
/// One predicted class per position of `tokens` (starting with the BOS token); an
/// error for an empty or too long input or a token outside the vocabulary.
pub fn run(tokens: &[&str]) -> Result<Vec<&'static str>, String> {
    if tokens.is_empty() || tokens.len() > N_CTX {
        return Err(format!("expected 1 to {N_CTX} tokens, got {}", tokens.len()));
    }
    let mut ids = [0u8; N_CTX];
    for (i, t) in tokens.iter().enumerate() {
        ids[i] = token_id(t).ok_or_else(|| format!("token `{t}` is not in the vocabulary {:?}", &VOCAB[1..]))?;
    }
    let classes = forward_any(tokens.len(), ids);
    Ok(classes[..tokens.len()].iter().map(|&c| CLASSES[c as usize]).collect())
}

/// `run` on token ids (indices into `VOCAB`), writing class ids (indices into `CLASSES`)
/// into `out[..ids.len()]` without allocating; an error for an empty or too long input, an
/// id outside `1..VOCAB.len()` or a too short `out`.
pub fn run_ids(ids: &[u8], out: &mut [u16]) -> Result<(), String> {
    let n = ids.len();
    if n == 0 || n > N_CTX {
        return Err(format!("expected 1 to {N_CTX} token ids, got {n}"));
    }
    if out.len() < n {
        return Err(format!("the output holds {} classes, {n} are needed", out.len()));
    }
    let mut tokens = [0u8; N_CTX];
    for (i, &t) in ids.iter().enumerate() {
        if t == 0 || t as usize >= VOCAB.len() {
            return Err(format!("token id {t} is not in 1..{}", VOCAB.len()));
        }
        tokens[i] = t;
    }
    out[..n].copy_from_slice(&forward_any(n, tokens)[..n]);
    Ok(())
}
"#;

const RS_PRELUDE: &str = r#"fn add(acc: &mut [f32; CP], row: &[f32; CP]) {
    for (a, w) in acc.iter_mut().zip(row) {
        *a += *w;
    }
}

fn add_scaled(acc: &mut [f32; CP], row: &[f32; CP], x: u32) {
    let x = x as f32;
    for (a, w) in acc.iter_mut().zip(row) {
        *a += x * *w;
    }
}

/// `acc + row`, lane by lane: the classifier's one operation, also at compile time (for
/// the group tables).
const fn sum_rows(mut acc: [f32; CP], row: &[f32; CP]) -> [f32; CP] {
    let mut c = 0;
    while c < CP {
        acc[c] += row[c];
        c += 1;
    }
    acc
}

/// The larger of two scores. Scores are sums of finite weights, never NaN, so this plain
/// select is `f32::max` without its NaN handling: one `maxps` lane.
#[inline(always)]
fn max(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// The scores of the classes the model may predict, `-inf` in the others' lanes, and the
/// highest of them: a tree of maxima over the lanes (no serial chain of comparisons).
#[inline(always)]
fn kept_and_top(scores: &[f32; CP]) -> ([f32; CP], f32) {
    let v: [f32; CP] = std::array::from_fn(|c| if KEEP[c] { scores[c] } else { f32::NEG_INFINITY });
    let mut m = [v[0], v[1], v[2], v[3]];
    for chunk in 1..CP / 4 {
        for j in 0..4 {
            m[j] = max(m[j], v[4 * chunk + j]);
        }
    }
    (v, max(max(m[0], m[1]), max(m[2], m[3])))
}

/// One byte per lane of `lanes` (up to 8): 1 where `hit` holds.
#[inline(always)]
fn lane_bits(lanes: &[f32], hit: impl Fn(f32) -> bool) -> u64 {
    u64::from_le_bytes(std::array::from_fn(|c| lanes.get(c).is_some_and(|&x| hit(x)) as u8))
}

/// The first highest score among the classes the model may predict, found from one byte per
/// lane (no data-dependent branch per class).
fn argmax(scores: &[f32; CP]) -> usize {
    let (v, top) = kept_and_top(scores);
    for (k, lanes) in v.chunks(8).enumerate() {
        let hits = lane_bits(lanes, |x| x == top);
        if hits != 0 {
            return 8 * k + hits.trailing_zeros() as usize / 8;
        }
    }
    UNMASKED[0]
}

/// The class with the highest score when every other class the model may predict scores more
/// than `margin` below it; `None` for a closer call.
#[inline(always)]
fn clear_argmax(scores: &[f32; CP], margin: f32) -> Option<usize> {
    let (v, top) = kept_and_top(scores);
    let mut class = None;
    for (k, lanes) in v.chunks(8).enumerate() {
        let hits = lane_bits(lanes, |x| x > top - margin);
        if hits != 0 {
            if class.is_some() || hits & (hits - 1) != 0 {
                return None;
            }
            class = Some(8 * k + hits.trailing_zeros() as usize / 8);
        }
    }
    class
}

/// `x · row` for every `x` in `0..N`, computed at compile time: adding one of these rows is
/// exactly `add_scaled(acc, row, x)`.
macro_rules! products {
    ($row:ident, $n:expr) => {{
        let mut t = [[0f32; CP]; $n];
        let mut x = 0;
        while x < $n {
            let mut c = 0;
            while c < CP {
                t[x][c] = x as f32 * $row[c];
                c += 1;
            }
            x += 1;
        }
        t
    }};
}

/// A predicate as a table, computed at compile time: the key value each query value selects,
/// `NONE` where it selects none.
macro_rules! predicate_table {
    ($f:ident) => {{
        let mut t = [NONE; K];
        let mut q = 0;
        while q < K {
            if let Some(k) = $f(q as u8) {
                t[q] = k;
            }
            q += 1;
        }
        t
    }};
}

/// A lookup function as a table over its inputs `0..A` (× `0..B`), computed at compile time.
macro_rules! table {
    ($f:ident, $t:ty; $a:expr) => {{
        let mut t = [0u8; $a];
        let mut x = 0;
        while x < $a {
            t[x] = $f(x as $t);
            x += 1;
        }
        t
    }};
    ($f:ident, $t:ty; $a:expr, $b:expr) => {{
        let mut t = [[0u8; $b]; $a];
        let mut x = 0;
        while x < $a {
            let mut y = 0;
            while y < $b {
                t[x][y] = $f(x as $t, y as $t);
                y += 1;
            }
            x += 1;
        }
        t
    }};
}

/// For each value, the set of the first `n` positions holding it.
#[inline(always)]
fn positions_by_value(n: usize, values: &[u8; N_CTX]) -> [Set; KM + 1] {
    let mut at = [0 as Set; KM + 1];
    for j in 0..n {
        at[values[j] as usize & KM] |= 1 << j;
    }
    at
}

/// The matching key the model's relative bias prefers for a query at position `i` among
/// `keys` (a set of positions): the nearest, the left one of two at the same distance, the
/// query's own position only when no other key matches; no match: position 0 (BOS).
#[inline(always)]
const fn nearest_key(keys: Set, i: usize) -> usize {
    let me: Set = 1 << i;
    let left = keys & (me - 1);
    let right = keys & !(me | (me - 1));
    // Distance to the nearest key on each side; a side without keys is never nearer.
    // (Selects, not branches: which side wins is data, and mispredictions cost more.)
    let far = usize::MAX / 2;
    let dl = if left != 0 { i + 1 + left.leading_zeros() as usize - Set::BITS as usize } else { far };
    let dr = if right != 0 { right.trailing_zeros() as usize - i } else { far };
    let nearest = if dl <= dr { i.wrapping_sub(dl) } else { i.wrapping_add(dr) };
    let alone = if keys & me != 0 { i } else { 0 };
    if (left | right) != 0 { nearest } else { alone }
}

/// Contexts of up to 10 positions read `nearest_key` from a table (2^N_CTX sets of keys).
const NEAREST_BITS: usize = if N_CTX <= 10 { N_CTX } else { 0 };

/// `nearest_key(keys, i)` for every set of keys and query position, computed at compile
/// time: one lookup per query instead of the bit arithmetic (one unused row when the
/// context is too long for a table).
static NEAREST: [[u8; N_CTX]; 1 << NEAREST_BITS] = {
    let mut t = [[0u8; N_CTX]; 1 << NEAREST_BITS];
    let mut keys = 0;
    while keys < 1 << NEAREST_BITS {
        let mut i = 0;
        while i < N_CTX {
            t[keys][i] = nearest_key(keys as Set, i) as u8;
            i += 1;
        }
        keys += 1;
    }
    t
};

/// For each of the first `n` queries, the matching key the model's relative bias prefers
/// (`nearest_key`; a causal query sees no key after itself). `at` holds the positions of
/// each key value (`positions_by_value`).
#[inline(always)]
fn select_closest(n: usize, at: &[Set; KM + 1], queries: &[u8; N_CTX], predicate: &[u8; K]) -> [u8; N_CTX] {
    let mut out = [0u8; N_CTX];
    for i in 0..n {
        let mut keys = at[predicate[queries[i] as usize % K] as usize & KM];
        if CAUSAL {
            keys &= Set::MAX >> (Set::BITS as usize - 1 - i);
        }
        out[i] = if NEAREST_BITS > 0 {
            NEAREST[keys as usize % (1 << NEAREST_BITS)][i % N_CTX]
        } else {
            nearest_key(keys, i) as u8
        };
    }
    out
}

/// `select_closest` with the positions as keys: the one key that can match is the position
/// the predicate names, selected if it is among the first `n` (and, when causal, not after
/// the query); otherwise position 0 (BOS).
#[inline(always)]
fn select_position(n: usize, queries: &[u8; N_CTX], predicate: &[u8; K]) -> [u8; N_CTX] {
    std::array::from_fn(|i| {
        let last = if CAUSAL { i + 1 } else { n };
        let p = predicate[queries[i] as usize % K];
        if (p as usize) < last { p } else { 0 }
    })
}

/// For each query, the value at its selected position.
#[inline(always)]
fn aggregate(pattern: &[u8; N_CTX], values: &[u8; N_CTX]) -> [u8; N_CTX] {
    std::array::from_fn(|i| values[pattern[i] as usize % N_CTX])
}

/// For each key value, the sum of `values` over the first `n` positions holding it.
#[inline(always)]
fn sums_by_value(n: usize, keys: &[u8; N_CTX], values: &[u32; N_CTX]) -> [u32; KM + 1] {
    let mut sums = [0u32; KM + 1];
    for j in 0..n {
        sums[keys[j] as usize & KM] += values[j];
    }
    sums
}

/// For each of the first `n` queries, the sum of the values over every matching key, from
/// the per-key-value `sums` (`sums_by_value`).
#[inline(always)]
fn select_sum(n: usize, sums: &[u32; KM + 1], queries: &[u8; N_CTX], predicate: &[u8; K]) -> [u32; N_CTX] {
    let mut out = [0u32; N_CTX];
    for i in 0..n {
        out[i] = sums[predicate[queries[i] as usize % K] as usize & KM];
    }
    out
}

/// `select_sum` for a causal model: each query sums the matching keys up to itself.
#[inline(always)]
fn select_sum_causal(n: usize, keys: &[u8; N_CTX], queries: &[u8; N_CTX], predicate: &[u8; K], values: &[u32; N_CTX]) -> [u32; N_CTX] {
    let mut out = [0u32; N_CTX];
    let mut sums = [0u32; KM + 1];
    for i in 0..n {
        sums[keys[i] as usize & KM] += values[i];
        out[i] = sums[predicate[queries[i] as usize % K] as usize & KM];
    }
    out
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn term(values: usize, constant: Option<usize>, tabulated: bool) -> Term {
        Term {
            var: "x".into(),
            rows: tabulated.then(|| "W_X".into()),
            index: "x[i]".into(),
            values,
            constant,
        }
    }

    /// hist's classifier terms: four categorical variables of 8 values, three constants
    /// (folded MLPs, `ones`), two counts of 9 values.
    fn hist_terms() -> Vec<Term> {
        let (cat, one, num) = ((8, None), (8, Some(3)), (9, None));
        [cat, cat, cat, cat, one, one, one, num, num]
            .map(|(values, constant)| term(values, constant, true))
            .into()
    }

    #[test]
    fn term_groups_stop_at_their_size_and_at_untabulated_terms() {
        // hist with 512 entries a group: 8 · 8 = 64, a third categorical term would make 512
        // (fits), the fourth 4096; the constants join the fourth's group for free; the counts
        // make 8 · 9 = 72, then 72 · 9 = 648 is too many.
        let hist = hist_terms();
        assert_eq!(term_groups(&hist, 512), vec![0..3, 3..8, 8..9]);
        // Smaller groups: pairs.
        assert_eq!(term_groups(&hist, 64), vec![0..2, 2..7, 7..8, 8..9]);
        // A numerical term without a product table is a group of its own, and a group does
        // not continue past it.
        let untabulated = [
            term(8, None, true),
            term(8, None, true),
            term(9, None, false),
            term(8, None, true),
        ];
        assert_eq!(term_groups(&untabulated, 512), vec![0..2, 2..3, 3..4]);
        // A term with more values than a group holds is a group of its own; every term is in
        // exactly one group, in order.
        let wide = [
            term(8, None, true),
            term(1 << 13, None, true),
            term(1, Some(0), true),
        ];
        assert_eq!(term_groups(&wide, 512), vec![0..1, 1..3]);
        assert!(term_groups(&[], 512).is_empty());
    }

    #[test]
    fn the_decision_table_covers_every_term_or_none() {
        // hist: the constants are free.
        assert_eq!(decision_entries(&hist_terms()), Some(8 * 8 * 8 * 8 * 9 * 9));
        // Every term constant: one entry, the one class.
        assert_eq!(decision_entries(&[term(8, Some(1), true)]), Some(1));
        // A numerical term without a product table, or too many combinations: none.
        assert_eq!(
            decision_entries(&[term(8, None, true), term(9, None, false)]),
            None
        );
        let wide: Vec<Term> = (0..7).map(|_| term(8, None, true)).collect();
        assert_eq!(decision_entries(&wide[..6]), Some(1 << 18));
        assert_eq!(decision_entries(&wide), None);
        assert_eq!(decision_type(7), "u8");
        assert_eq!(decision_type(300), "u16");
    }

    #[test]
    fn byte_patterns_are_valid_rust_literals() {
        assert_eq!(byte_lit(b'a'), "b'a'");
        assert_eq!(byte_lit(b'<'), "b'<'");
        // Quote, backslash, space and non-ASCII bytes are written as numbers.
        assert_eq!(byte_lit(b'\''), "39");
        assert_eq!(byte_lit(b'\\'), "92");
        assert_eq!(byte_lit(b' '), "32");
        assert_eq!(byte_lit(0xE2), "226");
    }

    /// Key positions for query `i` sorted by decreasing relative bias, ties by position: the
    /// order in which the model's attention argmax prefers matching keys.
    fn preference(i: usize, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            crate::bias::relative_bias(i, b, n)
                .total_cmp(&crate::bias::relative_bias(i, a, n))
                .then(a.cmp(&b))
        });
        order
    }

    /// The rule the generated `select_closest` implements with bit sets (nearest key first,
    /// the left one of two at the same distance, the query itself last) is the order of the
    /// model's relative bias, at every length the bit sets cover.
    #[test]
    fn nearest_left_first_self_last_is_the_bias_order() {
        for n in 3..=128 {
            for i in 0..n {
                let mut rule: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                rule.sort_by_key(|&j| (j.abs_diff(i), j > i));
                rule.push(i);
                assert_eq!(rule, preference(i, n), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn score_lanes_round_up_to_four() {
        assert_eq!(score_lanes(1), 4);
        assert_eq!(score_lanes(4), 4);
        assert_eq!(score_lanes(7), 8);
        assert_eq!(score_lanes(9), 12);
    }
}
