//! The page `nnhost serve` answers at `/`: try the served models from a browser. Pick a model or
//! plugin, drop an image, and see its labels and scores, or the boxes, quads, keypoints and text
//! its outputs' roles say it gives, drawn on the image. One HTML file with its script inline
//! (`page.html`), compiled into the binary: no build step, no libraries, and it uses nothing but
//! the REST API every client gets.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The page, as served.
pub const PAGE: &str = include_str!("page.html");

/// The page may run its own inline script and style and talk to this server, nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
     img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        PAGE,
    )
        .into_response()
}
