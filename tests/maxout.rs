//! Maxout: each output is the max over its pieces, the gradient reaches the winning piece
//! only, every forward agrees, and a net of Maxout layers passes the gradient check.

use approx::assert_relative_eq;
use constnet::gradcheck::Options;
use constnet::prelude::*;

network! {
    struct Tiny { mx: Maxout<2, 2, 3> }
    struct OnePiece { mx: Maxout<3, 4, 1> }
    struct AsDense { fc: Dense<3, 4> }
    struct Deep { fc1: Dense<5, 12>, mx1: Maxout<12, 8>, mx2: Maxout<8, 6, 4>, fc2: Dense<6, 3> }
}

// Pieces k = 0, 1, 2 of outputs o = 0, 1; row k * 2 + o of the [6, 2] weight.
const W: [f64; 12] = [
    1.0, 0.0, // k0 o0
    0.0, 1.0, // k0 o1
    -1.0, 0.0, // k1 o0
    0.0, -1.0, // k1 o1
    0.5, 0.5, // k2 o0
    2.0, -2.0, // k2 o1
];
const B: [f64; 6] = [0.0, 0.0, 0.0, 0.0, 1.0, -1.0];

fn tiny() -> Tiny<f64> {
    let mut net = Tiny::<f64>::init(0);
    net.write_param("mx.weight", &W).unwrap();
    net.write_param("mx.bias", &B).unwrap();
    net
}

/// max over k of (W_k x + b_k), by hand from the row-major constants.
fn by_hand(x: [f64; 2]) -> [f64; 2] {
    let piece = |row: usize| W[row * 2] * x[0] + W[row * 2 + 1] * x[1] + B[row];
    let out = |o: usize| (0..3).map(|k| piece(k * 2 + o)).fold(f64::MIN, f64::max);
    [out(0), out(1)]
}

#[test]
fn every_forward_takes_the_max_over_the_pieces() {
    let mut net = tiny();
    let samples = [[3.0, 1.0], [-2.0, 0.5], [0.2, 0.3], [1.0, -4.0]];
    let x = Batch::<f64, 2>::from_fn(4, |i, c| samples[c][i]);
    let eval = net.forward_batch(&x);
    let mut tape = net.new_tape(4);
    let train = net
        .forward_train(x.columns(0, 4), &mut tape)
        .unwrap()
        .clone_owned();
    for (c, s) in samples.iter().enumerate() {
        let expected = by_hand(*s);
        let one = net.forward(&Sample::<f64, 2>::from(*s));
        assert_relative_eq!(one.as_slice(), &expected[..], epsilon = 1e-12);
        assert_relative_eq!(eval.column(c).as_slice(), &expected[..], epsilon = 1e-12);
        assert_relative_eq!(train.column(c).as_slice(), &expected[..], epsilon = 1e-12);
    }
}

#[test]
fn the_gradient_reaches_the_winning_piece_only() {
    let mut net = tiny();
    // x = [3, 1]: output 0's pieces are 3, -3, 3 (k0 wins the tie, the first maximum);
    // output 1's pieces are 1, -1, 3 (k2 wins).
    let x = Batch::<f64, 2>::from_column_slice(&[3.0, 1.0]);
    let mut tape = net.new_tape(1);
    net.forward_train(x.columns(0, 1), &mut tape).unwrap();
    let (_, mut dy) = tape.output_and_grad_mut();
    dy.copy_from_slice(&[1.0, 10.0]);
    let mut grads = net.new_grads();
    net.backward_with_input_grad(&mut tape, &mut grads).unwrap();
    // The gradient buffer read by name, as a network whose parameters are the gradients.
    let mut as_params = net.clone();
    as_params.params_mut().copy_from_slice(&grads);
    let dw = as_params.param("mx.weight").unwrap();
    let db = as_params.param("mx.bias").unwrap();
    // Rows k0 o0 (dy 1) and k2 o1 (dy 10) get dy * x; every other row nothing.
    let expected_dw = [3.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 30.0, 10.0];
    assert_eq!(dw, expected_dw);
    assert_eq!(db, [1.0, 0.0, 0.0, 0.0, 0.0, 10.0]);
    // dx = sum over winners of dy * w_row: 1 * [1, 0] + 10 * [2, -2].
    assert_eq!(tape.input_grad().as_slice(), &[21.0, -20.0]);
}

#[test]
fn one_piece_is_a_dense_layer() {
    let maxout = OnePiece::<f64>::init(3);
    let mut dense = AsDense::<f64>::init(0);
    dense.params_mut().copy_from_slice(maxout.params());
    let x = Batch::<f64, 3>::from_fn(5, |i, c| (i * 5 + c) as f64 * 0.2 - 1.0);
    assert_relative_eq!(
        maxout.forward_batch(&x).as_slice(),
        dense.forward_batch(&x).as_slice(),
        epsilon = 1e-12
    );
}

#[test]
fn parameters_are_k_times_out_rows_and_pieces_default_to_two() {
    let net = Deep::<f32>::new(0);
    let shapes = net.param_shapes();
    assert_eq!(shapes[2], ("mx1.weight".to_string(), vec![2 * 8, 12]));
    assert_eq!(shapes[3], ("mx1.bias".to_string(), vec![2 * 8]));
    assert_eq!(shapes[4], ("mx2.weight".to_string(), vec![4 * 6, 8]));
    let expected = 5 * 12 + 12 + 16 * 12 + 16 + 24 * 8 + 24 + 6 * 3 + 3;
    assert_eq!(Deep::<f32>::PARAM_COUNT, expected);
    assert_eq!(net.summary().to_string().matches("Maxout").count(), 2);
}

#[test]
fn a_net_of_maxout_layers_passes_gradcheck() {
    let net = Deep::<f64>::init(7);
    let x = Batch::<f64, 5>::from_fn(9, |i, c| ((i * 4 + c * 7) % 10) as f64 * 0.35 - 1.6);
    let labels = [0, 1, 2, 2, 1, 0, 1, 2, 0];
    let options = Options {
        samples_per_tensor: 300,
        check_input: true,
        ..Options::default()
    };
    let report = net
        .gradcheck(&x, &labels[..], &SoftmaxCrossEntropy, &options)
        .unwrap();
    assert!(report.passed(), "{report}");
    assert!(report.max_rel_error() < 1e-7, "{report}");
}
