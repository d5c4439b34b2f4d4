// Full-batch L-BFGS on regression targets of the wrong width: the diabetes set has 1 target,
// the network predicts 2 (the notes' second-order methods, on a small regression problem).
use constnet::datasets::diabetes;
use constnet::optim::LbfgsConfig;
use constnet::prelude::*;
use constnet::train::fit_lbfgs;

network! {
    /// A small regression MLP for the diabetes data.
    pub struct DiabetesNet {
        fc1: Dense<10, 16>,
        tanh: Tanh,
        fc2: Dense<16, 2>,
    }
}

fn main() -> Result<(), Error> {
    let (train, val) = diabetes::<f64>("data/sklearn")?.shuffled(0).split(376);
    let mut net = DiabetesNet::<f64>::init(0);
    let mut lbfgs = LbfgsConfig::default().build()?;
    let l2 = Regularizer::l2(1e-4)?;
    let report = fit_lbfgs(&mut net, &mut lbfgs, &MeanSquaredError, &train, Some(&l2))?;
    println!("{report:?}");
    let predictions = net.forward_batch(&val.inputs);
    println!("first prediction {}", predictions.column(0));
    Ok(())
}
