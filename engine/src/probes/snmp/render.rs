//! Text the way net-snmp's `snmpget` (5.9, run by check_snmp with `-m ''`,
//! so without MIBs) prints it: OIDs, values, agent errors.
//!
//! check_snmp 2.3 parses that text, not the packet, so the native probe
//! renders each varbind exactly as `snmpget` would and feeds the same text
//! to the plugin's logic ([`super::report`]).

use std::fmt::Write as _;

use async_snmp::{ErrorStatus, Oid, Value};

/// An OID as `snmpget -m ''` prints it: the first arc by name
/// (`iso.3.6.1...`), the rest numeric.
pub fn oid(oid: &Oid) -> String {
    let mut out = String::new();
    for (i, arc) in oid.arcs().iter().enumerate() {
        match (i, arc) {
            (0, 0) => out.push_str("ccitt"),
            (0, 1) => out.push_str("iso"),
            (0, 2) => out.push_str("joint-iso-ccitt"),
            (0, n) => {
                let _ = write!(out, "{n}");
            }
            (_, n) => {
                let _ = write!(out, ".{n}");
            }
        }
    }
    out
}

/// A value as `snmpget` prints it after `OID = `. Octet strings longer
/// than 16 bytes that are not printable span several lines, as there.
pub fn value(value: &Value) -> String {
    match value {
        Value::Integer(n) => format!("INTEGER: {n}"),
        Value::OctetString(bytes) => octets(bytes),
        Value::Null => "NULL".to_string(),
        Value::ObjectIdentifier(o) => format!("OID: {}", oid(o)),
        Value::IpAddress([a, b, c, d]) => format!("IpAddress: {a}.{b}.{c}.{d}"),
        Value::Counter32(n) => format!("Counter32: {n}"),
        Value::Gauge32(n) | Value::UInteger32(n) => format!("Gauge32: {n}"),
        Value::TimeTicks(t) => format!("Timeticks: ({t}) {}", uptime(*t)),
        Value::Counter64(n) => format!("Counter64: {n}"),
        Value::Opaque(bytes) => format!("OPAQUE: {}", hex(bytes)),
        Value::Nsap(bytes) => format!("NsapAddress: {}", hex(bytes)),
        Value::NoSuchObject => "No Such Object available on this agent at this OID".to_string(),
        Value::NoSuchInstance => "No Such Instance currently exists at this OID".to_string(),
        Value::EndOfMibView => {
            "No more variables left in this MIB View (It is past the end of the MIB tree)"
                .to_string()
        }
        Value::Unknown { tag, data } => format!("Wrong Type (tag 0x{tag:02x}): {}", hex(data)),
        // A kind async-snmp may add later.
        other => format!("Wrong Type: {other:?}"),
    }
}

/// An OCTET STRING: quoted text when every byte is printable or white
/// space in the C locale (`"` and `\` escaped), hex otherwise.
fn octets(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "\"\"".to_string();
    }
    let printable = bytes
        .iter()
        .all(|&b| (0x20..=0x7e).contains(&b) || (0x09..=0x0d).contains(&b));
    if !printable {
        return format!("Hex-STRING: {}", hex(bytes));
    }
    let mut out = String::with_capacity(bytes.len() + 10);
    out.push_str("STRING: \"");
    for &b in bytes {
        if b == b'"' || b == b'\\' {
            out.push('\\');
        }
        out.push(char::from(b));
    }
    out.push('"');
    out
}

/// `%02X ` per byte, a line break after each full line of 16 when more
/// follow.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3 + bytes.len() / 16);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 16 == 0 {
            out.push('\n');
        }
        let _ = write!(out, "{b:02X} ");
    }
    out
}

/// net-snmp's `uptimeString`: `H:MM:SS.CC`, with days in front when there
/// are any.
fn uptime(ticks: u32) -> String {
    let centis = ticks % 100;
    let secs = ticks / 100;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hours, minutes, seconds) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let clock = format!("{hours}:{minutes:02}:{seconds:02}.{centis:02}");
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        n => format!("{n} days, {clock}"),
    }
}

