//! Synthetic sequence tasks of "Learning Transformer Programs" (Friedman et al., 2023): the
//! RASP tasks of Weiss et al. (reverse, hist, double-hist, sort, most-freq, Dyck-1, Dyck-2) and
//! the in-context (induction) task, generated from a seed exactly as the reference code defines
//! them.
//!
//! Conventions (as in the reference `data_utils.py`):
//!
//! * `<s>` starts every input; reverse and sort also end with `</s>`; inputs are padded on the
//!   right with `<pad>` to the longest sequence of the dataset;
//! * targets at `<s>`/`</s>` (and at the numbers of the induction task) are `<pad>`: they are
//!   neither trained on nor scored, accuracy is token-level over non-pad targets;
//! * the input vocabulary is `<pad>` followed by the sorted tokens, the output classes `<pad>`
//!   followed by the sorted targets (byte order, like Python's `sorted`), both over all splits
//!   (the reference uses the training split; see [`TaskData::generate`]);
//! * the generator draws 2, 3, 4, then 5 times the dataset size afresh until one draw holds
//!   that many *distinct* inputs (a task with fewer possible inputs, like reverse at vocabulary
//!   8, keeps the distinct inputs of the last, 5× draw: about 14k), then 10% is held out for
//!   test and 10% of the rest for validation: 16,200 / 1,800 / 2,000 at the default size.
//!
//! The random streams are our own seeded generator, not numpy's, so the datasets have the
//! reference's distribution but not its exact samples.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Beginning-of-sequence token.
pub const BOS: &str = "<s>";
/// End-of-sequence token.
pub const EOS: &str = "</s>";
/// Padding token (input) and ignored target (output).
pub const PAD: &str = "<pad>";
/// The "unknown" class of the induction task.
pub const UNK: &str = "<unk>";

/// One of the synthetic tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Reverse the string between `<s>` and `</s>`.
    Reverse,
    /// For every token, how often it occurs in the input.
    Hist,
    /// For every token, how many distinct tokens occur as often as it does.
    DoubleHist,
    /// Sort the string between `<s>` and `</s>` (string order).
    Sort,
    /// The distinct tokens ordered by decreasing count, ties by first position, then `<s>`.
    MostFreq,
    /// Dyck-1 prefix tagging: `P` (open), `T` (balanced) or `F` (broken) per prefix.
    Dyck1,
    /// Dyck-2 prefix tagging with `()` and `{}`.
    Dyck2,
    /// In-context learning: recall the number that followed the same letter earlier.
    Induction,
}

impl Task {
    /// Every task, in the paper's order.
    pub const ALL: [Task; 8] = [
        Task::Reverse,
        Task::Hist,
        Task::DoubleHist,
        Task::Sort,
        Task::MostFreq,
        Task::Dyck1,
        Task::Dyck2,
        Task::Induction,
    ];

