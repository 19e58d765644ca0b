//! Any bytes that parse as JSON, read by every operator resource's reader:
//! read or refused with a reason, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(bytes) {
        lamba_http::fuzzing::read_operator_body(&body);
    }
});
