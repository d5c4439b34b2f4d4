//! Inverted dropout: training keeps a fraction `p` of units and preserves the expected
//! activation, evaluation is the identity and deterministic, masks are reproducible, and a
//! net with dropout passes the gradient check with its mask held fixed.

use constnet::gradcheck::Options;
use constnet::prelude::*;

network! {
    struct Wide { fc: Dense<4, 200>, drop: Dropout(0.3) }
    struct Default { fc: Dense<4, 200>, drop: Dropout }
    struct TwoDrops { fc1: Dense<4, 50>, drop1: Dropout(0.5), fc2: Dense<50, 50>, drop2: Dropout(0.5) }
    struct Classifier { fc1: Dense<5, 20>, act: Tanh, drop: Dropout(0.6), fc2: Dense<20, 3> }
}

fn ones<const N: usize>(batch: usize) -> Batch<f64, N> {
    Batch::<f64, N>::from_element(batch, 1.0)
}

#[test]
fn training_keeps_a_fraction_p_of_units_and_preserves_the_mean() {
    let mut net = Wide::<f64>::init(0);
    net.write_param("fc.bias", &[1.0; 200]).unwrap();
    net.write_param("fc.weight", &[0.0; 800]).unwrap(); // every unit's input is exactly 1
    let x = ones::<4>(500);
    let mut tape = net.new_tape(500);
    let y: Vec<f64> = net
        .forward_train(x.columns(0, 500), &mut tape)
        .unwrap()
        .iter()
        .copied()
        .collect();
    let n = y.len() as f64;
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / n;
    // Standard error of the kept fraction: sqrt(p (1 - p) / n) ~ 0.002.
    assert!((kept - 0.3).abs() < 0.01, "kept {kept}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.3).abs() < 1e-12));
    let mean = y.iter().sum::<f64>() / n;
    assert!((mean - 1.0).abs() < 0.035, "mean {mean}");
}

#[test]
fn the_default_keeps_half() {
    let mut net = Default::<f64>::init(0);
    net.write_param("fc.bias", &[1.0; 200]).unwrap();
    net.write_param("fc.weight", &[0.0; 800]).unwrap();
    let mut tape = net.new_tape(200);
    let y = net
        .forward_train(ones::<4>(200).columns(0, 200), &mut tape)
        .unwrap();
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / y.len() as f64;
    assert!((kept - 0.5).abs() < 0.015, "kept {kept}");
}

#[test]
fn evaluation_is_the_identity_and_deterministic() {
    let net = Wide::<f64>::init(1);
    let x = Batch::<f64, 4>::from_fn(7, |i, j| (i * 7 + j) as f64 * 0.1 - 1.0);
    let mut tape = net.new_tape(7);
    let first: Vec<f64> = net
        .forward_into(x.columns(0, 7), &mut tape)
        .unwrap()
        .iter()
        .copied()
        .collect();
    let second: Vec<f64> = net
        .forward_into(x.columns(0, 7), &mut tape)
        .unwrap()
        .iter()
        .copied()
        .collect();
    assert_eq!(first, second);
    // Dropout passes the Dense layer's output, W x + b, through unchanged.
    let (w, bias) = (
        net.param("fc.weight").unwrap(),
        net.param("fc.bias").unwrap(),
    );
    for (j, column) in first.chunks(200).enumerate() {
        for (o, &y) in column.iter().enumerate() {
            let expected = bias[o] + (0..4).map(|i| w[o * 4 + i] * x[(i, j)]).sum::<f64>();
            assert!((y - expected).abs() < 1e-12, "{y} vs {expected}");
        }
    }
    let one = net.forward(&x.column(0).into_owned());
    for (a, b) in one.iter().zip(&first[..200]) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn masks_are_reproducible_and_differ_between_layers_and_steps() {
    let mut net = TwoDrops::<f64>::init(2);
    net.write_param("fc1.weight", &[0.0; 200]).unwrap();
    net.write_param("fc1.bias", &[1.0; 50]).unwrap();
    let x = ones::<4>(10);
    let run = |net: &mut TwoDrops<f64>| {
        let mut tape = net.new_tape(10);
        let a: Vec<f64> = net
            .forward_train(x.columns(0, 10), &mut tape)
            .unwrap()
            .iter()
            .copied()
            .collect();
        let b: Vec<f64> = net
            .forward_train(x.columns(0, 10), &mut tape)
            .unwrap()
            .iter()
            .copied()
            .collect();
        (a, b)
    };
    let (a1, b1) = run(&mut net.clone());
    let (a2, b2) = run(&mut net);
    assert_eq!((&a1, &b1), (&a2, &b2), "same tape seed, same masks");
    assert_ne!(a1, b1, "a new mask at every training step");
}

#[test]
fn frozen_masks_repeat_the_last_draw() {
    let mut net = Wide::<f64>::init(3);
    let x = ones::<4>(3);
    let mut tape = net.new_tape(3);
    let first: Vec<f64> = net
        .forward_train(x.columns(0, 3), &mut tape)
        .unwrap()
        .iter()
        .copied()
        .collect();
    tape.freeze_masks(true);
    let held: Vec<f64> = net
        .forward_train(x.columns(0, 3), &mut tape)
        .unwrap()
        .iter()
        .copied()
        .collect();
    assert_eq!(first, held);
    tape.freeze_masks(false);
    let fresh: Vec<f64> = net
        .forward_train(x.columns(0, 3), &mut tape)
        .unwrap()
        .iter()
        .copied()
        .collect();
    assert_ne!(first, fresh);
}

#[test]
fn a_net_with_dropout_passes_gradcheck_with_its_mask_fixed() {
    let net = Classifier::<f64>::init(4);
    let x = Batch::<f64, 5>::from_fn(6, |i, j| ((i * 3 + j * 5) % 7) as f64 * 0.3 - 0.9);
    let labels = [0, 2, 1, 1, 0, 2];
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
fn a_keep_probability_outside_0_1_is_an_error_at_run_time() {
    for p in [0.0, -0.5, 1.01, f64::NAN] {
        let err = Dropout::new(p).unwrap_err();
        assert!(
            err.to_string().contains("dropout keep probability"),
            "{err}"
        );
    }
    assert_eq!(Dropout::new(1.0).unwrap().p(), 1.0);
}

network! {
    struct Seeded { fc: Dense<2, 16>, drop: Dropout(0.5, seed = 123) }
    struct SeededOnly { fc: Dense<2, 16>, drop: Dropout(seed = 123) }
    struct Small { fc: Dense<3, 4>, drop: Dropout(0.8) }
}

#[test]
fn a_seeded_dropout_draws_the_same_mask_on_every_platform() {
    // The keep mask of `Dropout(0.5, seed = 123)` over two 16-wide samples, as drawn when
    // this test was written (xoshiro256++ seeded through splitmix64, uniform f64s from the
    // top 53 bits: nothing here depends on the platform or the scalar type).
    let expected: [u8; 32] = [
        0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, //
        1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0,
    ];
    let first_mask = |mask: Vec<f64>| -> Vec<u8> { mask.iter().map(|&m| m as u8).collect() };
    let mut net = Seeded::<f64>::init(0);
    let mut tape = net.new_tape(2);
    net.forward_train(ones::<2>(2), &mut tape).unwrap();
    assert_eq!(first_mask(tape.mask("drop").unwrap()), expected);
    // In f32 too, and with the keep probability left at its default.
    let mut net = SeededOnly::<f32>::new(5);
    let mut tape = net.new_tape(2);
    net.forward_train(Batch::<f32, 2>::from_element(2, 1.0), &mut tape)
        .unwrap();
    let mask: Vec<u8> = tape
        .mask("drop")
        .unwrap()
        .iter()
        .map(|&m| m as u8)
        .collect();
    assert_eq!(mask, expected);
    assert_eq!(
        Seeded::<f32>::new(0).drop,
        Dropout::new(0.5).unwrap().with_seed(123)
    );
}

#[test]
fn a_given_mask_scales_forward_and_backward_by_mask_over_p() {
    let mut net = Small::<f64>::init(3);
    let x = Batch::<f64, 3>::from_fn(2, |i, j| (i as f64 + 1.0) * (j as f64 - 0.5));
    let h = net.forward_batch(&x); // the Dense layer's output (evaluation drops nothing)
    let keep = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0];
    let p = 0.8;
    let mut tape = net.new_tape(2);
    tape.set_mask("drop", &keep).unwrap();
    let y = net.forward_train(&x, &mut tape).unwrap().clone_owned();
    for ((y, h), k) in y.iter().zip(h.iter()).zip(keep) {
        assert!((y - h * k / p).abs() < 1e-15, "{y} vs {}", h * k / p); // h * (1 / p) in the layer
    }
    assert_eq!(tape.mask("drop").unwrap(), keep);
    // Backward: the Dense layer sees dy * mask / p, so its bias gradient is the sum of that
    // over the batch and its input gradient W^T (dy * mask / p).
    let dy = [0.5, -1.0, 2.0, 1.5, -0.25, 3.0, 1.0, -2.0];
    tape.output_and_grad_mut().1.copy_from_slice(&dy);
    let mut grads = net.new_grads();
    net.backward_with_input_grad(&mut tape, &mut grads).unwrap();
    let through: Vec<f64> = dy.iter().zip(keep).map(|(d, k)| d * k / p).collect();
    let bias_range = net.tensor("fc.bias").unwrap().range();
    for (o, g) in grads[bias_range].iter().enumerate() {
        assert!((g - (through[o] + through[4 + o])).abs() < 1e-15);
    }
    let w = net.param("fc.weight").unwrap(); // [4, 3], row-major
    for sample in 0..2 {
        for i in 0..3 {
            let expected: f64 = (0..4).map(|o| w[o * 3 + i] * through[sample * 4 + o]).sum();
            assert!((tape.input_grad()[(i, sample)] - expected).abs() < 1e-12);
        }
    }
    // The mask stays until the masks are unfrozen.
    let again = net.forward_train(&x, &mut tape).unwrap().clone_owned();
    assert_eq!(again, y);
    tape.freeze_masks(false);
    net.forward_train(&x, &mut tape).unwrap();
    assert_ne!(tape.mask("drop").unwrap(), keep);
}

#[test]
fn a_bad_mask_is_an_error_and_changes_nothing() {
    let net = Small::<f64>::init(3);
    let mut tape = net.new_tape(2);
    for (keep, why) in [
        (&[1.0, 0.0, 1.0][..], "4 values per sample"),
        (&[1.0; 12][..], "at most 2 samples"),
        (&[1.0, 0.5, 1.0, 1.0][..], "element 1 is 0.5"),
        (&[][..], "4 values per sample"),
    ] {
        let err = tape.set_mask("drop", keep).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
    }
    let err = tape.set_mask("fc", &[1.0; 4]).unwrap_err().to_string();
    assert!(err.contains("layer `fc`, which draws none"), "{err}");
    let err = tape.mask("dropout").unwrap_err().to_string();
    assert!(err.contains("no such layer (it has: fc, drop)"), "{err}");
    assert_eq!(tape.mask("drop").unwrap(), Vec::<f64>::new()); // nothing drawn yet
}