    /// The task's command-line name (`double_hist`, `most_freq`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Task::Reverse => "reverse",
            Task::Hist => "hist",
            Task::DoubleHist => "double_hist",
            Task::Sort => "sort",
            Task::MostFreq => "most_freq",
            Task::Dyck1 => "dyck1",
            Task::Dyck2 => "dyck2",
            Task::Induction => "induction",
        }
    }

    /// Whether the task is causal (Dyck and induction: each position sees only its prefix).
    pub fn autoregressive(self) -> bool {
        matches!(self, Task::Dyck1 | Task::Dyck2 | Task::Induction)
    }

    /// The reference's data settings for the task: vocabulary 8 and lengths 1–8 for the RASP
    /// tasks, length 16 for Dyck, 10 letters/numbers and length 10 for induction.
    pub fn default_config(self) -> TaskConfig {
        let (vocab_size, min_len, max_len) = match self {
            Task::Dyck1 | Task::Dyck2 => (8, 16, 16),
            Task::Induction => (10, 9, 9),
            _ => (8, 1, 8),
        };
        TaskConfig {
            task: self,
            vocab_size,
            min_len,
            max_len,
            dataset_size: 20_000,
            seed: 0,
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        let alias = match key.as_str() {
            "doublehist" | "double_histogram" | "2_hist" => "double_hist",
            "mostfreq" | "most_frequent" => "most_freq",
            "dyck_1" => "dyck1",
            "dyck_2" => "dyck2",
            "icl" | "in_context" => "induction",
            "histogram" => "hist",
            other => other,
        };
        Task::ALL
            .into_iter()
            .find(|t| t.name() == alias)
            .ok_or_else(|| {
                let names: Vec<_> = Task::ALL.iter().map(|t| t.name()).collect();
                Error::Config(format!(
                    "unknown task `{s}`; expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Data settings of a task (the reference's `--vocab_size`, `--min_length`, `--max_length`,
/// `--dataset_size`, `--seed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskConfig {
    /// Which task.
    pub task: Task,
    /// Vocabulary size *including* the special tokens, as the reference counts it.
    pub vocab_size: usize,
    /// Shortest string length drawn.
    pub min_len: usize,
    /// Longest input length (with `<s>`, and `</s>` where the task has it).
    pub max_len: usize,
    /// Distinct inputs wanted before the split.
    pub dataset_size: usize,
    /// Seed of the generator and of the split.
    pub seed: u64,
}

impl TaskConfig {
    /// The same settings with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same settings with another dataset size.
    pub fn with_dataset_size(mut self, size: usize) -> Self {
        self.dataset_size = size;
        self
    }

    /// Check the settings can generate data.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Config(format!("task {}: {why}", self.task)));
        if self.dataset_size < 10 {
            return bad(format!(
                "dataset_size must be at least 10, got {}",
                self.dataset_size
            ));
        }
        match self.task {
            Task::Reverse | Task::Sort => {
                if self.vocab_size < 4 || self.max_len < 3 || self.min_len > self.max_len - 2 {
                    return bad(format!(
                        "needs vocab_size >= 4 and 1 <= min_len <= max_len - 2 (got vocab {}, lengths {}..{})",
                        self.vocab_size, self.min_len, self.max_len
                    ));
                }
            }
            Task::Hist | Task::DoubleHist | Task::MostFreq => {
                if self.vocab_size < 3 || self.max_len < 2 || self.min_len > self.max_len - 1 {
                    return bad(format!(
                        "needs vocab_size >= 3 and min_len <= max_len - 1 (got vocab {}, lengths {}..{})",
                        self.vocab_size, self.min_len, self.max_len
                    ));
                }
            }
            Task::Dyck1 | Task::Dyck2 => {
                if self.max_len < 3 || self.min_len > self.max_len {
                    return bad(format!(
                        "needs max_len >= 3 and min_len <= max_len (got {}..{})",
                        self.min_len, self.max_len
                    ));
                }
            }
            Task::Induction => {
                if self.vocab_size < 4 || self.max_len < 3 {
                    return bad(format!(
                        "needs vocab_size >= 4 and max_len >= 3 (got vocab {}, length {})",
                        self.vocab_size, self.max_len
                    ));
                }
            }
        }
        if self.min_len == 0 {
            return bad("min_len must be at least 1".into());
        }
        Ok(())
    }
}

/// One sequence: input tokens and per-position targets (`<pad>` where not scored).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Example {
    /// Input tokens, starting with `<s>` (no padding).
    pub tokens: Vec<String>,
    /// One target per input token.
    pub targets: Vec<String>,
}

/// A generated dataset: splits, vocabularies and the padded length.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskData {
    /// The settings it was generated from.
    pub config: TaskConfig,
    /// `<pad>` then the sorted input tokens of all splits.
    pub input_vocab: Vec<String>,
    /// `<pad>` then the sorted targets of all splits.
    pub classes: Vec<String>,
    /// Padded length (the longest input), the model's `n_ctx`.
    pub n_ctx: usize,
    /// Training split.
    pub train: Vec<Example>,
    /// Validation split.
    pub val: Vec<Example>,
    /// Test split.
    pub test: Vec<Example>,
}

/// Integer-encoded split, padded to `n_ctx` (row-major `[len, n_ctx]`).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedSplit {
    /// Number of sequences.
    pub len: usize,
    /// Padded length.
    pub n_ctx: usize,
    /// Input token ids (`0` = `<pad>`).
    pub tokens: Vec<u32>,
    /// Target class ids (`0` = `<pad>`, not scored).
    pub targets: Vec<u32>,
}

impl TaskData {
    /// Generate the dataset of `config`.
    pub fn generate(config: &TaskConfig) -> Result<Self> {
        config.validate()?;
        // As the reference: draw n·size samples afresh for n = 2, 3, 4, 5 and keep the first
        // attempt with enough distinct inputs (or, failing that, the last attempt's).
        let mut rng = SplitMix64::derive(config.seed, 0x7a5c);
        let mut examples = Vec::new();
        for factor in 2..=5 {
            let mut seen = HashSet::new();
            examples.clear();
            for _ in 0..factor * config.dataset_size {
                let ex = sample(config, &mut rng);
                if seen.insert(ex.tokens.join(" ")) {
                    examples.push(ex);
                }
            }
            if examples.len() >= config.dataset_size {
                examples.truncate(config.dataset_size);
                break;
            }
        }
        // Split like `train_test_split(test_size=0.1)` twice: shuffle, hold out the tail.
        let mut split_rng = SplitMix64::derive(config.seed, 0x5911);
        split_rng.shuffle(&mut examples);
        let n_test = examples.len().div_ceil(10);
        let test = examples.split_off(examples.len() - n_test);
        let n_val = examples.len().div_ceil(10);
        let val = examples.split_off(examples.len() - n_val);
        let train = examples;
        // Vocabularies from every split (the reference uses the training split only): a rare
        // target that occurs only in validation or test, like a count of 7 in hist, is then
        // scored, as an error, instead of being unencodable.
        let all = || train.iter().chain(&val).chain(&test);
        let mut inputs: Vec<String> = all().flat_map(|e| e.tokens.clone()).collect();
        inputs.sort();
        inputs.dedup();
        inputs.retain(|t| t != PAD);
        let mut classes: Vec<String> = all().flat_map(|e| e.targets.clone()).collect();
        classes.sort();
        classes.dedup();
        classes.retain(|t| t != PAD);
        let n_ctx = train
            .iter()
            .chain(&val)
            .chain(&test)
            .map(|e| e.tokens.len())
            .max()
            .unwrap_or(0);
        Ok(Self {
            config: config.clone(),
            input_vocab: std::iter::once(PAD.to_string()).chain(inputs).collect(),
            classes: std::iter::once(PAD.to_string()).chain(classes).collect(),
            n_ctx,
            train,
            val,
            test,
        })
    }

    /// Encode a split with this dataset's vocabularies. Tokens or targets outside them (which
    /// only a validation/test split can contain) are an error naming the token.
    pub fn encode(&self, examples: &[Example]) -> Result<EncodedSplit> {
        encode_with(examples, &self.input_vocab, &self.classes, self.n_ctx)
    }
}

/// Encode `examples` with given vocabularies (e.g. a saved model's), padded to `n_ctx`. A token
/// or target outside them is an error naming it.
pub fn encode_with(
    examples: &[Example],
    input_vocab: &[String],
    classes: &[String],
    n_ctx: usize,
) -> Result<EncodedSplit> {
    let n = n_ctx;
    let mut tokens = vec![0u32; examples.len() * n];
    let mut targets = vec![0u32; examples.len() * n];
    for (row, ex) in examples.iter().enumerate() {
        if ex.tokens.len() > n || ex.targets.len() != ex.tokens.len() {
            return Err(Error::Shape {
                what: format!("example {row}"),
                expected: format!("at most {n} tokens with one target each"),
                got: vec![ex.tokens.len(), ex.targets.len()],
            });
        }
        for (i, (t, y)) in ex.tokens.iter().zip(&ex.targets).enumerate() {
            tokens[row * n + i] = index_of(input_vocab, t, "input token")?;
            targets[row * n + i] = index_of(classes, y, "target")?;
        }
    }
    Ok(EncodedSplit {
        len: examples.len(),
        n_ctx: n,
        tokens,
        targets,
    })
}

fn index_of(vocab: &[String], token: &str, what: &str) -> Result<u32> {
    vocab
        .iter()
        .position(|v| v == token)
        .map(|i| i as u32)
        .ok_or_else(|| {
            Error::Config(format!(
                "{what} `{token}` is not in the vocabulary {vocab:?}"
            ))
        })
}

fn strings(items: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

/// Uniform integer in `lo..=hi`.
fn between(rng: &mut SplitMix64, lo: usize, hi: usize) -> usize {
    lo + rng.below(hi - lo + 1)
}

/// One sample of the task (the reference's `make_<task>` for a single row).
pub fn sample(config: &TaskConfig, rng: &mut SplitMix64) -> Example {
    let symbols = |n: usize| -> Vec<String> { (0..n).map(|i| i.to_string()).collect() };
    let draw = |rng: &mut SplitMix64, alphabet: &[String], len: usize| -> Vec<String> {
        (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())].clone())
            .collect()
    };
    match config.task {
        Task::Reverse | Task::Sort => {
            let alphabet = symbols(config.vocab_size - 3);
            let len = between(rng, config.min_len, config.max_len - 2);
            let s = draw(rng, &alphabet, len);
            let mut out = s.clone();
            if config.task == Task::Reverse {
                out.reverse();
            } else {
                out.sort();
            }
            let tokens = strings([BOS]).into_iter().chain(s).chain(strings([EOS]));
            let targets = strings([PAD]).into_iter().chain(out).chain(strings([PAD]));
            Example {
                tokens: tokens.collect(),
                targets: targets.collect(),
            }
        }
        Task::Hist | Task::DoubleHist | Task::MostFreq => {
            let alphabet = symbols(config.vocab_size - 2);
            let len = between(rng, config.min_len, config.max_len - 1);
            let s = draw(rng, &alphabet, len);
            let targets = match config.task {
                Task::Hist => hist(&s),
                Task::DoubleHist => double_hist(&s),
                _ => most_freq(&s),
            };
            Example {
                tokens: strings([BOS]).into_iter().chain(s).collect(),
                targets: strings([PAD]).into_iter().chain(targets).collect(),
            }
        }
        Task::Dyck1 | Task::Dyck2 => {
            let pairs: &[(&str, &str)] = if config.task == Task::Dyck1 {
                &[("(", ")")]
            } else {
                &[("(", ")"), ("{", "}")]
            };
            let len = config.max_len - 1;
            let s = if rng.unit() < 0.5 {
                balanced(rng, pairs, config.min_len / 2, config.max_len / 2, len)
            } else {
                let all: Vec<String> = pairs
                    .iter()
                    .flat_map(|(l, r)| [*l, *r])
                    .map(String::from)
                    .collect();
                draw(rng, &all, len)
            };
            let targets = dyck_tags(&s, pairs);
            Example {
                tokens: strings([BOS]).into_iter().chain(s).collect(),
                targets: strings([PAD]).into_iter().chain(targets).collect(),
            }
        }
        Task::Induction => induction(rng, config.vocab_size, config.max_len),
    }
}

