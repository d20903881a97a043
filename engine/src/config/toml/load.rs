//! Reads TOML files (following `include`) into [`RawFile`]s, keeping each
//! file's line index so later stages can report `file:line`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::raw::RawFile;
use crate::config::error::{ConfigError, ConfigErrors};

/// One parsed file and what is needed to turn its byte spans into lines.
pub struct Parsed {
    /// The file's path as given (joined to its includer's directory).
    pub path: Arc<PathBuf>,
    /// The file's contents, deserialized.
    pub raw: RawFile,
    lines: Vec<usize>,
}

impl Parsed {
    /// 1-based line of a byte offset in this file.
    pub fn line(&self, offset: usize) -> u32 {
        let idx = self.lines.partition_point(|&start| start <= offset);
        u32::try_from(idx).unwrap_or(u32::MAX)
    }
}

/// Reads `path` (a file, or a directory of `*.toml`) and every include.
/// Unreadable files and syntax errors are collected, not fatal to the rest.
pub fn read_all(path: &Path) -> (Vec<Parsed>, ConfigErrors) {
    let mut out = Vec::new();
    let mut errors = ConfigErrors::default();
    let mut seen = HashSet::new();
    let mut queue = Vec::new();
    expand_path(path, None, &mut queue, &mut errors);
    while let Some(file) = queue.pop() {
        let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if !seen.insert(key) {
            continue;
        }
        let Some(parsed) = parse_file(&file, &mut errors) else {
            continue;
        };
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut includes = Vec::new();
        for inc in &parsed.raw.include {
            let line = parsed.line(inc.span().start);
            let target = dir.join(inc.get_ref());
            expand_path(&target, Some((&file, line)), &mut includes, &mut errors);
        }
        // Reverse so the queue (a stack) reads includes in the written order.
        queue.extend(includes.into_iter().rev());
        out.push(parsed);
    }
    (out, errors)
}

/// Pushes `path` itself, or every `*.toml` in it (sorted) if it is a
/// directory, onto `queue`.
fn expand_path(
    path: &Path,
    from: Option<(&Path, u32)>,
    queue: &mut Vec<PathBuf>,
    errors: &mut ConfigErrors,
) {
    let fail = |msg: String| match from {
        Some((f, line)) => ConfigError::at(f, line, msg),
        None => ConfigError::file(path, msg),
    };
    if path.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) => {
                errors.push(fail(format!(
                    "cannot read directory {}: {e}",
                    path.display()
                )));
                return;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        queue.extend(files.into_iter().rev());
    } else if path.exists() {
        queue.push(path.to_path_buf());
    } else {
        errors.push(fail(format!("{} does not exist", path.display())));
    }
}

fn parse_file(path: &Path, errors: &mut ConfigErrors) -> Option<Parsed> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::file(path, format!("cannot read: {e}")));
            return None;
        }
    };
    let mut lines = vec![0];
    lines.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let mut parsed = Parsed {
        path: Arc::new(path.to_path_buf()),
        raw: RawFile::default(),
        lines,
    };
    match toml::from_str::<RawFile>(&text) {
        Ok(raw) => {
            parsed.raw = raw;
            Some(parsed)
        }
        Err(e) => {
            let line = e.span().map(|s| parsed.line(s.start)).unwrap_or(0);
            errors.push(ConfigError::at(path, line, e.message().trim().to_string()));
            None
        }
    }
}
