// predict_batch given a set of the wrong width: 32 features for a 64-input network.
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
    let digits = read_csv::<f32, 32>("data/sklearn/digits.csv.gz", Header::None)?;
    let net = DigitsNet::new(0);
    let classes = net.predict_batch(&digits.inputs);
    println!("{:?}", &classes[..10]);
    Ok(())
}
