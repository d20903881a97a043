//! A throwaway network namespace for ICMP tests: `vt-<pid>-<n>`, joined
//! to the test's namespace by a veth pair addressed in a 10.200.X.Y/30 (and
//! a fd00:200:X:Y::/64) of its own, torn down on drop.
//!
//! Tests only ever send to [`Netns::peer`] (inside the namespace) or to
//! loopback; packet loss is made with nftables rules inside the namespace,
//! or delay with a userspace responder inside it ([`SlowEcho`]), so
//! nothing outside it is touched. Needs root (or CAP_NET_ADMIN) and
//! iproute2 + nftables; when any step fails the test fails, naming it.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// A network namespace with a veth link to ours.
pub struct Netns {
    /// The namespace's name.
    pub name: String,
    /// Our end of the veth pair.
    host_if: String,
    /// The namespace's address on the link: the host the tests ping.
    pub peer: Ipv4Addr,
    /// Its IPv6 address (a ULA /64 of the same numbers).
    pub peer6: Ipv6Addr,
}

/// Runs `program args`, panicking with its stderr and a hint on failure.
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install iproute2 and nftables (.ci/deps)")
        });
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}): {} — ICMP tests need root, iproute2 and nftables",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl Netns {
    /// Creates the namespace, the veth pair and the addresses, and brings
    /// `lo` and both ends up.
    pub fn new() -> Netns {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // The /30 from the pid and the counter: 10.200.X.(4k+1, 4k+2).
        let slot = (pid % 64) * 64 + (n % 64);
        let (x, k) = ((slot / 64 % 256) as u8, (slot % 64) as u8);
        let local = Ipv4Addr::new(10, 200, x, 4 * k + 1);
        let peer = Ipv4Addr::new(10, 200, x, 4 * k + 2);
        let prefix = [0xfd00, 0x200, u16::from(x), u16::from(k)];
        let v6 = |host| {
            let [a, b, c, d] = prefix;
            Ipv6Addr::new(a, b, c, d, 0, 0, 0, host)
        };
        let ns = Netns {
            name: format!("vt-{pid}-{n}"),
            host_if: format!("vt{pid}h{n}"),
            peer,
            peer6: v6(2),
        };
        let peer_if = format!("vt{pid}p{n}");
        run("ip", &["netns", "add", &ns.name]);
        run(
            "ip",
            &[
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &peer_if,
            ],
        );
        run("ip", &["link", "set", &peer_if, "netns", &ns.name]);
        run(
            "ip",
            &["addr", "add", &format!("{local}/30"), "dev", &ns.host_if],
        );
        // nodad: usable at once, no duplicate address detection wait.
        let local6 = format!("{}/64", v6(1));
        run("ip", &["addr", "add", &local6, "dev", &ns.host_if, "nodad"]);
        run("ip", &["link", "set", &ns.host_if, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["-n", ns.name.as_str()];
            all.extend_from_slice(args);
            run("ip", &all);
        };
        inside(&["addr", "add", &format!("{peer}/30"), "dev", &peer_if]);
        let peer6 = format!("{}/64", ns.peer6);
        inside(&["addr", "add", &peer6, "dev", &peer_if, "nodad"]);
        inside(&["link", "set", &peer_if, "up"]);
        inside(&["link", "set", "lo", "up"]);
        ns
    }

    /// Runs `nft` with `args` inside the namespace.
    pub fn nft(&self, args: &[&str]) {
        let mut all = vec!["netns", "exec", self.name.as_str(), "nft"];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    /// Adds an input filter chain to the namespace and `rule` to it
    /// (e.g. `icmp type echo-request drop`).
    pub fn filter_input(&self, rule: &str) {
        self.nft(&["add", "table", "inet", "t"]);
        self.nft(&[
            "add",
            "chain",
            "inet",
            "t",
            "c",
            "{ type filter hook input priority 0; }",
        ]);
        let mut args = vec!["add", "rule", "inet", "t", "c"];
        args.extend(rule.split_whitespace());
        self.nft(&args);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting one end of a veth deletes both; then the namespace.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A userspace echo responder inside a namespace that answers every echo
/// request after a delay (the kernel's own answers switched off with
/// `net.ipv4.icmp_echo_ignore_all=1`). Stops when dropped.
pub struct SlowEcho {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Netns {
    /// Starts a [`SlowEcho`] answering after `delay`.
    pub fn slow_echo(&self, delay: Duration) -> SlowEcho {
        self.sysctl("net.ipv4.icmp_echo_ignore_all=1");
        let name = self.name.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            enter(&name);
            let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
                .expect("raw ICMP socket in the namespace");
            let socket = UdpSocket::from(socket);
            socket
                .set_read_timeout(Some(Duration::from_millis(5)))
                .expect("read timeout");
            ready_tx.send(()).expect("ready");
            answer_late(&socket, delay, &stopping);
        });
        ready_rx.recv().expect("responder started");
        SlowEcho {
            stop,
            thread: Some(thread),
        }
    }
}

/// The responder's loop: queue each echo request, send its reply when due.
fn answer_late(socket: &UdpSocket, delay: Duration, stop: &AtomicBool) {
    let mut due: Vec<(Instant, Vec<u8>, SocketAddr)> = Vec::new();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            let ihl = usize::from(buf[0] & 0x0f) * 4;
            let icmp = &buf[ihl.min(n)..n];
            if icmp.len() >= 8 && icmp[0] == 8 {
                let mut reply = icmp.to_vec();
                reply[0] = 0;
                reply[2..4].copy_from_slice(&[0, 0]);
                let sum = checksum(&reply).to_be_bytes();
                reply[2..4].copy_from_slice(&sum);
                due.push((Instant::now() + delay, reply, from));
            }
        }
        let now = Instant::now();
        due.retain(|(at, reply, to)| {
            if *at > now {
                return true;
            }
            let _ = socket.send_to(reply, to);
            false
        });
    }
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Drop for SlowEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Netns {
    /// Sets a sysctl (`key=value`) inside the namespace.
    pub fn sysctl(&self, setting: &str) {
        run(
            "ip",
            &["netns", "exec", &self.name, "sysctl", "-qw", setting],
        );
    }
}

/// Moves the calling thread into namespace `name` for good and drops
/// `CAP_NET_RAW` from it, as an unprivileged engine would run: call it on
/// a thread of its own.
pub fn enter_without_net_raw(name: &str) {
    enter(name);
    drop_net_raw();
}

/// Moves the calling thread into namespace `name`, for good.
fn enter(name: &str) {
    let netns =
        std::fs::File::open(format!("/run/netns/{name}")).expect("open the namespace handle");
    // SAFETY: setns(2) on an open namespace descriptor; it moves only the
    // calling thread, which its caller dedicates to the namespace.
    let rc = unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Clears `CAP_NET_RAW` from the calling thread's effective and permitted
/// sets (capabilities are per thread on Linux).
fn drop_net_raw() {
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_NET_RAW: u32 = 13;
    let mut header = CapHeader {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget(2) with a version-3 header and the two data structs
    // that version fills; both outlive the call.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget: {}", std::io::Error::last_os_error());
    let bit = 1u32 << CAP_NET_RAW;
    data[0].effective &= !bit;
    data[0].permitted &= !bit;
    // SAFETY: capset(2) with the same header and data layout; pid 0 is
    // the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
}
