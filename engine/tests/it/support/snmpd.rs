//! SNMP peers for the `snmp` probe tests: Debian's real `snmpd` on a
//! loopback port of its own, with values the test controls (sysName,
//! sysContact, a `pass` script serving one OID of each type), and
//! [`Hostile`], a tiny UDP responder that answers badly on purpose.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::TempDir;

/// The v2c/v1 community snmpd answers.
pub const COMMUNITY: &str = "public";
/// sysName.0 as configured.
pub const SYS_NAME: &str = "vedette-test";
/// v3 users: (name, auth protocol, auth pass, priv protocol, priv pass).
pub const AUTH_USER: (&str, &str, &str) = ("authuser", "SHA", "authpass123");
/// The authPriv SHA/AES user.
pub const PRIV_USER: (&str, &str, &str, &str, &str) =
    ("privuser", "SHA", "authpass123", "AES", "privpass123");
/// An authPriv MD5/DES user.
pub const DES_USER: (&str, &str, &str, &str, &str) =
    ("desuser", "MD5", "authpass456", "DES", "privpass456");
/// nsExtendOutputFull."two": a string value of two lines.
pub const TWO_LINES: &str = "1.3.6.1.4.1.8072.1.3.2.3.1.2.3.116.119.111";
/// Under this prefix the pass script serves `.1` .. `.14` (see [`PASS`]).
pub const BASE: &str = "1.3.6.1.4.1.99999";

/// The `pass` script: one OID per SNMP type, `.3` a counter read from
/// the file `counter` next to it.
const PASS: &str = r#"#!/bin/sh
[ "$1" = "-g" ] || exit 0
dir=$(dirname "$0")
case "$2" in
.1.3.6.1.4.1.99999.1) printf '%s\ninteger\n-42\n' "$2";;
.1.3.6.1.4.1.99999.2) printf '%s\ngauge\n77\n' "$2";;
.1.3.6.1.4.1.99999.3) printf '%s\ncounter\n%s\n' "$2" "$(cat "$dir/counter")";;
.1.3.6.1.4.1.99999.4) printf '%s\nstring\n42\n' "$2";;
.1.3.6.1.4.1.99999.5) printf '%s\nstring\nsay "hi" \\ back\n' "$2";;
.1.3.6.1.4.1.99999.6) printf '%s\ntimeticks\n123456\n' "$2";;
.1.3.6.1.4.1.99999.7) printf '%s\ncounter64\n12345678901234\n' "$2";;
.1.3.6.1.4.1.99999.8) printf '%s\nobjectid\n.1.3.6.1.4.1.99999.42\n' "$2";;
.1.3.6.1.4.1.99999.9) printf '%s\nipaddress\n192.0.2.7\n' "$2";;
.1.3.6.1.4.1.99999.10) printf '%s\noctet\n01 02 ff 41\n' "$2";;
.1.3.6.1.4.1.99999.11) printf '%s\nstring\n\n' "$2";;
.1.3.6.1.4.1.99999.12) printf '%s\nstring\n12.5 apples\n' "$2";;
.1.3.6.1.4.1.99999.13) printf '%s\ninteger\n0\n' "$2";;
.1.3.6.1.4.1.99999.14) printf '%s\noctet\n00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13\n' "$2";;
esac
"#;

/// A running snmpd, killed (by its PID) on drop.
pub struct Snmpd {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: TempDir,
}

