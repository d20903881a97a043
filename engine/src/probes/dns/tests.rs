//! The verdict table: answers in, the plugin's text out.

use super::wire::{Address, Response};
use super::*;

fn probe(args: &str) -> DnsProbe {
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    config::parse(&args).expect("native")
}

fn reply(rcode: u8, aa: bool, addrs: &[&str]) -> Response {
    Response {
        id: 1,
        authoritative: aa,
        truncated: false,
        rcode,
        qname: "a.test".into(),
        qtype: wire::TYPE_A,
        answer_count: addrs.len() as u16,
        addresses: addrs
            .iter()
            .map(|a| match a.parse().expect("ip") {
                IpAddr::V4(ip) => Address::V4(ip),
                IpAddr::V6(ip) => Address::V6(ip),
            })
            .collect(),
    }
}

fn answers(a: Response, aaaa: Option<Response>) -> Exchange {
    Exchange::Answers { a, aaaa }
}

#[test]
fn verdicts_read_like_the_plugin() {
    let both = || {
        answers(
            reply(0, true, &["192.0.2.21", "192.0.2.20"]),
            Some(reply(0, true, &["2001:db8::5"])),
        )
    };
    let base = "-H a.test -s 127.0.0.1";
    let table: Vec<(String, Exchange, Status, &str)> = vec![
        (
            base.into(),
            both(),
            Status::Ok,
            "DNS OK: 0.004 seconds response time. a.test returns 192.0.2.20,192.0.2.21,2001:db8::5|time=0.004000s;;;0.000000",
        ),
        (
            format!("{base} -a 192.0.2.0/24,10.1.1.1 -L"),
            both(),
            Status::Critical,
            "DNS CRITICAL - expected '192.0.2.0/24; 10.1.1.1' but got '192.0.2.20,192.0.2.21,2001:db8::5'",
        ),
        (format!("{base} -a 192.0.2.21"), both(), Status::Ok, ""),
        // ip2long reads the IPv6 address as 0.
        (format!("{base} -a 0.0.0.0/8,192.0.2.0/24 -L"), both(), Status::Ok, ""),
        (
            format!("{base} -w 0.001 -c 1"),
            both(),
            Status::Warning,
            "DNS WARNING: 0.004 seconds response time. a.test returns 192.0.2.20,192.0.2.21,2001:db8::5|time=0.004000s;0.001000;1.000000;0.000000",
        ),
        (
            base.into(),
            answers(reply(3, true, &[]), None),
            Status::Critical,
            "Domain 'a.test' was not found by the server",
        ),
        (
            format!("{base} -n"),
            answers(reply(0, true, &["192.0.2.1"]), Some(reply(2, true, &[]))),
            Status::Ok,
            "DNS OK: 0.004 seconds response time. a.test returns NXDOMAIN|time=0.004000s;;;0.000000",
        ),
        (
            format!("{base} -n"),
            answers(reply(0, true, &["192.0.2.1"]), Some(reply(0, true, &[]))),
            Status::Critical,
            "DNS CRITICAL - Domain 'a.test' was found by the server: '192.0.2.1'",
        ),
        (
            base.into(),
            answers(reply(0, true, &["192.0.2.1"]), Some(reply(5, true, &[]))),
            Status::Critical,
            "Connection to DNS 127.0.0.1 was refused",
        ),
        (
            format!("{base} -A"),
            answers(reply(0, false, &[]), Some(reply(0, true, &["::1"]))),
            Status::Critical,
            "DNS CRITICAL - server 127.0.0.1 is not authoritative for a.test",
        ),
        (
            base.into(),
            answers(reply(0, true, &[]), Some(reply(0, true, &[]))),
            Status::Critical,
            "Domain 'a.test' was not found by the server",
        ),
        (base.into(), Exchange::NoResponse, Status::Critical, "No response from DNS 127.0.0.1"),
        (
            base.into(),
            Exchange::Malformed(wire::WireError::BadPointer),
            Status::Critical,
            "DNS CRITICAL - malformed response from DNS 127.0.0.1: bad compression pointer",
        ),
    ];
    for (args, exchange, status, text) in table {
        let (got_status, got_text) = probe(&args).verdict(exchange, 0.004);
        assert_eq!(got_status, status, "{args}: {got_text}");
        if !text.is_empty() {
            assert_eq!(got_text, text, "{args}");
        }
    }
}

#[test]
fn singular_second_for_one_point_something() {
    let (_, text) = probe("-H a.test -s 127.0.0.1").verdict(
        answers(reply(0, true, &["192.0.2.1"]), Some(reply(0, true, &[]))),
        1.25,
    );
    assert!(
        text.starts_with("DNS OK: 1.250 second response time."),
        "{text}"
    );
}
