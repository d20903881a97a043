//! check_snmp 2.3's verdict over `snmpget`'s answer: per OID, pick the
//! shown text out of the `OID = TYPE: value` line, judge it (thresholds,
//! rate, string, regex), then print `SNMP STATE - values | perfdata`.
//!
//! The plugin works on text, quirks included, and so does this module:
//! a string match compares with the quoted value (`-s '"up"'`), a regex
//! sees the line from its ` = ` on, a value that starts like a number
//! gets perfdata whatever its type, `--offset` only counts where a
//! threshold or `--rate` makes the value numeric.

use std::fmt::Write as _;

use crate::check::Status;
use crate::threshold::Range;

/// One OID's `-w` or `-c` range, and its text as the perfdata repeats it.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// The range (after check_snmp's `2:1` → `@1:2` rewrite).
    pub range: Range,
    /// As written after that rewrite.
    pub text: Box<str>,
}

/// One OID's warning and critical limits.
pub type Limits = (Option<Limit>, Option<Limit>);

/// What a `-s`, `-r` or `-R` flag asks of the OID at its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Equal to the (last) `-s` string.
    String,
    /// Matched by the (last) regex.
    Regex,
}

/// How each OID's value is judged and shown: everything from the command
/// line but the target.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// `-w` was given (so every perfdata item carries a warning field).
    pub warn_given: bool,
    /// `-c` was given.
    pub crit_given: bool,
    /// Per OID: warning and critical limits.
    pub limits: Vec<Limits>,
    /// Per OID position, in flag order.
    pub matches: Vec<Match>,
    /// The last `-s`.
    pub string: Option<Box<str>>,
    /// The last `-r`/`-R`, compiled like POSIX `regcomp` would.
    pub regex: Option<regex::bytes::Regex>,
    /// `--invert-search`.
    pub invert: bool,
    /// `-l` items, per OID position.
    pub labels: Vec<Box<str>>,
    /// `-u` items, per OID position.
    pub units: Vec<Box<str>>,
    /// `-O`: perfdata labelled by OID even when `-l` is given.
    pub perf_oids: bool,
    /// `-D`, between the values of several OIDs.
    pub delimiter: Box<str>,
    /// `--rate`, with its `--rate-multiplier`.
    pub rate: Option<u32>,
    /// `--offset`.
    pub offset: f64,
    /// The OIDs as written after `-o` (a multi-line value's long output
    /// names its OID so).
    pub oid_texts: Vec<Box<str>>,
}

/// One varbind as `snmpget` printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The OID, `iso.3.6...`.
    pub name: String,
    /// The value text after ` = `.
    pub value: String,
}

/// The values a `--rate` check keeps for the next run.
#[derive(Debug, Clone, PartialEq)]
pub struct Previous {
    /// Unix seconds of the run that read them.
    pub time: i64,
    /// One per OID, rounded like the plugin's state file (`%.0f`).
    pub values: Vec<f64>,
}

/// The plugin's exit state and text, and what to keep for `--rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Exit state.
    pub status: Status,
    /// Standard output.
    pub text: String,
    /// New state for `--rate` (`None`: keep the old one).
    pub store: Option<Vec<f64>>,
}

impl Verdict {
    fn die(status: Status, text: impl Into<String>) -> Verdict {
        Verdict {
            status,
            text: text.into(),
            store: None,
        }
    }
}

/// The plugin's per-OID state; `None` is its STATE_DEPENDENT (a first
/// `--rate` run, no verdict).
type OidState = Option<Status>;

/// check_snmp's `max_state`: CRITICAL, then WARNING, then OK, then UNKNOWN.
fn max_state(a: OidState, b: OidState) -> OidState {
    let rank = |s: OidState| match s {
        Some(Status::Critical) => 4,
        Some(Status::Warning) => 3,
        Some(Status::Ok) => 2,
        Some(Status::Unknown) => 1,
        None => 0,
    };
    if rank(a) >= rank(b) {
        a
    } else {
        b
    }
}

