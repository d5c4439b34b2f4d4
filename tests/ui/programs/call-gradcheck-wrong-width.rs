// The notes' gradient check on a few samples of another width: the points with their squared
// radius added as a third feature, for a network that takes the two coordinates.
use constnet::gradcheck::Options;
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
    let data = constnet::datasets::spiral::<f64>(20, 3, 0);
    let x = Batch::<f64, 3>::from_fn(5, |i, j| match i {
        2 => data.inputs.column(j).norm_squared(),
        _ => data.inputs[(i, j)],
    });
    let net = SpiralNet::<f64>::init(0);
    let options = Options::default();
    let report = net.gradcheck(&x, &data.labels[..5], &SoftmaxCrossEntropy, &options)?;
    println!("{report}");
    Ok(())
}
