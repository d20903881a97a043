//! Nagios object files: the tokenizer for `define <type> { ... }` blocks.
//!
//! Follows Nagios 4's `xodtemplate_process_config_file` line by line:
//! a line whose first non-blank character is `#` or `;` is a comment, an
//! unescaped `;` ends the line's content (`\;` stays in the value as written,
//! as Nagios keeps it for the shell), `define <type> {` opens a block (text
//! after `{` is ignored, as Nagios does), a line that is exactly `}` closes
//! it, and every line in between is `<directive> <value>`. There is no line
//! continuation. Which directives each type accepts ([`super::directives`])
//! is checked here, so an unknown directive is reported with its own line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::error::{ConfigError, ConfigErrors};

/// The object types a Nagios 4 object file can define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `define host`.
    Host,
    /// `define service`.
    Service,
    /// `define command`.
    Command,
    /// `define hostgroup`.
    HostGroup,
    /// `define servicegroup`.
    ServiceGroup,
    /// `define timeperiod`.
    TimePeriod,
    /// `define contact`.
    Contact,
    /// `define contactgroup`.
    ContactGroup,
    /// `define hostdependency`.
    HostDependency,
    /// `define servicedependency`.
    ServiceDependency,
    /// `define hostescalation`.
    HostEscalation,
    /// `define serviceescalation`.
    ServiceEscalation,
    /// `define hostextinfo`.
    HostExtInfo,
    /// `define serviceextinfo`.
    ServiceExtInfo,
}

/// Every kind, for tables indexed by kind.
pub const KINDS: [Kind; 14] = [
    Kind::Host,
    Kind::Service,
    Kind::Command,
    Kind::HostGroup,
    Kind::ServiceGroup,
    Kind::TimePeriod,
    Kind::Contact,
    Kind::ContactGroup,
    Kind::HostDependency,
    Kind::ServiceDependency,
    Kind::HostEscalation,
    Kind::ServiceEscalation,
    Kind::HostExtInfo,
    Kind::ServiceExtInfo,
];

impl Kind {
    /// The kind named after `define`, as Nagios spells it.
    pub fn parse(s: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.name() == s)
    }

    /// The Nagios name of the kind (`hostgroup`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Service => "service",
            Kind::Command => "command",
            Kind::HostGroup => "hostgroup",
            Kind::ServiceGroup => "servicegroup",
            Kind::TimePeriod => "timeperiod",
            Kind::Contact => "contact",
            Kind::ContactGroup => "contactgroup",
            Kind::HostDependency => "hostdependency",
            Kind::ServiceDependency => "servicedependency",
            Kind::HostEscalation => "hostescalation",
            Kind::ServiceEscalation => "serviceescalation",
            Kind::HostExtInfo => "hostextinfo",
            Kind::ServiceExtInfo => "serviceextinfo",
        }
    }

    /// Whether Nagios 4 accepts `directive` in a definition of this kind.
    pub fn accepts(self, directive: &str) -> bool {
        super::directives::accepts(self, directive)
    }
}

/// One `directive value` line of a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// The directive (`check_command`); custom variables upper-cased.
    pub key: String,
    /// The value, trimmed, comment removed.
    pub value: String,
    /// 1-based line in the object's file.
    pub line: u32,
}

/// One `define` block as written, before templates are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawObject {
    /// What it defines.
    pub kind: Kind,
    /// File of the definition.
    pub file: Arc<PathBuf>,
    /// Line of the `define`.
    pub line: u32,
    /// Directives in file order.
    pub attrs: Vec<Attr>,
}

impl RawObject {
    /// The object's own value of `key` (last one wins, as in Nagios).
    pub fn own(&self, key: &str) -> Option<&Attr> {
        self.attrs.iter().rev().find(|a| a.key == key)
    }
}

/// What an object file asked for besides definitions: Nagios 4 allows
/// `include_file=` and `include_dir=` lines in object files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Include {
    /// `include_file=PATH`.
    File(PathBuf, u32),
    /// `include_dir=PATH`.
    Dir(PathBuf, u32),
}

/// Strips an unescaped `;` comment from a line.
pub fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b';' && (i == 0 || bytes.get(i.wrapping_sub(1)) != Some(&b'\\')) {
            return &line[..i];
        }
    }
    line
}

