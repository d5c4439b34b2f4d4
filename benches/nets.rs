//! The benchmark table's networks (`shared/guide/BENCHMARKS.md`) and their seeded random
//! inputs, shared by the criterion bench (`workloads.rs`) and the best-of bench
//! (`best_of.rs`).

use constnet::prelude::*;
use rand::{Rng, SeedableRng};

network! {
    /// W1: 16-32-32-4.
    pub struct W1 { fc1: Dense<16, 32>, a1: Relu, fc2: Dense<32, 32>, a2: Relu, fc3: Dense<32, 4> }
    /// W2: 784-128-10.
    pub struct W2 { fc1: Dense<784, 128>, a1: Relu, fc2: Dense<128, 10> }
    /// W3: 784-256-128-10.
    pub struct W3 { fc1: Dense<784, 256>, a1: Relu, fc2: Dense<256, 128>, a2: Relu, fc3: Dense<128, 10> }
    /// W4: the CS231n spiral net, 2-100-3.
    pub struct W4 { fc1: Dense<2, 100>, relu: Relu, fc2: Dense<100, 3> }
}

/// `columns` samples of width `N`, uniform in [-1, 1), from `seed`.
pub fn random_batch<const N: usize>(columns: usize, seed: u64) -> Batch<f32, N> {
    let mut rng = constnet::SeededRng::seed_from_u64(seed);
    Batch::<f32, N>::from_fn(columns, |_, _| rng.random_range(-1.0..1.0))
}

/// W3's labels for a batch of 64.
pub fn w3_labels() -> Vec<usize> {
    (0..64).map(|i| (i * 7) % 10).collect()
}