/// Per-token counts.
pub fn hist(s: &[String]) -> Vec<String> {
    s.iter()
        .map(|t| s.iter().filter(|u| *u == t).count().to_string())
        .collect()
}

/// Per token: the number of distinct tokens whose count equals this token's count.
pub fn double_hist(s: &[String]) -> Vec<String> {
    let count = |t: &String| s.iter().filter(|u| *u == t).count();
    let mut distinct: Vec<&String> = s.iter().collect();
    distinct.sort();
    distinct.dedup();
    s.iter()
        .map(|t| {
            let c = count(t);
            distinct
                .iter()
                .filter(|u| count(u) == c)
                .count()
                .to_string()
        })
        .collect()
}

/// Distinct tokens by decreasing count (ties: first occurrence), filled with `<s>`.
pub fn most_freq(s: &[String]) -> Vec<String> {
    let mut distinct: Vec<(usize, usize, &String)> = Vec::new();
    for (i, t) in s.iter().enumerate() {
        if !distinct.iter().any(|(_, _, u)| *u == t) {
            let count = s.iter().filter(|u| *u == t).count();
            distinct.push((count, i, t));
        }
    }
    distinct.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<String> = distinct.into_iter().map(|(_, _, t)| t.clone()).collect();
    out.resize(s.len(), BOS.to_string());
    out
}

