//! `network!` fuses every `Dense` with a `Relu` next to it (the ReLU's forward into the
//! product before it, its backward into the product after it). Each fused network here is
//! compared with the same network whose ReLUs are `LeakyRelu(0.0)`, which computes the same
//! function but is never fused: outputs, parameter gradients (overwritten and accumulated)
//! and input gradients must agree exactly, on the one-sample, evaluation and training paths
//! (to rounding where the first layer's gradients come from the fused kernel of a network
//! that starts Dense, Relu, Dense, which sums over the batch in another order).

use approx::assert_relative_eq;
use constnet::Kinks;
use constnet::prelude::*;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

network! {
    /// The spiral net's shape: the 2-input layer and the 3-output one take the shallow
    /// kernels, which fuse the ReLU in registers.
    struct Spiral { fc1: Dense<2, 100>, act: Relu, fc2: Dense<100, 3> }
    struct SpiralRef { fc1: Dense<2, 100>, act: LeakyRelu(0.0), fc2: Dense<100, 3> }

    /// The middle layer is fused on both sides; the packed product applies the ReLU after.
    struct Deep {
        fc1: Dense<20, 40>, a1: Relu,
        fc2: Dense<40, 30>, a2: Relu,
        fc3: Dense<30, 5>,
    }
    struct DeepRef {
        fc1: Dense<20, 40>, a1: LeakyRelu(0.0),
        fc2: Dense<40, 30>, a2: LeakyRelu(0.0),
        fc3: Dense<30, 5>,
    }

    /// A ReLU that ends the network, and one followed by another activation: their forward
    /// is fused, their backward runs on their own from their output.
    struct Tail { fc1: Dense<6, 8>, a1: Relu, t: Tanh, fc2: Dense<8, 7>, a2: Relu }
    struct TailRef { fc1: Dense<6, 8>, a1: LeakyRelu(0.0), t: Tanh, fc2: Dense<8, 7>, a2: LeakyRelu(0.0) }

    /// A ReLU after a Maxout: only its backward is fused, into the Dense after it.
    struct AfterMaxout { mx: Maxout<5, 12, 3>, act: Relu, fc: Dense<12, 4> }
    struct AfterMaxoutRef { mx: Maxout<5, 12, 3>, act: LeakyRelu(0.0), fc: Dense<12, 4> }
}

fn random_batch<const N: usize>(batch: usize, seed: u64) -> Batch<f64, N> {
    let mut rng = constnet::SeededRng::seed_from_u64(seed);
    Batch::<f64, N>::from_fn(batch, |_, _| rng.sample(StandardNormal))
}

