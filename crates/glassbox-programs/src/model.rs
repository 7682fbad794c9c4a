//! The Transformer Program itself: a disentangled residual stream of named categorical
//! (one-hot) and numerical variables, read by heads and MLPs through learned one-hot
//! variable selectors (spec §1).
//!
//! Shapes: the categorical stream is `[B, N, m, k]` (m variables of cardinality k), the
//! numerical stream `[B, N, m_n]`. Every module appends its output as new variables, so
//! variable `v` of layer `l` is at a fixed index that extraction relies on.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{log_softmax, relu};

use crate::bias::bias_matrix;
use crate::config::ProgramConfig;
use crate::sampling::Sampling;
use glassbox_core::{Error, Result};

/// A learned one-hot variable selector per reader: logits `[readers, variables]`.
fn selector(readers: usize, vars: usize, device: &Device) -> Param<Tensor<2>> {
    let std = 1.0 / (vars as f64).sqrt();
    Param::from_tensor(Tensor::random(
        [readers, vars],
        Distribution::Normal(0.0, std),
        device,
    ))
}

/// One-to-one predicate logits `[heads, k, k]`: row `i` = which key value query value `i` wants.
fn predicate(heads: usize, k: usize, device: &Device) -> Param<Tensor<3>> {
    let std = 1.0 / (k as f64).sqrt();
    Param::from_tensor(Tensor::random(
        [heads, k, k],
        Distribution::Normal(0.0, std),
        device,
    ))
}

/// The categorical stream laid out for reads: `[B·N·k, m]`, transposed once per layer and
/// shared by every head and MLP that reads it.
struct StreamView {
    xt: Tensor<2>,
    dims: [usize; 4],
}

impl StreamView {
    fn new(x: &Tensor<4>) -> Self {
        let dims = x.dims();
        let [b, n, m, k] = dims;
        Self {
            xt: x.clone().swap_dims(2, 3).reshape([b * n * k, m]),
            dims,
        }
    }

    /// Read one categorical variable per reader with one-hot-ish `pi [R, m]` → `[R, B, N, k]`.
    fn read(&self, pi: Tensor<2>) -> Tensor<4> {
        let [b, n, _, k] = self.dims;
        let r = pi.dims()[0];
        self.xt
            .clone()
            .matmul(pi.transpose())
            .transpose()
            .reshape([r, b, n, k])
    }
}

/// Read one numerical variable per reader: `x [B, N, m]`, `pi [R, m]` → `[B, N, R]`.
fn read_num(x: Tensor<3>, pi: Tensor<2>) -> Tensor<3> {
    let [b, n, m] = x.dims();
    let r = pi.dims()[0];
    x.reshape([b * n, m])
        .matmul(pi.transpose())
        .reshape([b, n, r])
}

/// Predicate scores `S[h, b, i, j] = <q_h[b,i] P_h, k_h[b,j]>` for reads `[H, B, N, k]`.
fn predicate_scores(q: Tensor<4>, key: Tensor<4>, p: Tensor<3>) -> Tensor<4> {
    let [h, b, n, k] = q.dims();
    let qp = q.reshape([h, b * n, k]).matmul(p).reshape([h, b, n, k]);
    qp.matmul(key.swap_dims(2, 3))
}

/// Categorical attention: hard attention to the closest key whose value the query's
/// predicate row selects, defaulting to position 0 (BOS) when nothing matches.
#[derive(Module, Debug)]
pub struct CatAttention {
    /// Query variable selectors `[H, m]`.
    pub query: Param<Tensor<2>>,
    /// Key variable selectors `[H, m]`.
    pub key: Param<Tensor<2>>,
    /// Value variable selectors `[H, m]`.
    pub value: Param<Tensor<2>>,
    /// Predicate logits `[H, k, k]`.
    pub predicate: Param<Tensor<3>>,
}

/// Numerical attention: the (masked) sum of a numerical value over every matching key —
/// RASP's `selector_width` when the value is `ones`.
#[derive(Module, Debug)]
pub struct NumAttention {
    /// Query variable selectors `[H, m_cat]`.
    pub query: Param<Tensor<2>>,
    /// Key variable selectors `[H, m_cat]`.
    pub key: Param<Tensor<2>>,
    /// Value selectors over the numerical variables `[H, m_num]`.
    pub value: Param<Tensor<2>>,
    /// Predicate logits `[H, k, k]`.
    pub predicate: Param<Tensor<3>>,
}

