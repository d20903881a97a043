//! Differential tests for check_tcp's TLS (`-S`, `-D`, `--sni`) against
//! `openssl s_server`, and for the names check_tcp answers to
//! (`check_ftp`, `check_imap`, `check_pop`, `check_simap`, ...) against
//! banner servers: the native `tcp` probe and the real plugin, same line.

use std::time::Duration;

use vedette::check::Status;

use crate::probes_tcp::{differential_as, Compare};
use crate::support::probes::{Listening, Peer};
use crate::support::tcp_fixtures::{Certs, SServer, TlsBanner};

fn tcp(args: &str) -> vedette::check::CheckResult {
    differential_as("check_tcp", args, Compare::All)
}

#[test]
fn handshake_and_valid_certificate() {
    let certs = Certs::make();
    let server = SServer::start(&certs, "valid", None);
    let p = server.port;
    let r = tcp(&format!("-H 127.0.0.1 -p {p} -S"));
    assert_eq!(r.status, Status::Ok);
    // An OK certificate line comes first, then the usual one.
    let r = tcp(&format!("-H 127.0.0.1 -p {p} -D 30"));
    assert_eq!(r.status, Status::Ok);
    assert!(
        r.output
            .starts_with("OK - Certificate 'valid.test' will expire on "),
        "{}",
        r.output
    );
    assert!(r.long_output.starts_with("TCP OK - "), "{}", r.long_output);
    tcp(&format!("-H 127.0.0.1 -p {p} --ssl -D 30,7 -w 5 -c 9"));
    // The certificate is fine, the service says nothing: both lines.
    let r = tcp(&format!("-H 127.0.0.1 -p {p} -D 30 -e hello"));
    assert_eq!(r.status, Status::Critical);
}

#[test]
fn certificate_within_warning_and_critical_windows() {
    let certs = Certs::make();
    let valid = SServer::start(&certs, "valid", None);
    let expiring = SServer::start(&certs, "expiring", None);
    let r = tcp(&format!("-H 127.0.0.1 -p {} -D 30", expiring.port));
    assert_eq!(r.status, Status::Warning);
    // 4 days and some hours, or 5 when checked within its first second.
    assert!(r.output.contains(" day(s) ("), "{}", r.output);
    let r = tcp(&format!("-H 127.0.0.1 -p {} -D 30,10", expiring.port));
    assert_eq!(r.status, Status::Critical);
    // The windows are days, whatever the certificate's lifetime.
    let r = tcp(&format!("-H 127.0.0.1 -p {} -D 400,10", valid.port));
    assert_eq!(r.status, Status::Warning);
    let r = tcp(&format!("-H 127.0.0.1 -p {} -D 400,380", valid.port));
    assert_eq!(r.status, Status::Critical);
}

#[test]
fn expired_certificate() {
    let certs = Certs::make();
    let server = SServer::start(&certs, "expired", None);
    let r = tcp(&format!("-H 127.0.0.1 -p {} -D 30", server.port));
    assert_eq!(r.status, Status::Critical);
    assert_eq!(
        &*r.output,
        "CRITICAL - Certificate 'expired.test' expired on Sat Feb  1 00:00:00 2020 +0000."
    );
    // Without -D nobody looks at the dates.
    let r = tcp(&format!("-H 127.0.0.1 -p {} -S", server.port));
    assert_eq!(r.status, Status::Ok);
}

#[test]
fn sni_picks_the_certificate() {
    let certs = Certs::make();
    let server = SServer::start(&certs, "valid", Some(("alt.test", "expiring")));
    let p = server.port;
    let r = tcp(&format!("-H 127.0.0.1 -p {p} -D 30"));
    assert_eq!(r.status, Status::Ok);
    let r = tcp(&format!("-H 127.0.0.1 -p {p} -D 30 --sni=alt.test"));
    assert_eq!(r.status, Status::Warning);
    assert!(r.output.contains("'expiring.test'"), "{}", r.output);
    tcp(&format!("-H 127.0.0.1 -p {p} -D 30 --sni other.test"));
    tcp(&format!("-H 127.0.0.1 -p {p} -S --sni=alt.test"));
}

#[test]
fn peer_without_tls() {
    // (A peer that closes at once is left out: the plugin then may die of
    // SIGPIPE writing its ClientHello, or not, as the race goes.)
    let ssh = Listening::start(Peer::ssh());
    for flags in ["-S", "-D 30", "-S -e SSH"] {
        let args = format!("-H 127.0.0.1 -p {} {flags}", ssh.addr.port());
        let r = differential_as("check_tcp", &args, Compare::FirstLine);
        assert_eq!(r.status, Status::Critical);
        assert_eq!(&*r.output, "CRITICAL - Cannot make SSL connection.");
    }
    ssh.join();
}

