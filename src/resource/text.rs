//! [`CompactString`]: scimkit's own string type for attribute values, so that the public
//! API does not depend on the version of the crate that stores it (`compact_str`, 0.x).

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// The string type of the resource's attributes: strings of up to 24 bytes (most SCIM
/// values: types, locales, names, short emails) are stored inline, without an allocation.
/// It dereferences to `str` and converts from `&str` and `String` (`.into()`).
///
/// A newtype of scimkit's: how it stores its bytes may change in any release without
/// changing this API.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CompactString(compact_str::CompactString);

impl CompactString {
    /// The string, borrowed.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Appends `s`.
    pub fn push_str(&mut self, s: &str) {
        self.0.push_str(s);
    }

    /// Appends `c`.
    pub fn push(&mut self, c: char) {
        self.0.push(c);
    }

    /// A string of `s`, made at compile time when it fits inline.
    pub(crate) const fn const_new(s: &'static str) -> Self {
        Self(compact_str::CompactString::const_new(s))
    }
}

impl Deref for CompactString {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for CompactString {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl Borrow<str> for CompactString {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for CompactString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl fmt::Display for CompactString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0.as_str(), f)
    }
}

impl From<&str> for CompactString {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl From<String> for CompactString {
    fn from(s: String) -> Self {
        Self(s.into())
    }
}

impl From<&String> for CompactString {
    fn from(s: &String) -> Self {
        Self(s.as_str().into())
    }
}

impl From<CompactString> for String {
    fn from(s: CompactString) -> Self {
        s.0.into()
    }
}

impl PartialEq<str> for CompactString {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CompactString {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for CompactString {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_str()
    }
}

impl PartialEq<CompactString> for &str {
    fn eq(&self, other: &CompactString) -> bool {
        *self == other.0.as_str()
    }
}

impl PartialEq<CompactString> for str {
    fn eq(&self, other: &CompactString) -> bool {
        self == other.0.as_str()
    }
}

impl serde::Serialize for CompactString {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for CompactString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        compact_str::CompactString::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::CompactString;

    #[test]
    fn behaves_as_a_string() {
        let s = CompactString::from("bjensen@example.com");
        assert_eq!(s, "bjensen@example.com");
        assert_eq!(s.len(), 19);
        assert_eq!(s.to_string(), "bjensen@example.com");
        assert_eq!(format!("{s:?}"), "\"bjensen@example.com\"");
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            "\"bjensen@example.com\""
        );
        let back: CompactString = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(back, CompactString::from(String::from("x")));
        assert_eq!(String::from(back), "x");
    }
}