/// An MLP reading two variables (categorical one-hots or raw numbers) whose argmax output is a
/// new categorical variable: a lookup table once discretised.
#[derive(Module, Debug)]
pub struct ProgramMlp {
    /// Input variable selectors `[2, m]`.
    pub read: Param<Tensor<2>>,
    /// First layer `[inputs, d_mlp]`.
    pub w_in: Param<Tensor<2>>,
    /// First bias `[d_mlp]`.
    pub b_in: Param<Tensor<1>>,
    /// Second layer `[d_mlp, k]`.
    pub w_out: Param<Tensor<2>>,
    /// Second bias `[k]`.
    pub b_out: Param<Tensor<1>>,
}

impl ProgramMlp {
    fn init(vars: usize, in_width: usize, d_mlp: usize, k: usize, device: &Device) -> Self {
        Self {
            read: selector(2, vars, device),
            w_in: Param::from_tensor(Tensor::random(
                [in_width, d_mlp],
                Distribution::Normal(0.0, 1.0 / (d_mlp as f64).sqrt()),
                device,
            )),
            b_in: Param::from_tensor(Tensor::zeros([d_mlp], device)),
            w_out: Param::from_tensor(Tensor::random(
                [d_mlp, k],
                Distribution::Normal(0.0, 1.0 / (k as f64).sqrt()),
                device,
            )),
            b_out: Param::from_tensor(Tensor::zeros([k], device)),
        }
    }

    /// Output logits `[B, N, k]` from the concatenated inputs `[B, N, in_width]`.
    pub fn logits(&self, input: Tensor<3>) -> Tensor<3> {
        let [b, n, w] = input.dims();
        let hidden =
            relu(input.reshape([b * n, w]).matmul(self.w_in.val()) + self.b_in.val().unsqueeze());
        let out = hidden.matmul(self.w_out.val()) + self.b_out.val().unsqueeze();
        let k = out.dims()[1];
        out.reshape([b, n, k])
    }

    fn finish(&self, logits: Tensor<3>, sampling: &Sampling) -> Tensor<3> {
        match sampling {
            Sampling::Gumbel { .. } | Sampling::Softmax { .. } => {
                sampling.sample(log_softmax(logits, 2))
            }
            Sampling::Argmax => sampling.sample(logits),
        }
    }

    fn forward_cat(&self, x: &StreamView, sampling: &Sampling) -> Tensor<3> {
        let [b, n, _, k] = x.dims;
        let reads = x.read(sampling.sample(self.read.val())); // [2, B, N, k]
        let input = reads.permute([1, 2, 0, 3]).reshape([b, n, 2 * k]);
        self.finish(self.logits(input), sampling)
    }

    fn forward_num(&self, x: Tensor<3>, sampling: &Sampling) -> Tensor<3> {
        let input = read_num(x, sampling.sample(self.read.val())); // [B, N, 2]
        self.finish(self.logits(input), sampling)
    }
}

/// One layer: categorical heads, numerical heads, categorical MLPs, numerical MLPs.
#[derive(Module, Debug)]
pub struct ProgramBlock {
    /// Categorical heads (none when the layer has zero).
    pub cat_attn: Option<CatAttention>,
    /// Numerical heads (none when the layer has zero).
    pub num_attn: Option<NumAttention>,
    /// Categorical MLPs.
    pub cat_mlps: Vec<ProgramMlp>,
    /// Numerical MLPs (numerical inputs, categorical output).
    pub num_mlps: Vec<ProgramMlp>,
}

/// The model. Build it with [`TransformerProgram::init`]; run it with
/// [`TransformerProgram::forward`] under a [`Sampling`] mode.
#[derive(Module, Debug)]
pub struct TransformerProgram {
    /// The layers.
    pub blocks: Vec<ProgramBlock>,
    /// Classifier `[D, C]` over the concatenated stream.
    pub unembed: Param<Tensor<2>>,
    d_var: usize,
    n_ctx: usize,
    vocab_size: usize,
    n_classes: usize,
    autoregressive: bool,
    masked_classes: Vec<usize>,
}

