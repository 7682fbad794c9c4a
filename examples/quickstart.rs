//! Quickstart: the shortest complete glassbox program.
//!
//! Loads Fashion-MNIST (the subset embedded in the crate, so no files are needed), trains a
//! small CNN, evaluates it, saves a checkpoint, reloads it and predicts a few test images.
//!
//! ```text
//! cargo run --release -p glassbox --example quickstart            # 3 epochs, ~1-2 min on 2 cores
//! cargo run --release -p glassbox --example quickstart -- 8       # more epochs, better accuracy
//! ```

use glassbox::classification::{TrainConfig, evaluate_classifier, train_classifier};
use glassbox::core::checkpoint::{
    load_checkpoint_config, load_checkpoint_weights, save_checkpoint,
};
use glassbox::data::fashion_mnist::CLASS_NAMES;
use glassbox::prelude::*;

fn main() -> glassbox::core::Result<()> {
    let epochs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);

    // 1. Pick a device. `parse_device` accepts flex | ndarray | wgpu | cuda and tells you
    //    which Cargo feature to enable if that backend was not compiled in.
    let device = parse_device("flex")?;

    // 2. Load data: 10,000 training and 2,000 test images, 28×28 grey, 10 classes.
    //    For the full 60k/10k set: FashionMnist::from_dir("/usr/share/datasets/fashion-mnist", ..).
    let train = FashionMnist::embedded(Split::Train)?;
    let test = FashionMnist::embedded(Split::Test)?;

    // 3. Configure and train. Every hyper-parameter lives in one serde-able config.
    let mut config = TrainConfig::default();
    config.fit.epochs = epochs;
    let (model, history) = train_classifier(&config, &train, None, &device)?;
    println!(
        "trained {} epochs, final loss {:.4}",
        history.len(),
        history[epochs - 1].train_loss
    );

    // 4. Evaluate on the test split: accuracy, per-class accuracy, confusion matrix.
    let eval = evaluate_classifier(&model, &test, &config.eval_batches(256), &device)?;
    println!("test accuracy: {:.2}%", 100.0 * eval.accuracy);

    // 5. Save weights (burnpack) + config (JSON). Refuses to overwrite an existing checkpoint,
    //    so we use a fresh temporary directory here.
    let dir = std::env::temp_dir().join(format!("glassbox-quickstart-{}", std::process::id()));
    save_checkpoint(&model, &config, &dir, false)?;
    println!("saved to {}", dir.display());

    // 6. Reload: rebuild the model from its saved config, then load the weights into it.
    let config: TrainConfig = load_checkpoint_config(&dir)?;
    let reloaded = load_checkpoint_weights(config.model.init(&device), &dir)?;

    // 7. Predict the first five test images. Inputs must be normalised like training data;
    //    `eval_batches` carries that normalisation.
    let batch = config
        .eval_batches(5)
        .batch_of(&test, &[0, 1, 2, 3, 4], &device)?;
    let logits = reloaded.try_forward(batch.images)?; // validates shape and NaN first
    let predicted = glassbox::classification::argmax_rows(logits)?;
    for (i, p) in predicted.iter().enumerate() {
        let truth = test.labels()[i] as usize;
        println!(
            "image {i}: predicted {:<12} true {}",
            CLASS_NAMES[*p], CLASS_NAMES[truth]
        );
    }
    std::fs::remove_dir_all(&dir).map_err(|e| glassbox::core::Error::io(&dir, e))?;
    Ok(())
}
