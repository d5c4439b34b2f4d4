// Layer norm's eps is positive and at least f32's smallest normal number; it takes no
// momentum (it keeps no running statistics) and no `#[init]`.
use constnet::datasets::Labeled;
use constnet::prelude::*;
use constnet::train::{Config, fit};
use constnet::Checkpoint;

constnet::network! {
    struct ZeroEps { fc1: Dense<4, 8>, ln: LayerNorm(eps = 0), fc2: Dense<8, 2> }
    struct InitOnLayerNorm { fc1: Dense<4, 8>, #[init(he)] ln: LayerNorm, fc2: Dense<8, 2> }
}

constnet::network! {
    struct WithMomentum { fc1: Dense<4, 8>, ln: LayerNorm(momentum = 0.9), fc2: Dense<8, 2> }
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
    use_network(ZeroEps::new(0))?;
    use_network(InitOnLayerNorm::new(0))?;
    use_network(WithMomentum::new(0))?;
    Ok(())
}
