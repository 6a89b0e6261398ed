//! The extension schema the `resource_body` and `patch_body` targets read with: one
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

/// The schemas of a server with it.
pub fn schemas() -> &'static scimkit::schema::SchemaSet {
    static SET: std::sync::LazyLock<scimkit::schema::SchemaSet> = std::sync::LazyLock::new(|| {
        scimkit::schema::SchemaSet::default()
            .with_extension(&FUZZ_USER)
            .unwrap()
    });
    &SET
}
