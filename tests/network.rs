//! The generated network API: the notes' sanity checks, parameters by name, tapes, errors.

use approx::assert_relative_eq;
use constnet::prelude::*;

network! {
    /// A 10-class classifier.
    pub struct Classifier {
        fc1: Dense<8, 32>,
        act: Relu,
        fc2: Dense<32, 10>,
    }
}

network! {
    struct Generic<const H: usize> { fc1: Dense<3, H>, act: Tanh, fc2: Dense<H, 2> }
}

fn batch(n: usize) -> Batch<f32, 8> {
    Batch::<f32, 8>::from_fn(n, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5)
}

/// Scales every weight by `factor`, leaving biases at zero.
fn shrink(net: &mut Classifier, factor: f32) {
    for p in net.params_mut() {
        *p *= factor;
    }
}

#[test]
fn softmax_loss_with_tiny_weights_is_ln_of_the_class_count() {
    // The notes: "with small initial random weights the loss should be -ln(0.1) = 2.302".
    let mut net = Classifier::new(1);
    shrink(&mut net, 1e-4);
    let (mut tape, mut grads) = (net.new_tape(50), net.new_grads());
    let labels: Vec<usize> = (0..50).map(|i| i % 10).collect();
    let loss = net
        .loss_and_grad(
            &batch(50),
            &labels[..],
            &SoftmaxCrossEntropy,
            &mut tape,
            &mut grads,
        )
        .unwrap();
    assert_relative_eq!(loss, 10f32.ln(), epsilon = 1e-4);
}

#[test]
fn svm_loss_with_tiny_weights_is_the_class_count_minus_one() {
    let mut net = Classifier::new(2);
    shrink(&mut net, 1e-4);
    let (mut tape, mut grads) = (net.new_tape(50), net.new_grads());
    let labels: Vec<usize> = (0..50).map(|i| (i * 3) % 10).collect();
    let loss = net
        .loss_and_grad(
            &batch(50),
            &labels[..],
            &MulticlassSvm,
            &mut tape,
            &mut grads,
        )
        .unwrap();
    assert_relative_eq!(loss, 9.0, epsilon = 1e-3);
}

#[test]
fn parameters_are_named_and_shaped_like_pytorch_state_dict() {
    let net = Classifier::new(0);
    assert_eq!(
        net.param_shapes(),
        [
            ("fc1.weight".to_string(), vec![32, 8]),
            ("fc1.bias".to_string(), vec![32]),
            ("fc2.weight".to_string(), vec![10, 32]),
            ("fc2.bias".to_string(), vec![10]),
        ]
    );
    assert_eq!(Classifier::<f32>::PARAM_COUNT, 8 * 32 + 32 + 32 * 10 + 10);
    assert_eq!(
        (Classifier::<f32>::INPUT, Classifier::<f32>::OUTPUT),
        (8, 10)
    );
}

