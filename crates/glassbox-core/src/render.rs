//! Rendering explanations to pictures: colormaps, heatmaps, overlays, captioned image grids,
//! saved as PNG with the `image` crate.
//!
//! All functions work on host data (`&[f32]` row-major maps) so they are independent of the
//! device; use [`crate::HostTensor::from_tensor`] or `tensor.to_data()` to bring maps back.

use std::path::Path;

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, check::check_finite_slice};

/// A colormap from `[0, 1]` to RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Colormap {
    /// Black to white.
    Grey,
    /// Perceptually uniform dark-purple → yellow (matplotlib's default).
    #[default]
    Viridis,
    /// Perceptually uniform black → red → pale yellow, good for non-negative relevance.
    Inferno,
    /// Diverging blue → white → red: 0.5 is neutral, for signed relevance.
    RedBlue,
}

// Anchor colours sampled at evenly spaced points of the matplotlib maps; we interpolate
// linearly between them, which is visually indistinguishable at heatmap resolutions.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];
const INFERNO: [[u8; 3]; 9] = [
    [0, 0, 4],
    [31, 12, 72],
    [85, 15, 109],
    [136, 34, 106],
    [186, 54, 85],
    [227, 89, 51],
    [249, 140, 10],
    [249, 201, 50],
    [252, 255, 164],
];
const RED_BLUE: [[u8; 3]; 9] = [
    [33, 102, 172],
    [67, 147, 195],
    [146, 197, 222],
    [209, 229, 240],
    [247, 247, 247],
    [253, 219, 199],
    [244, 165, 130],
    [214, 96, 77],
    [178, 24, 43],
];

fn interpolate(anchors: &[[u8; 3]], t: f32) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (anchors.len() - 1) as f32;
    let i = (pos.floor() as usize).min(anchors.len() - 2);
    let f = pos - i as f32;
    let (a, b) = (anchors[i], anchors[i + 1]);
    let mix = |k: usize| (a[k] as f32 + (b[k] as f32 - a[k] as f32) * f).round() as u8;
    [mix(0), mix(1), mix(2)]
}

impl Colormap {
    /// Colour of `t` (clamped to `[0, 1]`; NaN maps to the low end).
    pub fn color(self, t: f32) -> [u8; 3] {
        match self {
            Colormap::Grey => {
                let v = (if t.is_finite() {
                    t.clamp(0.0, 1.0)
                } else {
                    0.0
                } * 255.0)
                    .round() as u8;
                [v, v, v]
            }
            Colormap::Viridis => interpolate(&VIRIDIS, t),
            Colormap::Inferno => interpolate(&INFERNO, t),
            Colormap::RedBlue => interpolate(&RED_BLUE, t),
        }
    }
}

/// How raw relevance values are mapped into `[0, 1]` before colouring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Normalization {
    /// `(v - min) / (max - min)`; a constant map becomes all zeros.
    #[default]
    MinMax,
    /// `0.5 + v / (2 max|v|)`: zero stays at the middle, for diverging colormaps.
    Symmetric,
    /// Values are already in `[0, 1]`; clamp only.
    Identity,
}

/// Map `values` into `[0, 1]` with `mode`.
pub fn normalize(values: &[f32], mode: Normalization) -> Vec<f32> {
    match mode {
        Normalization::Identity => values.iter().map(|v| v.clamp(0.0, 1.0)).collect(),
        Normalization::MinMax => {
            let (lo, hi) = values
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            let span = hi - lo;
            if span > 0.0 && span.is_finite() {
                values.iter().map(|v| (v - lo) / span).collect()
            } else {
                vec![0.0; values.len()]
            }
        }
        Normalization::Symmetric => {
            let m = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if m > 0.0 && m.is_finite() {
                values.iter().map(|v| 0.5 + v / (2.0 * m)).collect()
            } else {
                vec![0.5; values.len()]
            }
        }
    }
}

