//! The committed hist fixture: a model trained with `glassbox program train --task hist
//! --seed 1` (250 epochs, flex) and the program extracted from it. The sources must be exactly
//! what the extractor renders today, and the compiled-in Rust program must agree with the
//! model on the whole test split.

#[rustfmt::skip] // generated code: kept byte-identical to what the extractor renders
#[path = "../fixtures/hist/program.rs"]
mod program;

use std::path::Path;

use burn::prelude::*;
use glassbox_data::rasp::TaskData;
use glassbox_programs::artifacts::load_model;
use glassbox_programs::verify::model_predictions;
use glassbox_programs::{Language, Program, RenderOptions, accuracy, render};

#[test]
fn fixture_program_is_current_and_agrees_with_its_model() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hist");
    let device = Device::flex();
    let (model, run) = load_model(&dir, &device).unwrap();
    let program = Program::extract(&model, &run.model).unwrap();
    let saved: Program =
        serde_json::from_str(&std::fs::read_to_string(dir.join("program.json")).unwrap()).unwrap();
    assert_eq!(
        program, saved,
        "program.json is stale: re-run `glassbox program extract --overwrite`"
    );
    for (lang, file) in [
        (Language::Python, "program.py"),
        (Language::Rust, "program.rs"),
    ] {
        let text = render(
            &program,
            &RenderOptions {
                language: lang,
                prune: true,
                title: "hist",
            },
        );
        let saved = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            text == saved,
            "{file} is stale: re-run `glassbox program extract --overwrite`"
        );
    }
    let data = TaskData::generate(&run.data).unwrap();
    let encoded = data.encode(&data.test).unwrap();
    // The paper's hist accuracy is 100.0; this seed's program is within 0.2 points.
    assert!(accuracy(&model, &encoded, &device) > 0.998);
    let expected = model_predictions(&model, &program, &data.test, &encoded, &device);
    for (ex, want) in data.test.iter().zip(&expected) {
        let tokens: Vec<&str> = ex.tokens.iter().map(String::as_str).collect();
        let got = program::run(&tokens).unwrap();
        assert_eq!(&got, want, "{tokens:?}");
    }
    assert!(program::run(&["<s>", "9"]).unwrap_err().contains("`9`"));
}
