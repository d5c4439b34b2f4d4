//! Regression sets and the regression trainer: the diabetes loader on the real files in
//! `data/` and on corrupted copies, counts and widths, inputs and targets staying paired
//! through shuffles, splits and mini-batches, and `fit` learning and reproducible on a
//! regression set (`tests/train.rs` checks that a diverging regression stops cleanly).

use std::io::Write;
use std::path::{Path, PathBuf};

use constnet::datasets::{Regression, Training, diabetes, read_regression};
use constnet::prelude::*;
use constnet::preprocess::{Granularity, Standardize};
use constnet::train::{Config, History, fit};

mod common;
use common::{seeded_run, silent};

network! {
    struct Regressor { fc1: Dense<10, 32>, a1: Relu, fc2: Dense<32, 1> }
    struct Tiny { fc1: Dense<1, 8>, a1: Tanh, fc2: Dense<8, 2> }
}

const DATA: &str = "data/sklearn/diabetes_data_raw.csv.gz";
const TARGET: &str = "data/sklearn/diabetes_target.csv.gz";

/// A scratch folder of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-regression-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, text: &str) -> PathBuf {
    let path = scratch(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn gunzip(path: &str) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out).unwrap();
    out
}

fn message(err: Error) -> String {
    assert!(matches!(err, Error::Data { .. }), "{err:?}");
    err.to_string()
}

/// Every sample as its input values followed by its targets, sorted: what a reordering must
/// keep.
fn pairs<const N: usize, const M: usize>(data: &Regression<f64, N, M>) -> Vec<Vec<f64>> {
    let mut rows: Vec<Vec<f64>> = data
        .inputs
        .column_iter()
        .zip(data.targets.column_iter())
        .map(|(x, y)| x.iter().chain(y.iter()).copied().collect())
        .collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows
}

#[test]
fn the_diabetes_files_load_with_their_documented_shape_and_values() {
    let data = diabetes::<f64>("data/sklearn").unwrap();
    assert_eq!(data.len(), 442);
    assert_eq!(
        data.inputs.column(0).as_slice(),
        &[59.0, 2.0, 32.1, 101.0, 157.0, 93.2, 38.0, 4.0, 4.8598, 87.0]
    );
    let text = gunzip(TARGET);
    let first: Vec<f64> = text.lines().take(3).map(|l| l.parse().unwrap()).collect();
    assert_eq!(&data.targets.as_slice()[..3], &first[..]);
    assert_eq!(first, [151.0, 75.0, 141.0]);
    let (min, max) = data
        .targets
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert_eq!((min, max), (25.0, 346.0));
    // sex is coded 1 or 2 in the raw file
    assert!(data.inputs.row(1).iter().all(|&v| v == 1.0 || v == 2.0));
    // the same values through the general loader, in f32
    let f32_data = read_regression::<f32, 10, 1>(DATA, TARGET).unwrap();
    assert_eq!(f32_data.inputs[(9, 441)] as f64, data.inputs[(9, 441)]);
}

#[test]
fn a_table_of_another_width_is_an_error_naming_both_widths() {
    let err = message(read_regression::<f64, 9, 1>(DATA, TARGET).unwrap_err());
    assert!(
        err.contains("diabetes_data_raw.csv.gz:1")
            && err.contains("9 numbers")
            && err.contains("10 fields"),
        "{err}"
    );
    let err = message(read_regression::<f64, 10, 2>(DATA, TARGET).unwrap_err());
    assert!(
        err.contains("diabetes_target.csv.gz:1") && err.contains("2 numbers"),
        "{err}"
    );
}

