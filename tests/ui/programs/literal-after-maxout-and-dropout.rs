// The Maxout mistake with a Dropout between: the hint that a Maxout produces OUT must survive.
use constnet::Checkpoint;
use constnet::datasets::{Split, mnist};
use constnet::prelude::*;
use constnet::train::{Config, fit};

network! {
    /// An MNIST classifier with a maxout hidden layer and dropout.
    pub struct MnistNet {
        mx1: Maxout<784, 128, 2>,
        drop1: Dropout(0.8),
        fc2: Dense<256, 10>,
    }
}

fn main() -> Result<(), Error> {
    let (train, val) = mnist::<f32>("data/mnist", Split::Train)?
        .shuffled(0)
        .split(55_000);
    let test = mnist::<f32>("data/mnist", Split::Test)?;
    let mut net = MnistNet::new(0);
    println!("{}", net.summary());
    let mut adam = AdamConfig::new(1e-3).build()?;
    let history = fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &Config::new(12, 64),
    )?;
    println!("{} epochs", history.epochs.len());
    println!(
        "test accuracy: {:.2}%",
        100.0 * net.accuracy(&test.inputs, &test.labels)?
    );
    let first: Sample<f32, 784> = test.inputs.column(0).into_owned();
    println!("the first test image is a {}", net.predict(&first));
    Checkpoint::of(&net)
        .with_optimizer(&adam)
        .save("mnist.safetensors")?;
    Ok(())
}
