//! Configuration: two front ends, one [`Model`](crate::model::Model).
//!
//! - [`toml`]: Vedette's own format (a file, or a directory of `*.toml`).
//! - [`nagios`]: a Nagios main config (`nagios.cfg`) or an object file.
//!
//! [`load`] picks the front end from the path and returns either a validated
//! model or every error found, each with file and line.

pub mod duration;
pub mod error;
pub mod macros;
pub mod nagios;
pub mod toml;

use std::path::Path;

pub use error::{ConfigError, ConfigErrors};

use crate::model::Model;

/// Loads and validates the configuration at `path`: a directory or a
/// `*.toml` file is Vedette TOML; any other file is Nagios configuration
/// (a main config such as `nagios.cfg`, or an object file).
pub fn load(path: &Path) -> Result<Model, ConfigErrors> {
    if !path.exists() {
        return Err(ConfigError::file(path, "config not found").into());
    }
    if path.is_dir() || path.extension().is_some_and(|e| e == "toml") {
        toml::load(path)
    } else {
        nagios::load(path)
    }
}
