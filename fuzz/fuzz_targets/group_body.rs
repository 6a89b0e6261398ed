//! Fuzzes what the `/Groups` endpoints read: a Group body and a PatchOp body turned into
//! a `GroupChange`.
//!
//! For any input:
//!
//! - `parse_group` never panics; a group it accepts has a non-empty `displayName` and only
//!   members with a `value`, and its JSON (as a response writes it) reads back as the same
//!   group;
//! - `GroupChange::from_patch` of any PatchOp message `PatchRequest::parse` accepts never
//!   panics, and the edits it gives are in normal form: a `RemoveAll` only first, no empty
//!   `Add`/`Remove`, no two `Add`s or two `Remove`s in a row; `member_ids_named` counts
//!   every id named.
//!
//! Run from `fuzz/`:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run group_body corpus/group_body seeds/group_body`
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use libfuzzer_sys::fuzz_target;
use scimkit::Compatibility;
use scimkit::group::{GroupChange, MemberEdit, parse_group};
use scimkit::patch::PatchRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(group) = parse_group(data) {
        assert!(!group.display_name.trim().is_empty());
        assert!(group.members.iter().all(|m| m.value.as_deref().is_some_and(|v| !v.is_empty())));
        let json = serde_json::to_vec(&group).unwrap();
        let again = parse_group(&json).expect("a group's own JSON reads back");
        assert_eq!(again.display_name, group.display_name);
        assert_eq!(again.external_id, group.external_id);
        let ids = |g: &scimkit::Group| g.members.iter().map(|m| m.value.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&again), ids(&group));
    }
    if let Ok(patch) = PatchRequest::parse(data, &Compatibility::default()) {
        if let Ok(change) = GroupChange::from_patch(&patch, "g1") {
            let mut named = 0;
            for (i, edit) in change.members.iter().enumerate() {
                match edit {
                    MemberEdit::RemoveAll => assert_eq!(i, 0, "RemoveAll only first"),
                    MemberEdit::Add(ids) | MemberEdit::Remove(ids) => {
                        assert!(!ids.is_empty(), "no empty edit");
                        named += ids.len();
                    }
                }
                if i > 0 {
                    let same = matches!(
                        (&change.members[i - 1], edit),
                        (MemberEdit::Add(_), MemberEdit::Add(_))
                            | (MemberEdit::Remove(_), MemberEdit::Remove(_))
                    );
                    assert!(!same, "consecutive edits of one kind are folded");
                }
            }
            assert_eq!(named, change.member_ids_named());
        }
    }
});
