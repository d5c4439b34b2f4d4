// Preprocessing fitted on a set that is not marked as training data.
use constnet::datasets::{Header, read_csv};
use constnet::prelude::*;
use constnet::preprocess::{Granularity, Standardize};
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
    let digits = read_csv::<f32, 64>("data/sklearn/digits.csv.gz", Header::None)?.shuffled(0);
    let standardize = Standardize::fit(&digits, Granularity::PerFeature, true);
    let (train, val) = standardize.apply(&digits).split(1437);
    let mut net = DigitsNet::new(0);
    let mut adam = AdamConfig::new(2e-3).build()?;
    let history = fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &Config::new(40, 32),
    )?;
    println!("{:?}", history.last());
    Ok(())
}