#[test]
fn corrupted_copies_are_errors_naming_the_file_and_line() {
    let data = gunzip(DATA);
    let target = gunzip(TARGET);
    let good_data = write("data.txt", &data);
    let good_target = write("target.txt", &target);
    let load = |x: &Path, y: &Path| message(read_regression::<f64, 10, 1>(x, y).unwrap_err());

    // A copy of `text` with line `number` replaced.
    let with_line = |text: &str, number: usize, replacement: &str| {
        let mut lines: Vec<&str> = text.lines().collect();
        lines[number - 1] = replacement;
        lines.join("\n")
    };
    let short: String = target.lines().take(441).map(|l| format!("{l}\n")).collect();
    // (file, whether it replaces the inputs or the targets, what the error must say)
    let cases = [
        (
            "bad-number.txt",
            with_line(&data, 5, "1 2 3 4 5 6 7 8 9 x"),
            true,
            ["bad-number.txt:5", "`x`"],
        ),
        (
            "extra-column.txt",
            with_line(&data, 5, "1 2 3 4 5 6 7 8 9 10 11"),
            true,
            ["extra-column.txt:5", "11 fields"],
        ),
        // beyond f64's range: it would be infinity
        (
            "overflow.txt",
            with_line(&data, 7, "1 2 3 4 5 6 7 8 9 1e400"),
            true,
            ["overflow.txt:7", "`1e400`"],
        ),
        (
            "nan-target.txt",
            with_line(&target, 9, "nan"),
            false,
            ["nan-target.txt:9", "finite number"],
        ),
        (
            "two-targets.txt",
            with_line(&target, 3, "1.4e+02 2.0e+00"),
            false,
            ["two-targets.txt:3", "2 fields"],
        ),
        (
            "short-target.txt",
            short,
            false,
            ["442 lines of targets", "441 lines"],
        ),
    ];
    for (name, text, inputs, expected) in cases {
        let path = write(name, &text);
        let err = if inputs {
            load(&path, &good_target)
        } else {
            load(&good_data, &path)
        };
        assert!(expected.iter().all(|e| err.contains(e)), "{name}: {err}");
    }

    let missing = scratch("no-such-file.txt");
    assert!(load(&missing, &good_target).contains("no-such-file.txt"));
    let err = message(diabetes::<f64>(scratch("no-such-folder")).unwrap_err());
    assert!(err.contains("diabetes_data_raw.csv.gz"), "{err}");

    // comma-separated copies of the same numbers load to the same set
    let commas = write("commas.csv", &data.replace(' ', ","));
    assert_eq!(
        read_regression::<f64, 10, 1>(&commas, &good_target).unwrap(),
        diabetes::<f64>("data/sklearn").unwrap()
    );
}

#[test]
fn counts_must_agree() {
    let err = Regression::new(Batch::<f32, 3>::zeros(5), Batch::<f32, 1>::zeros(4)).unwrap_err();
    assert_eq!(
        err,
        Error::WrongLength {
            what: "regression targets (samples)".into(),
            expected: 5,
            got: 4
        }
    );
    let empty = Regression::new(Batch::<f32, 3>::zeros(0), Batch::<f32, 1>::zeros(0)).unwrap();
    assert!(empty.is_empty());
}

#[test]
fn shuffle_split_and_select_keep_inputs_and_targets_paired() {
    let data = diabetes::<f64>("data/sklearn").unwrap();
    let shuffled = data.shuffled(3);
    assert_eq!(shuffled, data.shuffled(3));
    assert_ne!(shuffled.targets, data.targets);
    assert_eq!(pairs(&shuffled), pairs(&data));
    let (train, val) = shuffled.split(400);
    assert_eq!((train.len(), val.len()), (400, 42));
    let mut joined = pairs(&train);
    joined.extend(pairs(&val));
    joined.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(joined, pairs(&data));
    assert_eq!(train.select(&[399]).inputs, shuffled.select(&[399]).inputs);
    assert_eq!(data.split(1000).1.len(), 0);
    assert_eq!(data.clone().into_training().into_inner(), data);
}

