//! Weight initialization: every scheme's draws match its formula (mean and variance within a
//! few standard errors over 200k values), sparse init connects each output neuron to exactly
//! the requested number of inputs, `#[init(...)]` in `network!` selects the scheme and the
//! bias, and the same seed gives the same parameters.

use constnet::Init;
use constnet::SeededRng;
use constnet::layers::Dense;
use constnet::prelude::*;
use rand::SeedableRng;

/// How many standard errors a sample statistic may stray from its expected value.
const Z: f64 = 5.0;

/// Checks that `values` look like `N(0, std^2)` draws: the sample mean is within `Z` standard
/// errors (`std / sqrt(n)`) of 0 and the sample variance within `Z` standard errors
/// (`std^2 sqrt(2 / (n - 1))` for a gaussian) of `std^2`.
fn assert_gaussian(values: &[f64], std: f64, what: &str) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let mean_tol = Z * std / n.sqrt();
    let var_tol = Z * std * std * (2.0 / (n - 1.0)).sqrt();
    assert!(
        mean.abs() < mean_tol,
        "{what}: mean {mean} is not within {mean_tol} of 0"
    );
    assert!(
        (var - std * std).abs() < var_tol,
        "{what}: variance {var} is not within {var_tol} of {}",
        std * std
    );
}

fn filled(init: Init, len: usize, fan_in: usize, seed: u64) -> Vec<f64> {
    let mut w = vec![f64::NAN; len];
    init.fill(&mut w, fan_in, &mut SeededRng::seed_from_u64(seed))
        .expect("whole columns of fan_in inputs");
    w
}

/// The rows of a `[rows, cols]` row-major tensor (what `Network::param` returns).
fn rows(values: &[f64], cols: usize) -> impl Iterator<Item = &[f64]> {
    values.chunks_exact(cols)
}

#[test]
fn fill_draws_each_scheme_with_its_mean_and_variance() {
    let fan_in: usize = 50;
    let n = 200_000;
    let cases = [
        (Init::He, (2.0 / fan_in as f64).sqrt()),
        (Init::Calibrated, 1.0 / (fan_in as f64).sqrt()),
        (Init::SmallRandom, 0.01),
    ];
    for (seed, (init, std)) in cases.into_iter().enumerate() {
        assert_eq!(init.std_dev(fan_in), std, "{init:?}");
        assert_gaussian(
            &filled(init, n, fan_in, seed as u64),
            std,
            &format!("{init:?}"),
        );
    }
}

#[test]
fn fill_sparse_gives_each_output_neuron_exactly_its_connections() {
    // 40 outputs, 100 inputs, column-major: output o, input i at o + 40 * i.
    let (outputs, fan_in) = (40, 100);
    for connections in [1, 10, 37, 99] {
        let w = filled(
            Init::Sparse { connections },
            outputs * fan_in,
            fan_in,
            connections as u64,
        );
        for o in 0..outputs {
            let nonzero = (0..fan_in).filter(|i| w[o + outputs * i] != 0.0).count();
            assert_eq!(nonzero, connections, "output {o}, sparse({connections})");
        }
    }
}

#[test]
fn fill_sparse_connects_every_input_when_connections_reach_fan_in() {
    for connections in [8, 9, 1000] {
        let w = filled(Init::Sparse { connections }, 3 * 8, 8, 0);
        assert!(w.iter().all(|&v| v != 0.0), "sparse({connections}): {w:?}");
    }
    let w = filled(Init::Sparse { connections: 0 }, 3 * 8, 8, 0);
    assert!(w.iter().all(|&v| v == 0.0));
}

#[test]
fn fill_sparse_with_weights_not_whole_columns_is_an_error_and_draws_nothing() {
    let mut rng = SeededRng::seed_from_u64(0);
    for (len, fan_in) in [(10, 4), (6, 0), (5, 10)] {
        let mut w = vec![7.0f32; len];
        let result = Init::Sparse { connections: 2 }.fill(&mut w, fan_in, &mut rng);
        assert!(
            matches!(result, Err(Error::BadHyperparameter { .. })),
            "{len} weights, fan_in {fan_in}: {result:?}"
        );
        assert!(w.iter().all(|&v| v == 7.0), "{len} weights touched: {w:?}");
    }
    // Empty weights have nothing to draw, whatever the fan-in.
    assert!(
        Init::Sparse { connections: 2 }
            .fill::<f32>(&mut [], 0, &mut rng)
            .is_ok()
    );
}

