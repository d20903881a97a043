//! DNS peers for the `dns` probe tests: a real `dnsmasq` serving a small
//! `vedette.test` zone on a loopback address, port 53 (check_dns cannot
//! use another port), and [`Hostile`], a tiny UDP server that answers
//! badly on purpose.
//!
//! Addresses: 127.53.0.1 dnsmasq, 127.53.0.2-3 the hostile servers,
//! 127.53.0.9 nothing (a closed port). Nothing else uses 127.53/16.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::TempDir;

/// Where dnsmasq listens.
pub const SERVER: &str = "127.53.0.1";
/// Where the [`Hostile`] servers listen: one address per test, as tests
/// run in parallel.
pub const HOSTILE: [&str; 2] = ["127.53.0.2", "127.53.0.3"];
/// A loopback address with nothing on port 53.
pub const CLOSED: &str = "127.53.0.9";

/// The zone, as a hosts file: `multi` has two A and one AAAA record;
/// `big` ([`BIG_RECORDS`]) more A records than fit a 512-byte UDP answer.
const HOSTS: &str = "\
192.0.2.10 ok.vedette.test
192.0.2.21 multi.vedette.test
192.0.2.20 multi.vedette.test
2001:db8::5 multi.vedette.test
2001:db8::10 v6.vedette.test
";

/// How many A records `big.vedette.test` has (198.51.100.1 up).
const BIG_RECORDS: u8 = 40;

/// A running dnsmasq, killed (by its PID) on drop.
pub struct Dnsmasq {
    child: Child,
    _dir: TempDir,
}

impl Dnsmasq {
    /// Starts dnsmasq on [`SERVER`]:53 and waits until it answers.
    pub fn start() -> Dnsmasq {
        let bin = Path::new("/usr/sbin/dnsmasq");
        assert!(
            bin.exists(),
            "dnsmasq is missing: install Debian's dnsmasq-base (apt-get install dnsmasq-base)"
        );
        let dir = TempDir::new("dnsmasq");
        let hosts = dir.path().join("hosts");
        let mut zone = HOSTS.to_string();
        for n in 1..=BIG_RECORDS {
            zone.push_str(&format!("198.51.100.{n} big.vedette.test\n"));
        }
        std::fs::write(&hosts, zone).expect("write hosts file");
        let child = Command::new(bin)
            .args([
                "--no-daemon",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--port=53",
                "--user=root",
                "--group=root",
                // Names under vedette.test not listed are NXDOMAIN, not REFUSED.
                "--local=/vedette.test/",
                "--txt-record=txt.vedette.test,hello",
            ])
            .arg(format!("--listen-address={SERVER}"))
            .arg(format!("--addn-hosts={}", hosts.display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dnsmasq");
        let mut d = Dnsmasq { child, _dir: dir };
        super::wait_for(10, "dnsmasq to answer", || {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("dnsmasq exited with {status} (is {SERVER}:53 taken?)");
            }
            answers().then_some(())
        });
        d
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether something answers a query on [`SERVER`]:53.
fn answers() -> bool {
    let Ok(s) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let q = b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02ok\x07vedette\x04test\x00\x00\x01\x00\x01";
    let mut buf = [0u8; 512];
    s.send_to(q, (SERVER, 53)).is_ok() && s.recv(&mut buf).is_ok()
}

/// How [`Hostile`] answers each query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// A well-formed answer with the wrong id, nothing else.
    WrongId,
    /// A wrong-id answer, then random-looking bytes with the right id.
    Garbage,
    /// A good answer cut off inside its record.
    Cut,
    /// An answer whose record name is a pointer to itself.
    PointerLoop,
    /// A well-formed but TC-flagged answer.
    Truncated,
}

/// A misbehaving DNS server on port 53 of one of [`HOSTILE`]; stops on
/// drop. A test changes how it misbehaves with [`Hostile::set`] rather than
/// starting another, so the port is bound once per test.
pub struct Hostile {
    stop: Arc<AtomicBool>,
    how: Arc<Mutex<Misbehaviour>>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    /// Starts the server on `addr`, port 53.
    pub fn start(addr: &str, how: Misbehaviour) -> Hostile {
        let socket = bind(addr);
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let how = Arc::new(Mutex::new(how));
        let current = how.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stopping.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let how = *current.lock().unwrap_or_else(|e| e.into_inner());
                for packet in answer(&buf[..n], how) {
                    let _ = socket.send_to(&packet, peer);
                }
            }
        });
        Hostile {
            stop,
            how,
            thread: Some(thread),
        }
    }

    /// Answers every later query as `how` says.
    pub fn set(&self, how: Misbehaviour) {
        *self.how.lock().unwrap_or_else(|e| e.into_inner()) = how;
    }
}

/// Binds `addr`:53, retrying for a while: a short-lived wildcard socket on
/// port 53 elsewhere on the machine makes the bind fail for a moment. When
/// it keeps failing, the panic names who holds the port.
fn bind(addr: &str) -> UdpSocket {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match UdpSocket::bind((addr, 53)) {
            Ok(socket) => return socket,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                let holders = Command::new("ss")
                    .args(["-ulpn", "sport = :53"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                panic!(
                    "bind the hostile DNS server on {addr}:53: {e}; port 53 holders:\n{holders}"
                );
            }
        }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The packets sent back for `query`: an A record 192.0.2.99 bent as
/// `how` says.
fn answer(query: &[u8], how: Misbehaviour) -> Vec<Vec<u8>> {
    if query.len() < 12 {
        return Vec::new();
    }
    let mut good = query.to_vec();
    good[2] = 0x85; // QR, AA, RD
    good[3] = 0x80;
    good[7] = 1; // one answer
    good.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x63");
    let mut wrong_id = good.clone();
    wrong_id[0] ^= 0xff;
    match how {
        Misbehaviour::WrongId => vec![wrong_id],
        Misbehaviour::Garbage => {
            let mut junk = query[..2].to_vec();
            junk.extend((0u8..40).map(|i| i.wrapping_mul(97) ^ 0x5a));
            vec![wrong_id, junk]
        }
        Misbehaviour::Cut => {
            good.truncate(good.len() - 3);
            vec![good]
        }
        Misbehaviour::PointerLoop => {
            let at = query.len();
            good[at] = 0xc0 | (at >> 8) as u8;
            good[at + 1] = at as u8;
            vec![good]
        }
        Misbehaviour::Truncated => {
            good[2] |= 0x02;
            vec![good]
        }
    }
}
