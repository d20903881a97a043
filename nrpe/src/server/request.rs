//! What the server does with a decoded query, decided without I/O so the
//! same rules hold for every packet version (NRPE once let v3 packets skip
//! the argument check) and can be fuzzed.

use crate::packet::{Kind, Packet};
use crate::server::config::Config;

/// Characters NRPE refuses in arguments: they mean something to a shell.
const NASTY_METACHARS: &[char] = &[
    '|', '`', '&', '>', '<', '\'', '"', '\\', '[', ']', '{', '}', ';', '\r', '\n',
];
/// NRPE's limit on `$ARGn$`.
pub const MAX_ARGUMENTS: usize = 16;
/// check_nrpe's version probe.
const VERSION_COMMAND: &str = "_NRPE_CHECK";

/// The answer to a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run this command line (arguments substituted) and answer its output.
    Run {
        /// The command's name, for logs.
        name: String,
        /// The line to run.
        line: String,
    },
    /// Answer this without running anything.
    Answer {
        /// State.
        result: i16,
        /// Output.
        text: String,
    },
    /// Close the connection without an answer, as NRPE does.
    Refuse(Refusal),
}

/// Why a query is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The packet is a response, not a query.
    #[error("not a query")]
    NotAQuery,
    /// The query is empty.
    #[error("empty query")]
    Empty,
    /// Arguments while `dont_blame_nrpe` is off.
    #[error("request contained command arguments")]
    Arguments,
    /// Shell metacharacters in an argument or the command name.
    #[error("request contained illegal metachars")]
    Metachars,
    /// More than [`MAX_ARGUMENTS`] arguments.
    #[error("request contained too many arguments")]
    TooManyArguments,
}

/// Decides what to do with `query`.
pub fn decide(query: &Packet, config: &Config) -> Decision {
    if query.kind != Kind::Query {
        return Decision::Refuse(Refusal::NotAQuery);
    }
    let mut parts = query.text.split('!');
    let name = parts.next().unwrap_or_default();
    let args: Vec<&str> = parts.collect();
    if name.is_empty() {
        return Decision::Refuse(Refusal::Empty);
    }
    if !args.is_empty() && !config.allow_arguments {
        return Decision::Refuse(Refusal::Arguments);
    }
    if name.contains(NASTY_METACHARS) || args.iter().any(|a| a.contains(NASTY_METACHARS)) {
        return Decision::Refuse(Refusal::Metachars);
    }
    if args.len() > MAX_ARGUMENTS {
        return Decision::Refuse(Refusal::TooManyArguments);
    }
    if name == VERSION_COMMAND {
        return Decision::Answer {
            result: 0,
            text: format!("NRPE v4.1.0 (vedette-nrpe {})", env!("CARGO_PKG_VERSION")),
        };
    }
    match config.commands.get(name) {
        Some(template) => Decision::Run {
            name: name.to_string(),
            line: substitute(template, &args),
        },
        None => Decision::Answer {
            result: 3,
            text: format!("NRPE: Command '{name}' not defined"),
        },
    }
}

/// Replaces `$ARG1$`…`$ARG16$`; missing arguments become empty.
fn substitute(template: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("$ARG") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 4..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let n: Option<usize> = after[..digits].parse().ok();
        match (n, after[digits..].starts_with('$')) {
            (Some(n), true) if (1..=MAX_ARGUMENTS).contains(&n) => {
                out.push_str(args.get(n - 1).copied().unwrap_or_default());
                rest = &after[digits + 1..];
            }
            _ => {
                out.push_str("$ARG");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure
    use super::*;
    use crate::packet::Version;

    fn config(args: bool) -> Config {
        let mut c = Config {
            allow_arguments: args,
            ..Config::default()
        };
        c.commands
            .insert("load".into(), "check_load -w $ARG1$ -c $ARG2$ $ARG3".into());
        c
    }

    fn q(version: Version, text: &str) -> Packet {
        Packet {
            version,
            kind: Kind::Query,
            result: 0,
            text: text.into(),
        }
    }

    #[test]
    fn the_same_rules_for_every_version() {
        let run = |line: &str| Decision::Run {
            name: "load".into(),
            line: line.into(),
        };
        let table: &[(bool, &str, Decision)] = &[
            (false, "load", run("check_load -w  -c  $ARG3")),
            (false, "load!1", Decision::Refuse(Refusal::Arguments)),
            (true, "load!1!2", run("check_load -w 1 -c 2 $ARG3")),
            (true, "load!1;reboot", Decision::Refuse(Refusal::Metachars)),
            (true, "load!`id`", Decision::Refuse(Refusal::Metachars)),
            (true, "lo|ad", Decision::Refuse(Refusal::Metachars)),
            (
                true,
                &format!("load{}", "!x".repeat(17)),
                Decision::Refuse(Refusal::TooManyArguments),
            ),
            (false, "", Decision::Refuse(Refusal::Empty)),
            (
                false,
                "nope",
                Decision::Answer {
                    result: 3,
                    text: "NRPE: Command 'nope' not defined".into(),
                },
            ),
        ];
        for version in [Version::V2, Version::V3, Version::V4] {
            for (args, text, want) in table {
                assert_eq!(
                    &decide(&q(version, text), &config(*args)),
                    want,
                    "{version:?} {text}"
                );
            }
        }
    }

    #[test]
    fn substitutes_only_well_formed_argument_macros() {
        assert_eq!(
            substitute("$ARG1$$ARG2$ $ARG17$ $ARGx$ $ARG", &["a", "b"]),
            "ab $ARG17$ $ARGx$ $ARG"
        );
    }
}