impl Snmpd {
    /// Starts snmpd on a free loopback port and waits until it answers.
    pub fn start() -> Snmpd {
        let bin = Path::new("/usr/sbin/snmpd");
        assert!(
            bin.exists(),
            "snmpd is missing: install Debian's snmpd (apt-get install snmpd)"
        );
        snmpget();
        let dir = TempDir::new("snmpd");
        let port = free_udp_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let pass = dir.path().join("pass.sh");
        std::fs::write(&pass, PASS).expect("write pass script");
        let two = dir.path().join("two.sh");
        std::fs::write(&two, "#!/bin/sh\necho 'line one'\necho 'line \"two\"'\n")
            .expect("write extend script");
        std::fs::write(dir.path().join("counter"), "1000\n").expect("write counter");
        let persist = dir.path().join("persist");
        std::fs::create_dir_all(&persist).expect("persistent dir");
        let (au, aa, ap) = AUTH_USER;
        let (pu, pa, pap, pp, ppp) = PRIV_USER;
        let (du, da, dap, dp, dpp) = DES_USER;
        let conf = format!(
            "agentaddress udp:127.0.0.1:{port}\n\
             rocommunity {COMMUNITY} 127.0.0.1\n\
             createUser {au} {aa} \"{ap}\"\n\
             createUser {pu} {pa} \"{pap}\" {pp} \"{ppp}\"\n\
             createUser {du} {da} \"{dap}\" {dp} \"{dpp}\"\n\
             rouser {au} auth\n\
             rouser {pu} priv\n\
             rouser {du} priv\n\
             sysName {SYS_NAME}\n\
             sysContact ops@vedette.test\n\
             sysLocation rack 7\n\
             pass .{BASE} /bin/sh {}\n\
             extend two /bin/sh {}\n",
            pass.display(),
            two.display()
        );
        let conf_path = dir.path().join("snmpd.conf");
        std::fs::write(&conf_path, conf).expect("write snmpd.conf");
        let log = std::fs::File::create(dir.path().join("snmpd.log")).expect("log file");
        let child = Command::new(bin)
            .args(["-f", "-Lo", "-C", "-c"])
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.path().join("snmpd.pid"))
            .env("SNMP_PERSISTENT_DIR", &persist)
            // No MIB files: numeric OIDs only, and no parse noise.
            .env("MIBS", "")
            .env("MIBDIRS", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn snmpd");
        let mut d = Snmpd { child, addr, dir };
        super::wait_for(15, "snmpd to answer", || {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("snmpd exited with {status}:\n{}", d.log());
            }
            d.answers().then_some(())
        });
        d
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Sets the value the counter OID (`BASE.3`) returns.
    pub fn set_counter(&self, value: u64) {
        std::fs::write(self.dir.path().join("counter"), format!("{value}\n"))
            .expect("write counter");
    }

    /// snmpd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("snmpd.log")).unwrap_or_default()
    }

    /// Whether snmpd answers a v2c GET of sysName.0.
    fn answers(&self) -> bool {
        Command::new(snmpget())
            .args(["-v2c", "-c", COMMUNITY, "-t", "0.3", "-r", "0", "-m", ""])
            .arg(self.addr.to_string())
            .arg("1.3.6.1.2.1.1.5.0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// net-snmp's `snmpget`, which check_snmp runs; fails naming the package.
fn snmpget() -> &'static str {
    let bin = "/usr/bin/snmpget";
    assert!(
        Path::new(bin).exists(),
        "snmpget is missing: install Debian's snmp (apt-get install snmp)"
    );
    bin
}

/// A loopback UDP port nothing is bound to right now.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port");
    s.local_addr().expect("local addr").port()
}

/// How [`Hostile`] answers each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// The request echoed back as a response with another request id.
    WrongId,
    /// That response with the right id, cut in half.
    Truncated,
    /// Random-looking bytes.
    Garbage,
    /// A response whose lengths claim more bytes than there are.
    Overlong,
}

/// A misbehaving SNMP agent on a loopback port; stops on drop.
pub struct Hostile {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    /// Starts the responder.
    pub fn start(how: Misbehaviour) -> Hostile {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the hostile agent");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stopping.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(packet) = answer(&buf[..n], how) {
                    let _ = socket.send_to(&packet, peer);
                }
            }
        });
        Hostile {
            addr,
            stop,
            thread: Some(thread),
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

/// Offset and length of the TLV at `at`'s contents (short and long
/// definite lengths).
fn tlv(packet: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *packet.get(at + 1)? as usize;
    if first < 0x80 {
        return Some((at + 2, first));
    }
    let n = first & 0x7f;
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *packet.get(at + 2 + i)? as usize;
    }
    Some((at + 2 + n, len))
}

/// The packet sent back for a v1/v2c `request`, bent as `how` says.
fn answer(request: &[u8], how: Misbehaviour) -> Option<Vec<u8>> {
    if how == Misbehaviour::Garbage {
        return Some((0u8..60).map(|i| i.wrapping_mul(89) ^ 0xa5).collect());
    }
    // SEQUENCE { version, community, PDU { request-id, ... } }
    let (body, _) = tlv(request, 0)?;
    let (v, vlen) = tlv(request, body)?;
    let community = v + vlen;
    let (c, clen) = tlv(request, community)?;
    let pdu = c + clen;
    let (id, idlen) = tlv(request, pdu)?;
    let mut response = request.to_vec();
    *response.get_mut(pdu)? = 0xa2;
    match how {
        Misbehaviour::WrongId => {
            *response.get_mut(id + idlen - 1)? ^= 0x5a;
            Some(response)
        }
        Misbehaviour::Truncated => {
            response.truncate(response.len() / 2);
            Some(response)
        }
        Misbehaviour::Overlong => {
            // The outer SEQUENCE claims 64 KiB more than was sent.
            let mut out = vec![0x30, 0x83, 0x01, 0x00, 0x00];
            out.extend_from_slice(response.get(body..)?);
            Some(out)
        }
        Misbehaviour::Garbage => None,
    }
}
