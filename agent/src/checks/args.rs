//! Reading a plugin-style command line (`-w 20% -c 10%`, `--warning=20%`).

use vedette_proto::check::Status;
use vedette_proto::threshold::{Range, Thresholds};

/// Why a check's command line cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// A flag the check does not know.
    #[error("unknown flag '{0}'")]
    Unknown(String),
    /// A flag that takes a value came last.
    #[error("flag '{0}' needs a value")]
    MissingValue(String),
    /// A flag's value cannot be read.
    #[error("invalid value '{value}' for {flag}: {reason}")]
    Invalid {
        /// The flag as written.
        flag: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Flags that are each valid but contradict each other.
    #[error("inconsistent thresholds: {0}")]
    Inconsistent(&'static str),
    /// A flag the check cannot run without.
    #[error("required flag {0} not given")]
    Required(&'static str),
}

impl ArgError {
    /// Shorthand for [`ArgError::Invalid`].
    pub(crate) fn invalid(flag: &str, value: &str, reason: impl ToString) -> ArgError {
        ArgError::Invalid {
            flag: flag.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// A Nagios range given on the command line, kept with its text because
/// plugins such as check_procs print the text back into the perfdata.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeArg {
    /// The range as written (`1:5`).
    pub text: String,
    /// The parsed range.
    pub range: Range,
}

impl RangeArg {
    /// Parses `text`, given for `flag`, as a Nagios range.
    ///
    /// # Errors
    /// [`ArgError::Invalid`] when it is not one.
    pub fn parse(flag: &str, text: &str) -> Result<RangeArg, ArgError> {
        let range = Range::parse(text).map_err(|e| ArgError::invalid(flag, text, e))?;
        Ok(RangeArg {
            text: text.to_string(),
            range,
        })
    }
}

/// The status of `value` against optional warning and critical ranges.
pub(crate) fn judge(warn: Option<&RangeArg>, crit: Option<&RangeArg>, value: f64) -> Status {
    Thresholds {
        warn: warn.map(|w| w.range),
        crit: crit.map(|c| c.range),
    }
    .status(value)
}

/// Walks a command line as `(flag, value)` pairs, where the value comes
/// from `--flag=value`, `-wVALUE` or the next word, for flags that take one.
pub(crate) struct Flags<'a> {
    args: std::slice::Iter<'a, &'a str>,
}

impl<'a> Flags<'a> {
    /// Starts walking `args`.
    pub(crate) fn new(args: &'a [&'a str]) -> Flags<'a> {
        Flags { args: args.iter() }
    }

    /// The next flag, or `None` at the end. Words that are not flags are
    /// errors: plugins take no positional arguments here.
    pub(crate) fn next_flag(&mut self) -> Option<Result<Flag<'a>, ArgError>> {
        let word = *self.args.next()?;
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            return Some(Ok(Flag { name, inline, word }));
        }
        match word.strip_prefix('-') {
            Some(short) if !short.is_empty() => {
                let split = short.char_indices().nth(1).map_or(short.len(), |(i, _)| i);
                let (name, rest) = short.split_at(split);
                let inline = (!rest.is_empty()).then_some(rest);
                Some(Ok(Flag { name, inline, word }))
            }
            _ => Some(Err(ArgError::Unknown(word.to_string()))),
        }
    }

    /// The value of `flag`: its inline part or the next word.
    pub(crate) fn value(&mut self, flag: &Flag<'a>) -> Result<&'a str, ArgError> {
        match flag.inline {
            Some(v) => Ok(v),
            None => self
                .args
                .next()
                .copied()
                .ok_or_else(|| ArgError::MissingValue(flag.word.to_string())),
        }
    }
}

/// One flag as written: its name without dashes, any inline value, and the
/// whole word for error messages.
pub(crate) struct Flag<'a> {
    /// `w` for `-w`, `warning` for `--warning`.
    pub(crate) name: &'a str,
    /// `20%` in `--warning=20%` or `-w20%`.
    pub(crate) inline: Option<&'a str>,
    /// The word as written.
    pub(crate) word: &'a str,
}

impl Flag<'_> {
    /// Whether this flag is the short `s` or the long `l` form.
    pub(crate) fn is(&self, short: &str, long: &str) -> bool {
        self.name == short || self.name == long
    }

    /// An error for a flag the check does not know, or a switch given a value.
    pub(crate) fn unknown(&self) -> ArgError {
        ArgError::Unknown(self.word.to_string())
    }

    /// Errors when a switch (a flag without value) was given one inline.
    pub(crate) fn switch(&self) -> Result<(), ArgError> {
        match self.inline {
            Some(_) => Err(self.unknown()),
            None => Ok(()),
        }
    }
}

/// What [`range_flags`] read: `-w`/`-c` ranges and the one named value.
#[derive(Debug, Default)]
pub(crate) struct RangeFlags {
    /// The named flag's value, when given.
    pub named: Option<String>,
    /// `-w`.
    pub warn: Option<RangeArg>,
    /// `-c`.
    pub crit: Option<RangeArg>,
}

/// Reads the flags most checks take: `-w RANGE`, `-c RANGE` and, when
/// `named` is `Some((short, long))`, that flag's value (a device, an
/// interface, a command name). Anything else is an unknown flag.
pub(crate) fn range_flags(
    args: &[&str],
    named: Option<(&str, &str)>,
) -> Result<RangeFlags, ArgError> {
    let mut flags = Flags::new(args);
    let mut out = RangeFlags::default();
    while let Some(flag) = flags.next_flag() {
        let flag = flag?;
        if flag.is("w", "warning") {
            out.warn = Some(RangeArg::parse(flag.word, flags.value(&flag)?)?);
        } else if flag.is("c", "critical") {
            out.crit = Some(RangeArg::parse(flag.word, flags.value(&flag)?)?);
        } else if named.is_some_and(|(short, long)| flag.is(short, long)) {
            out.named = Some(flags.value(&flag)?.to_string());
        } else {
            return Err(flag.unknown());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(args: &[&str]) -> Result<Vec<(String, String)>, ArgError> {
        let mut flags = Flags::new(args);
        let mut out = Vec::new();
        while let Some(flag) = flags.next_flag() {
            let flag = flag?;
            let v = flags.value(&flag)?;
            out.push((flag.name.to_string(), v.to_string()));
        }
        Ok(out)
    }

    #[test]
    fn values_come_inline_or_next() {
        let got = walk(&["-w", "1", "-c2", "--warning=3", "--critical", "4"]).expect("walk");
        let want: Vec<(String, String)> =
            [("w", "1"), ("c", "2"), ("warning", "3"), ("critical", "4")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_words_are_errors() {
        assert_eq!(walk(&["-w"]), Err(ArgError::MissingValue("-w".into())));
        assert_eq!(walk(&["foo"]), Err(ArgError::Unknown("foo".into())));
        assert_eq!(walk(&["-"]), Err(ArgError::Unknown("-".into())));
        // A multi-byte character after the dash must not split mid-char.
        assert_eq!(walk(&["-éx"]).expect("walk")[0].0, "é");
    }
}