#[test]
fn fill_sparse_nonzero_weights_are_small_gaussians() {
    // 20_000 outputs of 10 connections among 50 inputs: 200k nonzero weights.
    let w = filled(Init::Sparse { connections: 10 }, 20_000 * 50, 50, 3);
    let nonzero: Vec<f64> = w.into_iter().filter(|&v| v != 0.0).collect();
    assert_eq!(nonzero.len(), 200_000);
    assert_gaussian(&nonzero, 0.01, "sparse nonzero weights");
}

#[test]
fn fill_is_reproducible_from_the_generator() {
    for init in [
        Init::He,
        Init::Calibrated,
        Init::SmallRandom,
        Init::Sparse { connections: 3 },
    ] {
        assert_eq!(filled(init, 60, 10, 9), filled(init, 60, 10, 9), "{init:?}");
        assert_ne!(
            filled(init, 60, 10, 9),
            filled(init, 60, 10, 10),
            "{init:?}"
        );
    }
}

network! {
    /// One 200k-weight layer per scheme.
    struct Schemes {
        #[init(he)]
        he: Dense<500, 400>,
        #[init(calibrated)]
        calibrated: Dense<400, 500>,
        act: Relu,
        #[init(small_random)]
        small: Dense<500, 400>,
    }
}

#[test]
fn init_attributes_select_each_scheme() -> Result<(), Error> {
    let net = Schemes::<f64>::init(1);
    assert_gaussian(&net.param("he.weight")?, (2.0f64 / 500.0).sqrt(), "he");
    // `calibrated` feeds a ReLU: the attribute overrides the He default.
    assert_gaussian(
        &net.param("calibrated.weight")?,
        1.0 / 400f64.sqrt(),
        "calibrated",
    );
    assert_gaussian(&net.param("small.weight")?, 0.01, "small_random");
    for bias in ["he.bias", "calibrated.bias", "small.bias"] {
        assert!(net.param(bias)?.iter().all(|&b| b == 0.0), "{bias}");
    }
    Ok(())
}

network! {
    /// The defaults: He before a ReLU-family activation, calibrated elsewhere.
    struct Plain {
        fc1: Dense<300, 200>,
        act: Elu,
        fc2: Dense<200, 100>,
        out: Tanh,
    }

    /// The same layers with the defaults spelled out.
    struct Explicit {
        #[init(he)]
        fc1: Dense<300, 200>,
        act: Elu,
        #[init(calibrated)]
        fc2: Dense<200, 100>,
        out: Tanh,
    }

    /// The same layers with only a bias given: the default schemes stay.
    struct BiasOnly {
        #[init(bias = 0.01)]
        fc1: Dense<300, 200>,
        act: Elu,
        #[init(bias = -2)]
        fc2: Dense<200, 100>,
        out: Tanh,
    }
}

#[test]
fn without_a_scheme_the_defaults_apply() -> Result<(), Error> {
    let plain = Plain::<f64>::init(5);
    assert_gaussian(&plain.param("fc1.weight")?, (2.0f64 / 300.0).sqrt(), "fc1");
    assert_gaussian(&plain.param("fc2.weight")?, 1.0 / 200f64.sqrt(), "fc2");
    assert_eq!(plain.params(), Explicit::<f64>::init(5).params());

    let bias_only = BiasOnly::<f64>::init(5);
    for name in ["fc1.weight", "fc2.weight"] {
        assert_eq!(bias_only.param(name)?, plain.param(name)?, "{name}");
    }
    assert_eq!(bias_only.param("fc1.bias")?, vec![0.01; 200]);
    assert_eq!(bias_only.param("fc2.bias")?, vec![-2.0; 100]);
    Ok(())
}

/// A width the macro cannot read, so `sparse(20)` above it is left to the run time.
const NARROW: usize = 8;

network! {
    /// Sparse layers, with and without a connection count.
    struct Sparse {
        #[init(sparse(20), bias = 0.01)]
        fc1: Dense<100, 60>,
        act: Relu,
        #[init(sparse)]
        fc2: Dense<60, 30>,
        #[init(sparse(3))]
        fc3: Dense<30, NARROW>,
        #[init(sparse(20))]
        fc4: Dense<NARROW, 5>,
    }
}