/// Runs check_snmp's main loop over `rows` at Unix second `now`.
pub fn evaluate(ev: &Evaluation, rows: &[Row], previous: Option<&Previous>, now: i64) -> Verdict {
    let mut result: OidState = Some(Status::Unknown);
    let mut out = String::new();
    let mut perf = String::from("| ");
    let mut more = String::new();
    let mut store = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        // snmpget prints a value with line breaks over several lines. A
        // quoted string's further lines go to the long output, the plugin
        // showing its first line without the opening quote; any other
        // value (long hex) ends the plugin's scan at its first line.
        let (value, rest) = match row.value.split_once('\n') {
            Some((first, rest)) => (first, Some(rest)),
            None => (row.value.as_str(), None),
        };
        let response = format!(" = {value}");
        let (mut show, counter, mut ten_digits) = pick(&response);
        // `ten_digits` without `counter`: the STRING branch.
        let string_lines = rest.is_some() && ten_digits && show.starts_with('"');
        let last = rest.is_some() && !string_lines;
        if let (true, Some(rest)) = (string_lines, rest) {
            let oid = ev.oid_texts.get(i).map_or("", |o| &**o);
            let _ = write!(more, "{oid}:\n{show}\n{rest}\n");
            show.remove(0);
        }
        let unit = if counter && ev.rate.is_none() {
            "c"
        } else {
            ""
        };
        let (warn, crit) = ev.limits.get(i).cloned().unwrap_or((None, None));
        let mut state: OidState = None;
        let mut kept = 0.0;
        if warn.is_some() || crit.is_some() || ev.rate.is_some() {
            let Some(at) = show.find(|c: char| c == '-' || c.is_ascii_digit()) else {
                let text = format!("No valid data returned ({show})\n");
                return Verdict::die(Status::Unknown, text);
            };
            let value = strtod(&show[at..]).map_or(0.0, |(v, _)| v) + ev.offset;
            kept = value.round_ties_even();
            let judge = |v: f64| {
                let mut s = Status::Ok;
                if warn.as_ref().is_some_and(|l| l.range.alerts(v)) {
                    s = Status::Warning;
                }
                if crit.as_ref().is_some_and(|l| l.range.alerts(v)) {
                    s = Status::Critical;
                }
                s
            };
            if let Some(multiplier) = ev.rate {
                ten_digits = true;
                if let Some(prev) = previous {
                    let duration = now - prev.time;
                    if duration <= 0 {
                        let text = "Time duration between plugin calls is invalid";
                        return Verdict::die(Status::Unknown, text);
                    }
                    let mut delta = value - prev.values.get(i).copied().unwrap_or(0.0);
                    if counter && delta < 0.0 {
                        delta += 4_294_967_296.0;
                    }
                    if counter && delta < 0.0 {
                        delta += 18_446_744_069_414_584_320.0;
                    }
                    let rate = delta / duration as f64 * f64::from(multiplier);
                    state = Some(judge(rate));
                    show = number(rate, ten_digits);
                }
            } else {
                state = Some(judge(value));
                show = number(value, ten_digits);
            }
        } else if let Some(m) = ev.matches.get(i) {
            let hit = match m {
                Match::String => ev.string.as_deref() == Some(show.as_str()),
                Match::Regex => ev
                    .regex
                    .as_ref()
                    .is_some_and(|r| r.is_match(response.as_bytes())),
            };
            state = Some(if hit != ev.invert {
                Status::Ok
            } else {
                Status::Critical
            });
        } else {
            state = Some(Status::Ok);
        }
        store.push(kept);
        result = max_state(result, state);

        let mark = if matches!(state, Some(Status::Ok)) {
            ""
        } else {
            "*"
        };
        out.push_str(if i == 0 { " " } else { &ev.delimiter });
        let label = ev.labels.get(i);
        if let Some(label) = label {
            let _ = write!(out, "{label} ");
        }
        let _ = write!(out, "{mark}{show}{mark}");
        if let Some(u) = ev.units.get(i) {
            let _ = write!(out, " {u}");
        }
        if let Some((_, len)) = strtod(&show) {
            let name = match label {
                Some(l) if !ev.perf_oids => l.as_ref(),
                _ => row.name.as_str(),
            };
            push_label(&mut perf, name);
            let _ = write!(perf, "={}{unit}", &show[..len]);
            if ev.warn_given {
                let _ = write!(perf, ";{}", warn.as_ref().map_or("", |l| &*l.text));
            }
            if ev.crit_given {
                if !ev.warn_given {
                    perf.push(';');
                }
                let _ = write!(perf, ";{}", crit.as_ref().map_or("", |l| &*l.text));
            }
            perf.push(' ');
        }
        if last {
            break;
        }
    }
    if ev.rate.is_some() && previous.is_none() {
        return Verdict {
            status: Status::Ok,
            text: "No previous data to calculate rate - assume okay".into(),
            store: Some(store),
        };
    }
    let label = if ev.rate.is_some() {
        "SNMP RATE"
    } else {
        "SNMP"
    };
    let (status, word) = match result {
        Some(s) => (s, s.as_str()),
        None => (Status::Unknown, "DEPENDENT"),
    };
    let mut text = format!("{label} {word} -{out} {perf}");
    if !more.is_empty() {
        let _ = write!(text, "\n{more}");
    }
    Verdict {
        status,
        text,
        store: ev.rate.map(|_| store),
    }
}

