//! Weight initialization schemes from the CS231n notes.

use rand::{Rng, RngCore};
use rand_distr::StandardNormal;

use crate::error::Error;
use crate::scalar::Float;

/// How a layer's weights are drawn. Every scheme draws independent zero-mean gaussians, with
/// `z ~ N(0, 1)` a standard normal draw and `fan_in` the layer's number of inputs:
///
/// | scheme | weight | variance |
/// |---|---|---|
/// | [`He`](Init::He) | `z * sqrt(2 / fan_in)` | `2 / fan_in` |
/// | [`Calibrated`](Init::Calibrated) | `z / sqrt(fan_in)` | `1 / fan_in` |
/// | [`SmallRandom`](Init::SmallRandom) | `0.01 * z` | `1e-4` |
/// | [`Sparse`](Init::Sparse) | `0.01 * z` on `connections` inputs per output, else 0 | `1e-4 * min(connections, fan_in) / fan_in` |
///
/// Biases are not drawn: a `Dense` layer sets them to a constant, zero unless
/// [`Dense::with_bias`](crate::layers::Dense::with_bias) says otherwise.
///
/// `network!` picks [`Init::He`] for a `Dense` layer followed by a ReLU-family activation
/// (ReLU, Leaky ReLU, ELU) and [`Init::Calibrated`] otherwise; a layer's `#[init(...)]`
/// attribute overrides that (see [`network!`](crate::network!)).
///
/// ```
/// use constnet::Init;
/// use rand::SeedableRng;
/// let mut rng = constnet::SeededRng::seed_from_u64(0);
/// let mut w = vec![0.0f64; 10_000];
/// Init::He.fill(&mut w, 50, &mut rng)?;
/// let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
/// assert!((var - 2.0 / 50.0).abs() < 0.004);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Init {
    /// `N(0, 1) * sqrt(2 / fan_in)` (He et al. 2015), for layers feeding a ReLU: a ReLU
    /// zeroes half its inputs, and the factor 2 makes up for the variance lost.
    ///
    /// ```
    /// assert_eq!(constnet::Init::He.std_dev(8), 0.5);
    /// ```
    #[default]
    He,
    /// `N(0, 1) / sqrt(fan_in)`: with inputs of unit variance, `Var(sum_i w_i x_i) =
    /// fan_in * Var(w) = 1`, so the output's variance equals the input's.
    ///
    /// ```
    /// assert_eq!(constnet::Init::Calibrated.std_dev(100), 0.1);
    /// ```
    Calibrated,
    /// `0.01 * N(0, 1)`, the notes' "small random numbers" (fine for small networks; in deep
    /// ones the activations shrink layer after layer).
    ///
    /// ```
    /// assert_eq!(constnet::Init::SmallRandom.std_dev(1000), 0.01);
    /// ```
    SmallRandom,
    /// Sparse initialization: every weight zero, except that each output neuron is connected
    /// to `connections` distinct inputs chosen at random, with weights `0.01 * N(0, 1)`. When
    /// `connections >= fan_in` every input is connected; with `connections == 0` all the
    /// weights are zero. The notes' typical value is 10
    /// ([`DEFAULT_SPARSE_CONNECTIONS`](Init::DEFAULT_SPARSE_CONNECTIONS)).
    ///
    /// ```
    /// use constnet::Init;
    /// use rand::SeedableRng;
    /// let mut rng = constnet::SeededRng::seed_from_u64(1);
    /// // 3 outputs and 5 inputs, stored column-major: output o, input i at o + 3 * i.
    /// let mut w = [0.0f32; 15];
    /// Init::Sparse { connections: 2 }.fill(&mut w, 5, &mut rng)?;
    /// for o in 0..3 {
    ///     let nonzero = (0..5).filter(|i| w[o + 3 * i] != 0.0).count();
    ///     assert_eq!(nonzero, 2);
    /// }
    /// # Ok::<(), constnet::Error>(())
    /// ```
    Sparse {
        /// How many inputs each output neuron is connected to.
        connections: usize,
    },
}

impl Init {
    /// The number of connections per output neuron of `#[init(sparse)]`: 10, as in the notes.
    ///
    /// ```
    /// assert_eq!(constnet::Init::DEFAULT_SPARSE_CONNECTIONS, 10);
    /// ```
    pub const DEFAULT_SPARSE_CONNECTIONS: usize = 10;

