//! The sanity checks on MNIST (the test split the repo ships, standardized): a sound setup
//! passes all five, and each kind of broken setup fails the check meant for it (a learning
//! rate far too small, labels shuffled against the images, a last layer initialized large,
//! a backward pass with a bug), while leaving the network and rule it was given unchanged.

use constnet::datasets::{Labeled, Split, mnist};
use constnet::prelude::*;
use constnet::preprocess::{Granularity, Standardize};
use constnet::sanity::{self, Options, Report};

#[path = "common/scaled.rs"]
mod scaled;
use scaled::Scaled;

network! {
    /// The MNIST example's network.
    struct Mnist {
        fc1: Dense<784, 256>,
        a1: Relu,
        drop1: Dropout(0.9),
        fc2: Dense<256, 128>,
        a2: Relu,
        drop2: Dropout(0.9),
        #[init(small_random)]
        fc3: Dense<128, 10>,
    }
    /// The same, with He init in the last layer too: its untrained scores are far from
    /// equal.
    struct LoudMnist {
        fc1: Dense<784, 256>,
        a1: Relu,
        fc2: Dense<256, 128>,
        a2: Relu,
        fc3: Dense<128, 10>,
    }
    /// A network with a custom layer whose backward pass forgets its factor of 2.
    struct Buggy {
        fc1: Dense<784, 32>,
        a1: Tanh,
        double: Doubler => 32,
        #[init(small_random)]
        fc2: Dense<32, 10>,
    }
}

/// `y = 2 x`, with the bug: `dx = dy`.
type Doubler = Scaled<2, 1>;

/// MNIST's test split, shuffled and standardized.
fn data() -> Labeled<f32, 784> {
    let data = mnist::<f32>("data/mnist", Split::Test).unwrap().shuffled(0);
    let (train, _) = data.split(data.len());
    Standardize::fit(&train, Granularity::Scalar, true).apply(&data)
}

fn names_of_failed(report: &Report) -> Vec<&'static str> {
    report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name)
        .collect()
}

#[test]
fn a_sound_setup_passes_every_check_and_nothing_given_changes() {
    let data = data();
    let net = Mnist::new(0);
    let adam = AdamConfig::new(1e-3).build::<f32>().unwrap();
    let report = sanity::run(
        &net,
        &net.cast::<f64>(),
        &adam,
        &SoftmaxCrossEntropy,
        &data,
        &Options::default(),
    )
    .unwrap();
    assert!(report.passed(), "{report}");
    let text = report.to_string();
    assert!(text.ends_with("all 5 checks passed"), "{text}");
    assert!(text.contains("expected 2.3026 within 10%"), "{text}");
    // The checks trained copies.
    assert_eq!(net.params(), Mnist::new(0).params());
    assert_eq!(adam.steps(), 0);
}

/// A training split (as `split` marks it) is checked as the plain set of the same samples:
/// the same five lines, number for number.
#[test]
fn a_training_split_gives_the_report_of_its_plain_samples() {
    let data = data();
    let (train, _) = data.clone().split(2000);
    let plain = data.select(&(0..2000).collect::<Vec<_>>());
    let net = Mnist::new(0);
    let adam = AdamConfig::new(1e-3).build::<f32>().unwrap();
    let options = Options {
        held_out_epochs: 2,
        ..Options::default()
    };
    let check = |set: &dyn Fn() -> Result<Report, Error>| set().unwrap().to_string();
    let of_train = check(&|| {
        sanity::run(
            &net,
            &net.cast::<f64>(),
            &adam,
            &SoftmaxCrossEntropy,
            &train,
            &options,
        )
    });
    let of_plain = check(&|| {
        sanity::run(
            &net,
            &net.cast::<f64>(),
            &adam,
            &SoftmaxCrossEntropy,
            &plain,
            &options,
        )
    });
    assert_eq!(of_train, of_plain);
    assert!(
        of_train.contains("held-out samples after 2 epochs"),
        "{of_train}"
    );
}

