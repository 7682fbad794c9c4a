//! Evidence users can look at: `PrototypeEvidence` for predictions, the prototype gallery and
//! the "this looks like that" sheet.

use burn::prelude::*;
use glassbox_core::render::{Colormap, ImageGrid, Normalization, heatmap, overlay, resize_nearest};
use glassbox_core::{Error, HostTensor, PrototypeEvidence, Result};
use glassbox_data::{BatchConfig, LabeledImages};
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::model::{PrototypeNet, log_similarity};
use crate::push::PushRecord;

/// The evidence of `model`'s predictions on `images`: every branch's prototypes concatenated
/// (trivial then support for ST-ProtoPNet), their max-pooled similarity scores (the last
/// layer's inputs), per-position similarity maps (log similarity of the squared distance, or
/// the cosine) and the class weights `[P, K]`.
pub fn explain(model: &PrototypeNet, images: Tensor<4>) -> PrototypeEvidence {
    let outs = model.branches_forward(images);
    let maps = outs
        .iter()
        .zip(&model.branches)
        .map(|(o, b)| {
            if b.cosine {
                o.maps.clone()
            } else {
                log_similarity(o.maps.clone(), model.epsilon)
            }
        })
        .collect();
    let classes: Vec<usize> = (0..model.branches.len())
        .flat_map(|_| model.prototype_classes())
        .collect();
    PrototypeEvidence {
        similarities: Tensor::cat(outs.iter().map(|o| o.similarity.clone()).collect(), 1),
        similarity_maps: Tensor::cat(maps, 1),
        prototype_classes: classes,
        class_weights: Tensor::cat(
            model
                .branches
                .iter()
                .map(|b| b.last_layer.weight.val())
                .collect(),
            0,
        ),
    }
}

/// Bilinear upsampling of a row-major `h × w` map to `oh × ow` (align-corners off, as
/// `F.interpolate`), on the host.
pub fn upsample(map: &[f32], h: usize, w: usize, oh: usize, ow: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let fy = ((y as f32 + 0.5) * h as f32 / oh as f32 - 0.5).clamp(0.0, (h - 1) as f32);
        let (y0, ty) = (fy.floor() as usize, fy - fy.floor());
        let y1 = (y0 + 1).min(h - 1);
        for x in 0..ow {
            let fx = ((x as f32 + 0.5) * w as f32 / ow as f32 - 0.5).clamp(0.0, (w - 1) as f32);
            let (x0, tx) = (fx.floor() as usize, fx - fx.floor());
            let x1 = (x0 + 1).min(w - 1);
            let top = map[y0 * w + x0] * (1.0 - tx) + map[y0 * w + x1] * tx;
            let bottom = map[y1 * w + x0] * (1.0 - tx) + map[y1 * w + x1] * tx;
            out.push(top * (1.0 - ty) + bottom * ty);
        }
    }
    out
}

