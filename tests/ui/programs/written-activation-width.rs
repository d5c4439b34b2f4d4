// An activation's written width disagrees with the layer before it: `Relu<64>` after a
// 100-wide layer.
use constnet::prelude::*;
use constnet::train::{Config, fit};

network! {
    /// The CS231n two-layer net for the spiral data.
    pub struct SpiralNet {
        fc1: Dense<2, 100>,
        relu: Relu<64>,
        fc2: Dense<64, 3>,
    }
}

fn main() -> Result<(), Error> {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let (train, val) = data.shuffled(0).split(240);
    let mut net = SpiralNet::new(0);
    let mut adam = AdamConfig::new(1e-2).build()?;
    let history = fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &Config::new(100, 30),
    )?;
    println!("{:?}", history.last());
    let point = Sample::<f32, 2>::new(0.5, -0.25);
    println!("the point is in arm {}", net.predict(&point));
    Ok(())
}
