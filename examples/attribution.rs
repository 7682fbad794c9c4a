//! Explain a trained SmallCnn with every post-hoc baseline and save a comparison sheet.
//!
//! ```text
//! cargo run --release -p glassbox-cli -- train            # writes runs/train (once)
//! cargo run --release -p glassbox --example attribution  # (re)writes runs/attribution.png + .json
//! ```
//!
//! Without `runs/train` the example trains a quick 1-epoch model first. Rows are test images;
//! columns are the input and the relevance of Saliency, Input×Gradient, Integrated Gradients,
//! SmoothGrad, Grad-CAM, Occlusion, RISE, XRAI and LIME for the predicted class, overlaid on the
//! image.

use std::path::Path;

use burn::prelude::*;
use glassbox::attribution::{
    GradCam, InputXGradient, IntegratedGradients, Lime, Occlusion, Rise, Saliency, SmoothGrad, Xrai,
};
use glassbox::classification::{TrainConfig, train_classifier};
use glassbox::core::checkpoint::{load_checkpoint_config, load_checkpoint_weights};
use glassbox::core::render::{
    Colormap, ImageGrid, Normalization, heatmap, overlay, resize_nearest, save_png,
};
use glassbox::core::{Attribution, Explanation, HostTensor};
use glassbox::data::fashion_mnist::SHORT_NAMES;
use glassbox::prelude::*;

fn main() -> Result<()> {
    let device = parse_device("flex")?;
    let test = FashionMnist::embedded(Split::Test)?;
    let ckpt = Path::new("runs/train");
    let (model, config) = if ckpt.join("model.bpk").exists() {
        let config: TrainConfig = load_checkpoint_config(ckpt)?;
        (
            load_checkpoint_weights(config.model.init(&device), ckpt)?,
            config,
        )
    } else {
        eprintln!("no runs/train checkpoint; training a quick 1-epoch model");
        let mut config = TrainConfig::default();
        config.fit.epochs = 1;
        let train = FashionMnist::embedded(Split::Train)?;
        (train_classifier(&config, &train, None, &device)?.0, config)
    };

    // One image of each of the first 8 classes.
    let indices: Vec<usize> = (0..8u8)
        .filter_map(|c| test.labels().iter().position(|&l| l == c))
        .collect();
    let batch = config.eval_batches(8).batch_of(&test, &indices, &device)?;
    let x = batch.images;
    let target = Target::Predicted;
    let methods: Vec<Attribution> = vec![
        Saliency::default().attribute(&model, x.clone(), &target)?,
        InputXGradient.attribute(&model, x.clone(), &target)?,
        IntegratedGradients::default().attribute(&model, x.clone(), &target)?,
        SmoothGrad::default().attribute(&model, x.clone(), &target)?,
        GradCam::default().attribute(&model, x.clone(), &target)?,
        Occlusion::default().attribute(&model, x.clone(), &target)?,
        Rise::default().attribute(&model, x.clone(), &target)?,
        Xrai::default().attribute(&model, x.clone(), &target)?,
        Lime::default().attribute(&model, x.clone(), &target)?,
    ];

    let mut grid = ImageGrid::new(1 + methods.len(), 84, 84);
    for (row, &i) in indices.iter().enumerate() {
        let pixels: Vec<f32> = test.image(i).iter().map(|&v| v as f32 / 255.0).collect();
        let base = heatmap(&pixels, 28, 28, Colormap::Grey, Normalization::Identity)?;
        let base = resize_nearest(&base, 84, 84);
        let pred = methods[0].targets[row];
        grid.push(
            base.clone(),
            &[&format!("P:{}", SHORT_NAMES[pred]), "input"],
            None,
        );
        for a in &methods {
            let map = HostTensor::from_tensor(&a.pixel_map().slice(s![row..row + 1]));
            let heat = heatmap(
                &map.values,
                28,
                28,
                Colormap::Inferno,
                Normalization::MinMax,
            )?;
            grid.push(
                overlay(&base, &heat, 0.6)?,
                &["", &a.method[..a.method.len().min(10)]],
                None,
            );
        }
    }
    save_png(&grid.render()?, "runs/attribution.png", true)?;
    let json: Vec<_> = methods.iter().map(|a| a.to_record()).collect();
    let text = serde_json::to_string(&json).map_err(|source| Error::Json {
        what: "attributions".into(),
        source,
    })?;
    glassbox::core::io::write_new(Path::new("runs/attribution.json"), text.as_bytes(), true)?;
    println!("wrote runs/attribution.png and runs/attribution.json");
    Ok(())
}
