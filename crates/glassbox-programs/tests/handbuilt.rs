//! A hand-written histogram program compiled into model weights: the discrete model, the
//! extracted program and the interpreter must all be perfect.

use burn::module::Param;
use burn::prelude::*;
use glassbox_data::rasp::{Task, TaskData};
use glassbox_programs::{Op, Program, ProgramConfig, TransformerProgram, accuracy};

fn one_hot_rows(
    rows: usize,
    cols: usize,
    pick: impl Fn(usize) -> usize,
    device: &Device,
) -> Tensor<2> {
    let data: Vec<f32> = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .map(|(r, c)| if c == pick(r) { 10.0 } else { 0.0 })
        .collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// hist = `aggregate_sum(select(tokens, tokens, ==), ones)`; the classifier scores class `c`
/// (the count `v_c`) as `count·v_c − v_c²/2`, maximal exactly at `count = v_c`.
pub fn hist_by_hand(cfg: &ProgramConfig, device: &Device) -> TransformerProgram {
    let mut model = TransformerProgram::init(cfg, device).unwrap();
    let k = cfg.d_var;
    let att = model.blocks[0].num_attn.as_mut().unwrap();
    let h = att.query.val().dims()[0];
    let m = att.query.val().dims()[1];
    att.query = Param::from_tensor(one_hot_rows(h, m, |_| 0, device));
    att.key = Param::from_tensor(one_hot_rows(h, m, |_| 0, device));
    att.value = Param::from_tensor(one_hot_rows(h, 1, |_| 0, device));
    let ident: Vec<f32> = (0..h * k * k)
        .map(|i| if (i / k) % k == i % k { 10.0 } else { 0.0 })
        .collect();
    att.predicate =
        Param::from_tensor(Tensor::from_data(TensorData::new(ident, [h, k, k]), device));
    let [d, c] = model.unembed.val().dims();
    let mut w = vec![0.0f32; d * c];
    let ones_row = d - 1 - h; // numerical stream: ones, then the h heads
    for (ci, class) in cfg.classes.iter().enumerate() {
        let Ok(v) = class.parse::<f32>() else {
            continue;
        };
        w[(ones_row + 1) * c + ci] = v; // head 0 counts
        w[ones_row * c + ci] = -v * v / 2.0;
    }
    model.unembed = Param::from_tensor(Tensor::from_data(TensorData::new(w, [d, c]), device));
    model
}

#[test]
fn hand_built_hist_is_perfect_as_model_and_as_program() {
    let data = TaskData::generate(&Task::Hist.default_config().with_dataset_size(2000)).unwrap();
    let cfg = ProgramConfig::for_task(Task::Hist, &data);
    let device = Device::flex();
    let model = hist_by_hand(&cfg, &device);
    let test = data.encode(&data.test).unwrap();
    assert_eq!(accuracy(&model, &test, &device), 1.0);
    let program = Program::extract(&model, &cfg).unwrap();
    let count = program.ops.iter().find_map(|op| match op {
        Op::Count {
            at: (0, 0),
            query,
            key,
            value,
            predicate,
            ..
        } => Some((*query, *key, *value, predicate.clone())),
        _ => None,
    });
    assert_eq!(count, Some((0, 0, 0, (0..cfg.d_var).collect())));
    for ex in &data.test {
        let tokens: Vec<&str> = ex.tokens.iter().map(String::as_str).collect();
        let out = program.run(&tokens).unwrap();
        assert_eq!(out[1..], ex.targets[1..], "{tokens:?}");
    }
}

fn rows_from(h: usize, k: usize, pick: impl Fn(usize) -> usize, device: &Device) -> Tensor<3> {
    let data: Vec<f32> = (0..h * k * k)
        .map(|i| {
            if pick((i / k) % k) == i % k {
                10.0
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_data(TensorData::new(data, [h, k, k]), device)
}

/// The induction circuit by hand: a previous-token head (positions, i → i−1, copying tokens),
/// then a head whose query token looks for the key whose previous token equals it, copying
/// that key's token; no match lands on BOS, which the classifier reads as `<unk>`.
#[test]
fn hand_built_induction_circuit_is_perfect() {
    let data =
        TaskData::generate(&Task::Induction.default_config().with_dataset_size(2000)).unwrap();
    let cfg = ProgramConfig::for_task(Task::Induction, &data);
    let device = Device::flex();
    let mut model = TransformerProgram::init(&cfg, &device).unwrap();
    let k = cfg.d_var;
    let l0 = model.blocks[0].cat_attn.as_mut().unwrap();
    l0.query = Param::from_tensor(one_hot_rows(1, 2, |_| 1, &device));
    l0.key = Param::from_tensor(one_hot_rows(1, 2, |_| 1, &device));
    l0.value = Param::from_tensor(one_hot_rows(1, 2, |_| 0, &device));
    l0.predicate = Param::from_tensor(rows_from(
        1,
        k,
        |i| i.saturating_sub(1).max(if i == 0 { k - 1 } else { 0 }),
        &device,
    ));
    let l1 = model.blocks[1].cat_attn.as_mut().unwrap();
    l1.query = Param::from_tensor(one_hot_rows(1, 3, |_| 0, &device));
    l1.key = Param::from_tensor(one_hot_rows(1, 3, |_| 2, &device));
    l1.value = Param::from_tensor(one_hot_rows(1, 3, |_| 0, &device));
    l1.predicate = Param::from_tensor(rows_from(1, k, |i| i, &device));
    let [d, c] = model.unembed.val().dims();
    let mut w = vec![0.0f32; d * c];
    for (v, token) in cfg.vocab.iter().enumerate() {
        let class = if token == "<s>" {
            "<unk>"
        } else {
            token.as_str()
        };
        if let Some(ci) = cfg.classes.iter().position(|x| x == class) {
            w[(3 * k + v) * c + ci] = 10.0;
        }
    }
    model.unembed = Param::from_tensor(Tensor::from_data(TensorData::new(w, [d, c]), &device));
    let test = data.encode(&data.test).unwrap();
    assert_eq!(accuracy(&model, &test, &device), 1.0);
}
