// A PCA-reduced set (784 -> 50 features) given to a network of the original width.
use constnet::datasets::{Split, mnist};
use constnet::prelude::*;
use constnet::preprocess::Pca;
use constnet::train::{Config, fit};

network! {
    /// An MNIST classifier.
    pub struct MnistNet {
        fc1: Dense<784, 128>,
        relu: Relu,
        fc2: Dense<128, 10>,
    }
}

fn main() -> Result<(), Error> {
    let (train, val) = mnist::<f32>("data/mnist", Split::Train)?
        .shuffled(0)
        .split(55_000);
    let pca = Pca::<f32, 784, 50>::fit(&train, None)?;
    let (train, val) = (train.map(|set| pca.apply(set)), pca.apply(&val));
    let mut net = MnistNet::new(0);
    let mut adam = AdamConfig::new(1e-3).build()?;
    let history = fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &Config::new(10, 64),
    )?;
    println!("{:?}", history.last());
    Ok(())
}