/// The shown part of a ` = TYPE: value` response, whether it is a
/// counter, and whether numbers print with `%.10g` (strings) rather than
/// `%.0f`. The prefixes are looked for anywhere, in the plugin's order.
fn pick(response: &str) -> (String, bool, bool) {
    const STRIPPED: [(&str, bool); 6] = [
        ("Gauge: ", false),
        ("Gauge32: ", false),
        ("Counter32: ", true),
        ("Counter64: ", true),
        ("INTEGER: ", false),
        ("OID: ", false),
    ];
    for (prefix, counter) in STRIPPED {
        if let Some(at) = response.find(prefix) {
            return (response[at + prefix.len()..].to_string(), counter, false);
        }
    }
    if let Some(at) = response.find("STRING: ") {
        return (response[at + 8..].to_string(), false, true);
    }
    if let Some(at) = response.find("Timeticks: ") {
        return (response[at..].to_string(), false, false);
    }
    (
        response.get(3..).unwrap_or_default().to_string(),
        false,
        false,
    )
}

/// `%.0f`, or `%.10g` when `ten_digits`.
fn number(v: f64, ten_digits: bool) -> String {
    if !ten_digits {
        return format!("{v:.0}");
    }
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    // Round to 10 significant digits first: the exponent after rounding
    // decides between fixed and scientific notation, as in C.
    let sci = format!("{v:.9e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..10).contains(&exp) {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = usize::try_from(9 - exp).unwrap_or(0);
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

/// Drops trailing fractional zeros and a bare trailing dot.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// C `strtod` on a prefix of `s` (decimal only, which is all an SNMP value
/// printed by snmpget can start with): the value and the bytes consumed,
/// or `None` when no number starts there.
fn strtod(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let mut i = b
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t'..=b'\r'))
        .count();
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let whole = digits(i);
    i += whole;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        frac = digits(i + 1);
        if whole + frac > 0 {
            i += 1 + frac;
        }
    }
    if whole + frac == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp = digits(j);
        if exp > 0 {
            i = j + exp;
        }
    }
    s[..i].trim_start().parse().ok().map(|v| (v, i))
}

