//! Vedette's own TOML configuration format (documented in README.md).
//!
//! `load` reads the files (`raw` types, following includes), `resolve`
//! builds the [`Model`](crate::model::Model).

mod load;
pub mod raw;
mod resolve;

use std::path::Path;

use crate::config::error::ConfigErrors;
use crate::model::Model;

/// Loads a TOML file, or a directory of `*.toml` files, and everything they
/// include.
pub fn load(path: &Path) -> Result<Model, ConfigErrors> {
    let (files, errors) = load::read_all(path);
    resolve::resolve(files, errors)
}
