//! `tcp` scenario, all in one run against one listener child process
//! (backlog 4096, accepts and closes):
//!
//! 1. the bare floor: a tokio loop doing only connect + close;
//! 2. Vedette's native `tcp` probe through the full engine;
//! 3. the same checks forked as the real `check_tcp` (`native_probes = false`).
//!
//! The listener runs in a child so its CPU is not counted as the engine's.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::proc_stat::cpu_seconds;
use crate::scenario::{measure, report, scratch, write_config};
use crate::Load;

/// Concurrent connects of the bare floor loop.
const FLOOR_TASKS: usize = 64;
/// Checks of the forked run: forking costs milliseconds of CPU per check,
/// so a few hundred per second already saturate two cores.
const FORKED_CHECKS: usize = 2_000;

struct Listener(Child);

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs the scenario.
pub fn run(load: &Load) -> anyhow::Result<()> {
    let port = free_port()?;
    let exe = std::env::current_exe()?;
    let child = Command::new(exe)
        .args(["listen", "--port", &port.to_string()])
        .spawn()
        .context("start the listener child")?;
    let _listener = Listener(child);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let up = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(addr).is_err() {
        anyhow::ensure!(Instant::now() < up, "listener did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }

    let (floor_rate, floor_cpu) = floor(addr, load.duration.min(Duration::from_secs(20)))?;
    let floor_secs = load.duration.min(Duration::from_secs(20)).as_secs_f64();
    println!(
        "tcp/floor: tokio connect+close, {FLOOR_TASKS} concurrent: {floor_rate:.0}/s, {:.4} cpu-s/1000 checks",
        floor_cpu / (floor_rate * floor_secs).max(1.0) * 1000.0
    );

    let plugin = "/usr/lib/nagios/plugins/check_tcp";
    anyhow::ensure!(
        std::path::Path::new(plugin).exists(),
        "{plugin} missing: apt-get install monitoring-plugins-basic"
    );
    let line = format!("{plugin} -H 127.0.0.1 -p {port}");
    let dir = scratch("tcp")?;
    let cfg = write_config(&dir, load, &line)?;
    let native = measure(&cfg, &dir, load)?;
    report("tcp/native", load, &native);

    let forked_load = Load {
        checks: FORKED_CHECKS.min(load.checks),
        ..load.clone()
    };
    let cfg = write_config(&dir, &forked_load, &line)?;
    let text = std::fs::read_to_string(&cfg)?;
    std::fs::write(&cfg, format!("[engine]\nnative_probes = false\n{text}"))?;
    let forked = measure(&cfg, &dir, &forked_load)?;
    report("tcp/forked", &forked_load, &forked);

    println!(
        "tcp/ratios: native/floor rate = {:.2}; native/forked cpu per check = {:.0}x",
        native.rate / floor_rate.max(1.0),
        forked.cpu_per_1000 / native.cpu_per_1000.max(1e-9)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The bare floor: connect + close as fast as `FLOOR_TASKS` tasks can on a
/// current-thread runtime (one core, as a shard has). Returns the rate and
/// the CPU seconds used.
fn floor(addr: std::net::SocketAddr, duration: Duration) -> anyhow::Result<(f64, f64)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (cpu0, _) = cpu_seconds();
    let start = Instant::now();
    let n = rt.block_on(async move {
        let deadline = tokio::time::Instant::now() + duration;
        let mut tasks = Vec::new();
        for _ in 0..FLOOR_TASKS {
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while tokio::time::Instant::now() < deadline {
                    if tokio::net::TcpStream::connect(addr).await.is_ok() {
                        n += 1;
                    }
                }
                n
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap_or(0);
        }
        total
    });
    let wall = start.elapsed().as_secs_f64();
    let (cpu1, _) = cpu_seconds();
    Ok((n as f64 / wall, cpu1 - cpu0))
}

/// The listener child: accept and close, backlog 4096, on two threads.
pub fn listen(port: u16) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.set_reuseaddr(true)?;
        sock.bind(format!("127.0.0.1:{port}").parse()?)?;
        let l = sock.listen(4096)?;
        loop {
            if let Ok((s, _)) = l.accept().await {
                drop(s);
            }
        }
    })
}
