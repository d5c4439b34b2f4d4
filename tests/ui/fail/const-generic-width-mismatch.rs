// Two different const generic widths: the macro cannot compare them, the type system does.
use constnet::datasets::Labeled;
use constnet::prelude::*;
use constnet::train::{Config, fit};
use constnet::Checkpoint;

constnet::network! {
    struct Mlp<const A: usize, const B: usize> {
        fc1: Dense<784, A>,
        act: Relu,
        fc2: Dense<B, 10>,
    }
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
    use_network(Mlp::<8, 8>::new(0))?;
    Ok(())
}
