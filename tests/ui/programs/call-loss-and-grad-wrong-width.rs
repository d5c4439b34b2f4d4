// loss_and_grad with a batch of the wrong width: 3-wide samples for a 2-input network.
use constnet::prelude::*;

network! {
    /// The CS231n two-layer net for the spiral data.
    pub struct SpiralNet {
        fc1: Dense<2, 100>,
        relu: Relu,
        fc2: Dense<100, 3>,
    }
}

fn main() -> Result<(), Error> {
    let mut net = SpiralNet::new(0);
    let mut tape = net.new_tape(300);
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(1.0)?;
    let inputs = Batch::<f32, 3>::from_fn(300, |i, j| (i * j) as f32 / 900.0);
    let labels: Vec<usize> = (0..300).map(|j| j % 3).collect();
    for _ in 0..1000 {
        net.loss_and_grad(
            &inputs,
            &labels[..],
            &SoftmaxCrossEntropy,
            &mut tape,
            &mut grads,
        )?;
        sgd.step(net.params_mut(), &grads)?;
    }
    Ok(())
}