/// Parses one object file's text into definitions, pushing every error.
pub fn parse(
    file: &Arc<PathBuf>,
    src: &str,
    out: &mut Vec<RawObject>,
    includes: &mut Vec<Include>,
    errors: &mut ConfigErrors,
) {
    let path: &Path = file;
    let mut current: Option<RawObject> = None;
    // A block with a bad type is skipped to its `}` so its body does not
    // produce one "unexpected" error per line.
    let mut skipping = false;
    for (idx, raw) in src.lines().enumerate() {
        let n = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let line = strip_comment(trimmed).trim();
        if line.is_empty() {
            continue;
        }
        if line == "}" {
            match current.take() {
                Some(obj) => out.push(obj),
                None if skipping => skipping = false,
                None => errors.push(ConfigError::at(path, n, "unexpected '}'")),
            }
            continue;
        }
        if let Some(rest) = define_rest(line) {
            if let Some(open) = current.take() {
                errors.push(ConfigError::at(
                    path,
                    n,
                    format!(
                        "'define' inside the {} definition of line {}",
                        open.kind.name(),
                        open.line
                    ),
                ));
            }
            let ty = rest
                .split(|c: char| c == '{' || c.is_whitespace())
                .next()
                .unwrap_or("");
            match Kind::parse(ty) {
                Some(kind) => {
                    skipping = false;
                    current = Some(RawObject {
                        kind,
                        file: Arc::clone(file),
                        line: n,
                        attrs: Vec::new(),
                    });
                }
                None => {
                    skipping = true;
                    errors.push(ConfigError::at(
                        path,
                        n,
                        format!("unknown object type '{ty}'"),
                    ));
                }
            }
            continue;
        }
        if let Some(obj) = current.as_mut() {
            let (key, value) = match line.find(|c: char| c.is_whitespace()) {
                Some(i) => (&line[..i], line[i..].trim()),
                None => (line, ""),
            };
            if !obj.kind.accepts(key) {
                errors.push(ConfigError::at(
                    path,
                    n,
                    format!("unknown {} directive '{key}'", obj.kind.name()),
                ));
            } else if value.is_empty() && !key.starts_with('_') {
                errors.push(ConfigError::at(
                    path,
                    n,
                    format!("directive '{key}' has no value"),
                ));
            } else {
                // Custom variable names are case-insensitive in Nagios
                // (`_mac` is `$_HOSTMAC$`), so they are stored upper-cased.
                let key = if key.starts_with('_') {
                    key.to_ascii_uppercase()
                } else {
                    key.to_string()
                };
                obj.attrs.push(Attr {
                    key,
                    value: value.to_string(),
                    line: n,
                });
            }
        } else if skipping {
            continue;
        } else if let Some(p) = line.strip_prefix("include_file=") {
            includes.push(Include::File(PathBuf::from(p.trim()), n));
        } else if let Some(p) = line.strip_prefix("include_dir=") {
            includes.push(Include::Dir(PathBuf::from(p.trim()), n));
        } else {
            errors.push(ConfigError::at(
                path,
                n,
                format!("unexpected '{line}' outside a definition"),
            ));
        }
    }
    if let Some(obj) = current {
        errors.push(ConfigError::at(
            path,
            obj.line,
            format!("{} definition is not closed with '}}'", obj.kind.name()),
        ));
    }
}

/// The text after `define` and blanks, when `line` starts a definition.
fn define_rest(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("define")?;
    if rest.starts_with(|c: char| c.is_whitespace()) {
        Some(rest.trim_start())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str) -> (Vec<RawObject>, Vec<String>) {
        let file = Arc::new(PathBuf::from("t.cfg"));
        let (mut out, mut inc, mut errs) = (Vec::new(), Vec::new(), ConfigErrors::default());
        parse(&file, src, &mut out, &mut inc, &mut errs);
        (out, errs.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn strips_comments() {
        let table = [
            ("a b ; c", "a b "),
            ("a b\\;c ; d", "a b\\;c "),
            (";x", ""),
            ("a # b", "a # b"),
            ("no comment", "no comment"),
        ];
        for (input, want) in table {
            assert_eq!(strip_comment(input), want, "input {input:?}");
        }
    }

    #[test]
    fn parses_definitions_and_values() {
        let src = "# c\ndefine host{\n  host_name  web1 ; the name\n  _mac 00:11\n}\n\ndefine timeperiod {\n monday 00:00-24:00\n 2007-01-01 00:00-24:00\n}\n";
        let (objs, errs) = run(src);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].line, 2);
        assert_eq!(
            objs[0].own("host_name").map(|a| a.value.as_str()),
            Some("web1")
        );
        assert_eq!(objs[0].own("_MAC").map(|a| a.line), Some(4));
        assert!(objs[0].own("_mac").is_none());
        assert_eq!(objs[1].attrs.len(), 2);
    }

    #[test]
    fn reports_every_syntax_error() {
        let table = [
            (
                "define host {\n foo 1\n}\n",
                "t.cfg:2: unknown host directive 'foo'",
            ),
            (
                "define command {\n _X 1\n}\n",
                "t.cfg:2: unknown command directive '_X'",
            ),
            (
                "define gizmo {\n a b\n}\n",
                "t.cfg:1: unknown object type 'gizmo'",
            ),
            ("}\n", "t.cfg:1: unexpected '}'"),
            (
                "host_name x\n",
                "t.cfg:1: unexpected 'host_name x' outside a definition",
            ),
            (
                "define host {\n host_name x\n",
                "t.cfg:1: host definition is not closed with '}'",
            ),
            (
                "define host {\n alias\n}\n",
                "t.cfg:2: directive 'alias' has no value",
            ),
        ];
        for (src, want) in table {
            let (_, errs) = run(src);
            assert_eq!(errs, vec![want.to_string()], "src {src:?}");
        }
    }
}