fn check_len(values: &[f32], width: u32, height: u32, what: &str) -> Result<()> {
    let n = width as usize * height as usize;
    if values.len() != n || n == 0 {
        return Err(Error::shape(
            what,
            format!("{width}x{height} = {n} values (non-empty)"),
            &[values.len()],
        ));
    }
    check_finite_slice(values, what)
}

/// Render a row-major `height × width` map with `colormap` after normalising with `mode`.
pub fn heatmap(
    values: &[f32],
    width: u32,
    height: u32,
    colormap: Colormap,
    mode: Normalization,
) -> Result<RgbImage> {
    check_len(values, width, height, "heatmap values")?;
    let norm = normalize(values, mode);
    Ok(RgbImage::from_fn(width, height, |x, y| {
        Rgb(colormap.color(norm[(y * width + x) as usize]))
    }))
}

/// Render a grey image from row-major values (normalised min–max, so any range works).
pub fn grey_image(values: &[f32], width: u32, height: u32) -> Result<RgbImage> {
    heatmap(values, width, height, Colormap::Grey, Normalization::MinMax)
}

/// Nearest-neighbour resize to `width × height` (keeps pixels crisp for tiny inputs).
pub fn resize_nearest(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    image::imageops::resize(image, width, height, image::imageops::FilterType::Nearest)
}

/// Alpha-blend `heat` over `base`: `(1 - alpha) * base + alpha * heat`.
///
/// `heat` is resized (bilinear) to `base`'s size first, so a 7×7 Grad-CAM map can be laid
/// over a 28×28 image.
pub fn overlay(base: &RgbImage, heat: &RgbImage, alpha: f32) -> Result<RgbImage> {
    if !(0.0..=1.0).contains(&alpha) {
        return Err(Error::config(format!(
            "overlay alpha must be in [0, 1], got {alpha}"
        )));
    }
    let heat = if heat.dimensions() == base.dimensions() {
        heat.clone()
    } else {
        image::imageops::resize(
            heat,
            base.width(),
            base.height(),
            image::imageops::FilterType::Triangle,
        )
    };
    Ok(RgbImage::from_fn(base.width(), base.height(), |x, y| {
        let (b, h) = (base.get_pixel(x, y).0, heat.get_pixel(x, y).0);
        let mix = |k: usize| ((1.0 - alpha) * b[k] as f32 + alpha * h[k] as f32).round() as u8;
        Rgb([mix(0), mix(1), mix(2)])
    }))
}

/// Height in pixels of one caption line drawn by [`draw_text`] at scale 1.
pub const GLYPH_SIZE: u32 = 8;

/// Draw `text` (basic Latin, 8×8 bitmap font) at `(x, y)`, clipped to the image.
/// Characters without a glyph are drawn as `?`.
pub fn draw_text(image: &mut RgbImage, x: u32, y: u32, text: &str, color: [u8; 3]) {
    for (i, ch) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(ch)
            .or_else(|| font8x8::BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8u32 {
                if bits & (1 << col) != 0 {
                    let px = x + i as u32 * GLYPH_SIZE + col;
                    let py = y + row as u32;
                    if px < image.width() && py < image.height() {
                        image.put_pixel(px, py, Rgb(color));
                    }
                }
            }
        }
    }
}

/// One cell of an [`ImageGrid`].
#[derive(Debug, Clone)]
struct Cell {
    image: RgbImage,
    caption: Vec<String>,
    border: Option<[u8; 3]>,
}

/// A grid of equally sized tiles with optional caption lines and coloured borders: the
/// layout of prediction sheets and prototype galleries.
#[derive(Debug, Clone)]
pub struct ImageGrid {
    columns: usize,
    tile: (u32, u32),
    padding: u32,
    background: [u8; 3],
    cells: Vec<Cell>,
}

