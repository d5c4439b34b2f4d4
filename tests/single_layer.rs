//! Networks that start with a width-keeping layer whose width is written (`LayerNorm<5>`,
//! `Relu<3>`): each layer checked alone, as a network of one layer, by the gradient check
//! (input gradient included) and, for dropout, by hand with a given mask.

use constnet::gradcheck::Options;
use constnet::prelude::*;

network! {
    struct LnAlone { ln: LayerNorm<5> }
    struct BnAlone { bn: BatchNorm<4>(momentum = 0.5) }
    struct TanhAlone { act: Tanh<3> }
    struct SigmoidAlone { act: Sigmoid<3> }
    struct EluAlone { act: Elu<3>(0.5) }
    struct LeakyAlone { act: LeakyRelu<3>(0.1) }
    struct DropAlone { drop: Dropout<6>(0.75, seed = 5) }
    /// A ReLU first, then the Dense + ReLU pairs the macro fuses.
    struct ReluFirst { relu: Relu<3>, fc1: Dense<3, 8>, a1: Relu, fc2: Dense<8, 3> }
}

fn x<const N: usize>(batch: usize) -> Batch<f64, N> {
    Batch::<f64, N>::from_fn(batch, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.37 - 1.9)
}

/// Gradient-checks `net` on a few samples with labels below `N`, the input gradient too.
fn check<const N: usize, Net: Network<f64, N, N>>(net: &Net) {
    let labels: Vec<usize> = (0..6).map(|j| j % N).collect();
    let options = Options {
        samples_per_tensor: 100,
        check_input: true,
        ..Options::default()
    };
    let report = net
        .gradcheck(&x::<N>(6), &labels[..], &SoftmaxCrossEntropy, &options)
        .unwrap();
    assert!(report.passed(), "{report}");
    assert!(report.max_rel_error() < 1e-7, "{report}");
}

#[test]
fn each_width_keeping_layer_passes_gradcheck_alone() {
    assert_eq!((LnAlone::<f64>::INPUT, LnAlone::<f64>::OUTPUT), (5, 5));
    check(&LnAlone::<f64>::init(0));
    check(&BnAlone::<f64>::init(0));
    check(&TanhAlone::<f64>::init(0));
    check(&SigmoidAlone::<f64>::init(0));
    check(&EluAlone::<f64>::init(0));
    check(&LeakyAlone::<f64>::init(0));
}

#[test]
fn a_network_may_start_with_a_relu() {
    let net = ReluFirst::<f64>::init(1);
    check_classifier(&net);
    // Its first layer is the ReLU: negative inputs give the same output as zeros.
    let mut clipped = x::<3>(4);
    let raw = clipped.clone();
    clipped.apply(|v| *v = v.max(0.0));
    assert_eq!(net.forward_batch(&raw), net.forward_batch(&clipped));
}

fn check_classifier(net: &ReluFirst<f64>) {
    let labels = [0, 1, 2, 0, 1, 2];
    let options = Options {
        check_input: true,
        ..Options::default()
    };
    let report = net
        .gradcheck(&x::<3>(6), &labels[..], &SoftmaxCrossEntropy, &options)
        .unwrap();
    assert!(report.passed(), "{report}");
}

#[test]
fn dropout_alone_with_a_given_mask_is_x_mask_over_p_both_ways() {
    let net = DropAlone::<f64>::init(0);
    let x = x::<6>(2);
    let keep = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
    let mut tape = net.new_tape(2);
    tape.set_mask("drop", &keep).unwrap();
    let mut net = net;
    let y = net.forward_train(&x, &mut tape).unwrap().clone_owned();
    let dy: Vec<f64> = (0..12).map(|i| i as f64 * 0.5 - 2.0).collect();
    tape.output_and_grad_mut().1.copy_from_slice(&dy);
    net.backward_with_input_grad(&mut tape, &mut []).unwrap();
    for i in 0..12 {
        assert!((y.as_slice()[i] - x.as_slice()[i] * keep[i] / 0.75).abs() < 1e-15);
        assert!((tape.input_grad().as_slice()[i] - dy[i] * keep[i] / 0.75).abs() < 1e-15);
    }
}
