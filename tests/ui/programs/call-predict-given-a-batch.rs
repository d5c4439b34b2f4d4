// predict (one sample) given a batch view of one column, where it takes a Sample.
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
        read_csv::<f32, 64>("data/sklearn/digits.csv.gz", Header::None)?.scaled(1.0 / 16.0);
    let net = DigitsNet::new(0);
    let class = net.predict(&digits.inputs.columns(0, 1));
    println!("the first digit looks like a {class}");
    Ok(())
}
