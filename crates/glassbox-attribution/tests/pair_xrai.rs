//! XRAI against its reference code (PAIR's `saliency` 0.2.1) and Felzenszwalb against
//! scikit-image 0.26.
//!
//! `fixtures/xrai.json` was written by `xtask/peers/pair_xrai.py` (run by `cargo xtask compare
//! attribution`), all inputs from numpy's `default_rng(1)` rounded to four decimals:
//! `skimage.segmentation.felzenszwalb` labels of three smooth random images (grey and RGB) at
//! four parameter sets; XRAI's six-scale dilated segmentation (`_get_segments_felzenszwalb`
//! with `resize_image=False`) of two images; `XRAI.GetMaskWithDetails` rankings given a
//! two-channel base attribution and 25 random rectangles, at four (area threshold,
//! min_pixel_diff) settings; and the whole method (20 IG steps over min/max baselines) on a
//! closed-form model f_k(x) = <W_k, x> + ½<V_k, x>² over 1×32×34 inputs. Segmentations,
//! region masks and ranks must agree exactly; the saliency to 1e-6 relative given the base
//! attribution, 1e-4 relative through our float32 gradients.

use burn::prelude::*;
use glassbox_attribution::xrai::rank_regions;
use glassbox_attribution::{Felzenszwalb, Xrai, XraiSegmentation};
use glassbox_core::Target;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/xrai.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

mod common;
use common::floats64 as floats;

/// `[C, H, W]` of a nested JSON array.
fn dims3(v: &Value) -> [usize; 3] {
    let c = v.as_array().unwrap();
    let h = c[0].as_array().unwrap();
    [c.len(), h.len(), h[0].as_array().unwrap().len()]
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn masks(v: &Value) -> Vec<Vec<bool>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().bytes().map(|b| b == b'1').collect())
        .collect()
}

fn unsized_segmentation() -> XraiSegmentation {
    XraiSegmentation {
        resize: None,
        ..XraiSegmentation::default()
    }
}

/// The map is constant on each ranked region: compare pixel by pixel through the ranks.
fn assert_saliency(got: &[f64], ranks: &[usize], rank_values: &[f64], rel: f64, what: &str) {
    let scale = rank_values.iter().fold(1e-9f64, |m, v| m.max(v.abs()));
    for (i, (g, r)) in got.iter().zip(ranks).enumerate() {
        let want = rank_values[r - 1];
        assert!(
            (g - want).abs() <= rel * scale,
            "{what}, pixel {i}: {g} vs {want}"
        );
    }
}

#[test]
fn felzenszwalb_matches_scikit_image() {
    let f = fixture();
    let mut segments = 0;
    for entry in f["felzenszwalb"].as_array().unwrap() {
        let dims = dims3(&entry["image"]);
        let image = floats(&entry["image"]);
        for case in entry["cases"].as_array().unwrap() {
            let method = Felzenszwalb {
                scale: case["scale"].as_f64().unwrap(),
                sigma: case["sigma"].as_f64().unwrap(),
                min_size: case["min_size"].as_u64().unwrap() as usize,
            };
            let got = method.segment(&image, dims).unwrap();
            let want = usizes(&case["labels"]);
            assert_eq!(
                got.count,
                want.iter().max().unwrap() + 1,
                "{method:?} {dims:?}"
            );
            assert_eq!(got.labels, want, "{method:?} {dims:?}");
            segments += got.count;
        }
    }
    // The cases span one segment per image up to hundreds.
    assert!(segments > 1000, "{segments}");
}

#[test]
fn xrai_candidate_regions_match_the_reference() {
    let f = fixture();
    for entry in f["segments"].as_array().unwrap() {
        let dims = dims3(&entry["image"]);
        let got = unsized_segmentation()
            .masks(&floats(&entry["image"]), dims)
            .unwrap();
        let want = masks(&entry["masks"]);
        assert_eq!(got.len(), want.len(), "{dims:?}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(g == w, "{dims:?}: mask {i} differs");
        }
    }
}

