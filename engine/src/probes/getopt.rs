//! The one option reader the native probes' command-line parsers share.
//!
//! The monitoring-plugins read their arguments with `getopt_long`; the
//! native parsers accept the subset of that which they reproduce exactly:
//! one flag per word, a value attached (`-p22`, `--port=22`) or in the next
//! word, long names spelled in full (no abbreviations), no bundling
//! (`-46`). Anything else is [`NotNative`], so the real plugin runs and
//! keeps its own reading of odd lines.

use std::slice;

use crate::probes::cmdline::NotNative;

/// One option a plugin accepts: its short letter ([`NO_SHORT`] when it has
/// none), its long name (`""` when it has none), and whether it takes a
/// value.
pub(crate) type Opt = (char, &'static str, bool);

/// The short letter of an option that only has a long name.
pub(crate) const NO_SHORT: char = ' ';

/// A flag read off the line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag<'a> {
    /// The option's short letter, or [`NO_SHORT`].
    pub short: char,
    /// The option's long name, or `""`.
    pub long: &'static str,
    /// The word the flag was written as (for error messages).
    pub word: &'a str,
    /// Its value; `""` for a flag that takes none.
    pub value: &'a str,
}

impl Flag<'_> {
    /// The error for a value the native probe does not reproduce.
    pub fn bad(&self) -> NotNative {
        NotNative::Value {
            flag: self.word.to_string(),
            value: self.value.to_string(),
        }
    }

    /// The error for a flag the native probe does not implement.
    pub fn unknown(&self) -> NotNative {
        NotNative::Flag(self.word.to_string())
    }
}

/// One word (or two, flag and value) of the command line.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// An option from the table.
    Flag(Flag<'a>),
    /// A word that is not an option (`getopt` would move it to the end).
    Positional(&'a str),
}

/// Reads `args` against `table`, one [`Arg`] at a time.
pub(crate) fn getopt<'a>(table: &'static [Opt], args: &'a [String]) -> Getopt<'a> {
    Getopt {
        table,
        words: args.iter(),
    }
}

/// The iterator [`getopt`] returns.
#[derive(Debug, Clone)]
pub(crate) struct Getopt<'a> {
    table: &'static [Opt],
    words: slice::Iter<'a, String>,
}

impl<'a> Getopt<'a> {
    fn flag(&mut self, word: &'a str) -> Result<Flag<'a>, NotNative> {
        let unknown = || NotNative::Flag(word.to_string());
        let (opt, attached) = if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let opt = self
                .table
                .iter()
                .find(|o| !o.1.is_empty() && o.1 == name)
                .ok_or_else(unknown)?;
            (opt, value)
        } else {
            let mut chars = word[1..].chars();
            let letter = chars.next().ok_or_else(unknown)?;
            let opt = self
                .table
                .iter()
                .find(|o| o.0 != NO_SHORT && o.0 == letter)
                .ok_or_else(unknown)?;
            let rest = chars.as_str();
            (opt, (!rest.is_empty()).then_some(rest))
        };
        let &(short, long, takes_value) = opt;
        let value = match (takes_value, attached) {
            (false, Some(_)) => return Err(unknown()),
            (false, None) => "",
            (true, Some(v)) => v,
            (true, None) => self
                .words
                .next()
                .ok_or_else(|| NotNative::MissingValue(word.to_string()))?,
        };
        Ok(Flag {
            short,
            long,
            word,
            value,
        })
    }
}

impl<'a> Iterator for Getopt<'a> {
    type Item = Result<Arg<'a>, NotNative>;

    fn next(&mut self) -> Option<Self::Item> {
        let word = self.words.next()?.as_str();
        if !word.starts_with('-') || word == "-" {
            return Some(Ok(Arg::Positional(word)));
        }
        Some(self.flag(word).map(Arg::Flag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Opt] = &[
        ('p', "port", true),
        ('4', "use-ipv4", false),
        (NO_SHORT, "sni", false),
        ('n', "", true),
    ];

    fn read(line: &str) -> Result<Vec<String>, String> {
        let args: Vec<String> = line.split(' ').map(String::from).collect();
        getopt(TABLE, &args)
            .map(|a| match a {
                Ok(Arg::Flag(f)) => Ok(format!("{}{}={}", f.short, f.long, f.value)),
                Ok(Arg::Positional(p)) => Ok(format!("pos:{p}")),
                Err(e) => Err(e.to_string()),
            })
            .collect()
    }

    #[test]
    fn reads_the_forms_the_plugins_share() {
        let ok = |v: &[&str]| Ok(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(read("-p 22"), ok(&["pport=22"]));
        assert_eq!(
            read("-p22 --port=23 --port 24"),
            ok(&["pport=22", "pport=23", "pport=24"])
        );
        assert_eq!(
            read("host -4 --sni"),
            ok(&["pos:host", "4use-ipv4=", " sni="])
        );
        assert_eq!(read("-n 3 -"), ok(&["n=3", "pos:-"]));
    }

    #[test]
    fn leaves_everything_else_to_the_plugin() {
        let err = |s: &str| Err(s.to_string());
        assert_eq!(read("-p"), err("flag '-p' needs a value"));
        assert_eq!(read("-46"), err("flag '-46' not understood"));
        assert_eq!(read("--sni=x"), err("flag '--sni=x' not understood"));
        assert_eq!(read("--po 1"), err("flag '--po' not understood"));
        assert_eq!(read("-x"), err("flag '-x' not understood"));
        // A table entry without a long or short form cannot be reached by it.
        assert_eq!(read("--=1"), err("flag '--=1' not understood"));
        assert_eq!(read("- -"), ok_pos());
        assert_eq!(read("--"), err("flag '--' not understood"));
    }

    fn ok_pos() -> Result<Vec<String>, String> {
        Ok(vec!["pos:-".into(), "pos:-".into()])
    }
}
