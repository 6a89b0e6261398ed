//! CSV export: a tenant's users, page by page, in the format the import reads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use scimkit::csv::{ColumnMap, Export, Import, RowOutcome};
use scimkit::{
    EnterpriseUser, Manager, MemoryUserStore, MultiValue, Name, RequestContext, ScimServer,
    StaticKeyAuthenticator, User, UserStore,
};

fn server(store: Arc<dyn UserStore>) -> ScimServer {
    ScimServer::builder()
        .shared_store(store)
        .authenticator(StaticKeyAuthenticator::new())
        .build()
        .unwrap()
}

fn ctx() -> RequestContext {
    RequestContext::system("acme")
}

async fn export(store: &dyn UserStore, columns: ColumnMap) -> String {
    let mut out = Vec::new();
    Export::new(store, ctx())
        .columns(columns)
        .run(&mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn csv_export_writes_default_columns_in_creation_order() {
    let store = Arc::new(MemoryUserStore::new());
    let server = server(store.clone());
    let mut b = User::new("bjensen");
    b.name = Some(Name {
        given_name: Some("Barbara".into()),
        family_name: Some("Jensen".into()),
        ..Name::default()
    });
    b.emails = vec![
        MultiValue::typed("home@example.com", "home"),
        MultiValue::typed("bjensen@example.com", "work"),
    ];
    b.active = Some(true);
    b.enterprise = Some(EnterpriseUser {
        department: Some("Tours".into()),
        manager: Some(Manager {
            value: Some("m-1".into()),
            ..Manager::default()
        }),
        ..EnterpriseUser::default()
    });
    server.create_user(&ctx(), b).await.unwrap();
    let mut a = User::new("adam");
    a.active = Some(false);
    a.display_name = Some("Adam \"Ace\", Jr.".into());
    server.create_user(&ctx(), a).await.unwrap();
    server
        .create_user(&RequestContext::system("globex"), User::new("other"))
        .await
        .unwrap();
    assert_eq!(
        export(store.as_ref(), ColumnMap::new()).await,
        "userName,givenName,familyName,email,displayName,active,externalId,title,department,employeeNumber,manager\n\
         bjensen,Barbara,Jensen,bjensen@example.com,,true,,,Tours,,m-1\n\
         adam,,,,\"Adam \"\"Ace\"\", Jr.\",false,,,,,\n"
    );
}

#[tokio::test]
async fn csv_export_pages_through_every_user_with_cursors_or_offsets() {
    let cursor_store = Arc::new(MemoryUserStore::new());
    let offset_store = Arc::new(common::OffsetOnly(MemoryUserStore::new()));
    for store in [
        cursor_store.clone() as Arc<dyn UserStore>,
        offset_store.clone() as Arc<dyn UserStore>,
    ] {
        let server = server(store.clone());
        for i in 0..1234 {
            server
                .create_user(&ctx(), User::new(format!("user{i:04}")))
                .await
                .unwrap();
        }
        let mut out = Vec::new();
        let mut progress = Vec::new();
        let summary = Export::new(store.as_ref(), ctx())
            .columns(ColumnMap::user_name_only())
            .page_size(100)
            .on_progress(|n| progress.push(n))
            .run(&mut out)
            .await
            .unwrap();
        assert_eq!(summary.users, 1234);
        assert_eq!(progress.len(), 13);
        assert_eq!(progress.last(), Some(&1234));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1235);
        assert_eq!(lines[0], "userName");
        assert!(
            lines[1..]
                .iter()
                .enumerate()
                .all(|(i, l)| *l == format!("user{i:04}"))
        );
    }
}

#[tokio::test]
async fn csv_export_writes_configured_columns_and_honours_a_filter() {
    let store = Arc::new(MemoryUserStore::new());
    let server = server(store.clone());
    for (name, active) in [("ann", true), ("bob", false)] {
        let mut u = User::new(name);
        u.active = Some(active);
        u.phone_numbers = vec![MultiValue::typed(format!("{name}-mobile"), "mobile")];
        server.create_user(&ctx(), u).await.unwrap();
    }
    let columns = ColumnMap::user_name_only()
        .column("Mobile", "phoneNumbers[type eq \"mobile\"].value")
        .unwrap()
        .column("active", "active")
        .unwrap();
    let mut out = Vec::new();
    Export::new(store.as_ref(), ctx())
        .columns(columns)
        .filter(scimkit::filter::parse("active eq true").unwrap())
        .delimiter(b';')
        .run(&mut out)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "userName;Mobile;active\nann;ann-mobile;true\n"
    );
}