/// Dyck prefix tags: `P` while open, `T` when the stack empties, `F` from the first
/// mismatched or unmatched closer on.
pub fn dyck_tags(s: &[String], pairs: &[(&str, &str)]) -> Vec<String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut broken = false;
    s.iter()
        .map(|t| {
            if broken {
                return "F".to_string();
            }
            if let Some((l, _)) = pairs.iter().find(|(l, _)| *l == t) {
                stack.push(l);
                return "P".to_string();
            }
            let opener = pairs.iter().find(|(_, r)| *r == t).map(|(l, _)| *l);
            if opener.is_some() && stack.last().copied() == opener {
                stack.pop();
                if stack.is_empty() { "T" } else { "P" }.to_string()
            } else {
                broken = true;
                "F".to_string()
            }
        })
        .collect()
}

/// A balanced string of `min_pairs..=max_pairs` pairs, each appended (`s l r`) or wrapping
/// (`l s r`), truncated or filled with random symbols to `len`.
fn balanced(
    rng: &mut SplitMix64,
    pairs: &[(&str, &str)],
    min_pairs: usize,
    max_pairs: usize,
    len: usize,
) -> Vec<String> {
    let n = between(rng, min_pairs.max(1), max_pairs.max(1));
    let mut s: Vec<String> = Vec::new();
    for _ in 0..n {
        let (l, r) = pairs[rng.below(pairs.len())];
        if rng.unit() < 0.5 {
            s.push(l.into());
            s.push(r.into());
        } else {
            s.insert(0, l.into());
            s.push(r.into());
        }
    }
    let all: Vec<&str> = pairs.iter().flat_map(|(l, r)| [*l, *r]).collect();
    s.truncate(len);
    while s.len() < len {
        s.push(all[rng.below(all.len())].into());
    }
    s
}

