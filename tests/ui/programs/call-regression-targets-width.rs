// Regression targets of the wrong width: the diabetes set has 1 target, the network predicts 2.
use constnet::datasets::diabetes;
use constnet::prelude::*;
use constnet::train::{Config, fit};

network! {
    /// A regression MLP for the diabetes data.
    pub struct DiabetesNet {
        fc1: Dense<10, 32>,
        relu: Relu,
        fc2: Dense<32, 2>,
    }
}

fn main() -> Result<(), Error> {
    let (train, val) = diabetes::<f64>("data/sklearn")?.shuffled(0).split(376);
    let mut net = DiabetesNet::<f64>::init(0);
    let mut adam = AdamConfig::new(1e-3).build()?;
    let history = fit(
        &mut net,
        &mut adam,
        &MeanSquaredError,
        &train,
        Some(&val),
        &Config::new(100, 16),
    )?;
    println!("{:?}", history.last());
    Ok(())
}
