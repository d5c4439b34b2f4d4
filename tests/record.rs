//! A recorded run (`Config::record`): `metrics.csv` holds exactly what `History` holds, a
//! row per step and per epoch; the event file reads back with TensorBoard's own Python
//! reader (`EventAccumulator`, from the `tensorboard` package that `.ci/run` installs) with
//! the same scalars and histograms whose counts sum to the tensors' sizes; a directory that
//! cannot be written is an error before anything is trained.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use constnet::datasets::spiral;
use constnet::prelude::*;
use constnet::record::Record;
use constnet::train::{Config, History, Progress, fit};

network! {
    struct Net { fc1: Dense<2, 32>, relu: Relu, drop: Dropout(0.9), fc2: Dense<32, 3> }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-record-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Trains the spiral net for 4 epochs of 5 steps, recording into `dir`.
fn recorded_run(dir: &Path) -> (Net, History) {
    let data = spiral::<f32>(100, 3, 0).shuffled(0);
    let (train, val) = data.split(250);
    let mut net = Net::new(0);
    let mut adam = AdamConfig::new(1e-2).build().unwrap();
    let config = Config {
        record: Some(Record {
            histogram_epochs: vec![1, 2],
            ..Record::new(dir)
        }),
        progress: Progress::Silent,
        ..Config::new(4, 50)
    };
    let history = fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &config,
    )
    .unwrap();
    (net, history)
}

/// `metrics.csv` as rows of named fields.
fn read_csv(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{line}");
            header
                .iter()
                .zip(fields)
                .map(|(h, f)| (h.to_string(), f.to_string()))
                .collect()
        })
        .collect()
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column}: `{}`", row[column]))
}

#[test]
fn the_csv_holds_a_row_per_step_and_per_epoch_equal_to_the_history() {
    let dir = scratch("csv");
    let (_, history) = recorded_run(&dir);
    let rows = read_csv(&dir);
    let (steps, epochs): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r["kind"] == "step");
    assert_eq!((steps.len(), epochs.len()), (20, 4));
    for (row, stats) in epochs.iter().zip(&history.epochs) {
        assert_eq!(number(row, "loss"), stats.train_loss);
        assert_eq!(number(row, "accuracy"), stats.train_accuracy.unwrap());
        assert_eq!(number(row, "val_loss"), stats.val_loss.unwrap());
        assert_eq!(number(row, "val_accuracy"), stats.val_accuracy.unwrap());
        assert_eq!(number(row, "learning_rate"), stats.learning_rate);
        // The epoch's loss is the mean of its steps' losses, summed in the same order.
        let epoch = stats.epoch.to_string();
        let losses: Vec<f64> = steps
            .iter()
            .filter(|r| r["epoch"] == epoch)
            .map(|r| number(r, "loss"))
            .collect();
        assert_eq!(losses.len(), 5);
        assert_eq!(losses.iter().sum::<f64>() / 5.0, stats.train_loss);
    }
    // Steps count from 1 without gaps; every tensor has a positive ratio and norm.
    let numbers: Vec<f64> = steps.iter().map(|r| number(r, "step")).collect();
    assert_eq!(numbers, (1..=20).map(f64::from).collect::<Vec<_>>());
    for name in ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] {
        for row in &steps {
            assert!(number(row, &format!("update_ratio:{name}")) > 0.0);
            assert!(number(row, &format!("grad_norm:{name}")) > 0.0);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What TensorBoard's `EventAccumulator` reads from `dir`: one line per scalar event
/// (`scalar tag step value`) and per histogram (`histo tag step min max num sum buckets`,
/// `buckets` the sum of the bucket counts).
const READER: &str = r#"
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "histograms": 0})
acc.Reload()
tags = acc.Tags()
for tag in tags["scalars"]:
    for e in acc.Scalars(tag):
        print("scalar", tag, e.step, repr(e.value))
for tag in tags["histograms"]:
    for e in acc.Histograms(tag):
        h = e.histogram_value
        print("histo", tag, e.step, repr(h.min), repr(h.max), repr(h.num), repr(h.sum), repr(sum(h.bucket)))
