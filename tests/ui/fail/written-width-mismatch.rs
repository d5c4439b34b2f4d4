// A width-keeping layer with its width written (`Relu<16>`, what lets a network start with
// it) must be written with the width it receives.
use constnet::datasets::Labeled;
use constnet::prelude::*;
use constnet::train::{Config, fit};
use constnet::Checkpoint;

const HIDDEN: usize = 8;

constnet::network! {
    struct LiteralMismatch { fc1: Dense<4, 8>, relu: Relu<6>, fc2: Dense<6, 2> }
    struct ConstMismatch { fc1: Dense<4, HIDDEN>, ln: LayerNorm<6>, fc2: Dense<6, 2> }
    struct NoWidthFirst { relu: Relu, fc: Dense<4, 2> }
}

/// What a user's program does with a network: trains it for a few steps on data of its
/// input width, classifies a sample, and saves it.
fn use_network<N: Network<f32, IN, OUT>, const IN: usize, const OUT: usize>(
    mut net: N,
) -> Result<usize, Error> {
    let x = Batch::<f32, IN>::from_fn(16, |i, j| ((i + 3 * j) % 7) as f32 / 7.0);
    let data = Labeled::new(x, (0..16).map(|j| j % OUT).collect())?;
    let mut sgd = Sgd::new(0.1)?;
    fit(&mut net, &mut sgd, &SoftmaxCrossEntropy, &data, None, &Config::new(2, 8))?;
    Checkpoint::of(&net).save(std::env::temp_dir().join("net.safetensors"))?;
    Ok(net.predict(&data.inputs.column(0).into_owned()))
}

fn main() -> Result<(), Error> {
    use_network(LiteralMismatch::new(0))?;
    use_network(ConstMismatch::new(0))?;
    use_network(NoWidthFirst::new(0))?;
    Ok(())
}
