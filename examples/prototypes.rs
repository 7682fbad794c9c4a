//! Train ProtoPNet (or ST-ProtoPNet with `st`) on SmallCnn with the embedded Fashion-MNIST
//! subset (10k train / 2k test) in a few minutes, print accuracy before/after push, and write
//! `runs/prototypes-example/{report.json, gallery.png, explanation.png}`.
//!
//! `cargo run --release -p glassbox --example prototypes [st] [joint_epochs]`

use glassbox::backbones::{ModelConfig, SmallCnnConfig};
use glassbox::data::{FashionMnist, Split};
use glassbox::prototypes::{
    PrototypeNetConfig, PrototypeTrainConfig, Variant, train_prototype_net,
};

fn main() -> glassbox::core::Result<()> {
    let device = burn::prelude::Device::flex();
    let mut args = std::env::args().skip(1);
    let variant = match args.next().as_deref() {
        Some("st") => Variant::StProtopnet,
        _ => Variant::Protopnet,
    };
    let train = FashionMnist::embedded(Split::Train)?;
    let test = FashionMnist::embedded(Split::Test)?;
    let model = PrototypeNetConfig::new(ModelConfig::SmallCnn(SmallCnnConfig::new()), variant, 10);
    let mut config = PrototypeTrainConfig::new(model);
    if let Some(e) = args.next().and_then(|a| a.parse().ok()) {
        config.joint_epochs = e;
    }
    let (_model, report) = train_prototype_net(&config, &train, Some(&test), &device)?;
    println!(
        "{variant:?}: test accuracy {:.2} % before push, {:.2} % after push, {:.2} % final ({:.0} s)",
        100.0 * report.accuracy_before_push.unwrap_or(f64::NAN),
        100.0 * report.accuracy_after_push.unwrap_or(f64::NAN),
        100.0 * report.accuracy_final.unwrap_or(f64::NAN),
        report.seconds
    );
    Ok(())
}
