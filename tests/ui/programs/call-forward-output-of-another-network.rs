// One network's output given to another of other widths: the encoder gives 16 features,
// the head takes 32.
use constnet::prelude::*;
use constnet::train::{Config, fit};

network! {
    /// Encodes a spiral point.
    pub struct Encoder {
        fc1: Dense<2, 64>,
        relu1: Relu,
        fc2: Dense<64, 16>,
    }
}

network! {
    /// Scores the three arms from an encoding.
    pub struct Head {
        fc1: Dense<32, 32>,
        relu1: Relu,
        fc2: Dense<32, 3>,
    }
}

fn main() -> Result<(), Error> {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let (train, val) = data.shuffled(0).split(240);
    let mut encoder = Encoder::new(0);
    let mut adam = AdamConfig::new(1e-2).build()?;
    let history = fit(
        &mut encoder,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &Config::new(100, 30),
    )?;
    println!("{:?}", history.last());
    let head = Head::new(1);
    let point = Sample::<f32, 2>::new(0.5, -0.25);
    let code = encoder.forward(&point);
    let scores = head.forward(&code);
    println!("scores {scores:?}");
    Ok(())
}
