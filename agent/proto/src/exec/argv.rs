//! Splitting a command line into argv without a shell, as Nagios 4's
//! `runcmd_cmd2strv` does: whitespace separates words, single quotes are
//! literal, double quotes group, a backslash escapes the next character.
//!
//! Anything that only a shell can give its meaning (pipes, redirections,
//! `$VAR`, globs, command substitution, `;`, `&`, unbalanced quotes) makes
//! [`split`] refuse, and the caller runs the line with `/bin/sh -c` exactly
//! as Nagios does. Inside double quotes a backslash follows `sh` (it only
//! escapes `$`, `` ` ``, `"` and `\`), so a line means the same whichever
//! way it runs.

use std::fmt;

/// Why a command line needs `/bin/sh -c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellNeeded {
    /// An unquoted shell metacharacter (or `$`/`` ` `` inside double quotes).
    Meta(char),
    /// A quote that is never closed.
    Unbalanced(char),
    /// A backslash at the very end, or before a newline (line continuation).
    Backslash,
}

impl fmt::Display for ShellNeeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShellNeeded::Meta('\n') => f.write_str("unquoted newline"),
            ShellNeeded::Meta(c) => write!(f, "shell metacharacter '{c}'"),
            ShellNeeded::Unbalanced(q) => write!(f, "unbalanced quote {q}"),
            ShellNeeded::Backslash => f.write_str("trailing backslash"),
        }
    }
}

/// Characters that mean something to `sh` anywhere outside quotes.
const META: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '[', '{', '}', '\n',
];

/// Characters that mean something to `sh` at the start of a word.
const WORD_START_META: &[char] = &['~', '#'];

/// Splits `line` into words, or says why only a shell can run it.
/// An empty (or all-blank) line gives no words.
pub fn split(line: &str) -> Result<Vec<String>, ShellNeeded> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word exists once anything (even `''`) was seen since the last blank.
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(ShellNeeded::Unbalanced('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c @ ('$' | '`')) => return Err(ShellNeeded::Meta(c)),
                        Some('\\') => match chars.next() {
                            Some(c @ ('$' | '`' | '"' | '\\')) => word.push(c),
                            Some('\n') | None => return Err(ShellNeeded::Backslash),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        Some(c) => word.push(c),
                        None => return Err(ShellNeeded::Unbalanced('"')),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') | None => return Err(ShellNeeded::Backslash),
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
            },
            c if META.contains(&c) => return Err(ShellNeeded::Meta(c)),
            c if !in_word && WORD_START_META.contains(&c) => return Err(ShellNeeded::Meta(c)),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_runcmd() {
        let table: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   ", &[]),
            (
                "/bin/check_x -H 1.2.3.4",
                &["/bin/check_x", "-H", "1.2.3.4"],
            ),
            ("a  \t b ", &["a", "b"]),
            ("a 'b c' d", &["a", "b c", "d"]),
            ("a \"b c\" d", &["a", "b c", "d"]),
            ("a 'it''s'", &["a", "its"]),
            ("a \"it's\"", &["a", "it's"]),
            ("a 'x\"y'", &["a", "x\"y"]),
            ("a b\\ c", &["a", "b c"]),
            ("a \\'x", &["a", "'x"]),
            ("a \\|", &["a", "|"]),
            ("a '|' '$HOME' '*'", &["a", "|", "$HOME", "*"]),
            ("a \"\\\"q\\\\\"", &["a", "\"q\\"]),
            ("a \"\\n\"", &["a", "\\n"]),
            ("a ''", &["a", ""]),
            ("a \"\" b", &["a", "", "b"]),
            ("a x~y x#y", &["a", "x~y", "x#y"]),
            (
                "check_tcp -H 10.0.0.1 -e 'SSH-2.0' -w 0.5",
                &["check_tcp", "-H", "10.0.0.1", "-e", "SSH-2.0", "-w", "0.5"],
            ),
        ];
        for &(line, want) in table {
            assert_eq!(
                split(line),
                Ok(want.iter().map(|s| s.to_string()).collect()),
                "{line:?}"
            );
        }
    }

    #[test]
    fn refuses_what_needs_a_shell() {
        let table: &[(&str, ShellNeeded)] = &[
            ("a | b", ShellNeeded::Meta('|')),
            ("a > /dev/null", ShellNeeded::Meta('>')),
            ("a 2>&1", ShellNeeded::Meta('>')),
            ("a; b", ShellNeeded::Meta(';')),
            ("a && b", ShellNeeded::Meta('&')),
            ("a $HOME", ShellNeeded::Meta('$')),
            ("a \"$HOME\"", ShellNeeded::Meta('$')),
            ("a \"`id`\"", ShellNeeded::Meta('`')),
            ("a `id`", ShellNeeded::Meta('`')),
            ("a $(id)", ShellNeeded::Meta('$')),
            ("a (b)", ShellNeeded::Meta('(')),
            ("ls *.c", ShellNeeded::Meta('*')),
            ("ls ?", ShellNeeded::Meta('?')),
            ("ls [ab]", ShellNeeded::Meta('[')),
            ("echo {a,b}", ShellNeeded::Meta('{')),
            ("ls ~/x", ShellNeeded::Meta('~')),
            ("a # comment", ShellNeeded::Meta('#')),
            ("a\nb", ShellNeeded::Meta('\n')),
            ("a 'b", ShellNeeded::Unbalanced('\'')),
            ("a \"b", ShellNeeded::Unbalanced('"')),
            ("a \\", ShellNeeded::Backslash),
        ];
        for &(line, want) in table {
            assert_eq!(split(line), Err(want), "{line:?}");
        }
    }
}
