//! Static analysis of a program: which values every categorical variable can take at a real
//! position. The renderers drop predicate branches, table entries and classifier rows for
//! values that cannot occur (the paper's pruning of unreachable branches), and fold MLPs whose
//! output is constant into that constant.

use crate::ir::{Op, Program, ValueType};

/// Reachable values per categorical variable (`cat[var][value]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Reach {
    /// `cat[var][value]` is true when `value` can occur at a real (non-pad) position.
    pub cat: Vec<Vec<bool>>,
}

impl Reach {
    /// Every value of every variable is considered possible (no pruning): token variables
    /// range over the vocabulary, integer variables over `0..k`.
    pub fn everything(program: &Program) -> Self {
        let k = program.d_var;
        let v = program.vocab.len();
        Self {
            cat: program
                .cat_vars
                .iter()
                .map(|var| match var.ty {
                    ValueType::Token => (0..k).map(|x| x < v).collect(),
                    ValueType::Int => vec![true; k],
                })
                .collect(),
        }
    }

    /// Values that can actually occur, propagated through the program in execution order.
    pub fn analyse(program: &Program) -> Self {
        let k = program.d_var;
        let mut cat = vec![vec![false; k]; program.cat_vars.len()];
        cat[0][1..program.vocab.len()].fill(true);
        cat[1][..program.n_ctx].fill(true);
        for op in &program.ops {
            match op {
                Op::Select { out, value, .. } => cat[*out] = cat[*value].clone(),
                Op::CatTable {
                    out, inputs, table, ..
                } => {
                    let mut r = vec![false; k];
                    match inputs.as_slice() {
                        [a] => (0..k)
                            .filter(|&x| cat[*a][x])
                            .for_each(|x| r[table[x]] = true),
                        [a, b] => {
                            for x in (0..k).filter(|&x| cat[*a][x]) {
                                for y in (0..k).filter(|&y| cat[*b][y]) {
                                    r[table[x * k + y]] = true;
                                }
                            }
                        }
                        _ => {}
                    }
                    cat[*out] = r;
                }
                Op::NumTable { out, table, .. } => {
                    let mut r = vec![false; k];
                    table.iter().for_each(|&o| r[o] = true);
                    cat[*out] = r;
                }
                Op::Count { .. } => {}
            }
        }
        Self { cat }
    }

    /// The reachable values of `var`, ascending.
    pub fn values(&self, var: usize) -> Vec<usize> {
        (0..self.cat[var].len())
            .filter(|&x| self.cat[var][x])
            .collect()
    }

    /// The single value of `var` when only one is reachable.
    pub fn constant(&self, var: usize) -> Option<usize> {
        let v = self.values(var);
        (v.len() == 1).then(|| v[0])
    }
}

/// Query values grouped by the key value they select, only for reachable query values whose
/// target is a reachable key value (other queries never match).
pub fn predicate_groups(
    reach: &Reach,
    query: usize,
    key: usize,
    predicate: &[usize],
) -> Vec<(usize, Vec<usize>)> {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for q in reach.values(query) {
        let t = predicate[q];
        if !reach.cat[key][t] {
            continue;
        }
        match groups.iter_mut().find(|(g, _)| *g == t) {
            Some((_, qs)) => qs.push(q),
            None => groups.push((t, vec![q])),
        }
    }
    groups.sort_by_key(|(_, qs)| qs[0]);
    groups
}

/// The most frequent output (ties: smallest) and the other outputs with their inputs.
pub fn table_groups<T: Clone>(entries: &[(T, usize)]) -> (usize, Vec<(usize, Vec<T>)>) {
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for (_, o) in entries {
        match counts.iter_mut().find(|(v, _)| v == o) {
            Some((_, c)) => *c += 1,
            None => counts.push((*o, 1)),
        }
    }
    let default = counts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(v, _)| *v);
    let mut groups: Vec<(usize, Vec<T>)> = Vec::new();
    for (input, o) in entries {
        if *o == default {
            continue;
        }
        match groups.iter_mut().find(|(v, _)| v == o) {
            Some((_, xs)) => xs.push(input.clone()),
            None => groups.push((*o, vec![input.clone()])),
        }
    }
    (default, groups)
}

/// A run of equal outputs over consecutive integers: `(first, last, output)`.
pub type Run = (u32, u32, usize);

/// Runs of equal outputs over consecutive integers.
pub fn runs(start: u32, outputs: &[usize]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for (i, &o) in outputs.iter().enumerate() {
        let x = start + i as u32;
        match out.last_mut() {
            Some(last) if last.2 == o && last.1 + 1 == x => last.1 = x,
            _ => out.push((x, x, o)),
        }
    }
    out
}