/// The bounding box `(x0, y0, x1, y1)` (inclusive) of the pixels whose value is at least the
/// `percentile`-th percentile: the prototype's region, as the ProtoPNet reference draws it.
pub fn activation_box(map: &[f32], w: usize, percentile: f64) -> (usize, usize, usize, usize) {
    let mut sorted = map.to_vec();
    sorted.sort_by(f32::total_cmp);
    let idx = ((percentile / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    let threshold = sorted[idx.min(sorted.len() - 1)];
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (p, &v) in map.iter().enumerate() {
        if v >= threshold {
            let (x, y) = (p % w, p / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    (x0, y0, x1, y1)
}

/// Draw a rectangle outline on `image`, scaling box coordinates by `scale`.
fn draw_box(image: &mut RgbImage, b: (usize, usize, usize, usize), scale: u32, color: [u8; 3]) {
    let (x0, y0) = (b.0 as u32 * scale, b.1 as u32 * scale);
    let (x1, y1) = (
        ((b.2 as u32 + 1) * scale).min(image.width()) - 1,
        ((b.3 as u32 + 1) * scale).min(image.height()) - 1,
    );
    for x in x0..=x1 {
        for y in [y0, y1] {
            image.put_pixel(x, y, Rgb(color));
        }
    }
    for y in y0..=y1 {
        for x in [x0, x1] {
            image.put_pixel(x, y, Rgb(color));
        }
    }
}

const SCALE: u32 = 3;
const BOX: [u8; 3] = [255, 220, 0];

/// A normalised grey image back in [0, 1], scaled up for display.
fn grey_tile(image: &[f32], h: usize, w: usize, normalize: (f32, f32)) -> Result<RgbImage> {
    let px: Vec<f32> = image
        .iter()
        .map(|v| v * normalize.1 + normalize.0)
        .collect();
    let img = heatmap(
        &px,
        w as u32,
        h as u32,
        Colormap::Grey,
        Normalization::Identity,
    )?;
    Ok(resize_nearest(&img, w as u32 * SCALE, h as u32 * SCALE))
}

/// One rendered tile: the image (denormalised grey) with the similarity map overlaid and the
/// ≥95th-percentile box drawn.
fn tile(
    image: &[f32],
    map: &[f32],
    h: usize,
    w: usize,
    normalize: (f32, f32),
    mh: usize,
    mw: usize,
) -> Result<RgbImage> {
    let base = grey_tile(image, h, w, normalize)?;
    let up = upsample(map, mh, mw, h, w);
    let heat = resize_nearest(
        &heatmap(
            &up,
            w as u32,
            h as u32,
            Colormap::Inferno,
            Normalization::MinMax,
        )?,
        w as u32 * SCALE,
        h as u32 * SCALE,
    );
    let mut out = overlay(&base, &heat, 0.45)?;
    draw_box(&mut out, activation_box(&up, w, 95.0), SCALE, BOX);
    Ok(out)
}

/// Images and evidence of a set of (normalised) inputs, on the host.
struct Rendered {
    images: HostTensor,
    maps: HostTensor,
}

fn render_inputs(model: &PrototypeNet, images: Tensor<4>) -> (Rendered, PrototypeEvidence) {
    let ev = explain(model, images.clone());
    let rendered = Rendered {
        images: HostTensor::from_tensor(&images.slice(s![.., 0..1])),
        maps: HostTensor::from_tensor(&ev.similarity_maps),
    };
    (rendered, ev)
}

impl Rendered {
    fn tile(&self, i: usize, proto: usize, normalize: (f32, f32)) -> Result<RgbImage> {
        let [h, w] = [self.images.shape[2], self.images.shape[3]];
        let [p, mh, mw] = [self.maps.shape[1], self.maps.shape[2], self.maps.shape[3]];
        let img = &self.images.values[i * h * w..(i + 1) * h * w];
        let map = &self.maps.values[(i * p + proto) * mh * mw..(i * p + proto + 1) * mh * mw];
        tile(img, map, h, w, normalize, mh, mw)
    }
}

/// The prototype gallery: every prototype's source patch, boxed in the training image it was
/// pushed onto, captioned with its index, branch and class. `train` and `normalize` must be
/// the data and normalisation the model was pushed with.
pub fn prototype_gallery(
    model: &PrototypeNet,
    train: &LabeledImages,
    push: &[PushRecord],
    normalize: (f32, f32),
    class_names: &[&str],
    device: &Device,
) -> Result<RgbImage> {
    if push.is_empty() {
        return Err(Error::Empty(
            "push records (train and push the model first)".into(),
        ));
    }
    let batching = BatchConfig::new(push.len().max(1)).with_normalize(normalize.0, normalize.1);
    let indices: Vec<usize> = push.iter().map(|r| r.image).collect();
    let batch = batching.batch_of(train, &indices, device)?;
    let (rendered, _) = render_inputs(model, batch.images);
    let per_branch = model.num_classes * model.per_class;
    let mut grid = ImageGrid::new(
        model.per_class * model.branches.len(),
        28 * SCALE,
        28 * SCALE,
    );
    let mut order: Vec<usize> = (0..push.len()).collect();
    // One row per class: its prototypes of every branch side by side.
    order.sort_by_key(|&i| (push[i].class, push[i].branch, push[i].prototype));
    for i in order {
        let r = &push[i];
        let global = r.branch * per_branch + r.prototype;
        let img = rendered.tile(i, global, normalize)?;
        let name = class_names.get(r.class).copied().unwrap_or("?");
        let branch = match (model.cosine, r.branch) {
            (false, _) => "",
            (true, 0) => " T",
            (true, _) => " S",
        };
        grid.push(img, &[&format!("p{}{branch}", r.prototype), name], None);
    }
    grid.render()
}

/// One prototype's part in a prediction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrototypeMatch {
    /// Prototype index over all branches (trivial first).
    pub prototype: usize,
    /// Its class.
    pub class: usize,
    /// Similarity score (the last layer's input).
    pub similarity: f32,
    /// Last-layer weight to the predicted class.
    pub weight: f32,
    /// similarity × weight: the contribution to the predicted class's logit.
    pub contribution: f32,
}

/// One explained prediction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredictionExplanation {
    /// Predicted class.
    pub predicted: usize,
    /// Logit of the predicted class (= sum of all contributions).
    pub logit: f32,
    /// The prototypes with the largest contributions to it.
    pub top: Vec<PrototypeMatch>,
}

/// "This looks like that": for each input (normalised, `[N, C, H, W]`), a row with the input,
/// then for each of the `top` prototypes contributing most to the predicted class, where it
/// activates on the input (boxed) and the prototype's own source patch (boxed in its training
/// image), captioned with similarity × weight = contribution. Returns the sheet and the same
/// numbers.
#[allow(clippy::too_many_arguments)]
pub fn explanation_sheet(
    model: &PrototypeNet,
    images: Tensor<4>,
    train: &LabeledImages,
    push: &[PushRecord],
    normalize: (f32, f32),
    class_names: &[&str],
    top: usize,
    device: &Device,
) -> Result<(RgbImage, Vec<PredictionExplanation>)> {
    let (rendered, ev) = render_inputs(model, images);
    let sims = HostTensor::from_tensor(&ev.similarities);
    let weights = HostTensor::from_tensor(&ev.class_weights); // [P, K]
    let [n, p] = [sims.shape[0], sims.shape[1]];
    let k = weights.shape[1];
    let per_branch = model.num_classes * model.per_class;
    // Source tiles of the prototypes, in push order (branch-major, as `explain` concatenates).
    let batching = BatchConfig::new(push.len().max(1)).with_normalize(normalize.0, normalize.1);
    let mut sorted: Vec<&PushRecord> = push.iter().collect();
    sorted.sort_by_key(|r| (r.branch, r.prototype));
    if sorted.len() != p {
        return Err(Error::shape(
            "push records",
            format!("one per prototype ({p})"),
            &[sorted.len()],
        ));
    }
    let sources = batching.batch_of(
        train,
        &sorted.iter().map(|r| r.image).collect::<Vec<_>>(),
        device,
    )?;
    let (src, _) = render_inputs(model, sources.images);
    let mut grid = ImageGrid::new(1 + 2 * top, 28 * SCALE, 28 * SCALE);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let contrib = |j: usize, c: usize| sims.values[i * p + j] * weights.values[j * k + c];
        let logits: Vec<f32> = (0..k)
            .map(|c| (0..p).map(|j| contrib(j, c)).sum())
            .collect();
        let predicted = glassbox_core_argmax(&logits);
        let mut js: Vec<usize> = (0..p).collect();
        js.sort_by(|&a, &b| contrib(b, predicted).total_cmp(&contrib(a, predicted)));
        let matches: Vec<PrototypeMatch> = js[..top.min(p)]
            .iter()
            .map(|&j| PrototypeMatch {
                prototype: j,
                class: model.prototype_class(j % per_branch),
                similarity: sims.values[i * p + j],
                weight: weights.values[j * k + predicted],
                contribution: contrib(j, predicted),
            })
            .collect();
        let name = |c: usize| class_names.get(c).copied().unwrap_or("?");
        let [h, w] = [rendered.images.shape[2], rendered.images.shape[3]];
        let input = grey_tile(
            &rendered.images.values[i * h * w..(i + 1) * h * w],
            h,
            w,
            normalize,
        )?;
        grid.push(input, &["input", &format!("-> {}", name(predicted))], None);
        for m in &matches {
            grid.push(
                rendered.tile(i, m.prototype, normalize)?,
                &[
                    "looks like",
                    &format!("{:.2}x{:.2}", m.similarity, m.weight),
                ],
                None,
            );
            grid.push(
                src.tile(m.prototype, m.prototype, normalize)?,
                &[
                    &format!("p{} {}", m.prototype, name(m.class)),
                    &format!("= {:.2}", m.contribution),
                ],
                None,
            );
        }
        out.push(PredictionExplanation {
            predicted,
            logit: logits[predicted],
            top: matches,
        });
    }
    Ok((grid.render()?, out))
}

fn glassbox_core_argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}
