#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    constnet_fuzz::checkpoint(data);
});
