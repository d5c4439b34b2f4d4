//! What a user sees at compile time: one mistake per file under `fail/`, with the expected
//! diagnostics in the `.stderr` beside it (bless with `TRYBUILD=overwrite` and read the
//! diff), and under `pass/` declarations that must compile without a warning. Paths are
//! relative to this crate, `tests/ui/`.

#[test]
fn compile_errors_name_the_layer_and_the_widths() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("fail/*.rs");
    cases.pass("pass/*.rs");
}