/// Everything a forward pass computed, for training and extraction.
#[derive(Debug, Clone)]
pub struct ProgramOutput {
    /// Class logits `[B, N, C]`.
    pub logits: Tensor<3>,
    /// The final categorical stream `[B, N, m, k]`.
    pub cat: Tensor<4>,
    /// The final numerical stream `[B, N, m_n]`.
    pub num: Tensor<3>,
}

impl TransformerProgram {
    /// A randomly initialised program with the reference's initialisation.
    pub fn init(config: &ProgramConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let k = config.d_var;
        let blocks = (0..config.n_layers)
            .map(|l| {
                let mc = config.cat_vars_at(l);
                let mn = config.num_vars_at(l);
                let hc = config.n_heads_cat;
                let hn = config.n_heads_num;
                ProgramBlock {
                    cat_attn: (hc > 0).then(|| CatAttention {
                        query: selector(hc, mc, device),
                        key: selector(hc, mc, device),
                        value: selector(hc, mc, device),
                        predicate: predicate(hc, k, device),
                    }),
                    num_attn: (hn > 0).then(|| NumAttention {
                        query: selector(hn, mc, device),
                        key: selector(hn, mc, device),
                        value: selector(hn, mn, device),
                        predicate: predicate(hn, k, device),
                    }),
                    cat_mlps: (0..config.n_cat_mlps)
                        .map(|_| ProgramMlp::init(mc + hc, 2 * k, config.d_mlp, k, device))
                        .collect(),
                    num_mlps: (0..config.n_num_mlps)
                        .map(|_| ProgramMlp::init(mn + hn, 2, config.d_mlp, k, device))
                        .collect(),
                }
            })
            .collect();
        let c = config.classes.len();
        Ok(Self {
            blocks,
            unembed: Param::from_tensor(Tensor::random(
                [config.classifier_width(), c],
                Distribution::Normal(0.0, 1.0 / (c as f64).sqrt()),
                device,
            )),
            d_var: k,
            n_ctx: config.n_ctx,
            vocab_size: config.vocab.len(),
            n_classes: c,
            autoregressive: config.autoregressive,
            masked_classes: config.masked_classes(),
        })
    }

    /// Replace every parameter with the tensors of a safetensors file keyed by the module's
    /// paths (`blocks.0.cat_attn.query`, …, `unembed`), for example another implementation's
    /// initialisation. Strict: a missing, unused or mis-shaped tensor is an
    /// [`Error::Checkpoint`] naming it.
    pub fn load_parameters(self, path: impl AsRef<std::path::Path>) -> Result<Self> {
        glassbox_core::checkpoint::load_safetensors_strict(self, path.as_ref(), |s| s, |_| false)
    }

    /// Padded length the model expects.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Check token ids `[B, n_ctx]` are in the vocabulary (a typed error otherwise).
    pub fn check_tokens(&self, tokens: &Tensor<2, Int>) -> Result<()> {
        let [_, n] = tokens.dims();
        if n != self.n_ctx {
            return Err(Error::Shape {
                what: "program input tokens".into(),
                expected: format!("[B, {}] (padded to n_ctx)", self.n_ctx),
                got: tokens.dims().to_vec(),
            });
        }
        let max = tokens.clone().max().into_scalar::<i64>();
        let min = tokens.clone().min().into_scalar::<i64>();
        if min < 0 || max >= self.vocab_size as i64 {
            return Err(Error::OutOfRange {
                what: "token id".into(),
                index: if min < 0 { 0 } else { max as usize },
                bound: self.vocab_size,
            });
        }
        Ok(())
    }

