//! Checkpoints: a bit-exact round trip of parameters, batch-norm state, optimizer state and
//! preprocessing; a mismatched network is an error listing every difference; a corrupt file
//! is an error; a failed save leaves the previous file intact.

use std::path::PathBuf;

use constnet::prelude::*;
use constnet::preprocess::{Granularity, Standardize};
use constnet::{Checkpoint, Error};

network! {
    struct Net { fc1: Dense<4, 8>, bn: BatchNorm, a1: Relu, fc2: Dense<8, 3> }
    struct Wider { fc1: Dense<4, 9>, bn: BatchNorm, a1: Relu, fc2: Dense<9, 3> }
    struct Renamed { fc1: Dense<4, 8>, norm: BatchNorm, a1: Relu, fc2: Dense<8, 3> }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A network with trained-looking parameters, moved running statistics and Adam state.
fn trained<T: Float>() -> (Net<T>, Adam<T>) {
    let mut net = Net::<T>::init(3);
    let x = Batch::<T, 4>::from_fn(6, |i, j| T::of_f64((i * 3 + j) as f64 * 0.37 - 2.0));
    let labels = [0, 1, 2, 0, 1, 2];
    let mut tape = net.new_tape(6);
    let mut grads = net.new_grads();
    let mut adam = AdamConfig::new(1e-2).build().unwrap();
    for _ in 0..5 {
        net.loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
            .unwrap();
        adam.step(net.params_mut(), &grads).unwrap();
    }
    (net, adam)
}

fn round_trip<T: Float>(name: &str) {
    let (net, adam) = trained::<T>();
    let path = scratch(name);
    Checkpoint::of(&net)
        .with_optimizer(&adam)
        .save(&path)
        .unwrap();
    let mut loaded = Net::<T>::init(99);
    let checkpoint = Checkpoint::load_into(&path, &mut loaded).unwrap();
    assert_eq!(loaded.params(), net.params());
    assert_eq!(loaded.state(), net.state());
    let mut restored = AdamConfig::new(1e-2).build::<T>().unwrap();
    checkpoint.restore_optimizer(&mut restored).unwrap();
    assert_eq!(restored.steps(), 5);
    assert_eq!(restored.state(), adam.state());
}

#[test]
fn a_round_trip_is_bit_exact_in_f32_and_f64() {
    round_trip::<f32>("round-trip-f32.safetensors");
    round_trip::<f64>("round-trip-f64.safetensors");
}

#[test]
fn names_shapes_and_metadata_follow_pytorch() {
    let (net, _) = trained::<f32>();
    let checkpoint = Checkpoint::of(&net);
    assert_eq!(
        checkpoint.names(),
        [
            "bn.bias",
            "bn.num_batches_tracked",
            "bn.running_mean",
            "bn.running_var",
            "bn.weight",
            "fc1.bias",
            "fc1.weight",
            "fc2.bias",
            "fc2.weight"
        ]
    );
    let (shape, values) = checkpoint.get::<f32>("fc1.weight").unwrap();
    assert_eq!(shape, &[8, 4]);
    assert_eq!(values, net.param("fc1.weight").unwrap());
    assert_eq!(checkpoint.metadata("format"), Some("constnet-1"));
}

#[test]
fn the_fitted_preprocessing_travels_with_the_checkpoint() {
    let data = constnet::datasets::spiral::<f32>(30, 3, 0).shuffled(0);
    let (train, _) = data.split(60);
    let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
    let mut checkpoint = Checkpoint::of(&Net::<f32>::new(0));
    standardize.save_to(&mut checkpoint).unwrap();
    let path = scratch("preprocess.safetensors");
    checkpoint.save(&path).unwrap();
    let loaded = Standardize::<f32, 2>::load_from(&Checkpoint::load(&path).unwrap()).unwrap();
    assert_eq!(loaded, standardize);
    // A checkpoint without it says what is missing.
    let err = Standardize::<f32, 2>::load_from(&Checkpoint::of(&Net::<f32>::new(0))).unwrap_err();
    assert!(
        err.to_string().contains("missing `preprocess.mean`"),
        "{err}"
    );
}

#[test]
fn a_mismatched_network_is_an_error_listing_every_difference() {
    let path = scratch("mismatch.safetensors");
    Checkpoint::of(&Net::<f32>::new(0)).save(&path).unwrap();

    let mut wider = Wider::<f32>::new(1);
    let before = wider.params().to_vec();
    let err = Checkpoint::load_into(&path, &mut wider).unwrap_err();
    let Error::Checkpoint { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(problems.len(), 7, "{err}"); // every tensor of fc1, bn and fc2 but fc2.bias
    assert!(
        err.to_string()
            .contains("`fc1.weight` is [8, 4] in the file but [9, 4] in the network")
    );
    assert!(err.to_string().contains("mismatch.safetensors"));
    assert_eq!(wider.params(), &before[..], "a failed load changes nothing");

    let err = Checkpoint::load_into(&path, &mut Renamed::<f32>::new(1)).unwrap_err();
    let text = err.to_string();
    for expected in [
        "missing `norm.weight`",
        "missing `norm.running_var`",
        "unexpected `bn.num_batches_tracked`",
        "unexpected `bn.running_mean`",
        "and 1 more", // bn.weight: the list stops at eight
    ] {
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn missing_truncated_and_corrupt_files_are_errors() {
    let err = Checkpoint::load(scratch("no-such-file.safetensors")).unwrap_err();
    assert!(err.to_string().contains("could not read"), "{err}");
    let path = scratch("good.safetensors");
    Checkpoint::of(&Net::<f32>::new(0)).save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for (name, broken) in [
        ("truncated.safetensors", bytes[..bytes.len() - 10].to_vec()),
        ("header-cut.safetensors", bytes[..20].to_vec()),
        (
            "garbage.safetensors",
            b"definitely not a checkpoint".to_vec(),
        ),
    ] {
        let broken_path = scratch(name);
        std::fs::write(&broken_path, broken).unwrap();
        let err = Checkpoint::load(&broken_path).unwrap_err();
        assert!(
            err.to_string().contains("not a valid safetensors file"),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_failed_save_leaves_the_previous_file_intact() {
    let (net, _) = trained::<f32>();
    let short = scratch("kept.safetensors");
    Checkpoint::of(&net).save(&short).unwrap();
    // A name that fits (250 bytes) but leaves no room for the temporary file's suffix, so
    // the save fails before it touches the file already there.
    let path = scratch(&format!("{}.safetensors", "k".repeat(238)));
    std::fs::copy(&short, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = Checkpoint::of(&Net::<f32>::new(5)).save(&path).unwrap_err();
    assert!(
        err.to_string().contains("previous file is unchanged"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let mut loaded = Net::<f32>::new(7);
    Checkpoint::load_into(&path, &mut loaded).unwrap();
    assert_eq!(loaded.params(), net.params());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_leftover_temporary_directory_does_not_block_a_save() {
    // Every save once wrote `<name>.tmp`: a directory of that name made every save fail.
    let path = scratch("blocked.safetensors");
    let temp = scratch("blocked.safetensors.tmp");
    std::fs::create_dir_all(&temp).unwrap();
    let (net, _) = trained::<f32>();
    Checkpoint::of(&net).save(&path).unwrap();
    let mut loaded = Net::<f32>::new(7);
    Checkpoint::load_into(&path, &mut loaded).unwrap();
    assert_eq!(loaded.params(), net.params());
    std::fs::remove_dir(&temp).unwrap();
}

#[test]
fn concurrent_saves_to_one_path_leave_a_whole_file_and_no_temporary_ones() {
    // Three processes saving to one path once gave empty and short files to readers, and
    // ENOENT to the savers, as they shared one temporary file.
    let path = scratch("contended.safetensors");
    let nets: Vec<Net<f32>> = (0..4).map(Net::<f32>::init).collect();
    Checkpoint::of(&nets[0]).save(&path).unwrap();
    std::thread::scope(|scope| {
        for net in &nets {
            let path = &path;
            scope.spawn(move || {
                for _ in 0..25 {
                    Checkpoint::of(net).save(path).unwrap();
                }
            });
        }
        scope.spawn(|| {
            for _ in 0..50 {
                let mut loaded = Net::<f32>::new(9);
                Checkpoint::load_into(&path, &mut loaded).unwrap();
                assert!(nets.iter().any(|n| n.params() == loaded.params()));
            }
        });
    });
    let dir = path.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("contended.safetensors.") && n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_file_written_by_the_reference_implementation_loads() {
    // tests/fixtures/reference.safetensors was written by Python's safetensors 0.8.0
    // (`safetensors.numpy.save_file`), with its own header layout and key order.
    let checkpoint = Checkpoint::load("tests/fixtures/reference.safetensors").unwrap();
    assert_eq!(
        checkpoint.names(),
        ["fc1.bias", "fc1.weight", "optimizer.m"]
    );
    let (shape, weight) = checkpoint.get::<f32>("fc1.weight").unwrap();
    assert_eq!(shape, [3, 4]);
    let expected: Vec<f32> = (0..12).map(|i| i as f32 / 8.0 - 0.5).collect();
    assert_eq!(weight, expected);
    assert_eq!(
        checkpoint.get::<f32>("fc1.bias").unwrap().1,
        [1.5, -2.25, 1e-30]
    );
    assert_eq!(checkpoint.get::<f64>("optimizer.m").unwrap().1, [0.1, -3.0]);
    assert_eq!(checkpoint.metadata("format"), Some("constnet-1"));
    assert_eq!(
        checkpoint.metadata("note"),
        Some("written by Python safetensors 0.8.0 \u{e9}")
    );
    // Saved again by constnet, it reads back the same.
    let path = scratch("resaved.safetensors");
    checkpoint.save(&path).unwrap();
    assert_eq!(Checkpoint::load(&path).unwrap(), checkpoint);
}

#[test]
fn a_file_of_thousands_of_unexpected_tensors_lists_a_few_and_counts_the_rest() {
    let mut checkpoint = Checkpoint::of(&Net::<f32>::new(0));
    for i in 0..10_000 {
        checkpoint
            .add(&format!("junk{i}.weight"), &[1], &[0.0f32])
            .unwrap();
    }
    let mut net = Net::<f32>::new(1);
    let err = checkpoint.restore(&mut net).unwrap_err();
    let Error::Checkpoint { problems, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(problems.len(), 9);
    assert_eq!(problems[8], "and 9992 more");
    assert!(
        err.to_string().len() < 1000,
        "{} bytes",
        err.to_string().len()
    );
    assert_eq!(net.params(), Net::<f32>::new(1).params());
}

#[test]
fn a_save_deletes_the_temporary_files_of_dead_saves_and_only_those() {
    let path = scratch("crashed.safetensors");
    // A process that has ended: its id names no running process (ids are not reused so soon).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    let temp = |owner: u32, count: u32, modified: std::time::SystemTime| {
        let file = path.with_file_name(format!("crashed.safetensors.{owner}-{count}.tmp"));
        std::fs::write(&file, b"half a checkpoint").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        file
    };
    let stale = temp(dead, 0, old);
    let recent = temp(dead, 1, std::time::SystemTime::now()); // may still be written
    let live = temp(1, 0, old); // pid 1 is always running
    let own = temp(std::process::id(), 999_999, old);
    let unrelated = path.with_file_name("crashed.safetensors.notes.tmp");
    std::fs::write(&unrelated, b"a user's file").unwrap();
    Checkpoint::of(&Net::<f32>::init(0)).save(&path).unwrap();
    assert!(!stale.exists(), "the dead save's idle file is deleted");
    for kept in [&recent, &live, &own, &unrelated] {
        assert!(kept.exists(), "{} must be kept", kept.display());
    }
    assert_eq!(
        Checkpoint::load(&path).unwrap(),
        Checkpoint::of(&Net::<f32>::init(0))
    );
}

#[test]
fn a_training_run_resumes_only_with_state_of_its_own_network() {
    let (net, adam) = trained::<f32>();
    let checkpoint = Checkpoint::of(&net).with_optimizer(&adam);
    let (mut resumed, mut rule) = (Net::<f32>::init(9), AdamConfig::new(1e-2).build().unwrap());
    checkpoint
        .restore_with_optimizer(&mut resumed, &mut rule)
        .unwrap();
    assert_eq!(
        (resumed.params(), resumed.state()),
        (net.params(), net.state())
    );
    assert_eq!((rule.steps(), rule.state()), (adam.steps(), adam.state()));

    // Moments of the right network but one short: refused before anything changes.
    let mut short = checkpoint.clone();
    let (_, m) = checkpoint.get::<f32>("optimizer.m").unwrap();
    short.add("optimizer.m", &[m.len() - 1], &m[1..]).unwrap();
    let (mut fresh, mut rule) = (Net::<f32>::init(9), AdamConfig::new(1e-2).build().unwrap());
    let err = short
        .restore_with_optimizer(&mut fresh, &mut rule)
        .unwrap_err();
    assert!(
        matches!(err, Error::WrongLength { expected, got, .. } if expected == m.len() && got == m.len() - 1),
        "{err}"
    );
    assert_eq!(fresh.params(), Net::<f32>::init(9).params());
    assert_eq!(rule.steps(), 0);

    // A network that restores but a state that does not (a negative sum of squares): the
    // network is put back as it was.
    let mut negative = checkpoint.clone();
    let (_, v) = checkpoint.get::<f32>("optimizer.v").unwrap();
    let mut bad = v.clone();
    bad[0] = -1.0;
    negative.add("optimizer.v", &[bad.len()], &bad).unwrap();
    let err = negative
        .restore_with_optimizer(&mut fresh, &mut rule)
        .unwrap_err();
    assert!(matches!(err, Error::BadState { .. }), "{err}");
    assert_eq!(
        (fresh.params(), fresh.state()),
        (Net::<f32>::init(9).params(), Net::<f32>::init(9).state())
    );
    assert_eq!(rule.steps(), 0);
}

/// A safetensors file of `tensors` (name, element type, shape, little-endian bytes), written
/// here by hand, as another library would.
fn safetensors_file(tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (i, (name, dtype, shape, bytes)) in tensors.iter().enumerate() {
        let shape: Vec<String> = shape.iter().map(ToString::to_string).collect();
        header += &format!(
            "{}\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            if i > 0 { "," } else { "" },
            shape.join(","),
            data.len(),
            data.len() + bytes.len()
        );
        data.extend_from_slice(bytes);
    }
    header.push('}');
    [
        (header.len() as u64).to_le_bytes().to_vec(),
        header.into_bytes(),
        data,
    ]
    .concat()
}

#[test]
fn half_precision_tensors_are_widened_and_pytorch_s_batch_counter_is_accepted() {
    let mut net = Net::<f32>::init(3);
    net.write_param("fc2.bias", &[0.5, -1.25, 3.0]).unwrap();
    net.write_param("fc1.bias", &[1.0, -2.0, 0.375, 0.0, 4.0, -0.5, 1.5, 2.5])
        .unwrap();
    let saved = Checkpoint::of(&net);
    let mut tensors = Vec::new();
    for name in saved.names() {
        let (shape, values) = saved.get::<f32>(name).unwrap();
        let (dtype, bytes): (&str, Vec<u8>) = match name {
            // f16 bit patterns of 0.5, -1.25 and 3.0
            "fc2.bias" => (
                "F16",
                [0x3800u16, 0xBD00, 0x4200]
                    .iter()
                    .flat_map(|b| b.to_le_bytes())
                    .collect(),
            ),
            // bf16 is f32's top half
            "fc1.bias" => (
                "BF16",
                values
                    .iter()
                    .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes())
                    .collect(),
            ),
            // PyTorch's count of training batches
            "bn.num_batches_tracked" => ("I64", 1234i64.to_le_bytes().to_vec()),
            _ => ("F32", values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        };
        tensors.push((name, dtype, shape.to_vec(), bytes));
    }
    let bytes = safetensors_file(&tensors);
    let loaded = Checkpoint::from_bytes(&bytes).unwrap();
    let mut restored = Net::<f32>::init(0);
    loaded.restore(&mut restored).unwrap();
    assert_eq!(restored.params(), net.params());
    assert_eq!(restored.param("bn.num_batches_tracked").unwrap(), [1234.0]);
    let count = restored
        .tensor("bn.num_batches_tracked")
        .unwrap()
        .range()
        .start;
    assert_eq!(restored.state()[..count], net.state()[..count]);
    assert_eq!(
        loaded.get::<f64>("bn.num_batches_tracked"),
        Some((&[][..], vec![1234.0]))
    );
    // Written back, the counter keeps its type; the half-precision tensors are F32.
    let again = Checkpoint::from_bytes(&loaded.to_bytes()).unwrap();
    assert_eq!(again, loaded);
    // A counter for a layer the network does not have is unexpected, like any tensor.
    tensors.push((
        "bn9.num_batches_tracked",
        "I64",
        vec![],
        0i64.to_le_bytes().to_vec(),
    ));
    let err = Checkpoint::from_bytes(&safetensors_file(&tensors))
        .unwrap()
        .restore(&mut Net::<f32>::init(0))
        .unwrap_err();
    assert!(err.to_string().contains("bn9.num_batches_tracked"), "{err}");
}

#[test]
fn saving_into_a_missing_directory_says_so() {
    let path = scratch("no-such-dir")
        .join("deeper")
        .join("net.safetensors");
    let err = Checkpoint::of(&Net::<f32>::init(0))
        .save(&path)
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(err.to_string().contains("deeper"), "{err}");
}

/// Each tensor's `(name, dtype, shape)` as a safetensors file's header gives them.
fn layout(file: &[u8]) -> Vec<(String, String, String)> {
    let len = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&file[8..8 + len]).unwrap();
    let field = |entry: &str, key: &str, end: char| {
        let start = entry.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
        let rest = &entry[start..];
        rest[..rest.find(end).unwrap() + 1]
            .trim_matches('"')
            .to_string()
    };
    let mut tensors: Vec<_> = header
        .split("},")
        .filter(|entry| entry.contains("\"dtype\""))
        .map(|entry| {
            let name = entry.split('"').nth(1).unwrap().to_string();
            (name, field(entry, "dtype", '"'), field(entry, "shape", ']'))
        })
        .collect();
    tensors.sort();
    tensors
}

/// `[[1.0, 2.0], [3.0, 4.0]]` as rows.
fn rows(json: &str) -> Vec<Vec<f32>> {
    json.trim_matches(['[', ']'])
        .split("], [")
        .map(|row| row.split(", ").map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn a_pytorch_state_dict_loads_strictly_and_ours_has_its_layout() {
    // Written by PyTorch 2.15 (`python tests/pytorch/cross_check.py make-fixture ...`): the
    // `state_dict()` of the same four layers after three training batches, with five inputs
    // and PyTorch's evaluation-mode outputs for them in the metadata.
    let fixture = "tests/fixtures/pytorch-bn-net.safetensors";
    let file = Checkpoint::load(fixture).unwrap();
    let mut net = Net::<f32>::init(7);
    file.restore(&mut net).unwrap(); // every tensor known, none missing
    assert_eq!(net.param("bn.num_batches_tracked").unwrap(), [3.0]);
    let inputs = rows(file.metadata("inputs").unwrap());
    let outputs = rows(file.metadata("outputs").unwrap());
    assert_eq!((inputs.len(), outputs.len()), (5, 5));
    for (x, expected) in inputs.iter().zip(&outputs) {
        let y = net.forward(&Sample::<f32, 4>::from_column_slice(x));
        for (got, want) in y.iter().zip(expected) {
            assert!((got - want).abs() < 1e-5, "{y:?} vs PyTorch's {expected:?}");
        }
    }
    // What constnet writes has PyTorch's names, element types (I64 for the count) and
    // shapes (`[]` for the count), which is what `load_state_dict(strict=True)` checks.
    let ours = Checkpoint::of(&net).to_bytes();
    assert_eq!(layout(&ours), layout(&std::fs::read(fixture).unwrap()));
}

#[test]
fn batch_norm_counts_training_batches_and_a_count_must_be_whole() {
    let (mut net, _) = trained::<f32>(); // five training batches
    assert_eq!(net.param("bn.num_batches_tracked").unwrap(), [5.0]);
    let before = net.param("bn.num_batches_tracked").unwrap();
    let x = Batch::<f32, 4>::from_element(3, 0.5);
    net.forward_batch(&x); // evaluation does not count
    assert_eq!(net.param("bn.num_batches_tracked").unwrap(), before);
    let mut tape = net.new_tape(3);
    net.forward_train(&x, &mut tape).unwrap();
    assert_eq!(net.param("bn.num_batches_tracked").unwrap(), [6.0]);

    // A file without the count (written before constnet kept one) loads with a count of 0.
    let saved = Checkpoint::of(&net);
    let mut old = Checkpoint::new();
    for name in saved
        .names()
        .into_iter()
        .filter(|n| !n.ends_with("num_batches_tracked"))
    {
        let (shape, values) = saved.get::<f32>(name).unwrap();
        old.add(name, shape, &values).unwrap();
    }
    let mut restored = Net::<f32>::init(1);
    restored
        .write_param("bn.num_batches_tracked", &[9.0])
        .unwrap();
    old.restore(&mut restored).unwrap();
    assert_eq!(restored.params(), net.params());
    assert_eq!(restored.param("bn.num_batches_tracked").unwrap(), [0.0]);

    // A negative or fractional count is refused, and the network is left as it was.
    for bad in [-1.0f32, 2.5, f32::NAN] {
        let mut file = saved.clone();
        file.add("bn.num_batches_tracked", &[], &[bad]).unwrap();
        let err = file.restore(&mut restored).unwrap_err().to_string();
        assert!(
            err.contains("`bn.num_batches_tracked` is") && err.contains("not a count"),
            "{err}"
        );
        assert_eq!(restored.param("bn.num_batches_tracked").unwrap(), [0.0]);
    }
}
