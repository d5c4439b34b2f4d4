// The notes' sanity checks given a PCA-reduced set (64 -> 32 features) for a network of the
// original width.
use constnet::datasets::{Header, read_csv};
use constnet::prelude::*;
use constnet::preprocess::Pca;
use constnet::sanity;

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
    let (train, _) = digits.split(1437);
    let pca = Pca::<f32, 64, 32>::fit(&train, None)?;
    let train = pca.apply(&train);
    let net = DigitsNet::new(0);
    let adam = AdamConfig::new(2e-3).build()?;
    let report = sanity::run(
        &net,
        &net.cast::<f64>(),
        &adam,
        &SoftmaxCrossEntropy,
        &train,
        &sanity::Options::default(),
    )?;
    println!("{report}");
    Ok(())
}
