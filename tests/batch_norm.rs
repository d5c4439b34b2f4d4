//! Batch normalization: training normalizes with the batch's statistics and moves the
//! running ones, evaluation uses the running ones, the running statistics are named state
//! saved with the network, and nets with batch norm (alone, and with dropout and Maxout) pass
//! the gradient check.

use constnet::TensorKind;
use constnet::gradcheck::Options;
use constnet::prelude::*;

network! {
    struct Normed { fc: Dense<3, 6>, bn: BatchNorm }
    struct Slow { fc: Dense<3, 6>, bn: BatchNorm(momentum = 0.5, eps = 1e-3) }
    struct Classifier { fc1: Dense<4, 10>, bn: BatchNorm, act: Tanh, fc2: Dense<10, 3> }
    struct AllThree {
        fc1: Dense<6, 16>,
        bn: BatchNorm,
        mx: Maxout<16, 8, 3>,
        drop: Dropout(0.7),
        fc2: Dense<8, 3>,
    }
}

/// A batch whose features have a spread of tens, so that `var / (var + eps)` is 1 to 1e-7.
fn spread(batch: usize) -> Batch<f64, 3> {
    Batch::<f64, 3>::from_fn(batch, |i, j| {
        let u = ((i * 31 + j * 17) % 23) as f64 / 23.0 - 0.5;
        40.0 * u + 3.0 * i as f64
    })
}

fn feature_moments(y: BatchView<'_, f64, 6>) -> Vec<(f64, f64)> {
    let n = y.ncols() as f64;
    (0..6)
        .map(|j| {
            let row: Vec<f64> = y.row(j).iter().copied().collect();
            let mean = row.iter().sum::<f64>() / n;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            (mean, var)
        })
        .collect()
}

#[test]
fn training_output_has_zero_mean_and_unit_variance_per_feature() {
    let mut net = Normed::<f64>::init(0);
    let x = spread(64);
    let mut tape = net.new_tape(64);
    let y = net.forward_train(x.columns(0, 64), &mut tape).unwrap();
    for (j, (mean, var)) in feature_moments(y).into_iter().enumerate() {
        assert!(mean.abs() < 1e-6, "feature {j}: mean {mean}");
        assert!((var - 1.0).abs() < 1e-6, "feature {j}: variance {var}");
    }
}

#[test]
fn scale_and_shift_set_each_features_std_and_mean() {
    let mut net = Normed::<f64>::init(0);
    let gamma = [1.0, 2.0, -0.5, 3.0, 0.1, 1.5];
    let beta = [0.0, -1.0, 4.0, 0.5, 2.0, -3.0];
    net.write_param("bn.weight", &gamma).unwrap();
    net.write_param("bn.bias", &beta).unwrap();
    let mut tape = net.new_tape(64);
    let y = net
        .forward_train(spread(64).columns(0, 64), &mut tape)
        .unwrap();
    for (j, (mean, var)) in feature_moments(y).into_iter().enumerate() {
        assert!((mean - beta[j]).abs() < 1e-6, "feature {j}: mean {mean}");
        assert!(
            (var - gamma[j] * gamma[j]).abs() < 1e-5,
            "feature {j}: variance {var}"
        );
    }
}

/// The batch-norm layer's input: `fc`'s output, `W x + b`, from the parameters by name.
fn dense_output<N: Network<f64, 3, 6>>(net: &N, x: &Batch<f64, 3>) -> Batch<f64, 6> {
    let w = net.param("fc.weight").unwrap(); // [6, 3] row-major
    let b = net.param("fc.bias").unwrap();
    Batch::<f64, 6>::from_fn(x.ncols(), |j, c| {
        (0..3).map(|i| w[j * 3 + i] * x[(i, c)]).sum::<f64>() + b[j]
    })
}

#[test]
fn a_training_step_moves_the_running_statistics_by_the_momentum() {
    let mut net = Slow::<f64>::init(1);
    assert_eq!(net.param("bn.running_mean").unwrap(), vec![0.0; 6]);
    assert_eq!(net.param("bn.running_var").unwrap(), vec![1.0; 6]);
    let x = spread(32);
    let moments = feature_moments(dense_output(&net, &x).columns(0, 32));
    let mut tape = net.new_tape(32);
    net.forward_train(x.columns(0, 32), &mut tape).unwrap();
    let running_mean = net.param("bn.running_mean").unwrap();
    let running_var = net.param("bn.running_var").unwrap();
    for (j, (mean, var)) in moments.into_iter().enumerate() {
        // momentum 0.5: half the old value (0 and 1) and half the batch's.
        assert!((running_mean[j] - 0.5 * mean).abs() < 1e-9 * (1.0 + mean.abs()));
        assert!((running_var[j] - (0.5 + 0.5 * var)).abs() < 1e-9 * (1.0 + var));
    }
}

