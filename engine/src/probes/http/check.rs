//! The checks on an answer after its status line, in the order and with
//! the words of check_http's `check_http()`: `-d` header string, `-s`
//! page string, `-r`/`-R` regex (`--invert-regex`), `-m` page size.
//!
//! ```text
//! HTTP CRITICAL: HTTP/1.1 200 OK - header 'X-Nope' not found on 'http://h:80/', string 'x' not found on 'http://h:80/', pattern not found, page size 261 too small - ...
//! ```

use regex::bytes::{Regex, RegexBuilder};

use crate::check::Status;

use super::response;
use super::{worse, HttpProbe};

/// The plugin's `MAX_RE_SIZE`: longer patterns are cut, so they are left
/// to it.
const MAX_RE_SIZE: usize = 1024;

/// The plugin keeps searched strings in `char[30]` for its messages.
const SHOWN: usize = 30;

/// A `-r`/`-R` pattern, compiled with the meaning POSIX `regcomp` gives it
/// under `REG_EXTENDED | REG_NEWLINE` (`.` and `[^...]` never match a line
/// end; `^` and `$` match at line ends), or without `REG_NEWLINE` after
/// `-l` (the page is one string).
#[derive(Debug, Clone)]
pub struct Pattern {
    source: Box<str>,
    icase: bool,
    linespan: bool,
    regex: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        (&self.source, self.icase, self.linespan) == (&other.source, other.icase, other.linespan)
    }
}

impl Pattern {
    /// Compiles `source`; `None` when it uses syntax POSIX and the regex
    /// crate read differently (escapes like `\d`, `(?`, lazy `*?`, Rust's
    /// class operators), or that does not compile here.
    pub fn new(source: &str, icase: bool, linespan: bool) -> Option<Pattern> {
        if source.len() >= MAX_RE_SIZE - 1 {
            return None;
        }
        let translated = translate(source, linespan)?;
        let regex = RegexBuilder::new(&translated)
            .case_insensitive(icase)
            .multi_line(!linespan)
            .dot_matches_new_line(linespan)
            .unicode(false)
            .build()
            .ok()?;
        Some(Pattern {
            source: source.into(),
            icase,
            linespan,
            regex,
        })
    }
}

/// `-m MIN[:MAX]` in bytes; 0 is unset, as in the plugin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageSize {
    /// WARNING below this many bytes.
    pub min: u32,
    /// WARNING above this many bytes.
    pub max: u32,
}

/// The pattern in the regex crate's syntax, or `None` where the two
/// syntaxes part ways. Plain text, `. * + ? | ( ) ^ $`, `{m,n}`,
/// bracket expressions (with `[:class:]`) and escaped punctuation pass.
fn translate(source: &str, linespan: bool) -> Option<String> {
    let mut out = String::with_capacity(source.len() + 8);
    let mut chars = source.chars().peekable();
    let mut prev_quantifier = false;
    if source.ends_with('|') && !source.ends_with("\\|") {
        return None;
    }
    while let Some(c) = chars.next() {
        let quantifier = matches!(c, '*' | '+' | '?' | '}');
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => {
                    out.push('\\');
                    out.push(e);
                }
                _ => return None,
            },
            '(' if chars.peek() == Some(&'?') => return None,
            // Empty alternatives: POSIX rejects what the regex crate takes.
            '|' if out.is_empty() || out.ends_with(['|', '(']) => return None,
            ')' if out.ends_with('|') => return None,
            '?' if prev_quantifier => return None,
            '{' if !chars.peek().is_some_and(char::is_ascii_digit) => return None,
            '[' => bracket(&mut chars, &mut out, linespan)?,
            _ => out.push(c),
        }
        prev_quantifier = quantifier;
    }
    Some(out)
}

