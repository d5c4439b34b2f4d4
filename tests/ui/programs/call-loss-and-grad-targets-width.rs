// loss_and_grad with regression targets of the wrong width: 1 target, 2 outputs.
use constnet::datasets::diabetes;
use constnet::prelude::*;

network! {
    /// A regression MLP for the diabetes data.
    pub struct DiabetesNet {
        fc1: Dense<10, 32>,
        relu: Relu,
        fc2: Dense<32, 2>,
    }
}

fn main() -> Result<(), Error> {
    let data = diabetes::<f32>("data/sklearn")?;
    let mut net = DiabetesNet::new(0);
    let (mut tape, mut grads) = (net.new_tape(442), net.new_grads());
    let loss = net.loss_and_grad(
        &data.inputs,
        &data.targets,
        &MeanSquaredError,
        &mut tape,
        &mut grads,
    )?;
    println!("loss {loss}, first gradient {}", grads[0]);
    Ok(())
}
