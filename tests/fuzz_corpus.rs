//! The fuzz targets' checks (`fuzz/src/checks.rs`) on the stable toolchain: every file of
//! the committed corpus (`fuzz/corpus/<target>/`: the seeds, and the inputs that once broke
//! a reader) is read with the outcome its name promises, and seeded mutations of each are
//! values or errors, never a panic. `cargo +nightly fuzz run <target>` explores further; what
//! it finds is added to the corpus and so replayed here.

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::Path;

/// Mutations of each corpus file.
const MUTATIONS: u64 = 300;

/// Whether a seed is to be accepted: every corpus file is, but those whose name says it is
/// refused (`refused-...`).
fn expected(name: &str) -> bool {
    !name.starts_with("refused-")
}

/// Replays `target`'s corpus through `check` and returns how many files it holds.
fn replay(target: &str, check: fn(&[u8]) -> bool) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let mut accepted = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            check(&bytes),
            expected(&name),
            "{target}/{name}: accepted when it should be refused, or the reverse"
        );
        for seed in 0..MUTATIONS {
            let (mutated, what) = checks::mutate(&bytes, seed);
            let outcome = std::panic::catch_unwind(|| check(&mutated)).unwrap_or_else(|_| {
                panic!("{target}/{name}, mutation seed {seed} ({what}): the check failed")
            });
            accepted += usize::from(outcome);
        }
    }
    // Shown with `--nocapture`.
    println!(
        "{target}: {} files, {accepted} of {} mutations accepted",
        files.len(),
        files.len() as u64 * MUTATIONS
    );
    files.len()
}

#[test]
fn idx_corpus() {
    assert!(replay("idx", checks::idx) >= 4);
    // The valid halves the target pairs an input with are themselves accepted.
    assert!(checks::idx(
        &[[0].as_slice(), &checks::idx_images()].concat()
    ));
    assert!(checks::idx(
        &[[1].as_slice(), &checks::idx_labels()].concat()
    ));
}

#[test]
fn csv_corpus() {
    assert!(replay("csv", checks::csv) >= 3);
}

#[test]
fn regression_corpus() {
    assert!(replay("regression", checks::regression) >= 3);
}

#[test]
fn safetensors_corpus() {
    assert!(replay("safetensors", checks::safetensors) >= 3);
}

#[test]
fn checkpoint_corpus() {
    assert!(replay("checkpoint", checks::checkpoint) >= 3);
}

#[test]
fn a_mutation_is_reproducible_from_its_seed_and_changes_the_input() {
    let good = checks::idx_images();
    assert_eq!(checks::mutate(&good, 7), checks::mutate(&good, 7));
    let changed = (0..100)
        .filter(|&seed| checks::mutate(&good, seed).0 != good)
        .count();
    assert!(
        changed >= 90,
        "only {changed} of 100 mutations changed the input"
    );
}
