//! Every reader of a file, given thousands of seeded mutations of a valid one (flipped,
//! inserted and deleted bytes, cuts, extreme header words), returns a value or an error and
//! never panics; what it returns is well formed (finite values, labels in range, the
//! network unchanged on an error). Stable Rust, so CI runs it; the seeds make every case
//! reproducible (a failure prints its seed and mutation).

use std::io::Write;
use std::path::PathBuf;

use constnet::Checkpoint;
use constnet::datasets::{Header, read_csv, read_idx, read_regression};
use constnet::prelude::*;

/// The fuzz targets' checks, for their mutator (the checks themselves run in
/// `tests/fuzz_corpus.rs`).
#[path = "../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;

network! {
    struct Small { fc1: Dense<3, 4>, bn: BatchNorm, act: Relu, fc2: Dense<4, 2> }
}

/// How many mutated files each reader gets.
const CASES: u64 = 2000;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-mutations-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Runs `read` on `CASES` mutations of `good`, written to `name`; `read` returns whether the
/// file was accepted and panics on a malformed result. Returns how many were accepted.
fn mutations(name: &str, good: &[u8], mut read: impl FnMut(&PathBuf) -> bool) -> u64 {
    let path = scratch(name);
    std::fs::write(&path, good).unwrap();
    assert!(
        read(&path),
        "{name}: the file before mutation must be accepted"
    );
    let mut accepted = 0;
    for seed in 0..CASES {
        let (bytes, what) = checks::mutate(good, seed);
        std::fs::write(&path, &bytes).unwrap();
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&path)))
            .unwrap_or_else(|_| panic!("{name}, seed {seed} ({what}): the reader panicked"));
        accepted += u64::from(ok);
    }
    // Shown with `--nocapture`.
    println!("{name}: {accepted} of {CASES} mutations accepted, the rest refused");
    accepted
}

fn idx_pair() -> (Vec<u8>, Vec<u8>) {
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend((0..3 * 784).map(|i| (i % 251) as u8));
    (images, vec![0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9])
}

#[test]
fn mutated_idx_files_plain_and_gzip_are_values_or_errors() {
    let (images, labels) = idx_pair();
    for (tag, images, labels) in [
        ("plain", images.clone(), labels.clone()),
        ("gz", gzip(&images), gzip(&labels)),
    ] {
        let (good_images, good_labels) = (
            scratch(&format!("images-{tag}")),
            scratch(&format!("labels-{tag}")),
        );
        std::fs::write(&good_images, &images).unwrap();
        std::fs::write(&good_labels, &labels).unwrap();
        let check = |result: Result<constnet::datasets::Labeled<f32, 784>, Error>| match result {
            Ok(data) => {
                assert!(data.labels.iter().all(|&l| l < 10));
                assert_eq!(data.inputs.ncols(), data.labels.len());
                true
            }
            Err(_) => false,
        };
        let a = mutations(&format!("m-images-{tag}"), &images, |p| {
            check(read_idx(p, &good_labels, 10))
        });
        let b = mutations(&format!("m-labels-{tag}"), &labels, |p| {
            check(read_idx(&good_images, p, 10))
        });
        assert!(
            a < CASES && b < CASES,
            "{tag}: some mutations must be refused"
        );
    }
}

#[test]
fn mutated_csv_and_regression_tables_are_values_or_errors() {
    let csv = b"4,2,a,b\n0.5,1.0,0\n-2,3e-2,1\n1,1,1\n0,0,0\n".to_vec();
    let accepted = mutations("m.csv", &csv, |p| {
        match read_csv::<f32, 2>(p, Header::Sklearn) {
            Ok(data) => {
                assert!(data.inputs.iter().all(|v| v.is_finite()));
                assert!(data.labels.iter().all(|&l| l < data.classes()));
                true
            }
            Err(_) => false,
        }
    });
    assert!(accepted < CASES);
    let accepted = mutations("m.csv.gz", &gzip(&csv), |p| {
        read_csv::<f64, 2>(p, Header::Sklearn).is_ok()
    });
    assert!(accepted < CASES);
    let inputs = scratch("x.txt");
    std::fs::write(&inputs, "1 2\n3 4\n5 6\n").unwrap();
    let targets = b"0.5\n-1e3\n2\n".to_vec();
    let accepted = mutations("m-targets.txt", &targets, |p| {
        match read_regression::<f32, 2, 1>(&inputs, p) {
            Ok(data) => {
                assert!(data.targets.iter().all(|v| v.is_finite()));
                assert_eq!(data.targets.ncols(), 3);
                true
            }
            Err(_) => false,
        }
    });
    assert!(accepted < CASES);
}

#[test]
fn mutated_checkpoints_are_values_or_errors_and_an_error_changes_nothing() {
    let good_path = scratch("good.safetensors");
    let mut adam = AdamConfig::new(1e-2).build::<f32>().unwrap();
    let mut params = vec![0.5f32; Small::<f32>::PARAM_COUNT];
    let grads = vec![0.1f32; params.len()];
    adam.step(&mut params, &grads).unwrap();
    Checkpoint::of(&Small::new(3))
        .with_optimizer(&adam)
        .save(&good_path)
        .unwrap();
    let good = std::fs::read(&good_path).unwrap();
    let before = Small::new(1);
    let accepted = mutations("m.safetensors", &good, |p| {
        let Ok(checkpoint) = Checkpoint::load(p) else {
            return false;
        };
        let mut net = Small::new(1);
        match checkpoint.restore(&mut net) {
            Ok(()) => assert!(
                net.params()
                    .iter()
                    .chain(net.state())
                    .all(|v| v.is_finite())
            ),
            Err(_) => assert_eq!(
                (net.params(), net.state()),
                (before.params(), before.state())
            ),
        }
        let mut resumed = AdamConfig::new(1e-2).build::<f32>().unwrap();
        if checkpoint.restore_optimizer(&mut resumed).is_ok() {
            let mut p = params.clone();
            // Whatever state was accepted, a step is a value or an error, never a panic.
            let _ = resumed.step(&mut p, &grads);
        }
        true
    });
    assert!(accepted < CASES);
}