/// `check_NAME -H 127.0.0.1 -p PORT ARGS`, both ways.
fn alias(name: &str, port: u16, args: &str) -> vedette::check::CheckResult {
    let args = format!("-H 127.0.0.1 -p {port} {args}");
    differential_as(name, &args, Compare::All)
}

fn banner(text: &'static [u8]) -> Listening {
    Listening::start(Peer::Banner {
        banner: text,
        delay: Duration::ZERO,
        hold: Duration::from_secs(3),
    })
}

#[test]
fn ftp_imap_pop_nntp_greetings() {
    let ftp = banner(b"220 ProFTPD Server ready.\r\n");
    let imap = banner(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n");
    let pop = banner(b"+OK Dovecot ready.\r\n");
    let nntp = banner(b"201 news.test NNRP ready (no posting)\r\n");
    let r = alias("check_ftp", ftp.addr.port(), "");
    assert_eq!(r.status, Status::Ok);
    assert!(r.output.starts_with("FTP OK - "), "{}", r.output);
    let r = alias("check_imap", imap.addr.port(), "-w 5");
    assert!(r.output.starts_with("IMAP OK - "), "{}", r.output);
    let r = alias("check_pop", pop.addr.port(), "");
    assert!(r.output.starts_with("POP OK - "), "{}", r.output);
    let r = alias("check_nntp", nntp.addr.port(), "");
    assert_eq!(r.status, Status::Ok);
    // The greeting must come first; -e matches anywhere instead.
    let r = alias("check_ftp", imap.addr.port(), "");
    assert_eq!(r.status, Status::Warning);
    let r = alias("check_ftp", imap.addr.port(), "-e Dovecot");
    assert_eq!(r.status, Status::Ok);
    alias("check_pop", ftp.addr.port(), "-M crit -j");
    // NNTP keeps 200 and 201 and adds -e.
    alias("check_nntp", nntp.addr.port(), "-e nothing-like-it");
    for peer in [ftp, imap, pop, nntp] {
        peer.join();
    }
}

#[test]
fn simap_and_spop_speak_tls_first() {
    let certs = Certs::make();
    let imaps = TlsBanner::start(&certs, "valid", b"* OK IMAPS ready.\r\n");
    let pops = TlsBanner::start(&certs, "expiring", b"+OK POP3S ready.\r\n");
    let r = alias("check_simap", imaps.addr.port(), "");
    assert_eq!(r.status, Status::Ok);
    assert!(r.output.starts_with("SIMAP OK - "), "{}", r.output);
    assert!(r.output.ends_with("[* OK IMAPS ready.]"), "{}", r.output);
    let r = alias("check_spop", pops.addr.port(), "");
    assert_eq!(r.status, Status::Ok);
    let r = alias("check_spop", pops.addr.port(), "-D 10,3");
    assert_eq!(r.status, Status::Warning);
    let r = alias("check_simap", imaps.addr.port(), "-D 30");
    assert!(
        r.long_output.starts_with("SIMAP OK - "),
        "{}",
        r.long_output
    );
    let r = alias("check_simap", pops.addr.port(), "");
    assert_eq!(r.status, Status::Warning);
    // A plain IMAP server where IMAPS was expected.
    let plain = banner(b"* OK plain\r\n");
    let args = format!("-H 127.0.0.1 -p {}", plain.addr.port());
    let r = differential_as("check_simap", &args, Compare::FirstLine);
    assert_eq!(r.status, Status::Critical);
    imaps.join();
    pops.join();
    plain.join();
}

#[test]
fn service_name_in_the_hostname_error() {
    let r = differential_as("check_imap", "-H nosuch.invalid", Compare::All);
    assert_eq!(
        &*r.output,
        "IMAP CRITICAL - Invalid hostname, address or socket: nosuch.invalid"
    );
}

#[test]
fn jabber_and_clamd_send_first() {
    let jabber =
        banner(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='1' from='test'>");
    let clamd = banner(b"PONG\n");
    // JABBER never prints what the server said.
    let r = alias("check_jabber", jabber.addr.port(), "");
    assert_eq!(r.status, Status::Ok);
    assert!(!r.output.contains("stream"), "{}", r.output);
    alias("check_jabber", clamd.addr.port(), "");
    let r = alias("check_clamd", clamd.addr.port(), "");
    assert!(r.output.ends_with("[PONG]"), "{}", r.output);
    jabber.join();
    clamd.join();
}

#[test]
fn socket_timeout_after_an_ok_certificate() {
    let certs = Certs::make();
    let silent = TlsBanner::start(&certs, "valid", b"");
    let args = format!("-H 127.0.0.1 -p {} -D 30 -e x -t 1", silent.addr.port());
    let r = tcp(&args);
    assert_eq!(r.status, Status::Critical);
    assert_eq!(&*r.long_output, "CRITICAL - Socket timeout after 1 seconds");
    silent.join();
}
