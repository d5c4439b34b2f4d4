// The notes' gradient check on the trained network itself, which is of f32: the check runs
// in f64, on the network cast with `.cast::<f64>()`.
use constnet::gradcheck::Options;
use constnet::prelude::*;

network! {
    /// The CS231n two-layer net for the spiral data.
    pub struct SpiralNet {
        fc1: Dense<2, 100>,
        relu: Relu,
        fc2: Dense<100, 3>,
    }
}

fn main() -> Result<(), Error> {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let mut net = SpiralNet::new(0);
    let (mut tape, mut grads) = (net.new_tape(300), net.new_grads());
    let mut sgd = Sgd::new(1.0)?;
    for _ in 0..100 {
        net.loss_and_grad(
            &data.inputs,
            &data.labels[..],
            &SoftmaxCrossEntropy,
            &mut tape,
            &mut grads,
        )?;
        sgd.step(net.params_mut(), &grads)?;
    }
    let x = data.inputs.columns(0, 5).map(f64::from);
    let report = net.gradcheck(
        &x,
        &data.labels[..5],
        &SoftmaxCrossEntropy,
        &Options::default(),
    )?;
    println!("{report}");
    Ok(())
}
