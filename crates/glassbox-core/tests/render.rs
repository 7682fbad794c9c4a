//! Colormaps, heatmaps, overlays, grids and PNG output.

use glassbox_core::Error;
use glassbox_core::render::{
    Colormap, ImageGrid, Normalization, heatmap, normalize, overlay, save_png,
};
use image::{Rgb, RgbImage};

#[test]
fn colormap_endpoints_match_matplotlib() {
    assert_eq!(Colormap::Viridis.color(0.0), [68, 1, 84]);
    assert_eq!(Colormap::Viridis.color(1.0), [253, 231, 37]);
    assert_eq!(Colormap::Grey.color(0.5), [128, 128, 128]);
    assert_eq!(Colormap::RedBlue.color(0.5), [247, 247, 247]);
    // Out-of-range and NaN inputs clamp instead of panicking.
    assert_eq!(Colormap::Inferno.color(7.0), Colormap::Inferno.color(1.0));
    assert_eq!(
        Colormap::Inferno.color(f32::NAN),
        Colormap::Inferno.color(0.0)
    );
}

#[test]
fn normalisation_modes() {
    assert_eq!(
        normalize(&[1.0, 3.0, 2.0], Normalization::MinMax),
        vec![0.0, 1.0, 0.5]
    );
    assert_eq!(
        normalize(&[5.0, 5.0], Normalization::MinMax),
        vec![0.0, 0.0]
    );
    assert_eq!(
        normalize(&[-2.0, 0.0, 1.0], Normalization::Symmetric),
        vec![0.0, 0.5, 0.75]
    );
}

#[test]
fn heatmap_checks_inputs() {
    let img = heatmap(
        &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        3,
        2,
        Colormap::Grey,
        Normalization::MinMax,
    )
    .unwrap();
    assert_eq!(img.dimensions(), (3, 2));
    assert_eq!(img.get_pixel(0, 0), &Rgb([0, 0, 0]));
    assert_eq!(img.get_pixel(2, 1), &Rgb([255, 255, 255]));
    assert!(matches!(
        heatmap(&[0.0; 5], 3, 2, Colormap::Grey, Normalization::MinMax),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        heatmap(
            &[0.0, f32::NAN],
            2,
            1,
            Colormap::Grey,
            Normalization::MinMax
        ),
        Err(Error::NonFinite { count: 1, .. })
    ));
}

#[test]
fn overlay_blends_and_resizes() {
    let base = RgbImage::from_pixel(8, 8, Rgb([0, 0, 0]));
    let heat = RgbImage::from_pixel(2, 2, Rgb([200, 100, 0]));
    let out = overlay(&base, &heat, 0.5).unwrap();
    assert_eq!(out.dimensions(), (8, 8));
    assert_eq!(out.get_pixel(4, 4), &Rgb([100, 50, 0]));
    assert!(matches!(overlay(&base, &heat, 1.5), Err(Error::Config(_))));
}

#[test]
fn grid_png_decodes_back_to_its_size() {
    let mut grid = ImageGrid::new(3, 10, 12);
    for i in 0..5u8 {
        grid.push(
            RgbImage::from_pixel(5, 6, Rgb([i * 40, 0, 0])),
            &["ab", "c"],
            Some([0, 255, 0]),
        );
    }
    let img = grid.render().unwrap();
    let dir = std::env::temp_dir().join(format!("glassbox-render-{}", std::process::id()));
    let path = dir.join("grid.png");
    let _ = std::fs::remove_dir_all(&dir);
    save_png(&img, &path, false).unwrap();
    let decoded = image::open(&path).unwrap().to_rgb8();
    assert_eq!(decoded.dimensions(), img.dimensions());
    assert_eq!(decoded, img);
    // Cells are as wide as the widest of tile + 2·2 border (14) and caption ("ab" = 2 glyphs
    // of 8 = 16): 3 columns × 16 + 4 paddings of 4; 2 rows × (12 + 4 + 2 caption lines × 10)
    // + 3 paddings.
    assert_eq!(img.dimensions(), (3 * 16 + 4 * 4, 2 * (16 + 20) + 3 * 4));
    assert!(matches!(
        save_png(&img, &path, false),
        Err(Error::AlreadyExists(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(
        ImageGrid::new(2, 4, 4).render(),
        Err(Error::Empty(_))
    ));
}