/// The induction task: `<s>`, then (letter, number) pairs under a random letter→number map;
/// each letter's target is its number if the letter was seen before, else `<unk>`. Half the
/// samples insert a random number after `<s>`, the others end with a query letter.
fn induction(rng: &mut SplitMix64, vocab_size: usize, max_len: usize) -> Example {
    let n_sym = (vocab_size - 2) / 2;
    let letters: Vec<String> = (0..n_sym)
        .map(|i| ((b'a' + i as u8) as char).to_string())
        .collect();
    let numbers: Vec<String> = (0..n_sym).map(|i| i.to_string()).collect();
    let map: Vec<usize> = (0..n_sym).map(|_| rng.below(n_sym)).collect();
    let n_pairs = (max_len - 1) / 2;
    let mut tokens = vec![BOS.to_string()];
    let mut targets = vec![PAD.to_string()];
    let insert_number = rng.unit() < 0.5;
    if insert_number {
        tokens.push(numbers[rng.below(n_sym)].clone());
        targets.push(PAD.into());
    }
    let mut seen = vec![false; n_sym];
    let mut push_letter = |tokens: &mut Vec<String>, targets: &mut Vec<String>, l: usize| {
        tokens.push(letters[l].clone());
        targets.push(if seen[l] {
            numbers[map[l]].clone()
        } else {
            UNK.into()
        });
        seen[l] = true;
    };
    for _ in 0..n_pairs {
        let l = rng.below(n_sym);
        push_letter(&mut tokens, &mut targets, l);
        tokens.push(numbers[map[l]].clone());
        targets.push(PAD.into());
    }
    if !insert_number {
        let l = rng.below(n_sym);
        push_letter(&mut tokens, &mut targets, l);
    }
    Example { tokens, targets }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Vec<String> {
        text.chars().map(|c| c.to_string()).collect()
    }

    #[test]
    fn hand_made_cases() {
        assert_eq!(hist(&s("0102")), s("2121"));
        // counts 2,1,2,1: one distinct token (0) has count 2, two (1 and 2) have count 1.
        assert_eq!(double_hist(&s("0102")), s("1212"));
        assert_eq!(double_hist(&s("00031")), s("11122"));
        assert_eq!(
            most_freq(&s("3133")),
            vec!["3".to_string(), "1".into(), BOS.into(), BOS.into()]
        );
        assert_eq!(
            most_freq(&s("2112")),
            vec!["2".to_string(), "1".into(), BOS.into(), BOS.into()]
        );
        assert_eq!(dyck_tags(&s("()())"), &[("(", ")")]), s("PTPTF"));
        assert_eq!(
            dyck_tags(&s("({})(}"), &[("(", ")"), ("{", "}")]),
            s("PPPTPF")
        );
        assert_eq!(dyck_tags(&s(")()"), &[("(", ")")]), s("FFF"));
    }
}
