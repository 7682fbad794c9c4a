//! Score a trained prototype network's own evidence ("this looks like that": similarity maps
//! weighted by the last layer) against post-hoc attributions of the same network, with the
//! same metrics.
//!
//! ```text
//! glassbox prototypes train --backbone runs/train --backbone-lr 1e-3 --epochs 7 \
//!     --last-layer-epochs 2 --push-cycles 3 --out runs/proto-cycles3          # once
//! cargo run --release -p glassbox --example prototype_scores [MODEL_DIR] [N]
//! ```
//!
//! Explains the first `N` (default 64) embedded test images for the network's predicted
//! class and prints a method × metric table (Markdown); writes `MODEL_DIR/scores.json` and
//! `.md` (refusing to overwrite them). Deletion/insertion use 16-pixel steps; the rest are the
//! metrics' defaults.

use std::path::PathBuf;

use glassbox::attribution::{IntegratedGradients, Lime, Occlusion, Rise, Saliency, Xrai};
use glassbox::core::checkpoint::{load_checkpoint_config, load_checkpoint_weights};
use glassbox::core::{Attribution, Classifier, Error, HostTensor, Target};
use glassbox::data::{FashionMnist, Split};
use glassbox::metrics::{
    Context, Deletion, FaithfulnessCorrelation, Insertion, Metric, MetricBatch, MetricTable,
    Sparseness,
};
use glassbox::prelude::*;
use glassbox::prototypes::PrototypeTrainConfig;
use glassbox::scoring::prototype_explainer;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "runs/proto-cycles3".into()));
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let out = dir.join("scores.json");
    if out.exists() {
        return Err(Error::AlreadyExists(out));
    }
    let device = parse_device("flex")?;
    let config: PrototypeTrainConfig = load_checkpoint_config(&dir)?;
    let model = load_checkpoint_weights(config.model.try_init(&device)?, &dir)?;
    let test = FashionMnist::embedded(Split::Test)?;
    let x = config
        .eval_batches()
        .batch_of(&test, &(0..n).collect::<Vec<_>>(), &device)?
        .images;
    let targets = Target::Predicted.resolve(&model.logits(x.clone()))?;
    let t = Target::PerSample(targets.clone());
    let inputs = HostTensor::from_tensor(&x);

    let metrics: Vec<Box<dyn Metric>> = vec![
        Box::new(Deletion {
            pixels_per_step: Some(16),
            ..Default::default()
        }),
        Box::new(Insertion {
            pixels_per_step: Some(16),
            ..Default::default()
        }),
        Box::new(FaithfulnessCorrelation::default()),
        Box::new(Sparseness::default()),
    ];
    let evidence = prototype_explainer(&model, &device);
    let ctx = Context::new(&model, &device).with_explainer(&evidence);
    let mut table = MetricTable::default();
    let mut score = |name: &str, relevance: HostTensor| -> Result<()> {
        let batch = MetricBatch::new(inputs.clone(), relevance, targets.clone())?;
        let results = metrics
            .iter()
            .map(|m| m.evaluate(&ctx, &batch))
            .collect::<Result<Vec<_>>>()?;
        table.push(name, &results)?;
        eprintln!("scored {name}");
        Ok(())
    };
    score(
        "prototype evidence (by design)",
        evidence(&model as &dyn Classifier, &inputs, &targets)?,
    )?;
    let baselines: Vec<Attribution> = vec![
        Saliency::default().attribute(&model, x.clone(), &t)?,
        IntegratedGradients::default().attribute(&model, x.clone(), &t)?,
        Occlusion::default().attribute(&model, x.clone(), &t)?,
        Rise::default().attribute(&model, x.clone(), &t)?,
        Xrai::default().attribute(&model, x.clone(), &t)?,
        Lime::default().attribute(&model, x.clone(), &t)?,
    ];
    for a in baselines {
        score(&a.method.clone(), HostTensor::from_tensor(&a.relevance))?;
    }
    let markdown = table.to_markdown();
    println!("{markdown}");
    let json = serde_json::to_string_pretty(&table).map_err(|source| Error::Json {
        what: "score table".into(),
        source,
    })?;
    std::fs::write(&out, json).map_err(|e| Error::io(&out, e))?;
    let md = dir.join("scores.md");
    std::fs::write(&md, markdown).map_err(|e| Error::io(&md, e))?;
    eprintln!("wrote {} and {}", out.display(), md.display());
    Ok(())
}
