//! What every metric scores: inputs, their attributions, target classes and optional masks.

use glassbox_core::check::check_finite_slice;
use glassbox_core::{Error, HostTensor, Result};

/// A validated batch to score: images `[B, C, H, W]`, attributions `[B, 1 | C, H, W]`, one
/// target class per image and, for localisation metrics, ground-truth masks `[B, 1, H, W]`.
///
/// Quantus' conventions: channel-first, attributions may have one channel (broadcast over
/// the input channels) or one per input channel. `[B, H, W]` attributions are accepted and
/// read as `[B, 1, H, W]`.
#[derive(Debug, Clone)]
pub struct MetricBatch {
    inputs: HostTensor,
    attributions: HostTensor,
    targets: Vec<usize>,
    masks: Option<HostTensor>,
}

impl MetricBatch {
    /// Validate and build a batch. Errors name the offending array: empty batch, shapes that
    /// disagree, a target count that is not `B`, or non-finite values.
    pub fn new(inputs: HostTensor, attributions: HostTensor, targets: Vec<usize>) -> Result<Self> {
        if inputs.shape.len() != 4 {
            return Err(Error::shape("metric inputs", "[B, C, H, W]", &inputs.shape));
        }
        let [b, c, h, w] = [
            inputs.shape[0],
            inputs.shape[1],
            inputs.shape[2],
            inputs.shape[3],
        ];
        if b == 0 {
            return Err(Error::Empty("metric batch (B = 0)".into()));
        }
        if c == 0 || h == 0 || w == 0 {
            return Err(Error::shape(
                "metric inputs",
                "non-zero C, H, W",
                &inputs.shape,
            ));
        }
        let attributions = match attributions.shape.as_slice() {
            [ab, ah, aw] if [*ab, *ah, *aw] == [b, h, w] => HostTensor {
                shape: vec![b, 1, h, w],
                values: attributions.values,
            },
            [ab, ac, ah, aw] if [*ab, *ah, *aw] == [b, h, w] && (*ac == 1 || *ac == c) => {
                attributions
            }
            _ => {
                return Err(Error::shape(
                    "attributions",
                    format!("[{b}, 1, {h}, {w}] or [{b}, {c}, {h}, {w}] (matching the inputs)"),
                    &attributions.shape,
                ));
            }
        };
        if targets.len() != b {
            return Err(Error::shape(
                "targets",
                format!("one class per image ({b})"),
                &[targets.len()],
            ));
        }
        check_finite_slice(&inputs.values, "metric inputs")?;
        check_finite_slice(&attributions.values, "attributions")?;
        Ok(Self {
            inputs,
            attributions,
            targets,
            masks: None,
        })
    }

    /// Attach ground-truth masks `[B, 1, H, W]` or `[B, H, W]` (non-zero = object).
    pub fn with_masks(mut self, masks: HostTensor) -> Result<Self> {
        let [b, _, h, w] = self.dims();
        let ok = matches!(masks.shape.as_slice(), [mb, 1, mh, mw] if [*mb, *mh, *mw] == [b, h, w])
            || matches!(masks.shape.as_slice(), [mb, mh, mw] if [*mb, *mh, *mw] == [b, h, w]);
        if !ok {
            return Err(Error::shape(
                "localisation masks",
                format!("[{b}, 1, {h}, {w}]"),
                &masks.shape,
            ));
        }
        check_finite_slice(&masks.values, "localisation masks")?;
        self.masks = Some(HostTensor {
            shape: vec![b, 1, h, w],
            values: masks.values,
        });
        Ok(self)
    }

    /// `[B, C, H, W]` of the inputs.
    pub fn dims(&self) -> [usize; 4] {
        let s = &self.inputs.shape;
        [s[0], s[1], s[2], s[3]]
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.inputs.shape[0]
    }

    /// Always false: a batch is validated non-empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Attribution channels (1 or C).
    pub fn attribution_channels(&self) -> usize {
        self.attributions.shape[1]
    }

    /// The inputs.
    pub fn inputs(&self) -> &HostTensor {
        &self.inputs
    }

    /// The attributions as given (before any metric's normalisation).
    pub fn attributions(&self) -> &HostTensor {
        &self.attributions
    }

    /// Target class per image.
    pub fn targets(&self) -> &[usize] {
        &self.targets
    }

    /// Masks, if attached.
    pub fn masks(&self) -> Option<&HostTensor> {
        self.masks.as_ref()
    }

    /// Masks, or a typed error naming the metric that needs them.
    pub fn require_masks(&self, metric: &str) -> Result<&HostTensor> {
        self.masks.as_ref().ok_or_else(|| {
            Error::Config(format!(
                "{metric} is a localisation metric and needs ground-truth masks (MetricBatch::with_masks)"
            ))
        })
    }

    /// Image `i` as a flat `C·H·W` slice.
    pub fn input(&self, i: usize) -> &[f32] {
        let d = self.input_len();
        &self.inputs.values[i * d..(i + 1) * d]
    }

    /// Elements per image (`C·H·W`).
    pub fn input_len(&self) -> usize {
        let [_, c, h, w] = self.dims();
        c * h * w
    }

    /// Mask `i` as a flat `H·W` slice of booleans.
    pub fn mask(&self, i: usize) -> Option<Vec<bool>> {
        let [_, _, h, w] = self.dims();
        self.masks.as_ref().map(|m| {
            m.values[i * h * w..(i + 1) * h * w]
                .iter()
                .map(|&v| v != 0.0)
                .collect()
        })
    }

    /// A batch of the samples in `range` (used to split work and by invariance tests).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Result<Self> {
        let [b, c, h, w] = self.dims();
        if range.start >= range.end || range.end > b {
            return Err(Error::Config(format!(
                "sample range {range:?} of a batch of {b}"
            )));
        }
        let n = range.len();
        let ac = self.attribution_channels();
        let cut = |t: &HostTensor, per: usize, ch: usize| HostTensor {
            shape: vec![n, ch, h, w],
            values: t.values[range.start * per..range.end * per].to_vec(),
        };
        let mut out = Self::new(
            cut(&self.inputs, c * h * w, c),
            cut(&self.attributions, ac * h * w, ac),
            self.targets[range.clone()].to_vec(),
        )?;
        if let Some(m) = &self.masks {
            out = out.with_masks(cut(m, h * w, 1))?;
        }
        Ok(out)
    }
}
