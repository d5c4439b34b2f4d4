//! Weight initialization schemes from the CS231n notes.

use rand::{Rng, RngCore};
use rand_distr::StandardNormal;

use crate::Float;

/// How a layer's weights are drawn. Biases always start at zero.
///
/// `network!` picks [`Init::He`] for a `Dense` layer followed by a ReLU-family activation
/// (ReLU, Leaky ReLU, ELU) and [`Init::Calibrated`] otherwise.
///
/// ```
/// use constnet::Init;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mut w = vec![0.0f64; 10_000];
/// Init::He.fill(&mut w, 50, &mut rng);
/// let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
/// assert!((var - 2.0 / 50.0).abs() < 0.004);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Init {
    /// `N(0, 1) * sqrt(2 / fan_in)` (He et al. 2015), for layers feeding a ReLU.
    #[default]
    He,
    /// `N(0, 1) / sqrt(fan_in)`, which keeps the output variance equal to the input's.
    Calibrated,
    /// `0.01 * N(0, 1)`, the notes' "small random numbers".
    SmallRandom,
}

impl Init {
    /// The standard deviation of the weights for a layer with `fan_in` inputs.
    ///
    /// ```
    /// assert_eq!(constnet::Init::Calibrated.std_dev(4), 0.5);
    /// ```
    pub fn std_dev(self, fan_in: usize) -> f64 {
        let n = fan_in.max(1) as f64;
        match self {
            Init::He => (2.0 / n).sqrt(),
            Init::Calibrated => 1.0 / n.sqrt(),
            Init::SmallRandom => 0.01,
        }
    }

    /// Fills `weights` with draws for a layer with `fan_in` inputs.
    pub fn fill<T: Float>(self, weights: &mut [T], fan_in: usize, rng: &mut dyn RngCore) {
        let std = self.std_dev(fan_in);
        for w in weights {
            let z: f64 = rng.sample(StandardNormal);
            *w = T::of_f64(z * std);
        }
    }
}
