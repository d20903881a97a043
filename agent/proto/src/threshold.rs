//! Nagios threshold ranges and the perfdata formatter native probes print.
//!
//! Ranges follow the Nagios plugin developer guidelines: `10` alerts outside
//! `0..=10`, `10:` below 10, `~:10` above 10, `10:20` outside `10..=20`,
//! `@10:20` inside `10..=20` (end points included). Native probes use
//! [`Thresholds::status`] so they judge a value exactly as the plugin would.
//!
//! [`Perf`] prints one perfdata item the way monitoring-plugins' `fperfdata`
//! does (`%f` numbers, empty fields kept), so a native probe's perfdata is
//! byte-for-byte what the forked plugin would have printed.

use std::fmt;

use crate::check::Status;

/// Why a range string is not a Nagios range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// The string (after an optional `@`) was empty.
    #[error("empty threshold range")]
    Empty,
    /// A bound is not a number (or `~` for the start).
    #[error("invalid number '{0}' in threshold range")]
    Number(String),
    /// The start is greater than the end.
    #[error("threshold range start {start} is greater than its end {end}")]
    Inverted {
        /// The start as written.
        start: String,
        /// The end as written.
        end: String,
    },
}

/// A Nagios range: `[@]start:end`, with `~` for negative infinity and an
/// empty end for positive infinity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower bound (inclusive); `-inf` for `~`.
    pub start: f64,
    /// Upper bound (inclusive); `+inf` when omitted.
    pub end: f64,
    /// `@` given: alert when the value is *inside* the range.
    pub inside: bool,
}

impl Range {
    /// Parses a range in Nagios syntax.
    ///
    /// # Errors
    /// [`ThresholdError`] when the text is empty, a bound is not a finite
    /// number, or the start exceeds the end.
    pub fn parse(text: &str) -> Result<Range, ThresholdError> {
        let text = text.trim();
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if body.is_empty() {
            return Err(ThresholdError::Empty);
        }
        let (start, end) = match body.split_once(':') {
            // `10` alone means `0:10`.
            None => (0.0, number(body)?),
            Some((s, e)) => {
                let start = match s {
                    "~" => f64::NEG_INFINITY,
                    // `:10` is accepted by the plugins' parser as `0:10`.
                    "" => 0.0,
                    s => number(s)?,
                };
                let end = if e.is_empty() {
                    f64::INFINITY
                } else {
                    number(e)?
                };
                (start, end)
            }
        };
        if start > end {
            let (s, e) = body.split_once(':').unwrap_or(("0", body));
            return Err(ThresholdError::Inverted {
                start: s.to_string(),
                end: e.to_string(),
            });
        }
        Ok(Range { start, end, inside })
    }

    /// Whether `value` raises an alert against this range.
    pub fn alerts(&self, value: f64) -> bool {
        let within = self.start <= value && value <= self.end;
        if self.inside {
            within
        } else {
            !within
        }
    }
}

/// Parses a finite decimal number; `inf`/`nan` are not numbers to Nagios.
fn number(s: &str) -> Result<f64, ThresholdError> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(ThresholdError::Number(s.to_string())),
    }
}

/// A warning and a critical range, as plugins take them from `-w`/`-c`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Thresholds {
    /// The warning range, if any.
    pub warn: Option<Range>,
    /// The critical range, if any.
    pub crit: Option<Range>,
}

impl Thresholds {
    /// The status of `value`: CRITICAL wins over WARNING, as in
    /// monitoring-plugins' `get_status`.
    pub fn status(&self, value: f64) -> Status {
        if self.crit.is_some_and(|r| r.alerts(value)) {
            Status::Critical
        } else if self.warn.is_some_and(|r| r.alerts(value)) {
            Status::Warning
        } else {
            Status::Ok
        }
    }
}

/// One perfdata item, printed like monitoring-plugins' `fperfdata`:
/// `label=value[uom];[warn];[crit];[min][;max]` with `%f` (six decimals)
/// numbers, a label quoted when it holds `'`, `=` or a space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Perf<'a> {
    /// The label.
    pub label: &'a str,
    /// The measured value.
    pub value: f64,
    /// Unit of measurement (`s`, `%`, `B`, ...), may be empty.
    pub uom: &'a str,
    /// Warning threshold, printed empty when `None`.
    pub warn: Option<f64>,
    /// Critical threshold, printed empty when `None`.
    pub crit: Option<f64>,
    /// Minimum, printed empty when `None`.
    pub min: Option<f64>,
    /// Maximum; when `None` its `;` is left out too, as `fperfdata` does.
    pub max: Option<f64>,
}

