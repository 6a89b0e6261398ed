//! Fuzzes the PATCH path parser and printer.
//!
//! For any input (read as lossy UTF-8): `PatchPath::parse` never panics, and a path that
//! parses prints to text that parses back to the same path.
//!
//! Run from `fuzz/`:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run patch_path corpus/patch_path seeds/patch_path`
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimkit::filter::ParseLimits;
use scimkit::patch::PatchPath;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let Ok(path) = PatchPath::parse(&input) else {
        return;
    };
    let text = path.to_string();
    // The canonical form of a value filter may be longer than the input (added
    // parentheses and escapes); `PatchPath::parse` applies the default filter limits, so a
    // printed path over the length limit is not expected to parse again.
    if text.len() > ParseLimits::default().max_len {
        return;
    }
    match PatchPath::parse(&text) {
        Ok(again) => assert_eq!(again, path, "round trip of {input:?} via {text:?}"),
        Err(e) => panic!("{input:?} printed as {text:?}, which does not parse: {e}"),
    }
});