#[test]
fn mini_batches_cover_every_sample_once_per_epoch_with_its_targets() {
    // input j, targets (10 j, -j): each batch must carry the targets of its own samples
    let x = Batch::<f64, 1>::from_fn(10, |_, j| j as f64);
    let y = Batch::<f64, 2>::from_fn(
        10,
        |i, j| if i == 0 { 10.0 * j as f64 } else { -(j as f64) },
    );
    let data = Regression::new(x, y).unwrap();
    let epoch =
        |batches: &mut constnet::datasets::MiniBatches<'_, f64, 1, Regression<f64, 1, 2>>| {
            let (mut seen, mut sizes) = (Vec::new(), Vec::new());
            while let Some((x, y)) = batches.next_batch() {
                assert_eq!(y.ncols(), x.ncols());
                for (input, target) in x.column_iter().zip(y.column_iter()) {
                    assert_eq!(target.as_slice(), &[10.0 * input[0], -input[0]]);
                    seen.push(input[0] as usize);
                }
                sizes.push(x.ncols());
            }
            batches.next_epoch();
            (seen, sizes)
        };
    let mut batches = data.mini_batches(4, 5).unwrap();
    assert_eq!(batches.per_epoch(), 3);
    let (first, sizes) = epoch(&mut batches);
    assert_eq!(sizes, [4, 4, 2]);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    let (second, _) = epoch(&mut batches);
    assert_ne!(second, first, "every epoch is reshuffled");
    assert_eq!(epoch(&mut data.mini_batches(4, 5).unwrap()).0, first);
    // one batch larger than the set, and batches that divide it evenly
    assert_eq!(epoch(&mut data.mini_batches(64, 0).unwrap()).1, [10]);
    assert_eq!(epoch(&mut data.mini_batches(5, 0).unwrap()).1, [5, 5]);
    assert!(data.mini_batches(0, 0).is_err());
}

/// The diabetes set shuffled from `seed` and split after `train` samples, with the
/// standardizations of its features and of its targets fitted on the training part.
type Prepared<T> = (
    Training<T, 10, Regression<T, 10, 1>>,
    Regression<T, 10, 1>,
    Standardize<T, 10>,
    Standardize<T, 1>,
);

fn split_and_fit<T: Float>(seed: u64, train: usize) -> Prepared<T> {
    let (train, val) = diabetes::<T>("data/sklearn")
        .unwrap()
        .shuffled(seed)
        .split(train);
    let features = Standardize::fit(&train, Granularity::PerFeature, true);
    let targets = Standardize::fit_targets(&train, Granularity::PerFeature, true);
    (train, val, features, targets)
}

#[test]
fn standardization_fits_on_training_features_and_targets_and_inverts() {
    let (train, val, features, targets) = split_and_fit::<f64>(0, 350);
    let mut out = targets.apply_targets(&features.apply(&train));
    for i in 0..10 {
        let row = out.inputs.row(i);
        let var = row.iter().map(|v| v * v).sum::<f64>() / 350.0;
        assert!(
            row.mean().abs() < 1e-12 && (var - 1.0).abs() < 1e-9,
            "feature {i}"
        );
    }
    assert!(out.targets.mean().abs() < 1e-12);
    // the targets were copied through `apply` and then standardized; inverting gives them back
    targets.invert_in_place(&mut out.targets);
    for (a, b) in out.targets.iter().zip(train.targets.iter()) {
        assert!((a - b).abs() < 1e-9);
    }
    // validation is transformed with the training statistics, targets untouched
    let val_out = features.apply(&val);
    assert_eq!(val_out.targets, val.targets);
    assert!(val_out.inputs.row(0).mean().abs() > 1e-6);
}

/// Standardized diabetes sets: 300 training, 142 validation samples, in f32.
fn standardized_diabetes() -> (Regression<f32, 10, 1>, Regression<f32, 10, 1>) {
    let (train, val, features, targets) = split_and_fit::<f32>(1, 300);
    let prepare = |set: &Regression<f32, 10, 1>| targets.apply_targets(&features.apply(set));
    (prepare(&train), prepare(&val))
}

