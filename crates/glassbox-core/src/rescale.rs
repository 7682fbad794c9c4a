//! Nonlinearities that DeepLift can see.
//!
//! DeepLift (Shrikumar et al., 2017) back-propagates *multipliers* instead of gradients: at
//! every nonlinearity the local derivative is replaced by the ratio of the output's change to
//! the input's change between the input and a reference input (the Rescale rule). PyTorch's
//! Captum does that with module hooks; burn has none, so models call the nonlinearities of
//! this module instead of burn's ([`relu`], [`max_pool2d`]). Outside a DeepLift pass they are
//! exactly burn's ops. A DeepLift explainer runs the model twice:
//!
//! 1. [`record`] runs it on the reference and keeps every hooked nonlinearity's input, in call
//!    order (a [`Reference`]);
//! 2. [`rescale`] runs it on the input with that reference: each hooked call takes the next
//!    recorded input and returns the same values as the plain op, but with the Rescale rule's
//!    multipliers as its derivative (the straight-through construction
//!    `y.detach() + m · (x − x.detach())`).
//!
//! The input's gradient from the second pass, times `input − reference`, is DeepLift's
//! attribution. The rules follow Captum's `DeepLift`: ReLU uses `Δy / Δx` (the plain
//! derivative where `|Δx| < eps`); max-pooling gives each window's output change
//! `Δo = (max(o, o′) − o′) + (o − max(o, o′))` to the input's and the reference's arg-max
//! positions and divides by `Δx` there. Everything not hooked (convolutions, batch norm,
//! matching softmax, …) is differentiated plainly, as in Captum when an op is not a hooked
//! module.
//!
//! The state is per thread, so the two passes must run on the caller's thread and call the
//! hooked ops in the same order with the same shapes (true of any model without data-dependent
//! control flow); [`rescale`] reports a mismatch as an error instead of a wrong answer.

use std::cell::RefCell;

use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::module::max_pool2d_with_indices;
use burn::tensor::ops::MaxPoolOptions;

use crate::{Error, Result};

/// The inputs of the hooked nonlinearities of one reference pass, in call order.
#[derive(Debug, Clone, Default)]
pub struct Reference {
    entries: Vec<Recorded>,
}

impl Reference {
    /// Number of hooked nonlinearity calls recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pass called no hooked nonlinearity (DeepLift would equal Input × Gradient).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[derive(Debug, Clone)]
struct Recorded {
    op: Op,
    /// The op's input, flattened (plain tensor, no autodiff graph).
    input: Tensor<1>,
    dims: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Relu,
    MaxPool2d,
}

enum State {
    Record(Vec<Recorded>),
    Replay {
        entries: Vec<Recorded>,
        next: usize,
        eps: f32,
        error: Option<String>,
    },
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Restores the thread's state when a pass ends, even by unwinding.
struct Scope(Option<State>);

impl Scope {
    fn enter(state: State) -> Result<Self> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            if s.is_some() {
                return Err(Error::config(
                    "a DeepLift pass is already running on this thread (nested record/rescale)",
                ));
            }
            *s = Some(state);
            Ok(Scope(None))
        })
    }

    fn leave(mut self) -> Option<State> {
        self.0 = STATE.with(|s| s.borrow_mut().take());
        self.0.take()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        STATE.with(|s| s.borrow_mut().take());
    }
}

/// Run `f` (a forward pass on the reference input) and record the inputs of every hooked
/// nonlinearity it calls.
pub fn record<R>(f: impl FnOnce() -> R) -> Result<(R, Reference)> {
    let scope = Scope::enter(State::Record(Vec::new()))?;
    let out = f();
    match scope.leave() {
        Some(State::Record(entries)) => Ok((out, Reference { entries })),
        _ => Err(Error::config("DeepLift reference pass lost its state")),
    }
}

/// Run `f` (the same forward pass on the input, usually differentiated inside `f`) with the
/// Rescale rule at every hooked nonlinearity, against `reference` from [`record`]. Inputs
/// whose change from the reference is below `eps` in magnitude keep the plain derivative.
///
/// Fails if the pass called the hooked ops in a different order, with different shapes, or a
/// different number of times than the reference pass.
pub fn rescale<R>(reference: Reference, eps: f32, f: impl FnOnce() -> R) -> Result<R> {
    let scope = Scope::enter(State::Replay {
        entries: reference.entries,
        next: 0,
        eps,
        error: None,
    })?;
    let out = f();
    match scope.leave() {
        Some(State::Replay {
            entries,
            next,
            error,
            ..
        }) => {
            if let Some(e) = error {
                return Err(Error::config(format!("DeepLift: {e}")));
            }
            if next != entries.len() {
                return Err(Error::config(format!(
                    "DeepLift: the input pass called {next} hooked nonlinearities, the reference pass {}",
                    entries.len()
                )));
            }
            Ok(out)
        }
        _ => Err(Error::config("DeepLift input pass lost its state")),
    }
}

/// What a hooked call does: nothing special, record its input, or apply the Rescale rule
/// with this reference input.
enum Action {
    Plain,
    Rescale { reference: Box<Tensor<1>>, eps: f32 },
}

