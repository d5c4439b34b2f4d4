// fit with a 784-wide dataset for a 64-input network (scikit-learn's digits are 8x8 = 64).
use constnet::datasets::{Split, mnist};
use constnet::prelude::*;
use constnet::train::{Config, fit};

network! {
    /// A classifier for 8x8 digits.
    pub struct DigitsNet {
        fc1: Dense<64, 128>,
        relu: Relu,
        fc2: Dense<128, 10>,
    }
}

fn main() -> Result<(), Error> {
    let (train, val) = mnist::<f32>("data/mnist", Split::Train)?
        .shuffled(0)
        .split(55_000);
    let mut net = DigitsNet::new(0);
    let mut adam = AdamConfig::new(1e-3).build()?;
    let history = fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &Config::new(10, 32),
    )?;
    println!("{:?}", history.last());
    Ok(())
}
