// Dropout's `p` is the probability of keeping a unit: it must be in (0, 1]; its other
// argument is `seed = N`, a whole number.
use constnet::datasets::Labeled;
use constnet::prelude::*;
use constnet::train::{Config, fit};
use constnet::Checkpoint;

constnet::network! {
    struct KeepsNothing { fc1: Dense<4, 8>, drop: Dropout(0.0), fc2: Dense<8, 2> }
    struct KeepsTooMuch { fc1: Dense<4, 8>, drop: Dropout(1.5, seed = 3), fc2: Dense<8, 2> }
}

constnet::network! {
    struct MisspelledSeed { fc1: Dense<4, 8>, drop: Dropout(0.5, sed = 3), fc2: Dense<8, 2> }
}

constnet::network! {
    struct FractionalSeed { fc1: Dense<4, 8>, drop: Dropout(seed = 0.5), fc2: Dense<8, 2> }
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
    use_network(KeepsNothing::new(0))?;
    use_network(KeepsTooMuch::new(0))?;
    use_network(MisspelledSeed::new(0))?;
    use_network(FractionalSeed::new(0))?;
    Ok(())
}
