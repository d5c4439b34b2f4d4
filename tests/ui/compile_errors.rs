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
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn compile_errors_name_the_layer_and_the_widths() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("fail/*.rs");
    cases.compile_fail("programs/*.rs");
    cases.pass("pass/*.rs");
}

/// The longest a program's one error may be, in bytes as rustc renders it, not counting the
/// lines that name files (`-->`, and the note that rustc wrote a long type to one) and rustc's
/// closing `For more information` line.
const MOST_BYTES: usize = 400;

/// The programs whose one error is longer than [`MOST_BYTES`], with the most each may take
/// and what rustc adds that constnet cannot shorten.
const LONGER: &[(&str, usize, &str)] = &[(
    "call-network-of-other-widths",
    790,
    "the bound is the user's own function's: rustc quotes it, and the network's struct",
)];

/// What is wrong with `program`'s expected or rendered output, `stderr` (empty if nothing).
fn problems_with(program: &str, stderr: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let errors = stderr.lines().filter(|l| l.starts_with("error")).count();
    if errors != 1 {
        problems.push(format!("{program}: {errors} errors"));
    }
    let bytes = rendered_bytes(stderr);
    let most = LONGER
        .iter()
        .find(|(name, _, _)| *name == program)
        .map_or(MOST_BYTES, |&(_, most, _)| most);
    if bytes > most {
        problems.push(format!("{program}: {bytes} bytes, more than {most}"));
    }
    problems
}

/// The bytes of `stderr` counted against [`MOST_BYTES`]: every line but those that name
/// files and rustc's closing `For more information` line, each with its line break.
fn rendered_bytes(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with("-->")
                && !l.starts_with("For more information")
                && !l.contains("has been written to")
        })
        .map(|l| l.len() + 1)
        .sum()
}

/// The realistic programs: each one's name and path.
fn programs() -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs");
    let mut programs: Vec<(String, PathBuf)> = fs::read_dir(&dir)
        .expect("tests/ui/programs")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| {
            let name = path
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            (name, path)
        })
        .collect();
    programs.sort();
    assert!(
        programs.len() >= 20,
        "only {} programs in {}",
        programs.len(),
        dir.display()
    );
    programs
}

/// Each realistic program's expected output holds one error, and not a long one. (The trybuild
/// test above checks that the output is what rustc prints.)
#[test]
fn every_program_with_one_mistake_has_exactly_one_error() {
    let mut problems = Vec::new();
    for (name, path) in programs() {
        match fs::read_to_string(path.with_extension("stderr")) {
            Ok(stderr) => problems.extend(problems_with(&name, &stderr)),
            Err(_) => problems.push(format!("{}: no .stderr beside it", path.display())),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The programs as a user's `cargo build` shows them, which is not quite what trybuild
/// records: trybuild compiles with `--verbose`, under which rustc prints every type in full.
/// Without it, rustc writes a type longer than about two thirds of the line (93 characters at
/// its default width of 140) to a file, and adds two notes that say so. This builds the
/// programs as a crate of their own, with the workspace's `Cargo.lock`, and reads what cargo
/// renders.
#[test]
fn every_program_as_cargo_renders_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().expect("the workspace's root");
    let project = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rendered-programs");
    fs::create_dir_all(&project).expect("a directory for the programs' crate");
    let mut manifest = format!(
        "[package]\nname = \"rendered-programs\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\n\n[dependencies]\nconstnet = {{ path = {:?} }}\n\n[workspace]\n",
        root.display().to_string()
    );
    let programs = programs();
    for (name, path) in &programs {
        manifest += &format!(
            "\n[[bin]]\nname = {name:?}\npath = {:?}\n",
            path.display().to_string()
        );
    }
    fs::write(project.join("Cargo.toml"), manifest).expect("the programs' Cargo.toml");
    fs::copy(root.join("Cargo.lock"), project.join("Cargo.lock")).expect("Cargo.lock");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "check",
            "--bins",
            "--keep-going",
            "--quiet",
            "--message-format=json",
        ])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", project.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8(output.stdout).expect("cargo's messages are UTF-8");
    let mut rendered: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-message" {
            continue;
        }
        let text = message["message"]["rendered"].as_str().unwrap_or_default();
        if message["message"]["level"] == "error" && !text.starts_with("aborting due to") {
            let target = message["target"]["name"].as_str().unwrap_or_default();
            rendered.push((target.to_owned(), text.to_owned()));
        }
    }
    let mut problems = Vec::new();
    for (name, _) in &programs {
        // Cargo shows an error that rustc reports again, word for word, once,
        let mut shown: Vec<&str> = rendered
            .iter()
            .filter(|(target, _)| target == name)
            .map(|(_, text)| text.as_str())
            .collect();
        shown.dedup();
        // and so counts it again: "due to 26 previous errors", and an editor lists each.
        let counted = rendered.iter().filter(|(target, _)| target == name).count();
        if counted > 1 {
            problems.push(format!("{name}: rustc counts {counted} errors"));
        }
        let text = shown.concat();
        // The README's table of sizes: `cargo test -p constnet-ui-tests -- --nocapture`.
        println!("{name}: {} bytes", rendered_bytes(&text));
        if text.contains("has been written to") && !LONGER.iter().any(|(n, _, _)| n == name) {
            problems.push(format!("{name}: rustc wrote a type to a file:\n{text}"));
        }
        problems.extend(problems_with(name, &text));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
