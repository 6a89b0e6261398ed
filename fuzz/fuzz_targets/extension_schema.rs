//! The extension schema the `resource_body` and `patch_body` targets register: one
//! attribute of every type and of each interesting characteristic. Not a target itself.

use scimkit::schema::{AttributeDef, AttributeType, SchemaDef};

/// Its URN.
pub const URN: &str = "urn:example:fuzz:2.0:User";

/// The schema.
pub static FUZZ_USER: SchemaDef = SchemaDef {
    id: URN,
    name: "FuzzUser",
    description: "one attribute of every type",
    attributes: &[
        AttributeDef::string("code", "").case_exact(),
        AttributeDef::new("count", AttributeType::Integer, ""),
        AttributeDef::new("ratio", AttributeType::Decimal, ""),
        AttributeDef::new("flag", AttributeType::Boolean, ""),
        AttributeDef::new("when", AttributeType::DateTime, ""),
        AttributeDef::string("tags", "").multi(),
        AttributeDef::complex(
            "pair",
            "",
            &[
                AttributeDef::string("value", ""),
                AttributeDef::new("on", AttributeType::Boolean, ""),
            ],
        )
        .multi(),
        AttributeDef::string("server", "").read_only(),
    ],
};

/// Registers it (once per process).
pub fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| scimkit::schema::register_extension(&FUZZ_USER).unwrap());
}
