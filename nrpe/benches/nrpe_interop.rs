//! Checks per second over loopback, in one run:
//!
//! 1. our client → our server (`vedette_nrpe::server`, in process),
//! 2. our client → Debian's nrpe daemon (forks per connection, runs the
//!    command through `popen`, i.e. a shell),
//! 3. forking Debian's `check_nrpe` → Debian's nrpe daemon (what a
//!    Nagios poller does).
//!
//! Each runs [`CONCURRENCY`] queries at once (the engine's per-host bound)
//! for `NRPE_BENCH_SECS` seconds (default 5), TLS with anonymous DH, the
//! command `/bin/echo OK`. Needs root (the daemon drops to `nobody`) and
//! the Debian packages nagios-nrpe-server and nagios-nrpe-plugin.
//!
//!     cargo bench -p vedette-nrpe --bench nrpe_interop
//!
//! Measured on the shared 2-core build machine (other builds running, so
//! take the ratios, not the absolute figures), NRPE_BENCH_SECS=5:
//! see nrpe/README.md "Benchmark".

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vedette_nrpe::client::{query, Options};
use vedette_nrpe::server::config::Config;
use vedette_nrpe::server::Server;
use vedette_nrpe::tls::Security;

/// Queries in flight at once: the engine's per-host bound.
const CONCURRENCY: usize = 4;
const DAEMON: &str = "/usr/sbin/nrpe";
const CHECK_NRPE: &str = "/usr/lib/nagios/plugins/check_nrpe";

struct Tally {
    ok: u64,
    failed: u64,
    secs: f64,
}

fn main() {
    for (path, package) in [
        (DAEMON, "nagios-nrpe-server"),
        (CHECK_NRPE, "nagios-nrpe-plugin"),
    ] {
        assert!(
            Path::new(path).exists(),
            "{path} missing: install {package}"
        );
    }
    let secs: u64 = std::env::var("NRPE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let length = Duration::from_secs(secs);

    let ours_port = start_ours();
    let dir = std::env::temp_dir().join(format!("vedette-nrpe-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut daemon = start_debian(&dir);
    let debian_port = daemon.1;

    let rows = [
        ("our client -> our server", client(ours_port, length)),
        ("our client -> Debian nrpe", client(debian_port, length)),
        (
            "forked check_nrpe -> Debian nrpe",
            forked(debian_port, length),
        ),
    ];
    let _ = daemon.0.kill();
    let _ = daemon.0.wait();
    let _ = std::fs::remove_dir_all(&dir);

    println!("| scenario ({CONCURRENCY} at once, TLS ADH, {secs} s) | checks/s | failed |");
    println!("| --- | ---: | ---: |");
    for (name, t) in rows {
        println!("| {name} | {:.0} | {} |", t.ok as f64 / t.secs, t.failed);
    }
}

/// Our server on its own thread and runtime, as `vedette-nrpe serve` runs.
fn start_ours() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut config = Config {
                address: Some("127.0.0.1".parse().expect("ip")),
                port: 0,
                ..Config::default()
            };
            config.commands.insert("ok".into(), "/bin/echo OK".into());
            let server = Server::bind(config, &Security::Anonymous)
                .await
                .expect("bind");
            tx.send(server.local_addr().expect("addr").port())
                .expect("send port");
            let _ = server.serve().await;
        });
    });
    rx.recv().expect("server port")
}

fn start_debian(dir: &Path) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let cfg = dir.join("nrpe.cfg");
    std::fs::write(
        &cfg,
        format!(
            "pid_file={}/nrpe.pid\nserver_port={port}\nserver_address=127.0.0.1\n\
             nrpe_user=nobody\nnrpe_group=nogroup\nallowed_hosts=127.0.0.1\n\
             command_timeout=10\ncommand[ok]=/bin/echo OK\n",
            dir.display()
        ),
    )
    .expect("write nrpe.cfg");
    let child = Command::new(DAEMON)
        .arg("-c")
        .arg(&cfg)
        .arg("-f")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nrpe");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nrpe not listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, port)
}

fn client(port: u16, length: Duration) -> Tally {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    rt.block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let mut tasks = Vec::new();
                for _ in 0..CONCURRENCY {
                    let (ok, failed) = (ok.clone(), failed.clone());
                    tasks.push(tokio::task::spawn_local(async move {
                        let options = Options::default();
                        while started.elapsed() < length {
                            match query("127.0.0.1", port, "ok", &options).await {
                                Ok(r) if r.result == 0 => ok.fetch_add(1, Ordering::Relaxed),
                                _ => failed.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            })
            .await;
    });
    Tally {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        secs: started.elapsed().as_secs_f64(),
    }
}

fn forked(port: u16, length: Duration) -> Tally {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && started.elapsed() < length {
                    let out = Command::new(CHECK_NRPE)
                        .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-c", "ok"])
                        .output();
                    match out {
                        Ok(o) if o.status.success() => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    stop.store(true, Ordering::Relaxed);
    Tally {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        secs: started.elapsed().as_secs_f64(),
    }
}