fn hook<const D: usize>(op: Op, x: &Tensor<D>) -> Action {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        match s.as_mut() {
            None => Action::Plain,
            Some(State::Record(entries)) => {
                entries.push(Recorded {
                    op,
                    input: x.clone().inner().detach().reshape([x.shape().num_elements()]),
                    dims: x.dims().to_vec(),
                });
                Action::Plain
            }
            Some(State::Replay {
                entries,
                next,
                eps,
                error,
            }) => {
                if error.is_some() {
                    return Action::Plain;
                }
                let i = *next;
                *next += 1;
                match entries.get(i) {
                    Some(r) if r.op == op && r.dims == x.dims() => Action::Rescale {
                        reference: Box::new(r.input.clone()),
                        eps: *eps,
                    },
                    Some(r) => {
                        *error = Some(format!(
                            "hooked call {i} is {op:?} on {:?}, the reference pass had {:?} on {:?}",
                            x.dims(),
                            r.op,
                            r.dims
                        ));
                        Action::Plain
                    }
                    None => {
                        *error = Some(format!(
                            "the input pass calls more hooked nonlinearities than the reference pass ({})",
                            entries.len()
                        ));
                        Action::Plain
                    }
                }
            }
        }
    })
}

/// The reference input on `like`'s device and graph kind (autodiff or not), shaped like it.
fn reference_like<const D: usize>(reference: Box<Tensor<1>>, like: &Tensor<D>) -> Tensor<D> {
    let r = reference.reshape(like.dims());
    if like.is_autodiff() { r.autodiff() } else { r }
}

/// `max(x, 0)`; under [`rescale`], its derivative is DeepLift's Rescale multiplier.
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match hook(Op::Relu, &x) {
        Action::Plain => activation::relu(x),
        Action::Rescale { reference, eps } => {
            let x0 = reference_like(reference, &x);
            let y = activation::relu(x.clone()).detach();
            let y0 = activation::relu(x0.clone());
            let dx = x.clone().detach() - x0;
            let plain = x.clone().detach().greater_elem(0.0).float();
            let small = dx.clone().abs().lower_elem(eps);
            // Where `|Δx| < eps` the ratio is replaced; guard the division itself too.
            let safe = dx.clone().mask_fill(small.clone(), 1.0);
            let m = ((y.clone() - y0) / safe).mask_where(small, plain).detach();
            y + m * (x.clone() - x.detach())
        }
    }
}

/// [`max_pool2d`] with the settings of a burn [`MaxPool2d`] module (same padding rules).
pub fn max_pool2d_module(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    // burn's own rule (`PaddingConfig2d::calculate_padding_2d_pairs` is crate-private).
    let same = |k: usize, stride: usize, size: usize| {
        let out = size.div_ceil(stride);
        let total = if out > 0 {
            ((out - 1) * stride + k).saturating_sub(size)
        } else {
            0
        };
        (total / 2, total - total / 2)
    };
    let (ph, pw) = match pool.padding {
        PaddingConfig2d::Valid => ((0, 0), (0, 0)),
        PaddingConfig2d::Same => (
            same(pool.kernel_size[0], pool.stride[0], h),
            same(pool.kernel_size[1], pool.stride[1], w),
        ),
        PaddingConfig2d::Explicit(top, left, bottom, right) => ((top, bottom), (left, right)),
    };
    let options = MaxPoolOptions::new(pool.kernel_size)
        .with_stride(pool.stride)
        .with_padding_pairs([ph, pw])
        .with_dilation(pool.dilation)
        .with_ceil_mode(pool.ceil_mode);
    max_pool2d(x, options)
}

/// 2-D max-pooling; under [`rescale`], its derivative is Captum's DeepLift max-pool rule.
pub fn max_pool2d(x: Tensor<4>, options: MaxPoolOptions<2>) -> Tensor<4> {
    match hook(Op::MaxPool2d, &x) {
        Action::Plain => burn::tensor::module::max_pool2d(x, options),
        Action::Rescale { reference, eps } => {
            let x0 = reference_like(reference, &x);
            let [n, c, h, w] = x.dims();
            let xd = x.clone().detach();
            let (o, idx) = max_pool2d_with_indices(xd.clone(), options.clone());
            let (o0, idx0) = max_pool2d_with_indices(x0.clone(), options);
            let [_, _, ho, wo] = o.dims();
            let flat = |t: Tensor<4>| t.reshape([n, c, h * w]);
            let flat_idx = |t: Tensor<4, Int>| t.reshape([n, c, ho * wo]);
            let (idx, idx0) = (flat_idx(idx), flat_idx(idx0));
            let dx = flat(xd.clone() - x0);
            let top = o.clone().max_pair(o0.clone());
            // Each window's output change, split between the two arg-max positions.
            let to_input = (top.clone() - o0).reshape([n, c, ho * wo]);
            let to_reference = (o.clone() - top).reshape([n, c, ho * wo]);
            let dx_at = |i: &Tensor<3, Int>| dx.clone().gather(2, i.clone());
            let (d_in, d_ref) = (dx_at(&idx), dx_at(&idx0));
            let (small_in, small_ref) = (
                d_in.clone().abs().lower_elem(eps),
                d_ref.clone().abs().lower_elem(eps),
            );
            // Where `|Δx| < eps` Captum keeps the plain gradient: 1 at the input's arg-max, 0 at
            // the reference's.
            let ones = Tensor::<3>::ones(d_in.dims(), &d_in.device());
            let c_in = (to_input / d_in.mask_fill(small_in.clone(), 1.0))
                .mask_where(small_in, ones.clone());
            let c_ref = (to_reference / d_ref.mask_fill(small_ref.clone(), 1.0))
                .mask_where(small_ref, ones.zeros_like());
            let moving = flat(x.clone() - xd);
            let through =
                |i: Tensor<3, Int>, coef: Tensor<3>| moving.clone().gather(2, i) * coef.detach();
            let delta = (through(idx, c_in) + through(idx0, c_ref)).reshape([n, c, ho, wo]);
            o + delta
        }
    }
}
