//! Train → save → extract → load round trip, with the no-overwrite guarantees.

use burn::prelude::*;
use glassbox_data::rasp::Task;
use glassbox_programs::Program;
use glassbox_programs::TrainConfig;
use glassbox_programs::artifacts::load_model;
use glassbox_programs::pipeline::{extract_saved, train_to_dir};

#[test]
fn train_extract_reload_and_refuse_to_overwrite() {
    let device = Device::flex();
    let dir =
        std::env::temp_dir().join(format!("glassbox-programs-pipeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let train = TrainConfig {
        epochs: 2,
        seed: 3,
        ..TrainConfig::for_task(Task::Induction)
    };
    let (report, extract) =
        train_to_dir(Task::Induction, &train, None, &dir, true, false, &device).unwrap();
    assert!(extract.equivalence.exact(), "{:?}", extract.equivalence);
    assert_eq!(extract.equivalence.sequences, 2000);
    assert!((extract.test_accuracy - report.test_accuracy).abs() < 1e-12);
    for f in [
        "model.bpk",
        "config.json",
        "report.json",
        "program.py",
        "program.rs",
        "program.json",
        "extract.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    // Nothing a user saved is replaced silently.
    let again =
        train_to_dir(Task::Induction, &train, None, &dir, false, false, &device).unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
    let extract_again = extract_saved(&dir, false, false, &device).unwrap_err();
    assert!(
        extract_again.to_string().contains("already exists"),
        "{extract_again}"
    );
    // A reloaded model extracts to the same program.
    let (model, run) = load_model(&dir, &device).unwrap();
    let saved: Program =
        serde_json::from_str(&std::fs::read_to_string(dir.join("program.json")).unwrap()).unwrap();
    assert_eq!(Program::extract(&model, &run.model).unwrap(), saved);
    // Bad input to the program is a clear error.
    let err = saved.run(&["<s>", "z"]).unwrap_err().to_string();
    assert!(err.contains("`z`"), "{err}");
    assert!(saved.run(&[]).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generated_sources_reject_tokens_outside_the_vocabulary() {
    use glassbox_programs::verify::{run_python, run_rust};
    use glassbox_programs::{Language, RenderOptions, render};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hist");
    let program: Program =
        serde_json::from_str(&std::fs::read_to_string(dir.join("program.json")).unwrap()).unwrap();
    let bad = vec![vec!["<s>".to_string(), "7".to_string()]];
    for language in [Language::Python, Language::Rust] {
        let src = render(
            &program,
            &RenderOptions {
                language,
                prune: true,
                title: "hist",
            },
        );
        let err = match language {
            Language::Python => run_python(&src, &bad),
            Language::Rust => run_rust(&src, &bad),
        }
        .unwrap_err()
        .to_string();
        assert!(err.contains("not in the vocabulary"), "{language:?}: {err}");
    }
}