#[test]
fn sparse_layers_have_exactly_the_requested_fan_in_per_output() -> Result<(), Error> {
    let net = Sparse::<f64>::init(11);
    // `param` gives `[out, in]` row-major: one row per output neuron.
    let cases = [
        ("fc1.weight", 100, 20),
        ("fc2.weight", 60, Init::DEFAULT_SPARSE_CONNECTIONS),
        ("fc3.weight", 30, 3),
        ("fc4.weight", NARROW, NARROW),
    ];
    for (name, fan_in, connections) in cases {
        let w = net.param(name)?;
        for (o, row) in rows(&w, fan_in).enumerate() {
            let nonzero = row.iter().filter(|&&v| v != 0.0).count();
            assert_eq!(nonzero, connections, "{name}, output {o}");
            assert!(row.iter().all(|v| v.abs() < 0.1), "{name}, output {o}");
        }
    }

    // The inputs are drawn per neuron: 60 neurons with 20 of 100 inputs each use nearly all
    // the inputs (each is missed by all of them with probability 0.8^60 ~ 2e-6).
    let w = net.param("fc1.weight")?;
    let used = (0..100)
        .filter(|&i| rows(&w, 100).any(|row| row[i] != 0.0))
        .count();
    assert!(used >= 98, "only {used} of 100 inputs connected");

    assert_eq!(net.param("fc1.bias")?, vec![0.01; 60]);
    assert!(net.param("fc2.bias")?.iter().all(|&b| b == 0.0));
    Ok(())
}

network! {
    /// Small random weights with a positive bias, in the default scalar type.
    struct Biased {
        #[init(small_random, bias = 0.01)]
        fc1: Dense<500, 400>,
        act: Relu,
        fc2: Dense<400, 3>,
    }
}

#[test]
fn small_random_with_a_bias_in_f32() -> Result<(), Error> {
    let net = Biased::new(2);
    let w: Vec<f64> = net.param("fc1.weight")?.iter().map(|&v| v.into()).collect();
    assert_gaussian(&w, 0.01, "fc1");
    assert_eq!(net.param("fc1.bias")?, vec![0.01f32; 400]);
    assert!(net.param("fc2.bias")?.iter().all(|&b| b == 0.0));
    Ok(())
}

#[test]
fn the_same_seed_gives_the_same_parameters() {
    assert_eq!(
        Sparse::<f64>::init(3).params(),
        Sparse::<f64>::init(3).params()
    );
    assert_ne!(
        Sparse::<f64>::init(3).params(),
        Sparse::<f64>::init(4).params()
    );
    assert_eq!(Biased::new(3).params(), Biased::new(3).params());
    assert_ne!(Biased::new(3).params(), Biased::new(4).params());
    // The f64 and f32 networks draw the same values, rounded.
    let (wide, narrow) = (Biased::<f64>::init(3), Biased::new(3));
    let rounded: Vec<f32> = wide.params().iter().map(|&v| v as f32).collect();
    assert_eq!(rounded, narrow.params());
}

#[test]
fn dense_layers_carry_their_scheme_and_bias() {
    const FC: Dense<6, 4> = Dense::new(Init::Sparse { connections: 2 }).with_bias(0.5);
    assert_eq!(FC.init, Init::Sparse { connections: 2 });
    assert_eq!(Dense::<6, 4>::new(Init::He).bias, 0.0);
    assert_eq!(Dense::<6, 4>::default(), Dense::new(Init::He));

    let mut p = [f64::NAN; 6 * 4 + 4];
    Layer::<f64, 6, 4>::init(&FC, &mut p, &mut SeededRng::seed_from_u64(0));
    let (w, b) = p.split_at(24);
    for o in 0..4 {
        assert_eq!((0..6).filter(|i| w[o + 4 * i] != 0.0).count(), 2);
    }
    assert_eq!(b, [0.5; 4]);

    network! { struct Net { #[init(sparse(2), bias = 0.5)] fc: Dense<6, 4> } }
    let net = Net::<f64>::init(0);
    assert_eq!(net.fc, FC);
    assert_eq!(net.params(), p);
}
