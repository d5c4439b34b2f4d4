// A batch of f64 samples to the accuracy of an f32 network, through a view of its first 100.
use constnet::datasets::{Header, read_csv};
use constnet::prelude::*;

network! {
    /// A classifier for 8x8 digits.
    pub struct DigitsNet {
        fc1: Dense<64, 128>,
        relu: Relu,
        fc2: Dense<128, 10>,
    }
}

fn main() -> Result<(), Error> {
    let digits =
        read_csv::<f64, 64>("data/sklearn/digits.csv.gz", Header::None)?.scaled(1.0 / 16.0);
    let net = DigitsNet::new(0);
    let first = digits.inputs.columns(0, 100);
    let accuracy = net.accuracy(&first, &digits.labels[..100])?;
    println!("untrained: {:.1}%", 100.0 * accuracy);
    Ok(())
}
