//! Our client against our server, in process: every packet version in both
//! TLS modes and plain, certificates, and hostile clients that must not
//! hurt the server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{commands, Certs, TempDir};
use vedette_nrpe::client::{query, ClientError, Options, Versions};
use vedette_nrpe::packet::{self, Kind, Packet, Version};
use vedette_nrpe::server::config::Config;
use vedette_nrpe::server::Server;
use vedette_nrpe::tls::{CertFiles, Security};

/// Starts our server on a free port in this runtime.
async fn start(dir: &TempDir, security: &Security, tweak: impl FnOnce(&mut Config)) -> SocketAddr {
    let path = dir.path().join("nrpe.cfg");
    std::fs::write(&path, commands(dir)).unwrap();
    let mut config = vedette_nrpe::server::config::load(&path).unwrap();
    config.address = Some("127.0.0.1".parse().unwrap());
    config.port = 0;
    config.allow_arguments = true;
    tweak(&mut config);
    let server = Server::bind(config, security).await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.serve());
    addr
}

fn options(security: &Security, first: Version) -> Options {
    Options {
        security: security.clone(),
        timeout: Duration::from_secs(5),
        versions: Versions {
            first,
            fall_back_to_v2: false,
        },
    }
}

#[tokio::test]
async fn every_version_plain_and_anonymous_tls() {
    let dir = TempDir::new("proto");
    for security in [Security::Plain, Security::Anonymous] {
        let addr = start(&dir, &security, |_| {}).await;
        for v in [Version::V2, Version::V3, Version::V4] {
            let r = query("127.0.0.1", addr.port(), "ok!a!b", &options(&security, v))
                .await
                .unwrap();
            assert_eq!((r.result, r.version), (0, v));
            assert_eq!(r.text, "OK - all fine|load=0.5;1;2 a b");
        }
    }
}

#[tokio::test]
async fn long_output_is_cut_to_the_version_s_buffer() {
    let dir = TempDir::new("long");
    let long = dir.script("long.sh", "head -c 5000 /dev/zero | tr '\\0' x; echo");
    let security = Security::Plain;
    let addr = start(&dir, &security, |c| {
        c.commands.insert("long".into(), long.display().to_string());
    })
    .await;
    let v2 = query(
        "127.0.0.1",
        addr.port(),
        "long",
        &options(&security, Version::V2),
    )
    .await
    .unwrap();
    assert_eq!(v2.text.len(), 1023);
    let v4 = query(
        "127.0.0.1",
        addr.port(),
        "long",
        &options(&security, Version::V4),
    )
    .await
    .unwrap();
    assert_eq!(v4.text.len(), 5000);
}

#[tokio::test]
async fn certificates_verified_both_ways() {
    let dir = TempDir::new("certs");
    let certs = Certs::new();
    let p = |n: &str| std::path::PathBuf::from(certs.path(n));
    let server = Security::Certificates(CertFiles {
        cert: Some(p("server.pem")),
        key: Some(p("server.key")),
        ca: Some(p("ca.pem")),
        require_peer_cert: true,
    });
    let addr = start(&dir, &server, |_| {}).await;
    let with_cert = Security::Certificates(CertFiles {
        cert: Some(p("client.pem")),
        key: Some(p("client.key")),
        ca: Some(p("ca.pem")),
        require_peer_cert: false,
    });
    let r = query(
        "127.0.0.1",
        addr.port(),
        "ok",
        &options(&with_cert, Version::V4),
    )
    .await
    .unwrap();
    assert_eq!(r.result, 0);
    // No client certificate: refused. Anonymous DH: no common cipher.
    let no_cert = Security::Certificates(CertFiles {
        ca: Some(p("ca.pem")),
        ..CertFiles::default()
    });
    assert!(query(
        "127.0.0.1",
        addr.port(),
        "ok",
        &options(&no_cert, Version::V4)
    )
    .await
    .is_err());
    assert!(query(
        "127.0.0.1",
        addr.port(),
        "ok",
        &options(&Security::Anonymous, Version::V4)
    )
    .await
    .is_err());
    // A server certificate our CA did not sign.
    let other_ca = Security::Certificates(CertFiles {
        cert: Some(p("client.pem")),
        key: Some(p("client.key")),
        ca: Some(p("client.pem")),
        require_peer_cert: false,
    });
    let e = query(
        "127.0.0.1",
        addr.port(),
        "ok",
        &options(&other_ca, Version::V4),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ClientError::Handshake { .. }), "{e}");
}

/// Sends raw bytes, returns what came back before the server closed.
fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[tokio::test]
async fn hostile_clients_get_closed_and_the_server_keeps_serving() {
    let dir = TempDir::new("hostile");
    let security = Security::Plain;
    let addr = start(&dir, &security, |c| {
        c.connection_timeout = Duration::from_secs(1)
    })
    .await;
    let good = packet::encode(&Packet {
        version: Version::V4,
        kind: Kind::Query,
        result: 0,
        text: "ok".into(),
    })
    .unwrap();
    let mut bad_crc = good.clone();
    bad_crc[20] ^= 0xff;
    let mut huge = good.clone();
    huge[12..16].copy_from_slice(&i32::MAX.to_be_bytes());
    let mut response = good.clone();
    response[3] = 2;
    let hostile: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        bad_crc,
        huge,
        good[..100].to_vec(),
        vec![0; 3],
        response,
    ];
    let check = tokio::task::spawn_blocking(move || {
        for h in &hostile {
            assert!(raw(addr, h).is_empty(), "answered {h:?}");
        }
        // Silent client: closed after connection_timeout.
        let started = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(s.read(&mut buf).unwrap(), 0);
        assert!(started.elapsed() < Duration::from_secs(4));
        let answer = raw(addr, &good);
        assert_eq!(packet::decode(&answer).unwrap().result, 0);
    });
    check.await.unwrap();
}

#[tokio::test]
async fn max_commands_queues_the_rest() {
    let dir = TempDir::new("cap");
    let nap = dir.script("nap.sh", "sleep 1; echo done");
    let security = Security::Plain;
    let addr = start(&dir, &security, |c| {
        c.max_commands = 1;
        c.commands.insert("nap".into(), nap.display().to_string());
    })
    .await;
    let started = Instant::now();
    let opts = options(&security, Version::V4);
    let (a, b) = tokio::join!(
        query("127.0.0.1", addr.port(), "nap", &opts),
        query("127.0.0.1", addr.port(), "nap", &opts)
    );
    assert_eq!(
        (a.unwrap().text, b.unwrap().text),
        ("done".into(), "done".into())
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
}