#[test]
fn a_learning_rate_far_too_small_fails_the_overfitting_check() {
    let data = data();
    let net = Mnist::new(0);
    let crawl = AdamConfig::new(1e-9).build::<f32>().unwrap();
    let report = sanity::run(
        &net,
        &net.cast::<f64>(),
        &crawl,
        &SoftmaxCrossEntropy,
        &data,
        &Options::default(),
    )
    .unwrap();
    let failed = names_of_failed(&report);
    assert!(failed.contains(&"overfits a small subset"), "{report}");
    assert!(
        report
            .to_string()
            .contains("is the learning rate far too small?")
    );
}

#[test]
fn labels_shuffled_against_the_images_fail_the_held_out_check_and_only_it() {
    let mut data = data();
    data.labels = data.shuffled(7).labels;
    let net = Mnist::new(0);
    let adam = AdamConfig::new(1e-3).build::<f32>().unwrap();
    let report = sanity::run(
        &net,
        &net.cast::<f64>(),
        &adam,
        &SoftmaxCrossEntropy,
        &data,
        &Options::default(),
    )
    .unwrap();
    // 20 random labels are memorized as easily as true ones: only held-out samples tell.
    assert_eq!(
        names_of_failed(&report),
        ["learns beyond chance"],
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("do the labels belong to their inputs?")
    );
}

#[test]
fn a_last_layer_initialized_large_fails_the_loss_at_chance() {
    let data = data();
    let check = sanity::loss_at_chance(
        &LoudMnist::new(0),
        &data,
        &SoftmaxCrossEntropy,
        &Options::default(),
    )
    .unwrap();
    assert!(!check.passed, "{check}");
    // The multiclass SVM's value at chance is K - 1 = 9 (margin 1).
    let check =
        sanity::loss_at_chance(&Mnist::new(0), &data, &MulticlassSvm, &Options::default()).unwrap();
    assert!(
        check.passed && check.detail.contains("expected 9.0000"),
        "{check}"
    );
}

#[test]
fn a_backward_pass_with_a_bug_fails_the_gradient_check() {
    let data = data();
    let net = Buggy::new(0);
    let check = sanity::gradients(
        &net.cast::<f64>(),
        &data,
        &SoftmaxCrossEntropy,
        &Options::default(),
    )
    .unwrap();
    assert!(!check.passed, "{check}");
}

#[test]
fn a_loss_without_a_value_at_chance_and_bad_options_are_errors() {
    /// Cross-entropy under another name, which states no value at chance.
    struct Plain;
    impl<T: Float, const K: usize> Loss<T, K> for Plain {
        type Target = [usize];
        fn loss_and_grad(
            &self,
            scores: BatchView<'_, T, K>,
            labels: &[usize],
            dscores: BatchViewMut<'_, T, K>,
        ) -> Result<T, Error> {
            SoftmaxCrossEntropy.loss_and_grad(scores, labels, dscores)
        }
    }
    let data = constnet::datasets::spiral::<f32>(10, 3, 0);
    network! { struct Small { fc: Dense<2, 3> } }
    let err = sanity::loss_at_chance(&Small::new(0), &data, &Plain, &Options::default());
    assert!(matches!(err, Err(Error::NotApplicable { .. })), "{err:?}");
    let nan = Options {
        chance_tolerance: f64::NAN,
        ..Options::default()
    };
    let err = sanity::loss_at_chance(&Small::new(0), &data, &SoftmaxCrossEntropy, &nan);
    assert!(
        matches!(err, Err(Error::BadHyperparameter { .. })),
        "{err:?}"
    );
    let empty = data.select(&[]);
    let err = sanity::loss_at_chance(
        &Small::new(0),
        &empty,
        &SoftmaxCrossEntropy,
        &Options::default(),
    );
    assert!(matches!(err, Err(Error::EmptySet { .. })), "{err:?}");
}
