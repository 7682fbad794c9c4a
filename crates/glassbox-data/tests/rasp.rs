//! The sequence-task generators against their definitions.

use glassbox_data::rasp::{BOS, EOS, PAD, Task, TaskData, UNK};

fn small(task: Task, size: usize, seed: u64) -> TaskData {
    TaskData::generate(
        &task
            .default_config()
            .with_dataset_size(size)
            .with_seed(seed),
    )
    .unwrap()
}

#[test]
fn splits_are_disjoint_reproducible_and_sized_like_the_reference() {
    let data = small(Task::Hist, 2000, 3);
    assert_eq!(
        (data.train.len(), data.val.len(), data.test.len()),
        (1620, 180, 200)
    );
    let again = small(Task::Hist, 2000, 3);
    assert_eq!(data.test, again.test);
    let other = small(Task::Hist, 2000, 4);
    assert_ne!(data.test, other.test);
    let mut all: Vec<_> = data
        .train
        .iter()
        .chain(&data.val)
        .chain(&data.test)
        .map(|e| e.tokens.join(" "))
        .collect();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "inputs must be unique");
    assert_eq!(
        data.input_vocab,
        ["<pad>", "0", "1", "2", "3", "4", "5", "<s>"]
    );
    // Counts 1..=7 (a count of 7 needs 7 equal tokens, rare in 2,000 samples).
    assert_eq!(data.classes[..7], ["<pad>", "1", "2", "3", "4", "5", "6"]);
    assert_eq!(data.n_ctx, 8);
}

#[test]
fn reverse_and_sort_follow_their_definition_and_run_out_of_distinct_inputs() {
    for task in [Task::Reverse, Task::Sort] {
        let data = small(task, 20_000, 0);
        // 5 symbols, lengths 1..=6: 19,530 strings exist; 100,000 draws find about 14k of them
        // (the spec's estimate for the reference).
        let total = data.train.len() + data.val.len() + data.test.len();
        assert!((13_500..15_000).contains(&total), "{task}: {total}");
        for ex in &data.test {
            let n = ex.tokens.len();
            assert_eq!(ex.tokens[0], BOS);
            assert_eq!(ex.tokens[n - 1], EOS);
            assert_eq!(
                (ex.targets[0].as_str(), ex.targets[n - 1].as_str()),
                (PAD, PAD)
            );
            let mut body = ex.tokens[1..n - 1].to_vec();
            if task == Task::Reverse {
                body.reverse()
            } else {
                body.sort()
            }
            assert_eq!(body, ex.targets[1..n - 1]);
        }
        assert_eq!(data.n_ctx, 8);
    }
}

#[test]
fn dyck_inputs_have_length_16_and_both_kinds_of_strings() {
    let data = small(Task::Dyck2, 1000, 1);
    assert_eq!(data.n_ctx, 16);
    assert_eq!(data.input_vocab, ["<pad>", "(", ")", "<s>", "{", "}"]);
    assert_eq!(data.classes, ["<pad>", "F", "P", "T"]);
    let never_broken = data
        .train
        .iter()
        .filter(|e| !e.targets.contains(&"F".to_string()))
        .count();
    assert!(
        never_broken > 100,
        "balanced samples are half of the draws: {never_broken}"
    );
}

#[test]
fn induction_targets_recall_the_earlier_number() {
    let data = small(Task::Induction, 2000, 2);
    assert_eq!(data.n_ctx, 10);
    assert!(data.classes.contains(&UNK.to_string()));
    for ex in &data.test {
        assert_eq!(ex.tokens.len(), 10);
        for (i, (t, y)) in ex.tokens.iter().zip(&ex.targets).enumerate() {
            if t.chars().all(|c| c.is_ascii_lowercase()) {
                let earlier = (0..i).find(|&j| &ex.tokens[j] == t);
                match earlier {
                    Some(j) => assert_eq!(y, &ex.tokens[j + 1]),
                    None => assert_eq!(y, UNK),
                }
            } else {
                assert_eq!(y, PAD);
            }
        }
    }
}

#[test]
fn encoding_pads_and_rejects_unknown_tokens() {
    let data = small(Task::Hist, 500, 0);
    let enc = data.encode(&data.test).unwrap();
    assert_eq!(enc.tokens.len(), data.test.len() * 8);
    let mut bad = data.test[0].clone();
    bad.tokens[1] = "x".into();
    let err = data.encode(&[bad]).unwrap_err().to_string();
    assert!(err.contains("`x`"), "{err}");
    assert!("sorting".parse::<Task>().is_err());
    assert_eq!("most-freq".parse::<Task>().unwrap(), Task::MostFreq);
}
