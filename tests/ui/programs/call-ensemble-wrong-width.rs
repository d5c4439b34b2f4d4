// An ensemble's accuracy on a set of the wrong width: 32 features for 64-input networks.
use constnet::datasets::{Header, read_csv};
use constnet::ensemble::Ensemble;
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
    let digits = read_csv::<f32, 32>("data/sklearn/digits.csv.gz", Header::None)?;
    let ensemble = Ensemble::new(vec![DigitsNet::new(0), DigitsNet::new(1)])?;
    let accuracy = ensemble.accuracy(&digits.inputs, &digits.labels)?;
    println!("{accuracy}");
    Ok(())
}
