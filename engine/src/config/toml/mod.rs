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

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `text` as a one-file config.
    fn load_text(tag: &str, text: &str) -> Result<Model, ConfigErrors> {
        let dir = std::env::temp_dir().join(format!("vedette-toml-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("engine.toml");
        std::fs::write(&path, text).expect("write config");
        let loaded = load(&path);
        let _ = std::fs::remove_dir_all(&dir);
        loaded
    }

    #[test]
    fn http_keepalive_is_read_off_and_checked() {
        let model = load_text("off", "[engine]\nshards = 1\n").expect("loads");
        assert!(!model.settings.http_keepalive);
        let model = load_text("on", "[engine]\nhttp_keepalive = true\n").expect("loads");
        assert!(model.settings.http_keepalive);
        let errors = load_text("bad", "[engine]\nhttp_keepalive = \"yes\"\n")
            .expect_err("a string is no bool")
            .to_string();
        assert!(
            errors.contains("engine.toml:2: ") && errors.contains("invalid type"),
            "{errors}"
        );
    }

    #[test]
    fn tcp_io_is_read_and_checked() {
        use crate::model::TcpIo;
        let model = load_text("default", "[engine]\nshards = 1\n").expect("loads");
        assert_eq!(model.settings.tcp_io, TcpIo::Uring);
        let model = load_text("tokio", "[engine]\ntcp_io = \"tokio\"\n").expect("loads");
        assert_eq!(model.settings.tcp_io, TcpIo::Tokio);
        let errors = load_text("bad", "[engine]\ntcp_io = \"epoll\"\n")
            .expect_err("no such way")
            .to_string();
        assert!(
            errors.contains("engine.toml:1: ") && errors.contains("tcp_io 'epoll'"),
            "{errors}"
        );
    }

    #[test]
    fn pin_cores_is_read_on_by_default_and_checked() {
        let model = load_text("pin-default", "[engine]\nshards = 1\n").expect("loads");
        assert!(model.settings.pin_cores);
        let model = load_text("pin-on", "[engine]\npin_cores = true\n").expect("loads");
        assert!(model.settings.pin_cores);
        let model = load_text("pin-off", "[engine]\npin_cores = false\n").expect("loads");
        assert!(!model.settings.pin_cores);
        let errors = load_text("pin-bad", "[engine]\npin_cores = 1\n")
            .expect_err("an integer is no bool")
            .to_string();
        assert!(
            errors.contains("engine.toml:2: ")
                && errors.contains("invalid type")
                && errors.contains("bool"),
            "{errors}"
        );
        let errors = load_text("pin-typo", "[engine]\npin_core = false\n")
            .expect_err("an unknown key")
            .to_string();
        assert!(errors.contains("pin_cores"), "{errors}");
    }
}