    /// Attention mask `[B, N, N]` (1 = query `i` may attend to key `j`): both positions are
    /// real tokens, and `j <= i` when autoregressive.
    fn mask(&self, tokens: &Tensor<2, Int>) -> Tensor<3> {
        let [_, n] = tokens.dims();
        let device = tokens.device();
        let real = tokens.clone().not_equal_elem(0).float();
        let mut mask = real.clone().unsqueeze_dim::<3>(2) * real.unsqueeze_dim::<3>(1);
        if self.autoregressive {
            let tril: Vec<f32> = (0..n)
                .flat_map(|i| (0..n).map(move |j| if j <= i { 1.0 } else { 0.0 }))
                .collect();
            mask =
                mask * Tensor::<2>::from_data(TensorData::new(tril, [n, n]), &device).unsqueeze();
        }
        mask
    }

    /// Run the program on token ids `[B, n_ctx]` (call [`Self::check_tokens`] first on
    /// untrusted input).
    pub fn forward(&self, tokens: Tensor<2, Int>, sampling: &Sampling) -> ProgramOutput {
        let [b, n] = tokens.dims();
        let k = self.d_var;
        let device = tokens.device();
        // Tokens: the frozen ±10 one-hot table still goes through the sampler (spec pitfall 7).
        let table: Vec<f32> = (0..self.vocab_size)
            .flat_map(|w| (0..k).map(move |v| if v == w { 10.0 } else { -10.0 }))
            .collect();
        let table = sampling.sample(Tensor::<2>::from_data(
            TensorData::new(table, [self.vocab_size, k]),
            &device,
        ));
        let tok = tokens
            .clone()
            .one_hot::<3>(self.vocab_size)
            .float()
            .reshape([b * n, self.vocab_size])
            .matmul(table)
            .reshape([b, n, 1, k]);
        let positions: Tensor<2> = Tensor::<1, Int>::arange(0..n as i64, &device)
            .one_hot::<2>(k)
            .float();
        let pos = positions.reshape([1, n, 1, k]).expand([b, n, 1, k]);
        let mut cat = Tensor::cat(vec![tok, pos], 2);
        let mut num = Tensor::<3>::ones([b, n, 1], &device);

        let mask = self.mask(&tokens); // [B, N, N]
        let blocked = mask.clone().equal_elem(0.0).unsqueeze_dim::<4>(0); // [1, B, N, N]
        let bias = Tensor::<2>::from_data(TensorData::new(bias_matrix(n), [n, n]), &device)
            .reshape([1, 1, n, n]);
        let mut bos = vec![0.0f32; n];
        bos[0] = 1.0;
        let bos = Tensor::<1>::from_data(TensorData::new(bos, [n]), &device).reshape([1, 1, 1, n]);
        let mask4 = mask.unsqueeze_dim::<4>(0);

        for block in &self.blocks {
            let mut new_cat = Vec::new();
            let mut new_num = None;
            // Every head of the layer reads the same stream: one matmul for all their reads.
            let mut selectors = Vec::new();
            if let Some(att) = &block.cat_attn {
                for p in [&att.query, &att.key, &att.value] {
                    selectors.push(sampling.sample(p.val()));
                }
            }
            if let Some(att) = &block.num_attn {
                for p in [&att.query, &att.key] {
                    selectors.push(sampling.sample(p.val()));
                }
            }
            let sizes: Vec<usize> = selectors.iter().map(|t| t.dims()[0]).collect();
            let mut reads = if selectors.is_empty() {
                Vec::new()
            } else {
                let all = StreamView::new(&cat).read(Tensor::cat(selectors, 0));
                let mut start = 0;
                sizes
                    .iter()
                    .map(|&r| {
                        let t = all.clone().slice([start..start + r, 0..b, 0..n, 0..k]);
                        start += r;
                        t
                    })
                    .collect::<Vec<_>>()
            }
            .into_iter();
            if let Some(att) = &block.cat_attn {
                let (q, kk, v) = (
                    reads.next().expect("query read"),
                    reads.next().expect("key read"),
                    reads.next().expect("value read"),
                );
                let h = q.dims()[0];
                let s = predicate_scores(q, kk, sampling.sample(att.predicate.val()));
                let matched = (s.clone() * mask4.clone()).sum_dim(3); // [H, B, N, 1]
                let default = relu(matched.clone().neg() / (matched + 1e-10) + 1.0);
                let s = s + default * bos.clone();
                let lg = (s + 1e-20).log() + bias.clone();
                let lg = lg.mask_fill(blocked.clone().expand([h, b, n, n]), -1e30);
                let attn = sampling.sample(lg / (k as f64).sqrt());
                let z = attn.matmul(v); // [H, B, N, k]
                new_cat.push(z.permute([1, 2, 0, 3]));
            }
            if let Some(att) = &block.num_attn {
                let (q, kk) = (
                    reads.next().expect("query read"),
                    reads.next().expect("key read"),
                );
                let v = read_num(num.clone(), sampling.sample(att.value.val())); // [B, N, H]
                let h = q.dims()[0];
                let s =
                    predicate_scores(q, kk, sampling.sample(att.predicate.val())) * mask4.clone();
                let v = v.permute([2, 0, 1]).reshape([h, b, n, 1]);
                let z = s.matmul(v).reshape([h, b, n]).permute([1, 2, 0]); // [B, N, H]
                new_num = Some(z);
            }
            if !new_cat.is_empty() {
                cat = Tensor::cat(std::iter::once(cat).chain(new_cat).collect(), 2);
            }
            if let Some(z) = new_num {
                num = Tensor::cat(vec![num, z], 2);
            }
            let view = (!block.cat_mlps.is_empty()).then(|| StreamView::new(&cat));
            let mut mlp_out: Vec<Tensor<4>> = block
                .cat_mlps
                .iter()
                .map(|mlp| {
                    let view = view.as_ref().expect("built when there are MLPs");
                    mlp.forward_cat(view, sampling).reshape([b, n, 1, k])
                })
                .collect();
            mlp_out.extend(
                block
                    .num_mlps
                    .iter()
                    .map(|mlp| mlp.forward_num(num.clone(), sampling).reshape([b, n, 1, k])),
            );
            if !mlp_out.is_empty() {
                cat = Tensor::cat(std::iter::once(cat).chain(mlp_out).collect(), 2);
            }
        }
        let logits = if sampling.is_discrete() {
            self.classify_ordered(&cat, &num)
        } else {
            let m = cat.dims()[2];
            let mn = num.dims()[2];
            let features = Tensor::cat(vec![cat.clone().reshape([b, n, m * k]), num.clone()], 2);
            features
                .reshape([b * n, m * k + mn])
                .matmul(self.unembed.val())
                .reshape([b, n, self.n_classes])
        };
        let logits =
            if self.masked_classes.is_empty() {
                logits
            } else {
                let mut pen = vec![0.0f32; self.n_classes];
                for &c in &self.masked_classes {
                    pen[c] = -1e30;
                }
                logits
                    + Tensor::<1>::from_data(TensorData::new(pen, [self.n_classes]), &device)
                        .reshape([1, 1, self.n_classes])
            };
        ProgramOutput { logits, cat, num }
    }

