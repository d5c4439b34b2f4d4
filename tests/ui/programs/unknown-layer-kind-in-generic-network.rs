// A misspelled layer kind in a network with a const generic width, used at two widths and
// two scalar types, through fit, forward_into, Debug, a field, init and cast.
use constnet::prelude::*;
use constnet::train::{Config, fit};

network! {
    /// Generic, with a typo.
    pub struct Mlp<const H: usize> {
        fc1: Dense<64, H>,
        act: Rleu,
        fc2: Dense<H, 10>,
    }
}

fn main() -> Result<(), Error> {
    let data =
        constnet::datasets::read_csv::<f32, 64>("digits.csv", constnet::datasets::Header::None)?;
    let (train, val) = data.split(1000);
    let mut net = Mlp::<128>::new(0);
    let mut adam = AdamConfig::new(1e-3).build()?;
    fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &Config::new(2, 32),
    )?;
    let mut tape = net.new_tape(8);
    let y = net.forward_into(&val.inputs.columns(0, 8), &mut tape)?;
    println!("{} {:?} {}", y.ncols(), net, net.layers().len());
    let _ = net.fc1.clone();
    let small: Mlp<16, f64> = Mlp::init(1);
    println!("{}", small.cast::<f32>().predict(&Sample::zeros()));
    Ok(())
}