/// A perfdata label, quoted the plugin's way when it holds ` `, `=`, `'`
/// or `"`.
fn push_label(perf: &mut String, label: &str) {
    if !label.contains([' ', '=', '\'', '"']) {
        perf.push_str(label);
    } else if !label.contains('\'') {
        let _ = write!(perf, "'{label}'");
    } else {
        let _ = write!(perf, "\"{label}\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Evaluation {
        Evaluation {
            warn_given: false,
            crit_given: false,
            limits: Vec::new(),
            matches: Vec::new(),
            string: None,
            regex: None,
            invert: false,
            labels: Vec::new(),
            units: Vec::new(),
            perf_oids: false,
            delimiter: " ".into(),
            rate: None,
            offset: 0.0,
            oid_texts: vec!["1.3.6.1.4.1.99999.5".into()],
        }
    }

    fn limit(text: &str) -> Option<Limit> {
        Some(Limit {
            range: Range::parse(text).expect("range"),
            text: text.into(),
        })
    }

    fn row(n: u32, value: &str) -> Row {
        Row {
            name: format!("iso.3.6.1.4.1.99999.{n}"),
            value: value.into(),
        }
    }

    #[test]
    fn numbers_print_like_printf() {
        let table: &[(f64, bool, &str)] = &[
            (2.5, false, "2"),
            (3.5, false, "4"),
            (-42.0, false, "-42"),
            (12060.0, true, "12060"),
            (12.5, true, "12.5"),
            (1.0 / 3.0, true, "0.3333333333"),
            (12_345_678_901.0, true, "1.23456789e+10"),
            (0.00001, true, "1e-05"),
            (0.0, true, "0"),
        ];
        for &(v, ten, want) in table {
            assert_eq!(number(v, ten), want, "{v}");
        }
    }

    #[test]
    fn strtod_reads_a_prefix() {
        assert_eq!(strtod("01 02 FF 41 "), Some((1.0, 2)));
        assert_eq!(strtod("-42"), Some((-42.0, 3)));
        assert_eq!(strtod("1E 05"), Some((1.0, 1)));
        assert_eq!(strtod("\"42\""), None);
        assert_eq!(strtod("iso.3"), None);
        assert_eq!(strtod("."), None);
    }

    #[test]
    fn plain_values_and_perfdata() {
        let rows = [
            row(2, "Gauge32: 77"),
            row(3, "Counter32: 100"),
            row(4, "STRING: \"42\""),
            row(6, "Timeticks: (123456) 0:20:34.56"),
            row(10, "Hex-STRING: 01 02 FF 41 "),
        ];
        let v = evaluate(&ev(), &rows, None, 0);
        assert_eq!(v.status, Status::Ok);
        assert_eq!(
            v.text,
            "SNMP OK - 77 100 \"42\" Timeticks: (123456) 0:20:34.56 01 02 FF 41  | \
             iso.3.6.1.4.1.99999.2=77 iso.3.6.1.4.1.99999.3=100c iso.3.6.1.4.1.99999.10=01 "
        );
    }

    #[test]
    fn thresholds_per_oid_and_their_perfdata_fields() {
        let mut e = ev();
        e.warn_given = true;
        e.crit_given = true;
        e.limits = vec![(None, limit("1000000000")), (limit("3"), None)];
        let rows = [row(6, "Timeticks: (2594) 0:00:25.94"), row(1, "INTEGER: 4")];
        let v = evaluate(&e, &rows, None, 0);
        assert_eq!(v.status, Status::Warning);
        assert_eq!(
            v.text,
            "SNMP WARNING - 2594 *4* | iso.3.6.1.4.1.99999.6=2594;;1000000000 iso.3.6.1.4.1.99999.1=4;3; "
        );
        let v = evaluate(&e, &[row(4, "STRING: \"say hi\"")], None, 0);
        assert_eq!(
            (v.status, v.text.as_str()),
            (Status::Unknown, "No valid data returned (\"say hi\")\n")
        );
    }

    #[test]
    fn string_regex_labels_units() {
        let mut e = ev();
        e.matches = vec![Match::String, Match::Regex];
        e.string = Some("\"42\"".into());
        e.regex = Some(regex::bytes::Regex::new("^ = Gauge32").expect("regex"));
        e.labels = vec!["it's x".into(), "a=b".into()];
        e.units = vec!["km/h".into()];
        let rows = [row(4, "STRING: \"42\""), row(2, "Gauge32: 77")];
        let v = evaluate(&e, &rows, None, 0);
        assert_eq!(v.status, Status::Ok);
        assert_eq!(v.text, "SNMP OK - it's x \"42\" km/h a=b 77 | 'a=b'=77 ");
        e.invert = true;
        let v = evaluate(&e, &rows, None, 0);
        assert_eq!(v.status, Status::Critical);
        assert!(v
            .text
            .starts_with("SNMP CRITICAL - it's x *\"42\"* km/h a=b *77*"));
    }

    #[test]
    fn multi_line_strings_and_long_hex() {
        let rows = [
            row(5, "STRING: \"line one\nline \\\"two\\\"\""),
            row(2, "Gauge32: 77"),
        ];
        let v = evaluate(&ev(), &rows, None, 0);
        assert_eq!(
            v.text,
            "SNMP OK - line one 77 | iso.3.6.1.4.1.99999.2=77 \n\
             1.3.6.1.4.1.99999.5:\n\"line one\nline \\\"two\\\"\"\n"
        );
        // A string whose first line holds another type's prefix is not
        // read as a string (and must not trip the quote stripping).
        let odd = [row(5, "STRING: \"Gauge32: \nx\""), row(2, "Gauge32: 77")];
        let v = evaluate(&ev(), &odd, None, 0);
        assert_eq!(v.text, "SNMP OK -  | ");
        let rows = [
            row(14, &format!("Hex-STRING: {}\n10 11 ", "0F ".repeat(16))),
            row(2, "Gauge32: 77"),
        ];
        let v = evaluate(&ev(), &rows, None, 0);
        assert_eq!(
            v.text,
            format!(
                "SNMP OK - {}  | iso.3.6.1.4.1.99999.14=0 ",
                "0F ".repeat(16).trim_end()
            )
        );
    }

    #[test]
    fn rate_first_run_then_per_second_with_counter_wrap() {
        let mut e = ev();
        e.rate = Some(60);
        let first = evaluate(&e, &[row(3, "Counter32: 4294967000")], None, 100);
        assert_eq!(first.status, Status::Ok);
        assert_eq!(
            first.text,
            "No previous data to calculate rate - assume okay"
        );
        let prev = Previous {
            time: 100,
            values: first.store.expect("state"),
        };
        let next = evaluate(&e, &[row(3, "Counter32: 104")], Some(&prev), 102);
        assert_eq!(
            next.text,
            "SNMP RATE OK - 12000 | iso.3.6.1.4.1.99999.3=12000 "
        );
        let same = evaluate(&e, &[row(3, "Counter32: 104")], Some(&prev), 100);
        assert_eq!(same.status, Status::Unknown);
    }
}
