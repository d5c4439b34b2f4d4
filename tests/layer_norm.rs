//! Layer normalization: each sample normalized over its features (mean 0 and standard
//! deviation 1 before the affine part), gamma and beta applied after, the same in training
//! and evaluation; PyTorch's names; gradient-checked alone and in a deeper net; trained.

use constnet::gradcheck::Options;
use constnet::prelude::*;
use constnet::train::{Config, Progress, fit};
use constnet::{Checkpoint, TensorKind};

network! {
    struct Normed { fc: Dense<3, 6>, ln: LayerNorm }
    struct Loose { fc: Dense<3, 6>, ln: LayerNorm(eps = 1e-2) }
    struct Classifier {
        fc1: Dense<4, 10>, ln1: LayerNorm, a1: Tanh,
        fc2: Dense<10, 8>, ln2: LayerNorm, a2: Relu,
        fc3: Dense<8, 3>,
    }
}

fn inputs(batch: usize) -> Batch<f64, 3> {
    Batch::<f64, 3>::from_fn(batch, |i, j| {
        let u = ((i * 31 + j * 17) % 23) as f64 / 23.0 - 0.5;
        20.0 * u + 3.0 * j as f64
    })
}

/// Each column's mean and (biased) variance.
fn moments(y: &Batch<f64, 6>) -> Vec<(f64, f64)> {
    y.column_iter()
        .map(|c| {
            let mean = c.sum() / 6.0;
            let var = c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 6.0;
            (mean, var)
        })
        .collect()
}

#[test]
fn each_sample_is_normalized_then_scaled_and_shifted() {
    let mut net = Normed::<f64>::init(1);
    let x = inputs(5);
    // gamma 1, beta 0 (the initial values): every sample has mean 0 and variance
    // var / (var + eps), which is 1 to 1e-6 for these spreads.
    let y = net.forward_batch(&x);
    for (mean, var) in moments(&y) {
        assert!(
            mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-6,
            "{mean} {var}"
        );
    }
    // Training mode computes the same: no batch statistics, no running state.
    let mut tape = net.new_tape(5);
    let trained = net.forward_train(&x, &mut tape).unwrap().into_owned();
    assert_eq!(trained, y);
    assert_eq!(net.state(), &[] as &[f64]);
    // gamma and beta, by the definition: y = gamma * x_hat + beta
    let gamma = [1.0, 2.0, -1.0, 0.5, 3.0, 0.0];
    let beta = [0.0, -1.0, 4.0, 0.25, 2.0, 7.0];
    net.write_param("ln.weight", &gamma).unwrap();
    net.write_param("ln.bias", &beta).unwrap();
    let scaled = net.forward_batch(&x);
    for (c, (yc, sc)) in y.column_iter().zip(scaled.column_iter()).enumerate() {
        for j in 0..6 {
            assert!(
                (sc[j] - (gamma[j] * yc[j] + beta[j])).abs() < 1e-12,
                "{c} {j}"
            );
        }
        // and the single-sample path agrees with the batched one
        let one = net.forward(&x.column(c).into_owned());
        assert!((one - sc).amax() < 1e-12);
    }
}

#[test]
fn eps_is_added_to_the_variance() {
    let net = Loose::<f64>::init(1);
    // A sample of features (-1, 1, -1, 1, -1, 1): variance 1; with eps 1e-2, x_hat = x / sqrt(1.01).
    let mut x = Batch::<f64, 3>::zeros(1);
    x.copy_from_slice(&[1.0, 0.0, 0.0]);
    let mut z = net.clone();
    z.write_param(
        "fc.weight",
        &[
            1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0,
            0.0,
        ],
    )
    .unwrap();
    z.write_param("fc.bias", &[0.0; 6]).unwrap();
    let y = z.forward_batch(&x);
    let expected = 1.0 / 1.01f64.sqrt();
    for (j, v) in y.iter().enumerate() {
        let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
        assert!((v - sign * expected).abs() < 1e-12, "{y}");
    }
}

#[test]
fn parameters_have_pytorch_names_and_travel_in_checkpoints() {
    let net = Classifier::<f32>::new(3);
    let names = net.param_names();
    assert!(names.contains(&"ln1.weight".to_string()) && names.contains(&"ln2.bias".to_string()));
    assert_eq!(net.param("ln1.weight").unwrap(), [1.0; 10]);
    assert_eq!(net.param("ln2.bias").unwrap(), [0.0; 8]);
    let t = net.tensor("ln1.weight").unwrap();
    assert_eq!((t.spec.kind, t.spec.shape), (TensorKind::Bias, &[10][..]));
    assert_eq!(Classifier::<f32>::STATE_COUNT, 0);
    let mut other = Classifier::<f32>::new(4);
    other.write_param("ln1.weight", &[0.5; 10]).unwrap();
    let checkpoint = Checkpoint::of(&other);
    let mut restored = Classifier::<f32>::new(9);
    checkpoint.restore(&mut restored).unwrap();
    assert_eq!(restored.param("ln1.weight").unwrap(), [0.5; 10]);
}

#[test]
fn a_net_with_layer_norm_passes_gradcheck() {
    let net = Classifier::<f64>::init(5);
    let x = Batch::<f64, 4>::from_fn(8, |i, j| ((i * 5 + j * 3) % 11) as f64 * 0.4 - 2.0);
    let labels = [0, 1, 2, 0, 1, 2, 2, 1];
    let options = Options {
        samples_per_tensor: 1000,
        check_input: true,
        ..Options::default()
    };
    let report = net
        .gradcheck(&x, &labels[..], &SoftmaxCrossEntropy, &options)
        .unwrap();
    assert!(report.passed(), "{report}");
    assert!(report.max_rel_error() < 1e-7, "{report}");
}

#[test]
fn a_net_with_layer_norm_trains_on_the_spiral() {
    network! {
        struct Spiral { fc1: Dense<2, 64>, ln: LayerNorm, relu: Relu, fc2: Dense<64, 3> }
    }
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let mut net = Spiral::new(0);
    let mut adam = AdamConfig::new(1e-2).build().unwrap();
    let config = Config {
        progress: Progress::Silent,
        ..Config::new(100, 50)
    };
    fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config,
    )
    .unwrap();
    let accuracy = net.accuracy(&data.inputs, &data.labels).unwrap();
    assert!(accuracy > 0.9, "{accuracy}");
}

#[test]
fn out_of_range_eps_is_an_error_at_run_time() {
    for eps in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-40] {
        let err = LayerNorm::new(eps).unwrap_err().to_string();
        assert!(err.contains("layer norm eps"), "{err}");
    }
}
