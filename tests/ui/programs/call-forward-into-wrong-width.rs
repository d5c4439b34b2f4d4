// forward_into with a batch of the wrong width: 3-wide samples for a 2-input network.
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
    let net = SpiralNet::new(0);
    let mut tape = net.new_tape(64);
    let points = Batch::<f32, 3>::from_fn(64, |i, j| (i + j) as f32 / 100.0);
    let scores = net.forward_into(points.columns(0, 64), &mut tape)?;
    println!("{} scores", scores.ncols());
    Ok(())
}