impl ImageGrid {
    /// A grid with `columns` columns whose tiles are resized to `tile_width × tile_height`.
    pub fn new(columns: usize, tile_width: u32, tile_height: u32) -> Self {
        Self {
            columns,
            tile: (tile_width, tile_height),
            padding: 4,
            background: [255, 255, 255],
            cells: Vec::new(),
        }
    }

    /// Padding between tiles in pixels (default 4).
    pub fn with_padding(mut self, padding: u32) -> Self {
        self.padding = padding;
        self
    }

    /// Background colour (default white).
    pub fn with_background(mut self, background: [u8; 3]) -> Self {
        self.background = background;
        self
    }

    /// Add a tile with caption lines (may be empty) and an optional border colour.
    pub fn push(&mut self, image: RgbImage, caption: &[&str], border: Option<[u8; 3]>) {
        self.cells.push(Cell {
            image,
            caption: caption.iter().map(|s| s.to_string()).collect(),
            border,
        });
    }

    /// Number of tiles added so far.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no tile was added.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Compose the grid into one image.
    pub fn render(&self) -> Result<RgbImage> {
        if self.cells.is_empty() {
            return Err(Error::Empty("image grid".into()));
        }
        if self.columns == 0 || self.tile.0 == 0 || self.tile.1 == 0 {
            return Err(Error::config(
                "image grid needs >= 1 column and a non-empty tile",
            ));
        }
        let lines = self
            .cells
            .iter()
            .map(|c| c.caption.len())
            .max()
            .unwrap_or(0) as u32;
        let max_chars = self
            .cells
            .iter()
            .flat_map(|c| c.caption.iter().map(|s| s.chars().count()))
            .max()
            .unwrap_or(0) as u32;
        let border = 2;
        let cell_w = (self.tile.0 + 2 * border).max(max_chars * GLYPH_SIZE);
        let cell_h = self.tile.1 + 2 * border + lines * (GLYPH_SIZE + 2);
        let cols = self.columns.min(self.cells.len()) as u32;
        let rows = self.cells.len().div_ceil(self.columns) as u32;
        let width = cols * cell_w + (cols + 1) * self.padding;
        let height = rows * cell_h + (rows + 1) * self.padding;
        let mut canvas = RgbImage::from_pixel(width, height, Rgb(self.background));
        for (i, cell) in self.cells.iter().enumerate() {
            let (r, c) = ((i / self.columns) as u32, (i % self.columns) as u32);
            let x0 = self.padding + c * (cell_w + self.padding);
            let y0 = self.padding + r * (cell_h + self.padding);
            let tx = x0 + (cell_w - self.tile.0 - 2 * border) / 2;
            if let Some(color) = cell.border {
                let frame = RgbImage::from_pixel(
                    self.tile.0 + 2 * border,
                    self.tile.1 + 2 * border,
                    Rgb(color),
                );
                image::imageops::replace(&mut canvas, &frame, tx as i64, y0 as i64);
            }
            let tile = if cell.image.dimensions() == self.tile {
                cell.image.clone()
            } else {
                resize_nearest(&cell.image, self.tile.0, self.tile.1)
            };
            image::imageops::replace(
                &mut canvas,
                &tile,
                (tx + border) as i64,
                (y0 + border) as i64,
            );
            for (l, line) in cell.caption.iter().enumerate() {
                let y = y0 + self.tile.1 + 2 * border + 1 + l as u32 * (GLYPH_SIZE + 2);
                draw_text(&mut canvas, x0, y, line, [0, 0, 0]);
            }
        }
        Ok(canvas)
    }
}

/// Encode `image` as PNG at `path`. Refuses to replace an existing file unless `overwrite`.
pub fn save_png(image: &RgbImage, path: impl AsRef<Path>, overwrite: bool) -> Result<()> {
    let path = path.as_ref();
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| Error::Image {
            what: path.display().to_string(),
            reason: e.to_string(),
        })?;
    crate::io::write_new(path, &bytes, overwrite)
}
