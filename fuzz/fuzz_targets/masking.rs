//! Masking of personal data in texts and log lines: never a panic, never a longer number shown.
#![no_main]

use cityloop_domain::masking::{mask_name, mask_numbers_in_text, mask_personal_data_in_log, mask_phone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).count();
    for masked in [mask_numbers_in_text(text), mask_personal_data_in_log(text)] {
        // Masking only hides: it never shows more digits than there were.
        assert!(digits(&masked) <= text.chars().filter(|c| c.is_ascii_digit() || ('０'..='９').contains(c)).count());
    }
    let _ = mask_name(text);
    let _ = mask_phone(text);
});