/// `snmpget`'s stderr for an error-status in the response:
/// `Error in packet` (`snmpgetnext`, `next`: with a full stop), the reason
/// as net-snmp's `snmp_errstring` words it, and the failed object when
/// the agent named one.
pub fn packet_error(status: ErrorStatus, failed: Option<&Oid>, next: bool) -> String {
    let reason = match status {
        ErrorStatus::TooBig => "(tooBig) Response message would have been too large.",
        ErrorStatus::NoSuchName => "(noSuchName) There is no such variable name in this MIB.",
        ErrorStatus::BadValue => "(badValue) The value given has the wrong type or length.",
        ErrorStatus::ReadOnly => {
            "(readOnly) The two parties used do not have access to use the specified SNMP PDU."
        }
        ErrorStatus::GenErr => "(genError) A general failure occured",
        ErrorStatus::NoAccess => "noAccess",
        ErrorStatus::AuthorizationError => "authorizationError (access denied to that object)",
        ErrorStatus::ResourceUnavailable => {
            "resourceUnavailable (This is likely a out-of-memory failure within the agent)"
        }
        other => other.as_str().unwrap_or("Unknown Error"),
    };
    let stop = if next { "." } else { "" };
    let mut text = format!("Error in packet{stop}\nReason: {reason}");
    if let Some(o) = failed {
        let _ = write!(text, "\nFailed object: {}", oid(o));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> Oid {
        Oid::parse(s).expect("oid")
    }

    #[test]
    fn values_print_like_snmpget() {
        let table: &[(Value, &str)] = &[
            (Value::Integer(-42), "INTEGER: -42"),
            (Value::Gauge32(77), "Gauge32: 77"),
            (Value::Counter32(1000), "Counter32: 1000"),
            (
                Value::Counter64(12_345_678_901_234),
                "Counter64: 12345678901234",
            ),
            (Value::TimeTicks(123_456), "Timeticks: (123456) 0:20:34.56"),
            (
                Value::TimeTicks(8_640_000),
                "Timeticks: (8640000) 1 day, 0:00:00.00",
            ),
            (
                Value::TimeTicks(26_438_321),
                "Timeticks: (26438321) 3 days, 1:26:23.21",
            ),
            (
                Value::ObjectIdentifier(o("1.3.6.1.4.1.99999.42")),
                "OID: iso.3.6.1.4.1.99999.42",
            ),
            (Value::IpAddress([192, 0, 2, 7]), "IpAddress: 192.0.2.7"),
            (
                Value::OctetString(b"say \"hi\" \\ back".to_vec().into()),
                r#"STRING: "say \"hi\" \\ back""#,
            ),
            (Value::OctetString(Vec::new().into()), "\"\""),
            (
                Value::OctetString(vec![1, 2, 0xff, 0x41].into()),
                "Hex-STRING: 01 02 FF 41 ",
            ),
            (
                Value::NoSuchInstance,
                "No Such Instance currently exists at this OID",
            ),
        ];
        for (v, want) in table {
            assert_eq!(value(v), *want, "{v:?}");
        }
        let long = Value::OctetString(vec![0u8; 17].into());
        assert_eq!(
            value(&long),
            format!("Hex-STRING: {}\n00 ", "00 ".repeat(16))
        );
    }

    #[test]
    fn oids_and_errors_print_like_snmpget() {
        assert_eq!(oid(&o("1.3.6.1.2.1.1.5.0")), "iso.3.6.1.2.1.1.5.0");
        assert_eq!(oid(&o("0.0")), "ccitt.0");
        assert_eq!(
            packet_error(ErrorStatus::NoSuchName, Some(&o("1.3.6.1.4.1.9.100")), false),
            "Error in packet\nReason: (noSuchName) There is no such variable name in this MIB.\nFailed object: iso.3.6.1.4.1.9.100"
        );
        assert_eq!(
            packet_error(ErrorStatus::AuthorizationError, None, false),
            "Error in packet\nReason: authorizationError (access denied to that object)"
        );
        assert_eq!(
            packet_error(ErrorStatus::NoSuchName, None, true),
            "Error in packet.\nReason: (noSuchName) There is no such variable name in this MIB."
        );
    }
}