/// 30 epochs of Adam on the standardized diabetes data, batches of 32 shuffled from `seed`.
fn train_diabetes(seed: u64) -> (History, Vec<f32>) {
    let (train, val) = standardized_diabetes();
    let adam = AdamConfig::new(1e-3).build().unwrap();
    seeded_run(
        (Regressor::new(0), adam),
        &MeanSquaredError,
        (&train, Some(&val)),
        (30, 32, seed),
    )
}

#[test]
fn fit_lowers_the_loss_and_beats_the_mean_on_validation() {
    let (train, val) = standardized_diabetes();
    let (history, _) = train_diabetes(0);
    assert_eq!(history.epochs.len(), 30);
    let (first, last) = (history.epochs[0], *history.last().unwrap());
    assert!(
        last.train_loss < 0.8 * first.train_loss,
        "{first:?} -> {last:?}"
    );
    assert_eq!((last.train_accuracy, last.val_accuracy), (None, None));
    // The mean predictor: the training targets' mean for every validation sample.
    let mean = train.targets.mean();
    let baseline = val.targets.iter().map(|&t| (t - mean).powi(2)).sum::<f32>() / val.len() as f32;
    let val_loss = last.val_loss.unwrap();
    assert!(
        val_loss < 0.8 * f64::from(baseline),
        "val loss {val_loss}, mean predictor {baseline}"
    );
    // `val_loss` is the mean squared error of the network in evaluation mode.
    let net_mse = {
        let (_, params) = train_diabetes(0);
        let mut net = Regressor::new(0);
        net.params_mut().copy_from_slice(&params);
        let out = net.forward_batch(&val.inputs);
        out.iter()
            .zip(val.targets.iter())
            .map(|(p, t)| f64::from((p - t).powi(2)))
            .sum::<f64>()
            / val.len() as f64
    };
    assert!(
        (net_mse - val_loss).abs() < 1e-5 * val_loss,
        "{net_mse} vs {val_loss}"
    );
}

#[test]
fn the_same_seed_gives_the_same_regression_history() {
    let numbers = |(history, params): (History, Vec<f32>)| {
        let losses: Vec<(f64, Option<f64>)> = history
            .epochs
            .iter()
            .map(|e| (e.train_loss, e.val_loss))
            .collect();
        (losses, params)
    };
    let first = numbers(train_diabetes(7));
    assert_eq!(numbers(train_diabetes(7)), first);
    assert_ne!(numbers(train_diabetes(8)).0, first.0);
}

#[test]
fn two_targets_per_sample_are_learned_together() {
    // y = (x^2, -x): a net with two outputs against a Regression<_, 1, 2>
    let x = Batch::<f32, 1>::from_fn(64, |_, j| j as f32 / 32.0 - 1.0);
    let y = Batch::<f32, 2>::from_fn(64, |i, j| {
        let v = x[(0, j)];
        if i == 0 { v * v } else { -v }
    });
    let data = Regression::new(x, y).unwrap();
    let adam = AdamConfig::new(1e-2).build().unwrap();
    let (history, _) = seeded_run(
        (Tiny::new(0), adam),
        &MeanSquaredError,
        (&data, Some(&data)),
        (200, 16, 0),
    );
    let (first, last) = (history.epochs[0], *history.last().unwrap());
    assert!(
        last.val_loss.unwrap() < 0.05 * first.val_loss.unwrap(),
        "{first:?} -> {last:?}"
    );
    // A bad configuration or an empty set is an error, as for a classifier.
    let mut net = Tiny::new(0);
    let mut sgd = Sgd::new(0.1).unwrap();
    let mut run = |config: Config, data: &Regression<f32, 1, 2>| {
        fit(&mut net, &mut sgd, &MeanSquaredError, data, None, &config)
    };
    assert!(matches!(
        run(silent(0, 16), &data),
        Err(Error::BadHyperparameter { name: "epochs", .. })
    ));
    assert_eq!(
        run(silent(1, 16), &data.split(0).0.into_inner()),
        Err(Error::EmptySet { set: "training" })
    );
}
