//! A user's program with a 10-layer network, for `run.sh`: how long a rebuild takes after
//! one width of the network is edited.

use constnet::prelude::*;
use constnet::train::{Config, fit};

network! {
    /// Ten Dense layers with ReLUs between them.
    pub struct Deep {
        fc1: Dense<64, 128>,
        a1: Relu,
        fc2: Dense<128, 128>,
        a2: Relu,
        fc3: Dense<128, 96>,
        a3: Relu,
        fc4: Dense<96, 96>,
        a4: Relu,
        fc5: Dense<96, 64>,
        a5: Relu,
        fc6: Dense<64, 64>,
        a6: Relu,
        fc7: Dense<64, 48>,
        a7: Relu,
        fc8: Dense<48, 48>,
        a8: Relu,
        fc9: Dense<48, 32>,
        a9: Relu,
        fc10: Dense<32, 10>,
    }
}

fn main() -> Result<(), Error> {
    let x = Batch::<f32, 64>::from_fn(200, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5);
    let labels: Vec<usize> = (0..200).map(|j| j % 10).collect();
    let data = constnet::datasets::Labeled::new(x, labels)?;
    let (train, val) = data.split(160);
    let mut net = Deep::new(0);
    let mut adam = AdamConfig::new(1e-3).build()?;
    let history = fit(&mut net, &mut adam, &SoftmaxCrossEntropy, &train, Some(&val), &Config::new(2, 32))?;
    println!("{:?}", history.last().map(|e| e.train_loss));
    println!("{}", net.predict(&val.inputs.column(0).into_owned()));
    Ok(())
}
