//! The CS231n spiral: 3 classes of 100 points each, not linearly separable, learned by a
//! 2-100-3 ReLU net with softmax loss, L2 strength 1e-3 and full-batch gradient descent,
//! exactly as in the course notes ("Putting it together: Training a Neural Network").
//!
//! Run with `cargo run --release --example spiral`.

use std::time::Instant;

use constnet::prelude::*;

network! {
    /// The notes' two-layer net for the spiral data.
    pub struct SpiralNet {
        fc1: Dense<2, 100>,
        relu: Relu,
        fc2: Dense<100, 3>,
    }
}

fn main() -> Result<(), Error> {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let mut net = SpiralNet::new(0);
    println!("{}\n", net.summary());

    let (steps, step_size) = (10_000, 1.0);
    let l2 = Regularizer::l2(1e-3)?;
    let mut tape = net.new_tape(data.labels.len());
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(step_size)?;
    let start = Instant::now();
    for step in 0..steps {
        let data_loss = net.loss_and_grad(
            &data.inputs,
            &data.labels[..],
            &SoftmaxCrossEntropy,
            &mut tape,
            &mut grads,
        )?;
        let reg_loss = l2.apply(&net, &mut grads);
        if step % 1000 == 0 {
            println!("iteration {step:>5}: loss {:.6}", data_loss + reg_loss);
        }
        sgd.step(net.params_mut(), &grads)?;
    }
    let elapsed = start.elapsed();
    let accuracy = net.accuracy(&data.inputs, &data.labels)?;
    println!(
        "\ntraining accuracy: {:.2}% ({steps} full-batch steps in {:.1} ms, {:.1} us/step)",
        100.0 * accuracy,
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / steps as f64
    );
    // One new point, as an array of its two features (a `Sample` or a column of a batch
    // would do as well).
    let point = [0.0, 0.5];
    println!("the point {point:?} is in class {}", net.predict(&point));
    Ok(())
}
