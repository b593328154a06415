//! Points the embed at `web/dist` when the front end has been built, else at
//! a one-page fallback that says how to build it, so `cargo build` works on
//! a checkout without Node.js.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("../../web/dist");
    let chosen = if dist.join("index.html").is_file() {
        dist
    } else {
        manifest.join("fallback")
    };
    println!("cargo:rerun-if-changed=../../web/dist");
    println!("cargo:rerun-if-changed=../../web/dist/index.html");
    println!("cargo:rustc-env=ZHIZAO_WEB_DIST={}", chosen.display());
}
