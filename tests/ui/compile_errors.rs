//! What a user sees at compile time, with the expected diagnostics in the `.stderr` beside
//! each case (bless with `TRYBUILD=overwrite` and read the diff). Paths are relative to this
//! crate, `tests/ui/`.
//!
//! - `fail/`: one rule of the declaration per file, some with several mistakes of one kind,
//!   each followed by what a program does with its networks (train them with `fit`, save and
//!   call them), so that an error the rest of a program would add shows up here too.
//! - `programs/`: one shape mistake each, in a realistic program (the declaration, then the
//!   code that builds, trains and calls the network), which compiles once the mistake is
//!   fixed. Each must give exactly one error, at the mistake, short enough to read at a
//!   glance.
//! - `pass/`: declarations that must compile without a warning.

use std::fs;
use std::path::Path;

#[test]
fn compile_errors_name_the_layer_and_the_widths() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("fail/*.rs");
    cases.compile_fail("programs/*.rs");
    cases.pass("pass/*.rs");
}

/// The longest a program's one error may be, in bytes as rustc renders it, not counting the
/// `-->` lines (which name files) and rustc's closing `For more information` line.
const MOST_BYTES: usize = 900;

/// Each realistic program's expected output holds one error, and not a long one. (The trybuild
/// test above checks that the output is what rustc prints.)
#[test]
fn every_program_with_one_mistake_has_exactly_one_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs");
    let mut programs = 0;
    let mut problems = Vec::new();
    for entry in fs::read_dir(&dir).expect("tests/ui/programs") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        programs += 1;
        let expected = path.with_extension("stderr");
        let Ok(stderr) = fs::read_to_string(&expected) else {
            problems.push(format!("{}: no .stderr beside it", path.display()));
            continue;
        };
        let errors = stderr.lines().filter(|l| l.starts_with("error")).count();
        let bytes: usize = stderr
            .lines()
            .filter(|l| {
                !l.trim_start().starts_with("-->") && !l.starts_with("For more information")
            })
            .map(|l| l.len() + 1)
            .sum();
        if errors != 1 {
            problems.push(format!("{}: {errors} errors", expected.display()));
        }
        if bytes > MOST_BYTES {
            problems.push(format!("{}: {bytes} bytes", expected.display()));
        }
    }
    assert!(
        programs >= 20,
        "only {programs} programs in {}",
        dir.display()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
