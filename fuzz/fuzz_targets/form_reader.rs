//! Any bytes as an OAuth form body (`/connect/token`, introspection,
//! revocation, the sign-in form): read or refused, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    lamba_http::fuzzing::read_form(bytes);
});
