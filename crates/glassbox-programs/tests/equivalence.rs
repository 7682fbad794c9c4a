//! The discretised model, the IR interpreter, the generated Python and the generated Rust
//! agree exactly, on briefly trained and on randomly initialised programs of every op kind.

use burn::prelude::*;
use glassbox_data::rasp::{Task, TaskData};
use glassbox_programs::verify::run_rust;
use glassbox_programs::{
    Language, Program, ProgramConfig, RenderOptions, TrainConfig, TransformerProgram,
    check_equivalence, render, train_program,
};

/// The program rendered in `language`.
fn source(program: &Program, language: Language, prune: bool) -> String {
    render(
        program,
        &RenderOptions {
            language,
            prune,
            title: "test",
        },
    )
}

fn check(
    task: Task,
    model: &TransformerProgram,
    cfg: &ProgramConfig,
    data: &TaskData,
    device: &Device,
) {
    let program = Program::extract(model, cfg).unwrap();
    let test = &data.test[..data.test.len().min(300)];
    let encoded = data.encode(test).unwrap();
    for prune in [true, false] {
        let py = source(&program, Language::Python, prune);
        let rs = source(&program, Language::Rust, prune);
        let eq = check_equivalence(
            model,
            &program,
            test,
            &encoded,
            Some(&py),
            Some(&rs),
            device,
        )
        .unwrap();
        assert!(eq.positions > 0);
        assert!(eq.exact(), "{task} (prune {prune}): {eq:?}");
    }
}

#[test]
fn random_programs_of_every_op_kind_are_extracted_exactly() {
    let device = Device::flex();
    for (task, seed) in [(Task::Sort, 1), (Task::Dyck2, 2)] {
        let data =
            TaskData::generate(&task.default_config().with_dataset_size(800).with_seed(seed))
                .unwrap();
        let mut cfg = ProgramConfig::for_task(task, &data);
        cfg.n_layers = 2;
        glassbox_core::seed(&device, seed);
        let model = TransformerProgram::init(&cfg, &device).unwrap();
        check(task, &model, &cfg, &data, &device);
    }
}

#[test]
fn a_causal_program_with_a_decision_table_is_extracted_exactly() {
    // The induction shape (two layers, one categorical head each, causal): its classifier's
    // varying terms take 10^4 combinations, so the generated Rust decides by table.
    let device = Device::flex();
    let data =
        TaskData::generate(&Task::Induction.default_config().with_dataset_size(800)).unwrap();
    let cfg = ProgramConfig::for_task(Task::Induction, &data);
    glassbox_core::seed(&device, 4);
    let model = TransformerProgram::init(&cfg, &device).unwrap();
    let program = Program::extract(&model, &cfg).unwrap();
    let rs = render(
        &program,
        &RenderOptions {
            language: Language::Rust,
            prune: true,
            title: "test",
        },
    );
    assert!(rs.contains("const CAUSAL: bool = true;"), "{rs}");
    assert!(rs.contains("let decision = decision();"), "{rs}");
    check(Task::Induction, &model, &cfg, &data, &device);
}

#[test]
fn decision_and_group_tables_with_numerical_terms_are_exact() {
    // Numerical heads and nothing else. With one, the generated Rust's classifier is a
    // decision table over tokens, positions and the head's count (`ones` is constant); with
    // five the decision table would be too large (64 · 9^5 entries), and the fast path sums
    // groups: tokens, positions and `ones`, then two counts at a time.
    let device = Device::flex();
    let data = TaskData::generate(&Task::Hist.default_config().with_dataset_size(800)).unwrap();
    for (heads, expected) in [
        (
            1,
            "decision[((tokens[i] as usize % K) * 8 + positions[i] as usize % K) * 9 + (num_attn_0_0_outputs[i] as usize).min(8)]",
        ),
        (
            5,
            "let group_1: [u16; N_CTX] = std::array::from_fn(|i| (((num_attn_0_0_outputs[i] as usize).min(8)) * 9 + (num_attn_0_1_outputs[i] as usize).min(8)) as u16);",
        ),
    ] {
        let mut cfg = ProgramConfig::for_task(Task::Hist, &data);
        (
            cfg.n_heads_cat,
            cfg.n_heads_num,
            cfg.n_cat_mlps,
            cfg.n_num_mlps,
        ) = (0, heads, 0, 0);
        glassbox_core::seed(&device, 3);
        let model = TransformerProgram::init(&cfg, &device).unwrap();
        let rs = source(
            &Program::extract(&model, &cfg).unwrap(),
            Language::Rust,
            true,
        );
        assert!(rs.contains(expected), "{heads} heads: {rs}");
        check(Task::Hist, &model, &cfg, &data, &device);
    }
}