/// Copies one bracket expression (after its `[`), POSIX rules: `]` first
/// is literal, `\` is literal, `[^` excludes the line end too (unless
/// `linespan`).
fn bracket(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
    linespan: bool,
) -> Option<()> {
    out.push('[');
    if chars.peek() == Some(&'^') {
        chars.next();
        out.push_str(if linespan { "^" } else { "^\\n" });
    }
    if chars.peek() == Some(&']') {
        chars.next();
        out.push_str("\\]");
    }
    let mut prev = '[';
    loop {
        let c = chars.next()?;
        match c {
            ']' => {
                out.push(']');
                return Some(());
            }
            '[' if chars.peek() == Some(&':') => {
                out.push_str("[:");
                chars.next();
                loop {
                    let d = chars.next()?;
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
            }
            // Nested classes and set operators are the regex crate's own.
            '[' => return None,
            '&' | '~' | '-' if prev == c => return None,
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
        prev = c;
    }
}

impl HttpProbe {
    /// Appends each failed check's words to `msg` (each ending `, `) and
    /// returns the worst state of them, `url` as the messages print it.
    pub(super) fn content_checks(
        &self,
        header: &[u8],
        body: &[u8],
        size: usize,
        url: &dyn Fn() -> String,
        msg: &mut String,
    ) -> Status {
        let mut status = Status::Ok;
        if let Some(d) = &self.header_string {
            if !response::contains(header, d) {
                msg.push_str(&format!("header '{}' not found on '{}', ", shown(d), url()));
                status = Status::Critical;
            }
        }
        if let Some(s) = &self.string {
            if !response::contains(body, s) {
                msg.push_str(&format!("string '{}' not found on '{}', ", shown(s), url()));
                status = Status::Critical;
            }
        }
        if let Some(p) = &self.regex {
            let found = p.regex.is_match(response::c_str(body));
            if found == self.invert_regex {
                msg.push_str(if found {
                    "pattern found, "
                } else {
                    "pattern not found, "
                });
                status = Status::Critical;
            }
        }
        let PageSize { min, max } = self.page_size;
        if max > 0 && size > max as usize {
            msg.push_str(&format!("page size {size} too large, "));
            status = worse(Status::Warning, status);
        } else if min > 0 && size < min as usize {
            msg.push_str(&format!("page size {size} too small, "));
            status = worse(Status::Warning, status);
        }
        status
    }
}

/// A searched string as the plugin's `char[30]` holds it.
fn shown(s: &str) -> String {
    if s.len() >= SHOWN {
        format!("{}...", String::from_utf8_lossy(&s.as_bytes()[..SHOWN - 4]))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_read_like_posix_or_not_at_all() {
        let table: &[(&str, Option<&str>)] = &[
            ("probe t.st", Some("probe t.st")),
            ("^<html>.*$", Some("^<html>.*$")),
            ("a{2,3}|b+", Some("a{2,3}|b+")),
            ("[^x]y", Some("[^\\nx]y")),
            ("[]a\\]", Some("[\\]a\\\\]")),
            ("[[:digit:]]+", Some("[[:digit:]]+")),
            ("1\\.0", Some("1\\.0")),
            ("\\d+", None),
            ("(?i)x", None),
            ("a||b", None),
            ("|a", None),
            ("a|", None),
            ("(a|)", None),
            ("a\\|", Some("a\\|")),
            ("a*?", None),
            ("a{x", None),
            ("[a[b]", None),
            ("[a&&b]", None),
            ("[a--b]", None),
            ("x\\", None),
            ("[abc", None),
        ];
        for &(source, want) in table {
            assert_eq!(translate(source, false).as_deref(), want, "{source}");
        }
        assert_eq!(translate("[^x]", true).as_deref(), Some("[^x]"));
        let p = Pattern::new("a.c$", false, true).expect("compiles");
        assert!(p.regex.is_match(b"a\nc") && !p.regex.is_match(b"abc\nd"));
        let p = Pattern::new("A.C", true, false).expect("compiles");
        assert!(p.regex.is_match(b"xx\nabc"));
        assert!(!p.regex.is_match(b"a\nc"));
        let p = Pattern::new("^b[^x]c$", false, false).expect("compiles");
        assert!(p.regex.is_match(b"a\nbyc\nd"));
        assert!(!p.regex.is_match(b"b\nc"));
        assert!(Pattern::new(&"a".repeat(MAX_RE_SIZE), false, false).is_none());
    }

    #[test]
    fn shown_is_cut_like_the_plugin() {
        assert_eq!(shown("short"), "short");
        assert_eq!(shown(&"a".repeat(29)), "a".repeat(29));
        assert_eq!(shown(&"a".repeat(30)), format!("{}...", "a".repeat(26)));
    }
}
