//! What a user sees at compile time: one mistake per file under `tests/ui/fail`, with the
//! expected diagnostics in the `.stderr` beside it (bless with `TRYBUILD=overwrite` and read
//! the diff), and under `tests/ui/pass` declarations that must compile without a warning.

#[test]
fn compile_errors_name_the_layer_and_the_widths() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
