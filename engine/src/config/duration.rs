//! Durations written with units, as operators write them: `30s`, `5m`,
//! `1h30m`, `2d`, `500ms`; a bare number is seconds.

use std::time::Duration;

/// Parses a duration with units. The error says what was wrong.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return from_secs(secs, s);
    }
    let mut total_ms = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("duration '{s}' has a number without a unit"))?;
        if num_end == 0 {
            return Err(format!(
                "bad duration '{s}': expected a number like 30s, 5m, 1h"
            ));
        }
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("bad number in duration '{s}'"))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            "w" => 604_800_000.0,
            u => {
                return Err(format!(
                    "bad duration '{s}': unknown unit '{u}' (use ms, s, m, h, d, w)"
                ))
            }
        };
        total_ms += n * factor;
        rest = &rest[unit_end..];
    }
    from_secs(total_ms / 1000.0, s)
}

fn from_secs(secs: f64, s: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs).map_err(|_| format!("bad duration '{s}': out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let table = [
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("2d", 172_800_000),
            ("500ms", 500),
            ("90", 90_000),
            ("1.5s", 1_500),
        ];
        for (input, ms) in table {
            assert_eq!(parse(input), Ok(Duration::from_millis(ms)), "input {input}");
        }
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        for bad in ["", "5x", "m5", "-3", "1e400", "5m3"] {
            let e = parse(bad).expect_err(bad);
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(parse("5x").expect_err("5x").contains("unknown unit 'x'"));
    }
}
