//! What every reader of a file must do with any bytes at all: return a well-formed value or
//! an error, never panic, and leave a network or an update rule unchanged when it refuses a
//! checkpoint. Each function takes a fuzzer's input and panics (which the fuzzer reports as
//! a crash) on anything else. The cargo-fuzz targets in `fuzz_targets/` call them on
//! nightly; `tests/fuzz_corpus.rs` calls them on stable over the committed corpus and
//! seeded mutations of it, so CI runs the same checks.
//!
//! Readers that take paths get the input written to a file of this process first. Where a
//! reader takes two files, the input's first byte chooses which one is the input (the
//! other is a valid file) and, for the CSV reader, the header kind and scalar type.

use std::path::PathBuf;

use constnet::datasets::{Header, NonFinite, read_csv_with, read_idx, read_regression};
use constnet::prelude::*;
use constnet::{Checkpoint, Float};

network! {
    /// A network with every kind of tensor a checkpoint holds: weights, biases, batch
    /// norm's parameters and running statistics.
    pub struct Small { fc1: Dense<3, 4>, bn: BatchNorm, act: Relu, fc2: Dense<4, 2> }
}

/// `bytes` written to a file named `name` in this process's scratch folder.
fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("a scratch file");
    path
}

/// A valid IDX image file of three 2x2 images.
pub fn idx_images() -> Vec<u8> {
    let mut bytes: Vec<u8> = [2051u32, 3, 2, 2]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect();
    bytes.extend((0..12u8).map(|i| i * 20));
    bytes
}

/// A valid IDX label file of three labels below 10.
pub fn idx_labels() -> Vec<u8> {
    let mut bytes: Vec<u8> = [2049u32, 3].iter().flat_map(|w| w.to_be_bytes()).collect();
    bytes.extend([7, 0, 9]);
    bytes
}

/// An IDX image file (first byte even) or label file (odd), read beside a valid other half:
/// samples 4 wide with finite pixels, one label below 10 per image. Returns whether the
/// reader accepted it.
pub fn idx(data: &[u8]) -> bool {
    let Some((&choice, rest)) = data.split_first() else {
        return false;
    };
    let (images, labels) = if choice % 2 == 0 {
        (file("images", rest), file("labels", &idx_labels()))
    } else {
        (file("images", &idx_images()), file("labels", rest))
    };
    let Ok(set) = read_idx::<f32, 4>(&images, &labels, 10) else {
        return false;
    };
    assert_eq!(set.inputs.ncols(), set.labels.len());
    assert!(set.labels.iter().all(|&l| l < 10));
    assert!(set.inputs.iter().all(|&v| (0.0..=255.0).contains(&v)));
    true
}

/// A labeled CSV of 2 features: the first byte chooses scikit-learn's header or none (bit
/// 0), `f32` or `f64` (bit 1) and whether `nan`/`inf` fields are kept (bit 2). Returns
/// whether the reader accepted it.
pub fn csv(data: &[u8]) -> bool {
    let Some((&choice, rest)) = data.split_first() else {
        return false;
    };
    let path = file("table.csv", rest);
    let header = if choice & 1 == 0 {
        Header::Sklearn
    } else {
        Header::None
    };
    let non_finite = if choice & 4 == 0 {
        NonFinite::Refuse
    } else {
        NonFinite::Keep
    };
    if choice & 2 == 0 {
        csv_as::<f32>(&path, header, non_finite)
    } else {
        csv_as::<f64>(&path, header, non_finite)
    }
}

fn csv_as<T: Float>(path: &PathBuf, header: Header, non_finite: NonFinite) -> bool {
    let Ok(set) = read_csv_with::<T, 2>(path, header, non_finite) else {
        return false;
    };
    assert_eq!(set.inputs.ncols(), set.labels.len());
    assert_eq!(set.inputs.len(), 2 * set.labels.len());
    if non_finite == NonFinite::Refuse {
        assert!(set.inputs.iter().all(|v| v.is_finite()));
    }
    let clean = set.without_non_finite();
    assert!(clean.inputs.iter().all(|v| v.is_finite()));
    assert!(clean.len() <= set.len());
    true
}

/// A regression table: the input file of 2 numbers a line (first byte even) or the target
/// file of 1 (odd), beside a valid other file of three lines. Returns whether the reader
/// accepted it.
pub fn regression(data: &[u8]) -> bool {
    let Some((&choice, rest)) = data.split_first() else {
        return false;
    };
    let (inputs, targets) = if choice % 2 == 0 {
        (file("x.txt", rest), file("y.txt", b"0.5\n-1e3\n2\n"))
    } else {
        (file("x.txt", b"1 2\n3 4\n5 6\n"), file("y.txt", rest))
    };
    let Ok(set) = read_regression::<f32, 2, 1>(&inputs, &targets) else {
        return false;
    };
    assert_eq!(set.inputs.ncols(), set.targets.ncols());
    assert!(
        set.inputs
            .iter()
            .chain(set.targets.iter())
            .all(|v| v.is_finite())
    );
    true
}

