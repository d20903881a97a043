//! The Nagios front end: `nagios.cfg` or a Nagios object file in, a
//! validated [`Model`] out.
//!
//! Stages, each collecting every error before the next runs:
//! 1. `main_cfg`: the main config, resource files, which object files.
//! 2. `objects`: each object file into raw `define` blocks.
//! 3. `resolve`: templates (`use`, `name`, `register`, `+`, `null`).
//! 4. `build` and `groups`: commands, hosts, host groups, services, macros.
//!
//! Behaviour follows Nagios 4.4 (`nagios4 -v`) where the two could differ;
//! e.g. a missing `cfg_dir` is an error, as it is in Nagios 4 (Debian's stock
//! `nagios.cfg` names `/etc/nagios-plugins/config` and `/etc/nagios4/conf.d`,
//! which `monitoring-plugins-common` and `nagios4-common` ship).

mod build;
mod directives;
mod groups;
mod main_cfg;
mod objects;
mod resolve;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::error::{ConfigError, ConfigErrors};
use crate::model::Model;
use main_cfg::Source;
use objects::{Include, RawObject};

/// Loads a Nagios main config or a single object file at `path`.
///
/// A file with `cfg_file=`, `cfg_dir=` or `resource_file=` lines, or with no
/// `define` block at all, is a main config; anything else is one object file
/// (with no `$USERn$` macros and a 60 s interval unit).
pub fn load(path: &Path) -> Result<Model, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let src = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::file(path, format!("cannot read config: {e}")))?;
    let mut model = Model::default();
    let mut reader = Reader::default();
    let main = if main_cfg::is_main_config(&src) {
        let main = main_cfg::parse(path, &src, &mut errors);
        for s in &main.sources {
            match s {
                Source::File(f, line) => reader.file(f, path, *line, &mut errors),
                Source::Dir(d, line) => reader.dir(d, path, *line, &mut errors),
            }
        }
        if !main.ignored.is_empty() {
            model.warnings.push(format!(
                "{}: Vedette ignores these Nagios directives: {}",
                path.display(),
                main.ignored.join(", ")
            ));
        }
        if let Some(t) = main.check_timeout {
            model.settings.check_timeout = t;
        }
        if let Some(s) = main.timeout_status {
            model.settings.timeout_status = s;
        }
        if let Some(r) = main.retain_state {
            model.settings.retain_state = r;
        }
        if let Some(i) = main.retention_interval {
            model.settings.retention_interval = i;
        }
        Some(main)
    } else {
        reader.text(path, &src, &mut errors);
        None
    };
    let no_macros = Vec::new();
    let env = build::Env {
        interval_length: main.as_ref().map_or(60.0, |m| m.interval_length),
        user_macros: main.as_ref().map_or(&no_macros, |m| &m.user_macros),
    };
    let r = resolve::Resolver::new(&reader.objects, &mut errors, &mut model.warnings);
    build::build(&r, &env, &mut model, &mut errors);
    errors.into_result(model)
}

/// Reads object files, following `include_file`/`include_dir`, each file
/// once.
#[derive(Default)]
struct Reader {
    objects: Vec<RawObject>,
    seen: HashSet<PathBuf>,
}

impl Reader {
    /// Reads object file `f`, named at `from:line`.
    fn file(&mut self, f: &Path, from: &Path, line: u32, errors: &mut ConfigErrors) {
        if !self.seen.insert(f.to_path_buf()) {
            return;
        }
        match std::fs::read_to_string(f) {
            Ok(src) => self.text(f, &src, errors),
            Err(e) => errors.push(ConfigError::at(
                from,
                line,
                format!("cannot read config file {}: {e}", f.display()),
            )),
        }
    }

    /// Parses `src`, the text of `f`, and what it includes.
    fn text(&mut self, f: &Path, src: &str, errors: &mut ConfigErrors) {
        self.seen.insert(f.to_path_buf());
        let file = Arc::new(f.to_path_buf());
        let mut includes = Vec::new();
        objects::parse(&file, src, &mut self.objects, &mut includes, errors);
        let base = f.parent().unwrap_or(Path::new("."));
        for inc in includes {
            match inc {
                Include::File(p, line) => self.file(&base.join(p), f, line, errors),
                Include::Dir(p, line) => self.dir(&base.join(p), f, line, errors),
            }
        }
    }

    /// Reads every `*.cfg` below `d` (recursively, sorted by path so the
    /// result does not depend on directory order; dot files skipped).
    fn dir(&mut self, d: &Path, from: &Path, line: u32, errors: &mut ConfigErrors) {
        let mut files = Vec::new();
        let mut pending = vec![d.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    let msg = format!("cannot read config directory {}: {e}", dir.display());
                    errors.push(ConfigError::at(from, line, msg));
                    continue;
                }
            };
            for entry in entries.flatten() {
                let p = entry.path();
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                if p.is_dir() {
                    // A symlink loop would revisit: remember directories.
                    if self
                        .seen
                        .insert(p.canonicalize().unwrap_or_else(|_| p.clone()))
                    {
                        pending.push(p);
                    }
                } else if p.extension().is_some_and(|x| x == "cfg") {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            self.file(&f, from, line, errors);
        }
    }
}

#[cfg(test)]
mod tests;