#[tokio::test]
async fn csv_export_imported_into_the_same_store_changes_nothing() {
    let store = Arc::new(MemoryUserStore::new());
    let server = server(store.clone());
    let mut u = User::new("ann");
    u.emails = vec![MultiValue {
        primary: Some(true),
        ..MultiValue::typed("ann@example.com", "work")
    }];
    u.title = Some("Engineer".into());
    server.create_user(&ctx(), u).await.unwrap();
    let before = store.snapshot("acme");
    let csv = export(store.as_ref(), ColumnMap::new()).await;
    let mut outcomes = Vec::new();
    Import::new(&server, ctx())
        .on_row(|r| outcomes.push(r.outcome.clone()))
        .run(csv.as_bytes())
        .await
        .unwrap();
    assert!(matches!(outcomes[..], [RowOutcome::Unchanged { .. }]));
    assert_eq!(store.snapshot("acme"), before);
}

/// Text as found in real directories: commas, quotes, newlines, non-ASCII, formulas.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,;\"'\n\r\t=+@éÜ漢🙂-]{1,12}"
        .prop_map(|s| s.trim().to_owned())
        .prop_filter("non-empty after trimming", |s| !s.is_empty())
}

fn opt_text() -> impl Strategy<Value = Option<scimkit::resource::CompactString>> {
    proptest::option::of(text().prop_map(Into::into))
}

/// A user with only the attributes the columns carry, as an import would build it.
#[allow(clippy::type_complexity)]
fn user(index: usize) -> impl Strategy<Value = User> {
    (
        (text(), opt_text(), opt_text(), opt_text(), opt_text()),
        (
            opt_text(),
            proptest::option::of(any::<bool>()),
            opt_text(),
            opt_text(),
        ),
        (opt_text(), opt_text(), opt_text(), opt_text()),
    )
        .prop_map(
            move |(
                (user_name, given, family, middle, email),
                (display, active, external_id, title),
                (department, employee_number, manager, mobile),
            )| {
                let mut u = User::new(format!("{user_name}#{index}"));
                if given.is_some() || family.is_some() || middle.is_some() {
                    u.name = Some(Name {
                        given_name: given,
                        family_name: family,
                        middle_name: middle,
                        ..Name::default()
                    });
                }
                let primary = |v: scimkit::resource::CompactString, kind: &str| MultiValue {
                    primary: Some(true),
                    ..MultiValue::typed(v, kind)
                };
                u.emails = email.map(|e| primary(e, "work")).into_iter().collect();
                u.phone_numbers = mobile.map(|m| primary(m, "mobile")).into_iter().collect();
                u.display_name = display;
                u.active = active;
                u.external_id = external_id;
                u.title = title;
                let e = EnterpriseUser {
                    department,
                    employee_number,
                    manager: manager.map(|m| Manager {
                        value: Some(m),
                        ..Manager::default()
                    }),
                    ..EnterpriseUser::default()
                };
                u.enterprise = (!e.is_empty()).then_some(e);
                u
            },
        )
}

fn users() -> impl Strategy<Value = Vec<User>> {
    (0usize..12).prop_flat_map(|n| (0..n).map(user).collect::<Vec<_>>())
}

fn columns() -> ColumnMap {
    ColumnMap::new()
        .column("Mobile", "phoneNumbers[type eq \"mobile\"].value")
        .unwrap()
        .column("Middle Name", "name.middleName")
        .unwrap()
}

fn without_server_fields(mut users: Vec<User>) -> Vec<User> {
    for u in &mut users {
        u.id = None;
        u.meta = None;
    }
    users
}

proptest! {
    #[test]
    fn csv_export_import_round_trip(originals in users()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let source = Arc::new(MemoryUserStore::new());
            let source_server = server(source.clone());
            for u in &originals {
                source_server.create_user(&ctx(), u.clone()).await.unwrap();
            }
            let csv = export(source.as_ref(), columns()).await;

            let target = Arc::new(MemoryUserStore::new());
            let target_server = server(target.clone());
            let mut rejected = Vec::new();
            let summary = Import::new(&target_server, ctx())
                .columns(columns())
                .on_row(|r| {
                    if !matches!(r.outcome, RowOutcome::Created { .. }) {
                        rejected.push(r.to_string());
                    }
                })
                .run(csv.as_bytes())
                .await
                .unwrap();
            prop_assert!(rejected.is_empty(), "{:?}\n{}", rejected, csv);
            prop_assert_eq!(summary.created, originals.len() as u64);
            prop_assert_eq!(
                without_server_fields(target.snapshot("acme")),
                without_server_fields(source.snapshot("acme"))
            );
            prop_assert_eq!(without_server_fields(target.snapshot("acme")), originals);
            prop_assert_eq!(export(target.as_ref(), columns()).await, csv);
            Ok(())
        })?;
    }
}