/// Any bytes as a safetensors file: a checkpoint whose every tensor has as many values as
/// its shape says, and which writes back to bytes that read as the same checkpoint. Returns
/// whether the reader accepted it.
pub fn safetensors(data: &[u8]) -> bool {
    let Ok(checkpoint) = Checkpoint::from_bytes(data) else {
        return false;
    };
    for name in checkpoint.names() {
        let (shape, values) = checkpoint.get::<f64>(name).expect("a listed tensor");
        let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        assert_eq!(count, Some(values.len()), "`{name}` {shape:?}");
    }
    let written = checkpoint.to_bytes();
    let again = Checkpoint::from_bytes(&written).expect("a written checkpoint reads back");
    assert_eq!(again.to_bytes(), written);
    true
}

/// Any bytes as a checkpoint of [`Small`] and of Adam's state: restored, the network's
/// values are finite; refused, the network and the rule are as they were; a restored
/// rule's next step is a value or an error. Returns whether the checkpoint was taken
/// whole: the network, and the rule's state if it holds any (`optimizer.steps`).
pub fn checkpoint(data: &[u8]) -> bool {
    let Ok(checkpoint) = Checkpoint::from_bytes(data) else {
        return false;
    };
    let before = Small::<f32>::init(1);
    let mut net = before.clone();
    let network = match checkpoint.restore(&mut net) {
        Ok(()) => {
            assert!(
                net.params()
                    .iter()
                    .chain(net.state())
                    .all(|v| v.is_finite())
            );
            true
        }
        Err(_) => {
            assert_eq!(
                (net.params(), net.state()),
                (before.params(), before.state())
            );
            false
        }
    };
    let mut net = before.clone();
    let mut adam = AdamConfig::new(1e-2).build::<f32>().expect("a valid rule");
    let optimizer = match checkpoint.restore_with_optimizer(&mut net, &mut adam) {
        Ok(()) => {
            let len = Small::<f32>::PARAM_COUNT;
            assert!(
                adam.state()
                    .iter()
                    .all(|(_, b)| b.is_empty() || b.len() == len)
            );
            let grads = vec![0.25f32; len];
            // Whatever state was accepted, a step is a value or an error, never a panic.
            let _ = adam.step(net.params_mut(), &grads);
            true
        }
        Err(_) => {
            assert_eq!(
                (net.params(), net.state()),
                (before.params(), before.state())
            );
            assert_eq!(adam.steps(), 0);
            assert!(adam.state().iter().all(|(_, b)| b.is_empty()));
            false
        }
    };
    network && (optimizer || checkpoint.metadata("optimizer.steps").is_none())
}

/// `good` with one to three mutations drawn from `seed` (flipped bits, inserted, deleted
/// and replaced bytes, a cut, an extreme big-endian word: 0, 1, `u32::MAX`, 2^31, 60,000),
/// and what they were, for a failure's message.
pub fn mutate(good: &[u8], seed: u64) -> (Vec<u8>, String) {
    // splitmix64: reproducible everywhere, and no dependency.
    let mut state = seed;
    let mut next = |below: usize| {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % below.max(1) as u64) as usize
    };
    let mut bytes = good.to_vec();
    let mut done = Vec::new();
    for _ in 0..1 + next(3) {
        let at = next(bytes.len() + 1);
        let inside = at < bytes.len();
        match next(6) {
            0 if inside => {
                bytes[at] ^= 1 << next(8);
                done.push(format!("flip bit at {at}"));
            }
            1 => {
                bytes.insert(at, next(256) as u8);
                done.push(format!("insert at {at}"));
            }
            2 if inside => {
                bytes.remove(at);
                done.push(format!("delete at {at}"));
            }
            3 => {
                bytes.truncate(at);
                done.push(format!("cut at {at}"));
            }
            4 if at + 4 <= bytes.len() => {
                let word = [0u32, 1, u32::MAX, 1 << 31, 60_000][next(5)];
                bytes[at..at + 4].copy_from_slice(&word.to_be_bytes());
                done.push(format!("word {word} at {at}"));
            }
            _ if inside => {
                bytes[at] = next(256) as u8;
                done.push(format!("random byte at {at}"));
            }
            _ => {}
        }
    }
    (bytes, done.join(", "))
}
