//! The notes' spiral demo as a picture: the 2-100-3 ReLU net of `examples/spiral.rs`,
//! trained the same way (full-batch gradient descent, step 1.0, L2 1e-3, 10,000 steps), then
//! its decision regions drawn with the data over them, in `runs/spiral_regions.png` and
//! `.svg`. The README's figure comes from it.
//!
//! Run with `cargo run --release --features plots --example spiral_regions`.

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
    let l2 = Regularizer::l2(1e-3)?;
    let mut tape = net.new_tape(data.labels.len());
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(1.0)?;
    for _ in 0..10_000 {
        net.loss_and_grad(
            &data.inputs,
            &data.labels[..],
            &SoftmaxCrossEntropy,
            &mut tape,
            &mut grads,
        )?;
        l2.apply(&net, &mut grads);
        sgd.step(net.params_mut(), &grads)?;
    }
    let accuracy = net.accuracy(&data.inputs, &data.labels)?;
    std::fs::create_dir_all("runs").map_err(|e| Error::Io {
        path: "runs".into(),
        problem: e.to_string(),
    })?;
    let png = constnet::plots::decision_regions(&net, &data, "runs/spiral_regions")?;
    println!(
        "training accuracy {:.2}%; decision regions in {}",
        100.0 * accuracy,
        png.display()
    );
    Ok(())
}
