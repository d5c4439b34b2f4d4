// A width written as a constant expression: fc2 expects { 2 * 64 } inputs but fc1 produces 100.
use constnet::prelude::*;

network! {
    /// The spiral net.
    pub struct SpiralNet {
        fc1: Dense<2, 100>,
        relu: Relu,
        fc2: Dense<{ 2 * 64 }, 3>,
    }
}

fn main() -> Result<(), Error> {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let mut net = SpiralNet::new(0);
    let mut tape = net.new_tape(300);
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(1.0)?;
    let l2 = Regularizer::l2(1e-3)?;
    for step in 0..10_000 {
        let loss = net.loss_and_grad(
            &data.inputs,
            &data.labels[..],
            &SoftmaxCrossEntropy,
            &mut tape,
            &mut grads,
        )?;
        let penalty = l2.apply(&net, &mut grads);
        sgd.step(net.params_mut(), &grads)?;
        if step % 1000 == 0 {
            println!("step {step}: loss {:.4}", loss + penalty);
        }
    }
    println!(
        "training accuracy: {:.2}%",
        100.0 * net.accuracy(&data.inputs, &data.labels)?
    );
    let point = Sample::<f32, 2>::new(0.5, -0.25);
    let scores = net.forward(&point);
    println!("scores {scores:?}, class {}", net.predict(&point));
    Ok(())
}