    /// The classifier of the discretised model as an *ordered* sum: the row of each
    /// categorical variable's value (a one-hot matmul, exact), then `count × row` of each
    /// numerical variable, added one variable at a time in stream order. Mathematically this is
    /// the same matmul; fixing the order makes it bit-reproducible, so an extracted program
    /// that adds the same f32 rows in the same order predicts exactly what the model does.
    fn classify_ordered(&self, cat: &Tensor<4>, num: &Tensor<3>) -> Tensor<3> {
        let [b, n, m, k] = cat.dims();
        let mn = num.dims()[2];
        let c = self.n_classes;
        let w = self.unembed.val();
        let mut acc: Option<Tensor<2>> = None;
        let mut add = |t: Tensor<2>| {
            acc = Some(match acc.take() {
                None => t,
                Some(a) => a + t,
            });
        };
        for v in 0..m {
            let onehot = cat
                .clone()
                .slice([0..b, 0..n, v..v + 1, 0..k])
                .reshape([b * n, k]);
            add(onehot.matmul(w.clone().slice([v * k..(v + 1) * k, 0..c])));
        }
        for u in 0..mn {
            let count = num
                .clone()
                .slice([0..b, 0..n, u..u + 1])
                .reshape([b * n, 1]);
            let row = w.clone().slice([m * k + u..m * k + u + 1, 0..c]);
            add(count * row);
        }
        acc.expect("the stream always holds tokens and positions")
            .reshape([b, n, c])
    }
}
