// A width mistake across LayerNorm: fc2 expects 100 but fc1 produces 128.
use constnet::Checkpoint;
use constnet::datasets::{Split, mnist};
use constnet::prelude::*;
use constnet::train::{Config, fit};

network! {
    /// An MNIST classifier with layer norm.
    pub struct MnistNet {
        fc1: Dense<784, 128>,
        ln1: LayerNorm,
        relu1: Relu,
        fc2: Dense<100, 10>,
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