"#;

#[test]
fn tensorboard_reads_the_event_file_with_the_csvs_numbers() {
    let dir = scratch("tensorboard");
    let (net, history) = recorded_run(&dir);
    let output = Command::new("python3")
        .args(["-c", READER])
        .arg(&dir)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "TensorBoard's reader failed (`pip install tensorboard`; .ci/run does):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let mut scalars: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    let mut histograms: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let numbers: Vec<f64> = fields[3..].iter().map(|f| f.parse().unwrap()).collect();
        match fields[0] {
            "scalar" => scalars
                .entry(fields[1].into())
                .or_default()
                .push((fields[2].parse().unwrap(), numbers[0])),
            _ => histograms
                .entry(fields[1].into())
                .or_default()
                .push([vec![fields[2].parse().unwrap()], numbers].concat()),
        }
    }
    // Every step's loss, as the CSV has it (TensorBoard keeps scalars as f32).
    let rows = read_csv(&dir);
    let csv_losses: Vec<(u64, f64)> = rows
        .iter()
        .filter(|r| r["kind"] == "step")
        .map(|r| {
            (
                number(r, "step") as u64,
                f64::from(number(r, "loss") as f32),
            )
        })
        .collect();
    assert_eq!(scalars["train/loss"], csv_losses);
    let val: Vec<f64> = scalars["epoch/val_accuracy"].iter().map(|s| s.1).collect();
    let expected: Vec<f64> = history
        .epochs
        .iter()
        .map(|e| f64::from(e.val_accuracy.unwrap() as f32))
        .collect();
    assert_eq!(val, expected);
    assert_eq!(scalars["update_ratio/fc1.weight"].len(), 20);
    assert_eq!(scalars["grad_norm/fc2.bias"].len(), 20);
    // Histograms after epochs 1, 2 and the last (4), at their last steps.
    for (name, size) in [
        ("fc1.weight", 64.0),
        ("fc1.bias", 32.0),
        ("fc2.weight", 96.0),
        ("fc2.bias", 3.0),
    ] {
        let events = &histograms[&format!("weights/{name}")];
        let steps: Vec<f64> = events.iter().map(|e| e[0]).collect();
        assert_eq!(steps, [5.0, 10.0, 20.0], "{name}");
        for e in events {
            let (num, buckets) = (e[3], e[5]);
            assert_eq!(
                (num, buckets),
                (size, size),
                "{name}: counts sum to the tensor's size"
            );
        }
        let last = events.last().unwrap();
        let values = net.param(name).unwrap();
        let min = values.iter().copied().fold(f32::INFINITY, f32::min);
        let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(
            (last[1], last[2]),
            (f64::from(min), f64::from(max)),
            "{name}"
        );
    }
    // The gradients' histograms count every element; the activations' every output of
    // every probe sample (the 50 validation samples).
    for (name, size) in [("fc1.weight", 64.0), ("fc2.bias", 3.0)] {
        for e in &histograms[&format!("gradients/{name}")] {
            assert_eq!((e[3], e[5]), (size, size), "gradients/{name}");
        }
    }
    for (layer, units) in [("fc1", 32.0), ("relu", 32.0), ("drop", 32.0), ("fc2", 3.0)] {
        let events = &histograms[&format!("activations/{layer}")];
        assert_eq!(events.len(), 3, "{layer}");
        for e in events {
            assert_eq!(
                (e[3], e[5]),
                (50.0 * units, 50.0 * units),
                "activations/{layer}"
            );
        }
    }
    assert_eq!(scalars["dead_fraction/relu"].len(), 3);
    assert!(!scalars.contains_key("dead_fraction/fc1"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn activations_csv_sums_up_every_layer_after_the_chosen_epochs() {
    let dir = scratch("activations");
    let (net, _) = recorded_run(&dir);
    let text = std::fs::read_to_string(dir.join("activations.csv")).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3 * 4, "{text}"); // epochs 1, 2 and 4; four layers
    let last: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == "4").collect();
    let layers: Vec<&str> = last.iter().map(|r| r[2]).collect();
    assert_eq!(layers, ["fc1", "relu", "drop", "fc2"]);
    // Recompute the ReLU's row from the probe batch (the validation split's 50 samples).
    let data = spiral::<f32>(100, 3, 0).shuffled(0);
    let (_, val) = data.split(250);
    let mut relu = Vec::new();
    for j in 0..val.len() {
        let x = Sample::<f32, 2>::from_iterator(val.inputs.column(j).iter().copied());
        net.for_each_activation(&x, &mut |layer, h| {
            if layer == "relu" {
                relu.extend(h.iter().map(|&v| f64::from(v)));
            }
        });
    }
    let mean = relu.iter().sum::<f64>() / relu.len() as f64;
    let dead = (0..32)
        .filter(|&u| (0..50).all(|j| relu[j * 32 + u] <= 0.0))
        .count() as f64
        / 32.0;
    let row = last[1];
    assert_eq!((row[3], row[4], row[5]), ("Relu", "50", "32"));
    assert_eq!(row[6].parse::<f64>().unwrap(), mean);
    assert_eq!(row[8].parse::<f64>().unwrap(), dead);
    assert_eq!(row[9], ""); // no saturation for a ReLU
    // Dropout is the identity in evaluation mode: the same numbers as the ReLU's.
    assert_eq!(last[2][6], row[6]);
    assert_eq!((last[0][8], last[0][9]), ("", "")); // a Dense layer has neither
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_that_cannot_be_written_is_an_error_before_training() {
    let blocker = scratch("blocked");
    std::fs::write(&blocker, b"a file where the run's directory should be").unwrap();
    let data = spiral::<f32>(10, 3, 0);
    let mut net = Net::new(0);
    let config = Config {
        record: Some(Record::new(blocker.join("run"))),
        progress: Progress::Silent,
        ..Config::new(1, 10)
    };
    let err = fit(
        &mut net,
        &mut Sgd::new(0.1).unwrap(),
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("blocked"), "{err}");
    assert_eq!(net.params(), Net::new(0).params());
    let zero_bins = Config {
        record: Some(Record {
            bins: 0,
            ..Record::new(scratch("bins"))
        }),
        ..config
    };
    let err = fit(
        &mut net,
        &mut Sgd::new(0.1).unwrap(),
        &SoftmaxCrossEntropy,
        &data,
        None,
        &zero_bins,
    );
    assert!(
        matches!(err, Err(Error::BadHyperparameter { .. })),
        "{err:?}"
    );
    std::fs::remove_file(&blocker).unwrap();
}

#[test]
fn a_resumed_run_appends_to_the_tables_of_the_run_it_goes_on_from() {
    let dir = scratch("resumed");
    let data = spiral::<f32>(100, 3, 0).shuffled(0);
    let (train, val) = data.split(250);
    let config = |first_epoch, epochs| Config {
        record: Some(Record::new(&dir)),
        progress: Progress::Silent,
        first_epoch,
        ..Config::new(epochs, 50)
    };
    let mut net = Net::new(0);
    let mut adam = AdamConfig::new(1e-2).build().unwrap();
    fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &config(1, 2),
    )
    .unwrap();
    fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &config(3, 4),
    )
    .unwrap();
    let rows = read_csv(&dir);
    let epochs: Vec<f64> = rows
        .iter()
        .filter(|r| r["kind"] == "epoch")
        .map(|r| number(r, "epoch"))
        .collect();
    assert_eq!(epochs, [1.0, 2.0, 3.0, 4.0]);
    let steps: Vec<f64> = rows
        .iter()
        .filter(|r| r["kind"] == "step")
        .map(|r| number(r, "step"))
        .collect();
    assert_eq!(steps, (1..=20).map(f64::from).collect::<Vec<_>>());
    let header_lines = std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("kind,"))
        .count();
    assert_eq!(header_lines, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