/// Runs both networks (`b` a copy of `a`'s parameters with unfused ReLUs) on every path and
/// asserts that they agree.
fn assert_agree<const IN: usize, const OUT: usize, A, B>(batch: usize)
where
    A: Network<f64, IN, OUT>,
    B: Network<f64, IN, OUT>,
{
    let mut a = A::init(7);
    let mut b = B::init(7);
    b.params_mut().copy_from_slice(a.params());
    let x = random_batch::<IN>(batch, 11);

    for j in [0, batch - 1] {
        let one = Sample::<f64, IN>::from_column_slice(x.column(j).as_slice());
        assert_eq!(a.forward(&one), b.forward(&one), "one sample, column {j}");
    }
    let (mut tape_a, mut tape_b) = (a.new_tape(batch), b.new_tape(batch));
    let ya = a
        .forward_into(x.columns(0, batch), &mut tape_a)
        .unwrap()
        .clone_owned();
    let yb = b
        .forward_into(x.columns(0, batch), &mut tape_b)
        .unwrap()
        .clone_owned();
    assert_eq!(ya, yb, "evaluation forward");
    // Some outputs of a random He-initialized ReLU net are positive and some are not.
    assert!(ya.iter().any(|&v| v != 0.0));

    let ya = a
        .forward_train(x.columns(0, batch), &mut tape_a)
        .unwrap()
        .clone_owned();
    let yb = b
        .forward_train(x.columns(0, batch), &mut tape_b)
        .unwrap()
        .clone_owned();
    assert_eq!(ya, yb, "training forward");
    let dy = random_batch::<OUT>(batch, 13);
    tape_a.output_and_grad_mut().1.copy_from(&dy);
    tape_b.output_and_grad_mut().1.copy_from(&dy);
    let (mut ga, mut gb) = (a.new_grads(), b.new_grads());
    a.backward_with_input_grad(&mut tape_a, &mut ga).unwrap();
    b.backward_with_input_grad(&mut tape_b, &mut gb).unwrap();
    assert_eq!(ga, gb, "parameter gradients");
    assert_eq!(tape_a.input_grad(), tape_b.input_grad(), "input gradients");
    assert!(ga.iter().any(|&g| g != 0.0));

    // Without the input's gradient, a network that starts Dense, Relu, Dense computes its
    // first layer's gradients in the third layer's kernel (AVX-512), summing over the batch
    // in another order: equal to rounding.
    a.backward_accumulate(&mut tape_a, &mut ga, false).unwrap();
    b.backward_accumulate(&mut tape_b, &mut gb, false).unwrap();
    assert_relative_eq!(&ga[..], &gb[..], epsilon = 1e-13, max_relative = 1e-12);
    a.backward(&mut tape_a, &mut ga).unwrap();
    b.backward(&mut tape_b, &mut gb).unwrap();
    assert_relative_eq!(&ga[..], &gb[..], epsilon = 1e-13, max_relative = 1e-12);

    let mut kinks_a = Kinks::default();
    let mut kinks_b = Kinks::default();
    a.record_kinks(&tape_a, &mut kinks_a);
    b.record_kinks(&tape_b, &mut kinks_b);
    assert_eq!(kinks_a, kinks_b, "kink records");
}

#[test]
fn a_fused_spiral_net_computes_what_an_unfused_one_does() {
    // 300 points as in the spiral example, and a batch too small for the shallow kernels.
    assert_agree::<2, 3, Spiral<f64>, SpiralRef<f64>>(300);
    assert_agree::<2, 3, Spiral<f64>, SpiralRef<f64>>(5);
}

#[test]
fn a_layer_fused_on_both_sides_computes_what_an_unfused_one_does() {
    assert_agree::<20, 5, Deep<f64>, DeepRef<f64>>(64);
    assert_agree::<20, 5, Deep<f64>, DeepRef<f64>>(1);
}

#[test]
fn relus_fused_only_forward_or_only_backward_compute_what_unfused_ones_do() {
    assert_agree::<6, 7, Tail<f64>, TailRef<f64>>(33);
    assert_agree::<5, 4, AfterMaxout<f64>, AfterMaxoutRef<f64>>(33);
}

/// The same in `f32`, the type the kernels' AVX-512 in-register epilogues are mostly run in.
#[test]
fn a_fused_f32_spiral_net_computes_what_an_unfused_one_does() {
    let mut a = Spiral::new(3);
    let mut b = SpiralRef::new(3);
    b.params_mut().copy_from_slice(a.params());
    let x = Batch::<f32, 2>::from_fn(300, |i, j| ((i * 7 + j * 13) % 17) as f32 / 8.5 - 1.0);
    let labels: Vec<usize> = (0..300).map(|i| i % 3).collect();
    let (mut tape_a, mut tape_b) = (a.new_tape(300), b.new_tape(300));
    let (mut ga, mut gb) = (a.new_grads(), b.new_grads());
    let loss = SoftmaxCrossEntropy;
    let la = a
        .loss_and_grad(&x, &labels[..], &loss, &mut tape_a, &mut ga)
        .unwrap();
    let lb = b
        .loss_and_grad(&x, &labels[..], &loss, &mut tape_b, &mut gb)
        .unwrap();
    assert_eq!(la, lb);
    assert_relative_eq!(&ga[..], &gb[..], epsilon = 1e-6, max_relative = 1e-5);
}