#[test]
fn xrai_ranking_matches_the_reference() {
    let f = fixture();
    for entry in f["ranking"].as_array().unwrap() {
        let [c, h, w] = dims3(&entry["attribution"]);
        let attr = floats(&entry["attribution"]);
        // The reference merges channels by their maximum.
        let merged: Vec<f64> = (0..h * w)
            .map(|p| {
                (0..c)
                    .map(|ch| attr[ch * h * w + p])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let candidates = masks(&entry["masks"]);
        for case in entry["cases"].as_array().unwrap() {
            let area = case["area_threshold"].as_f64().unwrap();
            let min_diff = case["min_pixel_diff"].as_u64().unwrap() as usize;
            let got = rank_regions(&merged, &candidates, area, min_diff).unwrap();
            let ranks = usizes(&case["ranks"]);
            let what = format!("area {area}, min_pixel_diff {min_diff}");
            assert_eq!(got.ranks, ranks, "{what}");
            assert_eq!(got.regions, *ranks.iter().max().unwrap(), "{what}");
            let values = floats(&case["rank_values"]);
            assert_saliency(&got.saliency, &ranks, &values, 1e-6, &what);
        }
    }
}

#[test]
fn xrai_end_to_end_matches_the_reference() {
    let f = fixture();
    let full = &f["full"];
    let dev = Device::flex();
    let d = 32 * 34;
    let to_f32 = |v: &Value| floats(v).iter().map(|x| *x as f32).collect::<Vec<_>>();
    let w = Tensor::<2>::from_data(TensorData::new(to_f32(&full["W"]), [3, d]), &dev);
    let v = Tensor::<2>::from_data(TensorData::new(to_f32(&full["V"]), [3, d]), &dev);
    let model = move |x: Tensor<4>| {
        let x = x.flatten::<2>(1, 3);
        let q = x.clone().matmul(v.clone().transpose());
        x.matmul(w.clone().transpose()) + q.clone() * q * 0.5
    };
    let inputs = Tensor::<4>::from_data(
        TensorData::new(to_f32(&full["inputs"]), [2, 1, 32, 34]),
        &dev,
    );
    let targets = usizes(&full["targets"]);
    let xrai = Xrai::default()
        .with_steps(full["steps"].as_u64().unwrap() as usize)
        .with_segmentation(unsized_segmentation());
    let (attribution, regions) = xrai
        .attribute_with_regions(&model, inputs, &Target::PerSample(targets.clone()))
        .unwrap();
    assert_eq!(attribution.relevance.dims(), [2, 1, 32, 34]);
    assert_eq!(attribution.targets, targets);
    for (i, (got, want)) in regions
        .iter()
        .zip(full["results"].as_array().unwrap())
        .enumerate()
    {
        let ranks = usizes(&want["ranks"]);
        assert_eq!(got.ranks, ranks, "input {i}");
        let values = floats(&want["rank_values"]);
        assert_saliency(&got.saliency, &ranks, &values, 1e-4, &format!("input {i}"));
    }
}

#[test]
fn xrai_errors_on_bad_settings_and_shapes() {
    let dev = Device::flex();
    let model = |x: Tensor<4>| x.flatten::<2>(1, 3).slice(s![.., 0..2]);
    let x = Tensor::<4>::ones([1, 1, 4, 4], &dev);
    assert!(
        Xrai::default()
            .with_steps(0)
            .attribute(&model, x.clone(), &Target::Class(0))
            .is_err()
    );
    assert!(
        Xrai::default()
            .with_min_pixel_diff(0)
            .attribute(&model, x.clone(), &Target::Class(0))
            .is_err()
    );
    assert!(
        Xrai::default()
            .attribute(&model, x.clone(), &Target::Class(5))
            .is_err()
    );
    let bad_base = Tensor::<4>::ones([1, 1, 3, 4], &dev);
    assert!(Xrai::default().regions(x, bad_base).is_err());
}
