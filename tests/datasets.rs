//! The loaders on the real files in `data/` and on corrupted copies of them, and the
//! dataset operations: split, shuffle, mini-batches.

use std::io::Write;
use std::path::PathBuf;

use constnet::Error;
use constnet::datasets::{
    Header, Labeled, NonFinite, Split, mnist, read_csv, read_csv_with, read_idx,
    read_regression_with,
};

fn class_counts<const N: usize>(data: &Labeled<f32, N>) -> Vec<usize> {
    let mut counts = vec![0; data.classes()];
    for &l in &data.labels {
        counts[l] += 1;
    }
    counts
}

/// A scratch folder of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-datasets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn gunzip(path: &str) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out).unwrap();
    out
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

fn message(err: Error) -> String {
    assert!(matches!(err, Error::Data { .. }), "{err:?}");
    err.to_string()
}

#[test]
fn the_scikit_learn_csvs_load_with_their_documented_counts() {
    let iris = read_csv::<f32, 4>("data/sklearn/iris.csv", Header::Sklearn).unwrap();
    assert_eq!(class_counts(&iris), [50, 50, 50]);
    assert_eq!(iris.inputs.column(0).as_slice(), &[5.1, 3.5, 1.4, 0.2]);
    let wine = read_csv::<f32, 13>("data/sklearn/wine_data.csv", Header::Sklearn).unwrap();
    assert_eq!(class_counts(&wine), [59, 71, 48]);
    assert_eq!(wine.inputs[(12, 0)], 1065.0);
    let cancer = read_csv::<f32, 30>("data/sklearn/breast_cancer.csv", Header::Sklearn).unwrap();
    assert_eq!(class_counts(&cancer), [212, 357]);
    let digits = read_csv::<f32, 64>("data/sklearn/digits.csv.gz", Header::None).unwrap();
    assert_eq!(
        class_counts(&digits),
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert_eq!(
        &digits.inputs.column(0).as_slice()[..4],
        &[0.0, 0.0, 5.0, 13.0]
    );
}

#[test]
fn a_csv_of_another_width_is_an_error_naming_both_widths() {
    let err = message(read_csv::<f32, 5>("data/sklearn/iris.csv", Header::Sklearn).unwrap_err());
    assert!(err.contains("iris.csv") && err.contains("5 features") && err.contains("4 features"));
    let err = message(read_csv::<f32, 63>("data/sklearn/digits.csv.gz", Header::None).unwrap_err());
    assert!(
        err.contains("digits.csv.gz:1")
            && err.contains("63 features")
            && err.contains("64 features")
    );
}

#[test]
fn bad_csv_content_is_an_error_with_the_line() {
    let cases = [
        ("missing.csv", None, "readable file"),
        ("bad-number.csv", Some("2,1,a,b\nx,0\n"), "`x`"),
        (
            "bad-label.csv",
            Some("2,1,a,b\n1.0,0\n2.0,2\n"),
            "label below 2",
        ),
        ("negative-label.csv", Some("1,1,a,b\n1.0,-1\n"), "`-1`"),
        (
            "wrong-count.csv",
            Some("3,1,a,b\n1.0,0\n2.0,1\n"),
            "3 samples",
        ),
        (
            "bad-header.csv",
            Some("iris\n1.0,0\n"),
            "n_samples,n_features",
        ),
        (
            "ragged.csv",
            Some("2,1,a,b\n1.0,0\n2.0,3.0,1\n"),
            "ragged.csv:3",
        ),
        // beyond f32's range: it would be infinity
        (
            "overflow.csv",
            Some("2,1,a,b\n1.0,0\n1e39,1\n"),
            "overflow.csv:3: expected a finite number within f32's range, found `1e39`",
        ),
        ("nan.csv", Some("2,1,a,b\nnan,0\n1.0,1\n"), "found `nan`"),
        ("inf.csv", Some("2,1,a,b\n1.0,0\n-inf,1\n"), "found `-inf`"),
    ];
    for (name, content, expected) in cases {
        let path = match content {
            Some(text) => write(name, text.as_bytes()),
            None => scratch(name),
        };
        let err = message(read_csv::<f32, 1>(&path, Header::Sklearn).unwrap_err());
        assert!(err.contains(expected), "{name}: {err}");
    }
}

#[test]
fn nan_and_inf_fields_are_kept_only_when_asked_and_out_of_range_numbers_never() {
    // Spellings pandas and NumPy write, in a header-less CSV of two features.
    // Not `missing.csv`: the tests share one scratch folder, and another one reads that name
    // expecting no file there.
    let path = write(
        "non-finite.csv",
        b"1.0,nan,0\n2.0,NaN,1\n-inf,3.0,2\n+Infinity,4.0,0\n5.0,6.0,1\n",
    );
    let err = message(read_csv::<f32, 2>(&path, Header::None).unwrap_err());
    assert!(
        err.contains("non-finite.csv:1") && err.contains("`nan`"),
        "{err}"
    );
    let kept = read_csv_with::<f32, 2>(&path, Header::None, NonFinite::Keep).unwrap();
    assert_eq!(kept.len(), 5);
    assert!(kept.inputs[(1, 0)].is_nan() && kept.inputs[(1, 1)].is_nan());
    assert_eq!(kept.inputs[(0, 2)], f32::NEG_INFINITY);
    assert_eq!(kept.inputs[(0, 3)], f32::INFINITY);
    let clean = kept.without_non_finite();
    assert_eq!(clean.labels, [1]);
    assert_eq!(clean.inputs.as_slice(), &[5.0, 6.0]);
    // Numbers beyond the scalar type's range are refused even when non-finite fields are
    // kept: they are not missing values.
    for (text, scalar_is_f32) in [("1e39,0,0\n", true), ("1e400,0,0\n", false)] {
        let path = write("overflow-kept.csv", text.as_bytes());
        let err = if scalar_is_f32 {
            read_csv_with::<f32, 2>(&path, Header::None, NonFinite::Keep).map(|_| ())
        } else {
            read_csv_with::<f64, 2>(&path, Header::None, NonFinite::Keep).map(|_| ())
        };
        let err = message(err.unwrap_err());
        assert!(err.contains("overflow-kept.csv:1"), "{text}: {err}");
    }
    // The same for regression tables, in either file.
    let x = write("rx.txt", b"1 2\n3 4\n5 6\n");
    let y = write("ry.txt", b"0.5\nnan\n2\n");
    assert!(read_regression_with::<f64, 2, 1>(&x, &y, NonFinite::Refuse).is_err());
    let data = read_regression_with::<f64, 2, 1>(&x, &y, NonFinite::Keep).unwrap();
    let clean = data.without_non_finite();
    assert_eq!(clean.targets.as_slice(), &[0.5, 2.0]);
    assert_eq!(clean.inputs.as_slice(), &[1.0, 2.0, 5.0, 6.0]);
}

#[test]
fn mnist_loads_both_splits_scaled_to_unit_range() {
    let test = mnist::<f32>("data/mnist", Split::Test).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(&test.labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert_eq!(
        class_counts(&test),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let mean = test.inputs.iter().map(|&v| f64::from(v)).sum::<f64>() / test.inputs.len() as f64;
    assert!(
        (mean * 255.0 - 33.7912).abs() < 1e-3,
        "pixel mean {}",
        mean * 255.0
    );
    let train = mnist::<f32>("data/mnist", Split::Train).unwrap();
    assert_eq!(train.len(), 60_000);
    assert_eq!(&train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert!(train.inputs.iter().all(|&v| (0.0..=1.0).contains(&v)));
}

#[test]
fn corrupted_idx_files_are_errors_not_panics() {
    let images = gunzip("data/mnist/t10k-images-idx3-ubyte.gz");
    let labels = gunzip("data/mnist/t10k-labels-idx1-ubyte.gz");
    let good_images = write("good-images", &images);
    let good_labels = write("good-labels", &labels);
    let load = |images: &PathBuf, labels: &PathBuf| {
        message(read_idx::<f32, 784>(images, labels, 10).unwrap_err())
    };

    let truncated = write("truncated-images", &images[..images.len() - 100]);
    assert!(load(&truncated, &good_labels).contains("truncated"));
    let header_only = write("header-only", &images[..10]);
    assert!(load(&header_only, &good_labels).contains("IDX header of 16 bytes"));

    let mut bad_magic = images.clone();
    bad_magic[3] = 0x01;
    let bad_magic = write("bad-magic", &bad_magic);
    assert!(load(&bad_magic, &good_labels).contains("magic number 2051"));
    assert!(load(&good_images, &good_images).contains("magic number 2049"));

    let mut wrong_rows = images.clone();
    wrong_rows[11] = 27; // 27 x 28 images
    let wrong_rows = write("wrong-rows", &wrong_rows);
    let err = load(&wrong_rows, &good_labels);
    assert!(
        err.contains("784") && err.contains("27 x 28 = 756"),
        "{err}"
    );

    let mut bad_label = labels.clone();
    bad_label[8 + 5] = 10;
    let bad_label = write("bad-label", &bad_label);
    assert!(load(&good_images, &bad_label).contains("label 10 at index 5"));

    let few_labels = write(
        "few-labels",
        &[&labels[..7], &[0x00, 0x00, 0x00, 0x05][..], &labels[8..13]].concat(),
    );
    let err = load(&good_images, &few_labels);
    assert!(err.contains("10000 labels"), "{err}");

    let mut truncated_gz = std::fs::read("data/mnist/t10k-labels-idx1-ubyte.gz").unwrap();
    truncated_gz.truncate(truncated_gz.len() / 2);
    let truncated_gz = write("truncated.gz", &truncated_gz);
    assert!(load(&good_images, &truncated_gz).contains("complete gzip stream"));

    let err = message(mnist::<f32>("data/no-such-folder", Split::Test).unwrap_err());
    assert!(err.contains("no-such-folder"), "{err}");

    // The good copies load, uncompressed.
    assert_eq!(
        read_idx::<f32, 784>(&good_images, &good_labels, 10)
            .unwrap()
            .len(),
        10_000
    );
}

#[test]
fn shuffle_and_split_keep_every_sample_once() {
    let data = read_csv::<f32, 4>("data/sklearn/iris.csv", Header::Sklearn).unwrap();
    let shuffled = data.shuffled(3);
    assert_eq!(shuffled, data.shuffled(3));
    assert_ne!(shuffled.labels, data.labels);
    let (a, b) = shuffled.split(120);
    assert_eq!((a.len(), b.len()), (120, 30));
    let mut sums: Vec<f32> = a
        .inputs
        .column_iter()
        .chain(b.inputs.column_iter())
        .map(|c| c.sum())
        .collect();
    let mut original: Vec<f32> = data.inputs.column_iter().map(|c| c.sum()).collect();
    sums.sort_by(f32::total_cmp);
    original.sort_by(f32::total_cmp);
    assert_eq!(sums, original);
    assert_eq!(data.split(1000).1.len(), 0);
}

#[test]
fn mini_batches_cover_an_epoch_once_and_are_reproducible() {
    let data = Labeled::new(
        constnet::Batch::<f32, 1>::from_fn(10, |_, j| j as f32),
        (0..10).collect(),
    )
    .unwrap();
    let epoch = |seed: u64| {
        let mut batches = data.mini_batches(4, seed).unwrap();
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        while let Some((x, labels)) = batches.next_batch() {
            assert_eq!(
                x.as_slice().iter().map(|&v| v as usize).collect::<Vec<_>>(),
                labels
            );
            seen.extend_from_slice(labels);
            sizes.push(labels.len());
        }
        (seen, sizes)
    };
    let (seen, sizes) = epoch(5);
    assert_eq!(sizes, [4, 4, 2]);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    assert_eq!(epoch(5).0, seen);
    assert_ne!(epoch(6).0, seen);
    assert!(data.mini_batches(0, 0).is_err());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn every_gzip_member_is_read_and_nothing_past_what_the_header_promises() {
    let images = gunzip("data/mnist/t10k-images-idx3-ubyte.gz");
    let labels = gunzip("data/mnist/t10k-labels-idx1-ubyte.gz");
    let good_images = write("members-images", &images);
    // The labels in two gzip members (as `cat a.gz b.gz` makes): both are read.
    let split = [gzip(&labels[..5000]), gzip(&labels[5000..])].concat();
    let two_members = write("two-members.gz", &split);
    let data = read_idx::<f32, 784>(&good_images, &two_members, 10).unwrap();
    assert_eq!(data.labels[9999], labels[8 + 9999] as usize);
    // A second member with more labels than the header counts: too long, not ignored.
    let extra = [gzip(&labels), gzip(&[1, 2, 3])].concat();
    let extra = write("extra-member.gz", &extra);
    let err = message(read_idx::<f32, 784>(&good_images, &extra, 10).unwrap_err());
    assert!(err.contains("more than 10000 bytes"), "{err}");
    // A gzip bomb: a header for one 28 x 28 image, then 64 MB of zeros (64 KB compressed).
    // Reading stops a byte past the 784 promised, instead of inflating it all.
    let mut bomb = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
    bomb.resize(64 << 20, 0);
    let bomb = write("bomb.gz", &gzip(&bomb));
    let one_label = write("one-label", &[0, 0, 8, 1, 0, 0, 0, 1, 3]);
    let err = message(read_idx::<f32, 784>(&bomb, &one_label, 10).unwrap_err());
    assert!(
        err.contains("784 bytes after the header") && err.contains("more than 784"),
        "{err}"
    );
}
