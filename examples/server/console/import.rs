//! The console's CSV import: the upload form (its CSRF token checked before any file is
//! read) and the import itself, on a blocking thread.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use scimkit::RequestContext;
use scimkit::csv::{CsvError, Import, RowReport};

use super::page::{self, ImportView};
use super::reply::{bad_request, forbidden, html_response};
use super::{Console, MAX_REPORT_ROWS, MAX_UPLOAD_BYTES, timed_out};

/// The fields of an import form.
#[derive(Default)]
struct Upload {
    tenant: Option<String>,
    dry_run: bool,
    file: Option<(String, Bytes)>,
}

pub(super) async fn import_csv(
    State(c): State<Console>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let id = match c.authorize(&headers) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let Ok(multipart) = multipart else {
        return bad_request("The upload could not be read.");
    };
    let limit = c.0.request_timeout;
    let upload = match tokio::time::timeout(limit, read_upload(&c, &id, multipart)).await {
        Ok(Ok(upload)) => upload,
        Ok(Err(refused)) => return refused,
        Err(_) => return timed_out(limit),
    };
    let Some(tenant) = upload.tenant else {
        return bad_request("The upload names no account.");
    };
    let ids = match c.check_tenant(&tenant).await {
        Ok(ids) => ids,
        Err(refused) => return refused,
    };
    let view = match upload.file {
        Some((file_name, bytes)) if !bytes.is_empty() => {
            run_import(&c, &tenant, file_name, bytes, upload.dry_run).await
        }
        _ => ImportView {
            file_name: "No file".into(),
            result: Err("choose a CSV file to upload".into()),
            rows: Vec::new(),
            truncated: false,
        },
    };
    let status = if view.result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    // No `reveal`: a secret waiting for its page is not shown here.
    c.render(&id, &tenant, &ids, Some(view), None, status).await
}

/// Reads the import form, checking its CSRF token before any file is read.
async fn read_upload(c: &Console, id: &str, mut multipart: Multipart) -> Result<Upload, Response> {
    let mut csrf_checked = false;
    let mut upload = Upload::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(upload_error(e.status())),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            // The browser sends fields in form order: the token comes before the file,
            // and no file is read for a request that does not carry it.
            if !csrf_checked {
                return Err(forbidden(
                    "The form's security token is missing. Reload the page.",
                ));
            }
            let file_name = field.file_name().unwrap_or("upload.csv").to_owned();
            match field.bytes().await {
                Ok(bytes) => upload.file = Some((file_name, bytes)),
                Err(e) => return Err(upload_error(e.status())),
            }
            continue;
        }
        let text = match field.text().await {
            Ok(text) => text,
            Err(e) => return Err(upload_error(e.status())),
        };
        match name.as_str() {
            "csrf" => {
                c.check_csrf(id, &text)
                    .map_err(IntoResponse::into_response)?;
                csrf_checked = true;
            }
            "tenant" => upload.tenant = Some(text),
            "dry_run" => upload.dry_run = true,
            _ => {}
        }
    }
    if !csrf_checked {
        return Err(forbidden(
            "The form's security token is missing. Reload the page.",
        ));
    }
    Ok(upload)
}

/// Imports `bytes` into `tenant` and keeps the report of the first rows.
///
/// On a blocking thread: an import into the in-memory store never waits, so on a
/// runtime worker it would hold that worker (and the SCIM requests queued on it) for the
/// whole file. The thread drives the import with the runtime's handle, whose workers
/// keep serving everything else (and a SQL store's I/O).
async fn run_import(
    c: &Console,
    tenant: &str,
    file_name: String,
    bytes: Bytes,
    dry_run: bool,
) -> ImportView {
    let server = c.0.server.clone();
    let owned_tenant = tenant.to_owned();
    let runtime = tokio::runtime::Handle::current();
    let joined = tokio::task::spawn_blocking(move || {
        let mut rows: Vec<RowReport> = Vec::new();
        let mut truncated = false;
        let result = runtime.block_on(
            Import::new(&server, RequestContext::system(&owned_tenant))
                .dry_run(dry_run)
                .on_row(|r| {
                    if rows.len() < MAX_REPORT_ROWS {
                        rows.push(r.clone());
                    } else {
                        truncated = true;
                    }
                })
                .run(bytes.as_ref()),
        );
        (result, rows, truncated)
    })
    .await;
    let (result, rows, truncated) = match joined {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(tenant, error = %e, "admin console: CSV import failed");
            return ImportView {
                file_name,
                result: Err(
                    "the import failed (the cause is in the server's log); rows before the \
                     failure may have been imported"
                        .into(),
                ),
                rows: Vec::new(),
                truncated: false,
            };
        }
    };
    let result = match result {
        Ok(s) => {
            tracing::info!(
                tenant,
                rows = s.rows,
                created = s.created,
                updated = s.updated,
                unchanged = s.unchanged,
                rejected = s.rejected,
                dry_run,
                "admin console: CSV import"
            );
            Ok(s)
        }
        Err(e @ CsvError::Aborted { .. }) => {
            tracing::error!(tenant, error = %e, "admin console: CSV import stopped");
            Err(format!("{e}. The rows before it were imported."))
        }
        Err(e) => Err(e.to_string()),
    };
    ImportView {
        file_name,
        result,
        rows,
        truncated,
    }
}

fn upload_error(status: StatusCode) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        html_response(
            status,
            page::error(
                "File too large",
                &format!(
                    "The console imports files of up to {} MiB; use the command line \
                     (`server import FILE --tenant ACCOUNT`) for larger ones.",
                    MAX_UPLOAD_BYTES / (1024 * 1024)
                ),
            ),
        )
    } else {
        bad_request("The upload could not be read.")
    }
}