#[test]
fn a_briefly_trained_program_is_extracted_exactly() {
    let device = Device::flex();
    let data = TaskData::generate(&Task::Hist.default_config().with_dataset_size(1500)).unwrap();
    let cfg = ProgramConfig::for_task(Task::Hist, &data);
    let train = TrainConfig {
        epochs: 4,
        seed: 1,
        ..TrainConfig::default()
    };
    let (model, report) = train_program(&cfg, &train, &data, &device).unwrap();
    assert_eq!(report.loss_history.len(), 4);
    check(Task::Hist, &model, &cfg, &data, &device);
}

#[test]
fn close_calls_are_scored_in_the_models_order() {
    // The generated Rust scores from pre-summed groups of terms (another order of f32
    // additions than the model's) and re-scores in the model's order when the best class
    // does not lead by its margin. Two classifiers where that order decides, with every
    // other row zero:
    // - ties: classes a and b score 1 for every term; the model breaks the tie to a;
    // - rounding: a scores 2^24 for the first term and 1 for each other, b 2^24 + 2 for the
    //   first term only. In the model's order each +1 is rounded away (a = 2^24 < b), but
    //   summed in groups first the ones survive (a > b): b only if the close call is
    //   scored again in the model's order.
    let device = Device::flex();
    let data = TaskData::generate(&Task::Sort.default_config().with_dataset_size(800)).unwrap();
    let mut cfg = ProgramConfig::for_task(Task::Sort, &data);
    cfg.n_layers = 2;
    glassbox_core::seed(&device, 5);
    let model = TransformerProgram::init(&cfg, &device).unwrap();
    let base = Program::extract(&model, &cfg).unwrap();
    let kept: Vec<usize> = (0..base.classes.len())
        .filter(|c| !base.masked_classes.contains(c))
        .collect();
    let (a, b) = (kept[0], kept[1]);
    let inputs: Vec<Vec<String>> = data.test.iter().map(|e| e.tokens.clone()).collect();
    let big = 16_777_216.0f32;
    for (rounding, winner) in [(false, a), (true, b)] {
        let mut program = base.clone();
        for (v, rows) in program.classifier.cat.iter_mut().enumerate() {
            for row in rows.iter_mut() {
                row.fill(0.0);
                (row[a], row[b]) = match (rounding, v) {
                    (false, _) => (1.0, 1.0),
                    (true, 0) => (big, big + 2.0),
                    (true, _) => (1.0, 0.0),
                };
            }
        }
        for row in program.classifier.num.iter_mut() {
            row.fill(0.0);
        }
        let rs = source(&program, Language::Rust, true);
        assert!(rs.contains("match clear_argmax(&acc, MARGIN)"), "{rs}");
        let expected: Vec<Vec<String>> = inputs
            .iter()
            .map(|t| program.run(&t.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            expected
                .iter()
                .flatten()
                .all(|p| *p == base.classes[winner]),
            "rounding {rounding}: the interpreter should always pick class {winner}"
        );
        let got = run_rust(&rs, &inputs).unwrap();
        let wrong = got.iter().zip(&expected).filter(|(g, e)| g != e).count();
        assert_eq!(
            wrong, 0,
            "rounding {rounding}: sequences scored differently"
        );
        assert_eq!(got.len(), expected.len());
    }
}
