// A network type where a Network<f32, 64, 10> is required: the spiral net is 2 -> 3.
use constnet::datasets::{Header, Labeled, read_csv};
use constnet::prelude::*;

network! {
    /// The CS231n two-layer net for the spiral data.
    pub struct SpiralNet {
        fc1: Dense<2, 100>,
        relu: Relu,
        fc2: Dense<100, 3>,
    }
}

/// Validation accuracy of a digits classifier.
fn evaluate<N: Network<f32, 64, 10>>(net: &N, val: &Labeled<f32, 64>) -> Result<f64, Error> {
    net.accuracy(&val.inputs, &val.labels)
}

fn main() -> Result<(), Error> {
    let digits =
        read_csv::<f32, 64>("data/sklearn/digits.csv.gz", Header::None)?.scaled(1.0 / 16.0);
    let (_, val) = digits.shuffled(0).split(1437);
    let net = SpiralNet::new(0);
    println!("{:.2}%", 100.0 * evaluate(&net, &val)?);
    Ok(())
}
