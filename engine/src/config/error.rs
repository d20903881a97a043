//! Configuration errors: each says where (file and line) and what is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// One configuration error with its location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// File the error is in (`None` for errors about the whole config).
    pub file: Option<PathBuf>,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl ConfigError {
    /// An error at `file:line`.
    pub fn at(file: &Path, line: u32, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: Some(file.to_path_buf()),
            line,
            message: message.into(),
        }
    }

    /// An error about a whole file (cannot be read, etc.).
    pub fn file(file: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError::at(file, 0, message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), 0) => write!(f, "{}: {}", file.display(), self.message),
            (Some(file), line) => write!(f, "{}:{}: {}", file.display(), line, self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

/// All errors found in one configuration: validation collects every error
/// before failing, so an operator fixes them in one pass.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Adds an error.
    pub fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }

    /// True when no error was collected.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(v)` when no error was collected, the errors otherwise.
    pub fn into_result<T>(self, v: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(v)
        } else {
            Err(self)
        }
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// 1-based line number of a byte offset in `src`.
pub fn line_of(src: &str, offset: usize) -> u32 {
    let end = offset.min(src.len());
    let n = src.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    u32::try_from(n + 1).unwrap_or(u32::MAX)
}
