//! The CS231n spiral net trained with each update rule of the notes, with step decay and L2, printing the loss, the accuracy and the update/weight ratio of the
//! first layer's weights (the notes' rule of thumb: about 1e-3).
//!
//! ```text
//! cargo run --release --example optimizers
//! ```

use std::time::Instant;

use constnet::prelude::*;

network! {
    /// 2 inputs, 100 ReLU units, 3 classes.
    struct SpiralNet { fc1: Dense<2, 100>, relu: Relu, fc2: Dense<100, 3> }
}

const STEPS: u64 = 4000;

/// Trains a fresh net with `optimizer`, halving the rate every 2000 steps.
fn train<O: Optimizer<f32>>(name: &str, mut optimizer: O) -> Result<(), Error> {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let mut net = SpiralNet::new(0);
    let mut tape = net.new_tape(data.labels.len());
    let mut grads = net.new_grads();
    let l2 = Regularizer::l2(1e-3)?;
    let schedule = Schedule::step(optimizer.learning_rate(), 2000, 0.5)?;
    let mut monitor = UpdateMonitor::new(&net);
    let start = Instant::now();
    let mut loss = 0.0;
    let mut ratio_at_start = 0.0;
    for step in 0..STEPS {
        schedule.apply(&mut optimizer, step)?;
        loss = net.loss_and_grad(
            &data.inputs,
            &data.labels[..],
            &SoftmaxCrossEntropy,
            &mut tape,
            &mut grads,
        )?;
        loss += l2.apply(&net, &mut grads);
        if !loss.is_finite() {
            return Err(Error::NonFiniteLoss { value: loss.into() });
        }
        monitor.step(&mut net, &grads, &mut optimizer)?;
        if step == 0 {
            ratio_at_start = monitor.tensors()[0].update_ratio();
        }
    }
    let accuracy = net.accuracy(&data.inputs, &data.labels)?;
    println!(
        "{name:<9} loss {loss:.4}  accuracy {:6.2}%  fc1 update/weight {ratio_at_start:.1e} -> {:.1e}  {:.0} ms",
        100.0 * accuracy,
        monitor.tensors()[0].update_ratio(),
        start.elapsed().as_secs_f64() * 1e3,
    );
    Ok(())
}

fn main() -> Result<(), Error> {
    println!("{STEPS} full-batch steps on the spiral data, L2 1e-3, lr halved every 2000\n");
    train("SGD", Sgd::new(1.0)?)?;
    train("momentum", MomentumConfig::new(0.1).build()?)?;
    train("Nesterov", NesterovConfig::new(0.1).build()?)?;
    train("Adagrad", AdagradConfig::new(0.5).build()?)?;
    train("RMSprop", RmsPropConfig::new(1e-2).build()?)?;
    train("Adam", AdamConfig::new(1e-2).build()?)?;
    Ok(())
}