impl fmt::Display for Perf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.label.contains(['\'', '=', ' ']) {
            write!(f, "'{}'=", self.label)?;
        } else {
            write!(f, "{}=", self.label)?;
        }
        write!(f, "{:.6}{};", self.value, self.uom)?;
        if let Some(w) = self.warn {
            write!(f, "{w:.6}")?;
        }
        f.write_str(";")?;
        if let Some(c) = self.crit {
            write!(f, "{c:.6}")?;
        }
        f.write_str(";")?;
        if let Some(m) = self.min {
            write!(f, "{m:.6}")?;
        }
        if let Some(m) = self.max {
            write!(f, ";{m:.6}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_alert_like_the_developer_guidelines() {
        // (range, value, alerts?) — every example form of the guidelines.
        let table: &[(&str, f64, bool)] = &[
            ("10", -1.0, true),
            ("10", 0.0, false),
            ("10", 10.0, false),
            ("10", 10.5, true),
            ("10:", 9.9, true),
            ("10:", 10.0, false),
            ("10:", 1e9, false),
            ("~:10", -1e9, false),
            ("~:10", 10.0, false),
            ("~:10", 11.0, true),
            ("10:20", 9.0, true),
            ("10:20", 10.0, false),
            ("10:20", 20.0, false),
            ("10:20", 21.0, true),
            ("@10:20", 9.0, false),
            ("@10:20", 10.0, true),
            ("@10:20", 15.0, true),
            ("@10:20", 20.0, true),
            ("@10:20", 20.1, false),
            ("1.5:2.5", 2.0, false),
            ("1.5:2.5", 2.6, true),
            ("-10:-5", -7.0, false),
            ("-10:-5", -4.0, true),
            ("@-1:1", 0.0, true),
            ("@~:0", -3.0, true),
            ("@~:0", 0.5, false),
            (":5", 6.0, true),
        ];
        for &(text, value, want) in table {
            let r = Range::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.alerts(value), want, "range {text} value {value}");
        }
    }

    #[test]
    fn bad_ranges_are_errors() {
        let table: &[(&str, ThresholdError)] = &[
            ("", ThresholdError::Empty),
            ("@", ThresholdError::Empty),
            ("abc", ThresholdError::Number("abc".into())),
            ("1:x", ThresholdError::Number("x".into())),
            ("nan", ThresholdError::Number("nan".into())),
            ("~", ThresholdError::Number("~".into())),
            (
                "20:10",
                ThresholdError::Inverted {
                    start: "20".into(),
                    end: "10".into(),
                },
            ),
            (
                "-1",
                ThresholdError::Inverted {
                    start: "0".into(),
                    end: "-1".into(),
                },
            ),
        ];
        for (text, want) in table {
            assert_eq!(Range::parse(text).as_ref(), Err(want), "range {text:?}");
        }
    }

    #[test]
    fn critical_beats_warning() {
        let t = Thresholds {
            warn: Some(Range::parse("5").expect("range")),
            crit: Some(Range::parse("10").expect("range")),
        };
        assert_eq!(t.status(3.0), Status::Ok);
        assert_eq!(t.status(7.0), Status::Warning);
        assert_eq!(t.status(11.0), Status::Critical);
        assert_eq!(Thresholds::default().status(1e9), Status::Ok);
    }

    #[test]
    fn perfdata_prints_like_fperfdata() {
        let p = Perf {
            label: "time",
            value: 0.000123,
            uom: "s",
            warn: None,
            crit: None,
            min: Some(0.0),
            max: Some(10.0),
        };
        assert_eq!(p.to_string(), "time=0.000123s;;;0.000000;10.000000");
        let p = Perf {
            label: "free space",
            value: 1.5,
            uom: "",
            warn: Some(0.5),
            crit: Some(1.0),
            min: None,
            max: None,
        };
        assert_eq!(p.to_string(), "'free space'=1.500000;0.500000;1.000000;");
    }
}