#[test]
fn weight_written_row_major_computes_w_times_x() {
    network! { struct Tiny { fc: Dense<3, 2> } }
    let mut net = Tiny::new(0);
    // PyTorch order: row o of W is output o's weights.
    net.write_param("fc.weight", &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        .unwrap();
    net.write_param("fc.bias", &[0.5, -0.5]).unwrap();
    let y = net.forward(&Sample::<f32, 3>::new(1.0, 0.0, -1.0));
    assert_eq!(y.as_slice(), &[1.0 - 3.0 + 0.5, 4.0 - 6.0 - 0.5]);
    assert_eq!(
        net.param("fc.weight").unwrap(),
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
}

#[test]
fn wrong_parameter_name_or_length_is_an_error_not_a_panic() {
    let mut net = Classifier::new(0);
    let err = net.write_param("fc3.weight", &[0.0; 4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown parameter `fc3.weight` (known: fc1.weight, fc1.bias, fc2.weight, fc2.bias)"
    );
    let err = net.write_param("fc2.bias", &[0.0; 4]).unwrap_err();
    assert_eq!(err.to_string(), "fc2.bias: expected 10 values, got 4");
    assert!(net.read_param("fc1.weight", &mut [0.0; 3]).is_err());
    assert!(net.write_param("fc1", &[0.0; 256]).is_err());
}

#[test]
fn init_is_reproducible_from_the_seed() {
    assert_eq!(Classifier::new(5).params(), Classifier::new(5).params());
    assert_ne!(Classifier::new(5).params(), Classifier::new(6).params());
    let biases = Classifier::new(5).param("fc1.bias").unwrap();
    assert!(biases.iter().all(|&b| b == 0.0));
}

#[test]
fn single_sample_forward_matches_the_batched_forward() {
    let net = Classifier::new(3);
    let x = batch(5);
    let scores = net.forward_batch(&x);
    for (j, column) in x.column_iter().enumerate() {
        let one = net.forward(&column.into_owned());
        assert_relative_eq!(one.as_slice(), scores.column(j).as_slice(), epsilon = 1e-5);
        // A view of the column and an array of its features are the same sample.
        assert_eq!(net.forward(&x.column(j)), one);
        let features: [f32; 8] = std::array::from_fn(|i| column[i]);
        assert_eq!(net.forward(&features), one);
        assert_eq!(net.predict(&features), net.predict(&x.column(j)));
    }
}

#[test]
fn every_form_of_a_batch_gives_the_same_scores() {
    let net = Classifier::new(3);
    let x = batch(5);
    let expected = net.forward_batch(&x);
    // Arrays of features, one per sample: a slice, an array of arrays and a Vec of them.
    let rows: Vec<[f32; 8]> = x
        .column_iter()
        .map(|c| std::array::from_fn(|i| c[i]))
        .collect();
    assert_eq!(net.forward_batch(&rows), expected);
    assert_eq!(net.forward_batch(&rows[..]), expected);
    let fixed: [[f32; 8]; 5] = std::array::from_fn(|j| rows[j]);
    assert_eq!(net.forward_batch(&fixed), expected);
    // A view of some columns, a sample and an array of features as a batch of one (another
    // batch size may take other kernels, which round in their own order).
    let close = |got: Batch<f32, 10>, first: usize| {
        let want = expected.columns(first, got.ncols());
        assert_relative_eq!(
            got.as_slice(),
            want.clone_owned().as_slice(),
            epsilon = 1e-5
        );
    };
    close(net.forward_batch(&x.columns(1, 3)), 1);
    close(net.forward_batch(&x.column(1).into_owned()), 1);
    close(net.forward_batch(&x.column(1)), 1);
    close(net.forward_batch(&rows[1]), 1);
    // The same through the other batch methods.
    let labels = [0, 1, 2, 3, 4];
    assert_eq!(net.accuracy(&rows, &labels), net.accuracy(&x, &labels));
    let mut tape = net.new_tape(5);
    let scores = net.forward_into(&fixed, &mut tape).unwrap().clone_owned();
    assert_eq!(scores, expected);
}

#[test]
fn a_batch_larger_than_the_tape_is_an_error() {
    let mut net = Classifier::new(0);
    let mut tape = net.new_tape(4);
    let err = net
        .forward_train(batch(5).columns(0, 5), &mut tape)
        .unwrap_err();
    assert_eq!(err, Error::BatchTooLarge { max: 4, got: 5 });
    let err = net
        .forward_train(batch(0).columns(0, 0), &mut tape)
        .unwrap_err();
    assert_eq!(err, Error::EmptyBatch);
}

#[test]
fn backward_before_forward_and_wrong_gradient_length_are_errors() {
    let mut net = Classifier::new(0);
    let mut tape = net.new_tape(4);
    let mut grads = net.new_grads();
    assert_eq!(net.backward(&mut tape, &mut grads), Err(Error::EmptyBatch));
    net.forward_train(batch(4).columns(0, 4), &mut tape)
        .unwrap();
    assert!(matches!(
        net.backward(&mut tape, &mut grads[1..]),
        Err(Error::WrongLength { .. })
    ));
}

#[test]
fn a_smaller_batch_reuses_a_larger_tape() {
    let net = Classifier::new(4);
    let mut tape = net.new_tape(16);
    let small = batch(3);
    let scores = net
        .forward_into(small.columns(0, 3), &mut tape)
        .unwrap()
        .clone_owned();
    assert_eq!(scores, net.forward_batch(&small));
    assert_eq!((tape.batch(), tape.max_batch()), (3, 16));
}

#[test]
fn input_gradient_is_available_on_request() {
    let mut net = Classifier::new(6);
    let mut tape = net.new_tape(2);
    let mut grads = net.new_grads();
    net.forward_train(batch(2).columns(0, 2), &mut tape)
        .unwrap();
    let (scores, dscores) = tape.output_and_grad_mut();
    SoftmaxCrossEntropy
        .loss_and_grad(scores, &[1, 2][..], dscores)
        .unwrap();
    net.backward_with_input_grad(&mut tape, &mut grads).unwrap();
    assert!(tape.input_grad().iter().any(|&g| g != 0.0));
}

#[test]
fn const_generic_widths_instantiate_at_any_size() {
    let small = Generic::<4>::new(0);
    let large = Generic::<64>::new(0);
    assert_eq!(small.params().len(), 3 * 4 + 4 + 4 * 2 + 2);
    assert_eq!(large.params().len(), 3 * 64 + 64 + 64 * 2 + 2);
    assert_eq!(small.forward(&Sample::<f32, 3>::zeros()).len(), 2);
}

#[test]
fn summary_lists_layers_widths_and_parameter_counts() {
    let text = Classifier::new(0).summary().to_string();
    assert!(
        text.contains("fc1          Dense            8      32        288"),
        "{text}"
    );
    assert!(text.ends_with("618 parameters (f32)"), "{text}");
}

#[test]
fn debug_output_shows_layers_not_every_parameter() {
    let text = format!("{:?}", Classifier::new(0));
    assert!(text.starts_with("Classifier { fc1: Dense"), "{text}");
    assert!(text.contains("params: [f32; 618]"), "{text}");
}

network! {
    struct Mixed { fc: Dense<8, 12>, bn: BatchNorm, mx: Maxout<12, 6, 2>, act: Tanh, out: Dense<6, 10> }
}

/// `backward` overwrites the gradient buffer whatever it held (Dense and Maxout write their
/// gradients directly, the other layers through the zeroing default), and
/// `backward_accumulate` adds into it.
#[test]
fn backward_overwrites_and_backward_accumulate_adds() {
    let mut net = Mixed::new(3);
    let mut tape = net.new_tape(5);
    let x = batch(5);
    let labels = [0usize, 3, 9, 4, 4];
    let mut fresh = net.new_grads();
    net.loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut fresh)
        .unwrap();
    assert!(fresh.iter().all(|g| g.is_finite()) && fresh.iter().any(|&g| g != 0.0));
    let mut stale = vec![f32::NAN; fresh.len()];
    net.loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut stale)
        .unwrap();
    assert_eq!(stale, fresh);
    let mut summed = vec![1.0f32; fresh.len()];
    net.backward_accumulate(&mut tape, &mut summed, false)
        .unwrap();
    for (s, f) in summed.iter().zip(&fresh) {
        assert_relative_eq!(*s, 1.0 + f, epsilon = 1e-6);
    }
}

/// A hidden width as a `const` item, compared with an expression: the macro leaves this
/// boundary to a constant evaluation and converts the views between the two spellings.
const WIDE: usize = 12;

network! {
    /// The widths of `Literal`, spelled so that the macro cannot compare them itself.
    struct Spelled { fc1: Dense<8, WIDE>, act: Tanh, fc2: Dense<{ 3 * 4 }, 10> }

    /// The same network with literal widths.
    struct Literal { fc1: Dense<8, 12>, act: Tanh, fc2: Dense<12, 10> }
}

#[test]
fn widths_the_macro_leaves_to_the_compiler_give_the_same_network() {
    let (mut spelled, mut literal) = (Spelled::new(5), Literal::new(5));
    assert_eq!(spelled.params(), literal.params());
    let x = batch(6);
    let one = x.column(2).into_owned();
    assert_eq!(spelled.forward(&one), literal.forward(&one));
    assert_eq!(spelled.forward_batch(&x), literal.forward_batch(&x));
    let labels = [0usize, 1, 2, 3, 4, 5];
    let (mut tape_s, mut tape_l) = (spelled.new_tape(6), literal.new_tape(6));
    let (mut grads_s, mut grads_l) = (spelled.new_grads(), literal.new_grads());
    let loss_s = spelled
        .loss_and_grad(
            &x,
            &labels[..],
            &SoftmaxCrossEntropy,
            &mut tape_s,
            &mut grads_s,
        )
        .unwrap();
    let loss_l = literal
        .loss_and_grad(
            &x,
            &labels[..],
            &SoftmaxCrossEntropy,
            &mut tape_l,
            &mut grads_l,
        )
        .unwrap();
    assert_eq!((loss_s, &grads_s), (loss_l, &grads_l));
    spelled.forward_train(&x, &mut tape_s).unwrap();
    literal.forward_train(&x, &mut tape_l).unwrap();
    spelled.backward_sgd(&mut tape_s, 0.1, 0.0).unwrap();
    literal.backward_sgd(&mut tape_l, 0.1, 0.0).unwrap();
    assert_eq!(spelled.params(), literal.params());
}
