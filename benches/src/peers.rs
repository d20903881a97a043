//! The real peers the probe scenarios check: a TCP accept-and-close
//! listener (a child of this binary), nginx, dnsmasq and snmpd, each on a
//! loopback address of its own with a config in a scratch directory.
//! The listener and nginx can also answer on every loopback address
//! ([`Bind::Spread`]), for scenarios whose hosts are spread over
//! [`spread_addr`]'s addresses.
//!
//! Each runs in the foreground as one process and is killed by its PID
//! when the [`Daemon`] is dropped, so an error anywhere in a scenario
//! still stops it. Peers run in their own processes so their CPU is not
//! counted as the engine's.

use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// The loopback address the bench's peers listen on. 127.53/16 belongs to
/// the engine's dns tests; this one is the bench's alone.
pub const PEER_ADDR: &str = "127.54.0.1";

/// How many distinct loopback addresses [`spread_addr`] hands out.
///
/// Every connect from the engine to one address and port draws from the
/// same ~28K ephemeral ports, and each closed connection holds its 4-tuple
/// in TIME_WAIT; at 16.7K connects/s that space runs out and the kernel's
/// port search takes most of the CPU. Spread over 4,000 addresses the
/// same rate is 4 connects/s per address.
pub const SPREAD: usize = 4_000;

/// The `i`-th spread address (modulo [`SPREAD`]): 127.54.16.1 to
/// 127.54.31.250, all inside 127.0.0.0/8, which the kernel routes to `lo`
/// without any address being added.
pub fn spread_addr(i: usize) -> Ipv4Addr {
    let i = i % SPREAD;
    // SPREAD / 250 < 240, so the third octet stays within 16..=255.
    Ipv4Addr::new(127, 54, 16 + (i / 250) as u8, 1 + (i % 250) as u8)
}

/// Which local addresses a TCP peer accepts connections on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    /// [`PEER_ADDR`] only.
    Peer,
    /// Every address (one wildcard socket), so [`spread_addr`]'s addresses
    /// all reach it. Only loopback addresses are ever checked; nginx also
    /// refuses requests from anywhere else (`allow 127.0.0.0/8`).
    Spread,
}

impl Bind {
    /// The address the peer's socket binds.
    fn ip(self) -> &'static str {
        match self {
            Bind::Peer => PEER_ADDR,
            Bind::Spread => "0.0.0.0",
        }
    }

    /// A free TCP port for the peer: free on the wildcard address when it
    /// will bind that (a port free on [`PEER_ADDR`] may be bound on
    /// another loopback address).
    fn free_port(self) -> anyhow::Result<u16> {
        Ok(std::net::TcpListener::bind((self.ip(), 0))?
            .local_addr()?
            .port())
    }
}

/// The name dnsmasq answers for, and its address.
pub const DNS_NAME: &str = "bench.vedette.test";
/// [`DNS_NAME`]'s A record.
pub const DNS_ANSWER: &str = "192.0.2.54";

/// The OID the SNMP scenarios GET: sysDescr.0.
pub const SNMP_OID: &str = "1.3.6.1.2.1.1.1.0";
/// The v2c community snmpd grants read access to.
pub const SNMP_COMMUNITY: &str = "public";

/// The static file nginx serves, small on purpose: the bench measures
/// requests, not bytes.
pub const HTTP_PATH: &str = "/index.html";

