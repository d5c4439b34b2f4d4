// The validation set reduced by PCA (64 -> 32 features), then standardized with the
// statistics of the 64 original features: the two steps in the wrong order.
use constnet::datasets::{Header, read_csv};
use constnet::prelude::*;
use constnet::preprocess::{Granularity, Pca, Standardize};
use constnet::train::{Config, fit};

network! {
    /// A classifier for 8x8 digits, on their top 32 principal components.
    pub struct DigitsNet {
        fc1: Dense<32, 128>,
        relu: Relu,
        fc2: Dense<128, 10>,
    }
}

fn main() -> Result<(), Error> {
    let digits = read_csv::<f32, 64>("data/sklearn/digits.csv.gz", Header::None)?.shuffled(0);
    let (train, val) = digits.split(1437);
    let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
    let pca = Pca::<f32, 64, 32>::fit(&train, None)?;
    let train = train.map(|set| pca.apply(&standardize.apply(set)));
    let val = standardize.apply(&pca.apply(&val));
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
