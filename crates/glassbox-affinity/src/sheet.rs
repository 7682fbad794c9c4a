//! A PNG sheet per episode: query | predicted mask | each support image with its attribution
//! map (and the outline of its annotated mask), so users can see which support pixels a query
//! segmentation rests on.

use burn::prelude::*;
use glassbox_core::render::{Colormap, ImageGrid, Normalization, heatmap, overlay, resize_nearest};
use glassbox_core::{Error, FewShotInput, HostTensor, Result, SupportAttribution};
use image::{Rgb, RgbImage};

/// Tile magnification (64-px scenes become 192-px tiles).
const SCALE: u32 = 3;

/// Render one row per episode: query, query with its predicted foreground, then every support
/// image overlaid with its map (Inferno colormap, values as given in `[0, 1]`) and its mask
/// outline in cyan. `logits` are the model's `[N, 2, H, W]` query logits.
pub fn support_sheet(
    input: &FewShotInput,
    logits: &Tensor<4>,
    attribution: &SupportAttribution,
) -> Result<RgbImage> {
    let [n, k, c, h, w] = input.support_images.dims();
    if attribution.support.dims() != [n, k, h, w] {
        return Err(Error::shape(
            "support attribution",
            format!("[{n}, {k}, {h}, {w}]"),
            &attribution.support.dims(),
        ));
    }
    if logits.dims() != [n, 2, h, w] {
        return Err(Error::shape(
            "query logits",
            format!("[{n}, 2, {h}, {w}]"),
            &logits.dims(),
        ));
    }
    let query = HostTensor::from_tensor(&input.query).values;
    let support = HostTensor::from_tensor(&input.support_images).values;
    let masks = HostTensor::from_tensor(&input.support_masks).values;
    let maps = HostTensor::from_tensor(&attribution.support).values;
    let pred = HostTensor::from_tensor(&logits.clone().argmax(1).float()).values;
    let (hw, wu, hu) = (h * w, w as u32, h as u32);
    let big = |img: RgbImage| resize_nearest(&img, wu * SCALE, hu * SCALE);
    // First channel of an image, min–max to grey.
    let grey =
        |values: &[f32]| heatmap(&values[..hw], wu, hu, Colormap::Grey, Normalization::MinMax);
    let mut grid = ImageGrid::new(2 + k, wu * SCALE, hu * SCALE);
    for i in 0..n {
        let q = grey(&query[i * c * hw..(i + 1) * c * hw])?;
        grid.push(big(q.clone()), &["query"], None);
        let p = &pred[i * hw..(i + 1) * hw];
        let tint = RgbImage::from_fn(wu, hu, |x, y| {
            if p[(y * wu + x) as usize] > 0.5 {
                Rgb([255, 60, 60])
            } else {
                *q.get_pixel(x, y)
            }
        });
        grid.push(big(overlay(&q, &tint, 0.5)?), &["prediction"], None);
        for s in 0..k {
            let idx = i * k + s;
            let img = grey(&support[idx * c * hw..(idx + 1) * c * hw])?;
            let map = &maps[idx * hw..(idx + 1) * hw];
            let heat = heatmap(map, wu, hu, Colormap::Inferno, Normalization::Identity)?;
            let mut tile = big(overlay(&img, &heat, 0.6)?);
            outline(&mut tile, &masks[idx * hw..(idx + 1) * hw], [wu, hu]);
            let caption = format!("support {} ({})", s + 1, attribution.method);
            grid.push(tile, &[caption.as_str()], None);
        }
    }
    grid.render()
}

/// Draw the boundary of a binary mask (scaled by `SCALE`) in cyan.
fn outline(tile: &mut RgbImage, mask: &[f32], [w, h]: [u32; 2]) {
    let at = |x: i64, y: i64| {
        x >= 0
            && y >= 0
            && x < w as i64
            && y < h as i64
            && mask[(y as u32 * w + x as u32) as usize] > 0.5
    };
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            if at(x, y) && !(at(x - 1, y) && at(x + 1, y) && at(x, y - 1) && at(x, y + 1)) {
                for dy in 0..SCALE {
                    for dx in 0..SCALE {
                        tile.put_pixel(
                            x as u32 * SCALE + dx,
                            y as u32 * SCALE + dy,
                            Rgb([0, 255, 255]),
                        );
                    }
                }
            }
        }
    }
}
