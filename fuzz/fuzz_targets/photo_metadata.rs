//! A file uploaded as a photo: its type is told by its content, and what is published of it is of
//! the same type and not much larger; never a panic.
#![no_main]

use cityloop_app::attachments::{photo_without_metadata, sniff_content_type};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff_content_type(data);
    for kind in ["image/jpeg", "image/png", "image/webp", "image/gif"] {
        // Each parser also sees files that are not of its type.
        if let Some(published) = photo_without_metadata(kind, data) {
            if sniffed == Some(kind) {
                assert_eq!(sniff_content_type(&published), Some(kind), "published as another type");
            }
            // Nothing grows without bound (a damaged file's segments are written out whole).
            assert!(published.len() <= 2 * data.len() + 64, "{} → {}", data.len(), published.len());
        }
    }
});
