//! Rebuild when a migration is added: `sqlx::migrate!` embeds the
//! directory at compile time and only notices edits to files it knew.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
