// forward with a sample of the wrong width: the spiral net takes 2 inputs, the point has 3.
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
    let mut adam = AdamConfig::new(1e-2).build()?;
    let (train, val) = data.shuffled(0).split(240);
    constnet::train::fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &constnet::train::Config::new(100, 30),
    )?;
    let point = Sample::<f32, 3>::new(0.5, -0.25, 1.0);
    let scores = net.forward(&point);
    println!("scores {scores:?}");
    Ok(())
}
