//! Serves the front-end build embedded in the binary. No business logic:
//! static files with sensible caching, `index.html` for `/`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$ZHIZAO_WEB_DIST"]
struct Assets;

/// Whether the real front end (not the fallback page) is embedded.
pub fn has_ui() -> bool {
    Assets::get("assets").is_some() || Assets::iter().any(|p| p.starts_with("assets/"))
}

/// Axum fallback handler: serves an embedded file, or `index.html` for
/// paths without an extension (client-side routes).
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    if let Some(file) = Assets::get(path) {
        return file_response(path, file.data.into_owned());
    }
    let looks_like_file = path.rsplit('/').next().is_some_and(|s| s.contains('.'));
    if !looks_like_file
        && !path.starts_with("api/")
        && let Some(index) = Assets::get("index.html")
    {
        return file_response("index.html", index.data.into_owned());
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn file_response(path: &str, data: Vec<u8>) -> Response {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let mut res = Response::new(Body::from(data));
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    // Vite puts content hashes in asset names; index.html must stay fresh.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}
