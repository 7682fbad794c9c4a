use burn::prelude::*;
use glassbox_data::rasp::{Task, TaskData};
use glassbox_programs::{ProgramConfig, TrainConfig, train_program};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let epochs: usize = args[1].parse().unwrap();
    let t0: f64 = args[2].parse().unwrap();
    let t1: f64 = args[3].parse().unwrap();
    let lr: f64 = args[4].parse().unwrap();
    let data = TaskData::generate(&Task::Hist.default_config()).unwrap();
    let mut cfg = ProgramConfig::for_task(Task::Hist, &data);
    if let Some(v) = args.get(5) { let v: Vec<usize> = v.split(',').map(|x| x.parse().unwrap()).collect(); cfg.n_heads_cat=v[0]; cfg.n_heads_num=v[1]; cfg.n_cat_mlps=v[2]; cfg.n_num_mlps=v[3]; }
    let seed: u64 = std::env::var("SEED").ok().map(|s| s.parse().unwrap()).unwrap_or(0);
    let tc = TrainConfig { epochs, seed, tau_init: t0, tau_end: t1, learning_rate: lr, ..TrainConfig::default() };
    let (model, rep) = train_program(&cfg, &tc, &data, &Device::flex()).unwrap();
    let h = &rep.loss_history;
    println!("acc {:.3} losses {:?}", rep.test_accuracy, h.iter().step_by((h.len()/10).max(1)).map(|x| (x*1000.0).round()/1000.0).collect::<Vec<_>>());
    let p = glassbox_programs::Program::extract(&model, &cfg).unwrap();
    for op in &p.ops { if let glassbox_programs::Op::Count{query,key,value,predicate,..} = op { println!("count q{query} k{key} v{value} pred {predicate:?}"); } }
}