/// A peer process, killed (by PID) and reaped on drop, with its scratch
/// directory removed.
pub struct Daemon {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    dir: Option<PathBuf>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Daemon {
    /// Waits until `ready` holds, failing early when the process exits.
    fn wait(&mut self, what: &str, ready: impl Fn(SocketAddr) -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready(self.addr) {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("{what} exited with {status}{}", self.logs());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{what} did not answer on {} within 10 s{}",
                self.addr,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn logs(&self) -> String {
        let Some(d) = &self.dir else {
            return String::new();
        };
        let text = std::fs::read_to_string(d.join("stderr.log")).unwrap_or_default();
        format!(": {}", text.trim())
    }
}

fn need(bin: &str, package: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        Path::new(bin).exists(),
        "{bin} is missing: apt-get install {package} (or run .ci/deps)"
    );
    Ok(())
}

fn scratch_dir(tag: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("vedette-bench-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

fn stderr_log(dir: &Path) -> anyhow::Result<Stdio> {
    Ok(std::fs::File::create(dir.join("stderr.log"))?.into())
}

/// Makes the kernel kill the child when this process dies, even by a
/// signal or an abort that skips [`Daemon`]'s drop: no peer outlives its
/// bench.
fn die_with_us(cmd: &mut Command) -> &mut Command {
    // SAFETY: prctl(2) is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        })
    }
}

fn tcp_accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// The accept-and-close listener: this binary's hidden `listen` command.
/// Its [`Daemon::addr`] is on [`PEER_ADDR`] either way.
pub fn tcp_listener(bind: Bind) -> anyhow::Result<Daemon> {
    let port = bind.free_port()?;
    let child = die_with_us(&mut Command::new(std::env::current_exe()?))
        .args(["listen", "--addr", &format!("{}:{port}", bind.ip())])
        .spawn()
        .context("start the listener child")?;
    let mut d = Daemon {
        addr: format!("{PEER_ADDR}:{port}").parse()?,
        child,
        dir: None,
    };
    d.wait("the listener", tcp_accepts)?;
    Ok(d)
}

/// nginx, one process (`master_process off`), serving [`HTTP_PATH`] with a
/// 4096 backlog and keep-alive connections that stay open. Its
/// [`Daemon::addr`] is on [`PEER_ADDR`] either way.
pub fn nginx(bind: Bind) -> anyhow::Result<Daemon> {
    let bin = "/usr/sbin/nginx";
    need(bin, "nginx")?;
    let dir = scratch_dir("nginx")?;
    std::fs::create_dir_all(dir.join("www"))?;
    std::fs::create_dir_all(dir.join("tmp"))?;
    std::fs::write(dir.join("www").join(&HTTP_PATH[1..]), "ok\n")?;
    let port = bind.free_port()?;
    let d = dir.display();
    let listen = match bind {
        Bind::Peer => format!("{PEER_ADDR}:{port}"),
        Bind::Spread => port.to_string(),
    };
    // As root, workers would switch to `nobody` and miss the files.
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    let conf = format!(
        "{user}
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 16384; multi_accept on; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp;
  fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  root {d}/www;
  allow 127.0.0.0/8; deny all;
  server {{ listen {listen} backlog=4096; }}
}}
"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf)?;
    let child = die_with_us(&mut Command::new(bin))
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(stderr_log(&dir)?)
        .spawn()
        .context("spawn nginx")?;
    let mut n = Daemon {
        addr: format!("{PEER_ADDR}:{port}").parse()?,
        child,
        dir: Some(dir),
    };
    n.wait("nginx", tcp_accepts)?;
    Ok(n)
}

/// dnsmasq on [`PEER_ADDR`]:53 (check_dns's nslookup only speaks to
/// port 53) answering [`DNS_NAME`] from a host record.
pub fn dnsmasq() -> anyhow::Result<Daemon> {
    let bin = "/usr/sbin/dnsmasq";
    need(bin, "dnsmasq-base")?;
    let dir = scratch_dir("dnsmasq")?;
    let child = die_with_us(&mut Command::new(bin))
        .args([
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--port=53",
            "--user=root",
            "--group=root",
            "--cache-size=0",
            "--dns-forward-max=10000",
            "--local=/vedette.test/",
        ])
        .arg(format!("--listen-address={PEER_ADDR}"))
        .arg(format!("--host-record={DNS_NAME},{DNS_ANSWER}"))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .stdout(Stdio::null())
        .stderr(stderr_log(&dir)?)
        .spawn()
        .context("spawn dnsmasq")?;
    let mut d = Daemon {
        addr: format!("{PEER_ADDR}:53").parse()?,
        child,
        dir: Some(dir),
    };
    let query = crate::wire::dns_query(DNS_NAME, crate::wire::DNS_A);
    d.wait("dnsmasq (is 127.54.0.1:53 taken?)", |a| {
        udp_answers(a, &query)
    })?;
    Ok(d)
}

/// snmpd in the foreground on a free UDP port of [`PEER_ADDR`], reading
/// only its own config (v2c, read-only [`SNMP_COMMUNITY`]).
pub fn snmpd() -> anyhow::Result<Daemon> {
    let bin = "/usr/sbin/snmpd";
    need(bin, "snmpd")?;
    need("/usr/bin/snmpget", "snmp")?;
    let dir = scratch_dir("snmpd")?;
    let port = UdpSocket::bind((PEER_ADDR, 0))?.local_addr()?.port();
    let conf = dir.join("snmpd.conf");
    std::fs::write(
        &conf,
        format!("rocommunity {SNMP_COMMUNITY} 127.0.0.0/8\nsysDescr Vedette bench snmpd\n"),
    )?;
    let child = die_with_us(&mut Command::new(bin))
        .args(["-f", "-Le", "-C", "-c"])
        .arg(&conf)
        .arg("-p")
        .arg(dir.join("pid"))
        .arg(format!("udp:{PEER_ADDR}:{port}"))
        .stdout(Stdio::null())
        .stderr(stderr_log(&dir)?)
        .spawn()
        .context("spawn snmpd")?;
    let mut d = Daemon {
        addr: format!("{PEER_ADDR}:{port}").parse()?,
        child,
        dir: Some(dir),
    };
    let get = crate::wire::snmp_get(SNMP_COMMUNITY, SNMP_OID)?;
    d.wait("snmpd", |a| udp_answers(a, &get))?;
    Ok(d)
}

fn udp_answers(addr: SocketAddr, request: &[u8]) -> bool {
    let Ok(s) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let mut buf = [0u8; 1500];
    s.set_read_timeout(Some(Duration::from_millis(200))).is_ok()
        && s.send_to(request, addr).is_ok()
        && s.recv(&mut buf).is_ok()
}

/// The listener child: accept and close, backlog 4096, on one worker.
pub fn listen(addr: SocketAddr) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.set_reuseaddr(true)?;
        sock.bind(addr)?;
        let l = sock.listen(4096)?;
        loop {
            if let Ok((s, _)) = l.accept().await {
                drop(s);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_addresses_are_distinct_loopback_and_wrap() {
        let all: std::collections::HashSet<Ipv4Addr> = (0..SPREAD).map(spread_addr).collect();
        assert_eq!(all.len(), SPREAD);
        let peer: Ipv4Addr = PEER_ADDR.parse().expect("an address");
        assert!(!all.contains(&peer));
        for a in &all {
            assert!(a.is_loopback(), "{a}");
            let last = a.octets()[3];
            assert!(last != 0 && last != 255, "{a}");
        }
        assert_eq!(spread_addr(SPREAD + 7), spread_addr(7));
    }
}