    /// The standard deviation of the weights drawn for a layer with `fan_in` inputs (for
    /// [`Sparse`](Init::Sparse), of its nonzero weights). A zero `fan_in` counts as 1.
    ///
    /// ```
    /// use constnet::Init;
    /// assert_eq!(Init::Calibrated.std_dev(4), 0.5);
    /// assert_eq!(Init::Sparse { connections: 10 }.std_dev(4), 0.01);
    /// ```
    pub fn std_dev(self, fan_in: usize) -> f64 {
        let n = fan_in.max(1) as f64;
        match self {
            Init::He => (2.0 / n).sqrt(),
            Init::Calibrated => 1.0 / n.sqrt(),
            Init::SmallRandom | Init::Sparse { .. } => 0.01,
        }
    }

    /// Fills `weights`, the `O x I` weight matrix of a layer with `I = fan_in` inputs stored
    /// column-major (output `o`, input `i` at `o + i * O`, as in
    /// [`Dense`](crate::layers::Dense)), so `O = weights.len() / fan_in`. The draws come from
    /// `rng` alone: the same generator state gives the same weights.
    ///
    /// Only [`Sparse`](Init::Sparse) depends on the layout; it draws each output neuron's
    /// inputs, then their weights, one neuron after the other, and is an
    /// [`Error::BadHyperparameter`] (with nothing drawn) when `weights` is not empty and
    /// `fan_in` does not divide its length. The other schemes cannot fail.
    ///
    /// ```
    /// use constnet::{Error, Init};
    /// use rand::SeedableRng;
    /// let draw = |seed| -> Result<[f64; 6], Error> {
    ///     let mut w = [0.0f64; 6];
    ///     Init::SmallRandom.fill(&mut w, 3, &mut constnet::SeededRng::seed_from_u64(seed))?;
    ///     Ok(w)
    /// };
    /// assert_eq!(draw(7)?, draw(7)?);
    /// assert!(draw(7)?.iter().all(|w| w.abs() < 0.1));
    /// // 6 weights are not whole columns of 4 inputs.
    /// let mut rng = constnet::SeededRng::seed_from_u64(0);
    /// let sparse = Init::Sparse { connections: 2 };
    /// assert!(sparse.fill(&mut [0.0f32; 6], 4, &mut rng).is_err());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn fill<T: Float>(
        self,
        weights: &mut [T],
        fan_in: usize,
        rng: &mut dyn RngCore,
    ) -> Result<(), Error> {
        // The draws in `f64` (each weight is `T::of_f64` of one), in code that is not generic
        // and so is compiled once in constnet, not in every program that builds a network.
        let mut values = vec![0.0; weights.len()];
        self.fill_f64(&mut values, fan_in, rng)?;
        for (w, &v) in weights.iter_mut().zip(&values) {
            *w = T::of_f64(v);
        }
        Ok(())
    }

    /// [`fill`](Self::fill) in `f64`.
    fn fill_f64(
        self,
        weights: &mut [f64],
        fan_in: usize,
        rng: &mut dyn RngCore,
    ) -> Result<(), Error> {
        match self {
            Init::Sparse { connections } => fill_sparse(weights, fan_in, connections, rng),
            _ => {
                fill_dense(weights, self.std_dev(fan_in), rng);
                Ok(())
            }
        }
    }
}

/// Every weight `std * N(0, 1)`.
fn fill_dense(weights: &mut [f64], std: f64, rng: &mut dyn RngCore) {
    for w in weights {
        *w = gaussian(std, rng);
    }
}

/// Each output neuron (row `o`: elements `o + i * outputs`) gets `connections` distinct random
/// inputs with weights `0.01 * N(0, 1)`; the rest are zero.
fn fill_sparse(
    weights: &mut [f64],
    fan_in: usize,
    connections: usize,
    rng: &mut dyn RngCore,
) -> Result<(), Error> {
    if weights.is_empty() {
        return Ok(());
    }
    if fan_in == 0 || !weights.len().is_multiple_of(fan_in) {
        return Err(Error::BadHyperparameter {
            name: "sparse init fan_in",
            value: fan_in as f64,
            expected: "a divisor of the number of weights",
        });
    }
    weights.fill(0.0);
    let outputs = weights.len() / fan_in;
    let std = Init::Sparse { connections }.std_dev(fan_in);
    for o in 0..outputs {
        if connections >= fan_in {
            for i in 0..fan_in {
                weights[o + i * outputs] = gaussian(std, rng);
            }
        } else {
            for i in rand::seq::index::sample(rng, fan_in, connections) {
                weights[o + i * outputs] = gaussian(std, rng);
            }
        }
    }
    Ok(())
}

fn gaussian(std: f64, rng: &mut dyn RngCore) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    z * std
}
