//! The ceiling for `bench/run.sh`: the same framework as `rebound serve` (axum 0.8 on a
//! multi-threaded tokio runtime, HTTP/1) answering `200 {"status":"accepted"}` to
//! `POST /webhooks/{provider}/{key}` once the body has been read, and doing nothing else.
//!
//! ```text
//! cargo run --release -p rebound --example bare -- 127.0.0.1:18081
//! ```

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

async fn accept(
    Path((_provider, _key)): Path<(String, String)>,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    // The body is fully read by the `Bytes` extractor before we get here.
    std::hint::black_box(body.len());
    (
        StatusCode::OK,
        Json(serde_json::json!({ "status": "accepted" })),
    )
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".to_string());
    // Same runtime shape as the `rebound` binary: multi-thread, one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = Router::new().route("/webhooks/{provider}/{key}", post(accept));
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("bare listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await
    })
}