#[test]
fn evaluation_uses_the_running_statistics() {
    let mut net = Normed::<f64>::init(2);
    let mean = [1.0, -2.0, 0.5, 0.0, 3.0, -1.0];
    let var = [4.0, 0.25, 1.0, 9.0, 2.0, 0.5];
    let gamma = [1.0, 2.0, 0.5, -1.0, 1.5, 3.0];
    let beta = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
    net.write_param("bn.running_mean", &mean).unwrap();
    net.write_param("bn.running_var", &var).unwrap();
    net.write_param("bn.weight", &gamma).unwrap();
    net.write_param("bn.bias", &beta).unwrap();
    let x = Sample::<f64, 3>::from([0.3, -1.2, 2.0]);
    let h = dense_output(&net, &Batch::<f64, 3>::from_column_slice(x.as_slice()));
    let y = net.forward(&x);
    for j in 0..6 {
        let expected = gamma[j] * (h[j] - mean[j]) / (var[j] + 1e-5).sqrt() + beta[j];
        assert!(
            (y[j] - expected).abs() < 1e-12,
            "feature {j}: {} vs {expected}",
            y[j]
        );
    }
    // The batched evaluation forward agrees, and neither touches the running statistics.
    let state = net.state().to_vec();
    let batch = net.forward_batch(&Batch::<f64, 3>::from_column_slice(x.as_slice()));
    assert!((batch.column(0) - y).norm() < 1e-12);
    assert_eq!(net.state(), &state[..]);
}

#[test]
fn after_training_on_one_batch_evaluation_matches_training() {
    let mut net = Normed::<f64>::init(3);
    let x = spread(50);
    let mut tape = net.new_tape(50);
    for _ in 0..400 {
        net.forward_train(x.columns(0, 50), &mut tape).unwrap();
    }
    let train = tape.output().clone_owned();
    let eval = net.forward_batch(&x);
    // 0.9^400 of the initial statistics is left: nothing.
    assert!((train - eval).amax() < 1e-6);
}

#[test]
fn running_statistics_are_named_state_outside_the_parameters() {
    let net = Classifier::<f32>::new(0);
    assert_eq!(
        net.state_names(),
        [
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked"
        ]
    );
    assert!(!net.param_names().iter().any(|n| n.contains("running")));
    assert_eq!(
        net.param_names(),
        [
            "fc1.weight",
            "fc1.bias",
            "bn.weight",
            "bn.bias",
            "fc2.weight",
            "fc2.bias"
        ]
    );
    assert_eq!(Classifier::<f32>::STATE_COUNT, 2 * 10 + 1);
    assert_eq!(
        Classifier::<f32>::PARAM_COUNT,
        4 * 10 + 10 + 2 * 10 + 10 * 3 + 3
    );
    let t = net.tensor("bn.running_var").unwrap();
    assert_eq!((t.spec.kind, t.spec.shape), (TensorKind::State, &[10][..]));
    let err = net.tensor("bn.running_std").unwrap_err().to_string();
    assert!(
        err.contains("bn.running_mean") && err.contains("fc2.bias"),
        "{err}"
    );
    // Cast carries the state.
    let mut net = net;
    net.write_param("bn.running_mean", &[0.25; 10]).unwrap();
    assert_eq!(
        net.cast::<f64>().param("bn.running_mean").unwrap(),
        vec![0.25; 10]
    );
    assert!(net.write_param("bn.running_var", &[1.0; 9]).is_err());
}

#[test]
fn a_net_with_batch_norm_passes_gradcheck() {
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
fn a_net_with_batch_norm_maxout_and_dropout_passes_gradcheck() {
    let net = AllThree::<f64>::init(6);
    let x = Batch::<f64, 6>::from_fn(10, |i, j| ((i * 7 + j * 3) % 13) as f64 * 0.3 - 1.8);
    let labels = [0, 1, 2, 0, 1, 2, 2, 1, 0, 0];
    let options = Options {
        samples_per_tensor: 200,
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
fn out_of_range_hyperparameters_are_errors_at_run_time() {
    for (momentum, eps) in [(1.0, 1e-5), (-0.1, 1e-5), (0.9, 0.0), (0.9, f64::NAN)] {
        let err = BatchNorm::new(momentum, eps).unwrap_err().to_string();
        assert!(err.contains("batch norm"), "{err}");
    }
    let bn = BatchNorm::new(0.0, 1e-3).unwrap();
    assert_eq!((bn.momentum(), bn.eps()), (0.0, 1e-3));
    assert_eq!(BatchNorm::default(), BatchNorm::new(0.9, 1e-5).unwrap());
}

network! {
    struct DigitsNet {
        fc1: Dense<64, 64>,
        bn1: BatchNorm,
        a1: Relu,
        drop1: Dropout(0.8),
        fc2: Dense<64, 10>,
    }
}

#[test]
fn batch_norm_and_dropout_learn_the_digits() {
    use constnet::datasets::{Header, read_csv};
    let digits = read_csv::<f32, 64>("data/sklearn/digits.csv.gz", Header::None)
        .unwrap()
        .scaled(1.0 / 16.0)
        .shuffled(0);
    let (train, val) = digits.split(1437);
    let mut net = DigitsNet::new(0);
    let mut tape = net.new_tape(32);
    let mut grads = net.new_grads();
    let mut adam = AdamConfig::new(2e-3).build().unwrap();
    let mut batches = train.mini_batches(32, 1).unwrap();
    for _ in 0..8 {
        while let Some((x, labels)) = batches.next_batch() {
            net.loss_and_grad(&x, labels, &SoftmaxCrossEntropy, &mut tape, &mut grads)
                .unwrap();
            adam.step(net.params_mut(), &grads).unwrap();
        }
        batches.next_epoch();
    }
    // Evaluation mode: running statistics, no dropout.
    let accuracy = net.accuracy(&val.inputs, &val.labels).unwrap();
    assert!(accuracy > 0.95, "validation accuracy {accuracy}");
}
