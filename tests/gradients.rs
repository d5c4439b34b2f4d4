//! Every layer, activation and loss, gradient-checked in f64 against centered differences
//! (the CS231n notes' procedure), to a relative error below 1e-7 away from kinks.

use constnet::gradcheck::{Options, Report};
use constnet::prelude::*;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

#[path = "common/scaled.rs"]
mod scaled;
use scaled::Scaled;

network! {
    struct ReluNet { fc1: Dense<5, 7>, act: Relu, fc2: Dense<7, 4> }
    /// Two inputs: its first layer's gradients come from the second Dense layer's kernel
    /// when the input's gradient is not checked (see `tests/fusion.rs`).
    struct TwoInputNet { fc1: Dense<2, 20>, act: Relu, fc2: Dense<20, 3> }
    struct LeakyNet { fc1: Dense<5, 7>, act: LeakyRelu(0.1), fc2: Dense<7, 4> }
    struct SigmoidNet { fc1: Dense<5, 7>, act: Sigmoid, fc2: Dense<7, 4> }
    struct TanhNet { fc1: Dense<5, 7>, act: Tanh, fc2: Dense<7, 4> }
    struct EluNet { fc1: Dense<5, 7>, act: Elu(0.7), fc2: Dense<7, 4> }
    struct DeepNet {
        fc1: Dense<5, 9>, a1: Relu,
        fc2: Dense<9, 8>, a2: Tanh,
        fc3: Dense<8, 6>, a3: Sigmoid,
        fc4: Dense<6, 4>,
    }
}

fn inputs(batch: usize, seed: u64) -> Batch<f64, 5> {
    let mut rng = constnet::SeededRng::seed_from_u64(seed);
    Batch::<f64, 5>::from_fn(batch, |_, _| rng.sample(StandardNormal))
}

const LABELS: [usize; 6] = [0, 3, 1, 2, 3, 0];

fn options() -> Options {
    Options {
        samples_per_tensor: 1000,
        check_input: true,
        ..Options::default()
    }
}

fn assert_passes(report: &Report) {
    assert!(report.passed(), "\n{report}");
    assert!(report.max_rel_error() < 1e-7, "\n{report}");
    let counted: usize = report
        .tensors
        .iter()
        .map(|t| t.checked - t.kinks - t.round_off)
        .sum();
    assert!(counted > 0, "nothing was compared:\n{report}");
}

fn check_softmax<N: Network<f64, 5, 4>>(net: &N) -> Report {
    net.gradcheck(&inputs(6, 1), &LABELS[..], &SoftmaxCrossEntropy, &options())
        .unwrap()
}

#[test]
fn relu_net_passes_gradcheck_with_every_tensor_and_the_input_checked() {
    let report = check_softmax(&ReluNet::<f64>::init(3));
    assert_passes(&report);
    let names: Vec<_> = report.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "input"]
    );
    // Every element of these small tensors is checked, biases included.
    assert_eq!(report.tensors[1].checked, 7);
}

#[test]
fn a_two_input_relu_net_passes_gradcheck_with_and_without_its_input() {
    let mut rng = constnet::SeededRng::seed_from_u64(8);
    let x = Batch::<f64, 2>::from_fn(40, |_, _| rng.sample(StandardNormal));
    let labels: Vec<usize> = (0..40).map(|i| i % 3).collect();
    for check_input in [false, true] {
        let options = Options {
            samples_per_tensor: 1000,
            check_input,
            ..Options::default()
        };
        let net = TwoInputNet::<f64>::init(9);
        let report = net
            .gradcheck(&x, &labels[..], &SoftmaxCrossEntropy, &options)
            .unwrap();
        assert_passes(&report);
    }
}

#[test]
fn leaky_relu_net_passes_gradcheck() {
    assert_passes(&check_softmax(&LeakyNet::<f64>::init(4)));
}

#[test]
fn sigmoid_net_passes_gradcheck() {
    assert_passes(&check_softmax(&SigmoidNet::<f64>::init(5)));
}

#[test]
fn tanh_net_passes_gradcheck() {
    assert_passes(&check_softmax(&TanhNet::<f64>::init(6)));
}

#[test]
fn elu_net_passes_gradcheck() {
    assert_passes(&check_softmax(&EluNet::<f64>::init(7)));
}

#[test]
fn deep_mixed_net_passes_gradcheck() {
    assert_passes(&check_softmax(&DeepNet::<f64>::init(8)));
}

#[test]
fn svm_loss_passes_gradcheck_with_its_hinge_kinks_reported() {
    let net = TanhNet::<f64>::init(9);
    let report = net
        .gradcheck(&inputs(6, 2), &LABELS[..], &MulticlassSvm, &options())
        .unwrap();
    assert_passes(&report);
}

#[test]
fn mse_loss_passes_gradcheck() {
    let net = SigmoidNet::<f64>::init(10);
    let targets = Batch::<f64, 4>::from_fn(6, |i, j| (i as f64 - j as f64) * 0.25);
    let report = net
        .gradcheck(&inputs(6, 3), &targets, &MeanSquaredError, &options())
        .unwrap();
    assert_passes(&report);
}

#[test]
fn l2_regularized_loss_passes_gradcheck() {
    let net = ReluNet::<f64>::init(11);
    let options = Options {
        regularizer: Some(Regularizer::l2(0.3).unwrap()),
        ..options()
    };
    let report = net
        .gradcheck(&inputs(6, 4), &LABELS[..], &SoftmaxCrossEntropy, &options)
        .unwrap();
    assert_passes(&report);
}

#[test]
fn a_trained_f32_net_cast_to_f64_passes_gradcheck() {
    let mut net = TanhNet::new(12);
    let x = inputs(6, 5).map(|v| v as f32);
    let mut tape = net.new_tape(6);
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(0.1).unwrap();
    for _ in 0..20 {
        net.loss_and_grad(&x, &LABELS[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
            .unwrap();
        sgd.step(net.params_mut(), &grads).unwrap();
    }
    assert_passes(&check_softmax(&net.cast::<f64>()));
}

#[test]
fn gradcheck_reports_a_wrong_gradient() {
    // A layer whose backward is off by a factor of two must fail the check.
    type Doubled = Scaled<1, 2>;
    network! { struct Wrong { fc1: Dense<5, 4>, bad: Doubled => 4, fc2: Dense<4, 4> } }
    let report = check_softmax(&Wrong::<f64>::init(1));
    assert!(!report.passed());
    let fc1 = &report.tensors[0];
    assert!(fc1.failures > 0 && fc1.max_rel_error > 0.3, "\n{report}");
    // fc2 sits after the wrong layer, so its gradients are still right.
    assert_eq!(report.tensors[2].failures, 0, "\n{report}");
}

#[test]
fn gradcheck_detects_kinks_instead_of_failing_on_them() {
    // A ReLU input sitting exactly at the kink: the perturbation crosses it.
    let mut net = ReluNet::<f64>::init(13);
    net.write_param("fc1.bias", &[0.0; 7]).unwrap();
    net.write_param("fc1.weight", &[0.0; 35]).unwrap();
    let options = Options {
        samples_per_tensor: 1000,
        ..Options::default()
    };
    let report = net
        .gradcheck(&inputs(6, 6), &LABELS[..], &SoftmaxCrossEntropy, &options)
        .unwrap();
    assert!(report.tensors[1].kinks > 0, "\n{report}");
    assert!(report.passed(), "\n{report}");
}

#[test]
fn dense_layer_alone_passes_gradcheck() {
    network! { struct Linear { fc: Dense<5, 4> } }
    assert_passes(&check_softmax(&Linear::<f64>::init(14)));
}
