//! Differential tests: each native check against the monitoring-plugins
//! binary it replaces (Debian `monitoring-plugins-basic`), run with the same
//! flags on this machine. Same state, same output once numbers are masked,
//! same perfdata labels, units and thresholds; values within a tolerance
//! where the machine may move between the two reads. Each also crosses a
//! threshold on purpose and expects the same state from both.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use vedette_agent::checks::{disk, load, procs, swap};
use vedette_proto::check::{CheckResult, Status};
use vedette_proto::plugin_output;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// Runs plugin `name` with `args` and reads its answer like the engine would.
fn plugin(name: &str, args: &[&str]) -> CheckResult {
    let path = Path::new(PLUGINS).join(name);
    assert!(
        path.exists(),
        "{} missing: install the Debian package monitoring-plugins-basic",
        path.display()
    );
    let out = Command::new(&path).args(args).output().expect("run plugin");
    let status = Status::from_exit_code(out.status.code().unwrap_or(3));
    plugin_output::parse(status, &String::from_utf8_lossy(&out.stdout))
}

/// Replaces every number by `#`, so texts compare by shape.
fn mask(text: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// One perfdata item split into label, value, unit and the four limits.
#[derive(Debug)]
struct Item {
    label: String,
    value: f64,
    uom: String,
    limits: Vec<String>,
}

fn items(perfdata: &str) -> Vec<Item> {
    perfdata
        .split_ascii_whitespace()
        .map(|item| {
            let (label, rest) = item.split_once('=').expect("label=value");
            let mut fields = rest.split(';');
            let first = fields.next().unwrap_or_default();
            let split = first
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .unwrap_or(first.len());
            Item {
                label: label.to_string(),
                value: first[..split].parse().expect("perf value"),
                uom: first[split..].to_string(),
                limits: fields.map(str::to_string).collect(),
            }
        })
        .collect()
}

/// Whether two numbers agree within `tol` relative (or absolute, near 0).
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

/// Asserts `native` matches `real`: state and masked output exactly,
/// perfdata labels/units exactly, values and limits within `tol`.
fn assert_same(what: &str, native: &CheckResult, real: &CheckResult, tol: f64) {
    assert_eq!(
        native.status, real.status,
        "{what}: state\nnative: {native:?}\nplugin: {real:?}"
    );
    assert_eq!(
        mask(&native.output),
        mask(&real.output),
        "{what}: output shape"
    );
    let (n, r) = (items(&native.perfdata), items(&real.perfdata));
    assert_eq!(
        n.len(),
        r.len(),
        "{what}: perfdata items\nnative: {n:?}\nplugin: {r:?}"
    );
    for (n, r) in n.iter().zip(&r) {
        assert_eq!(
            (&n.label, &n.uom),
            (&r.label, &r.uom),
            "{what}: perfdata label/unit"
        );
        assert!(
            close(n.value, r.value, tol),
            "{what}: {} value {} vs {}",
            n.label,
            n.value,
            r.value
        );
        assert_eq!(
            n.limits.len(),
            r.limits.len(),
            "{what}: {} limits {:?} vs {:?}",
            n.label,
            n.limits,
            r.limits
        );
        for (a, b) in n.limits.iter().zip(&r.limits) {
            let same = a == b
                || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if close(x, y, tol));
            assert!(
                same,
                "{what}: {} limits {:?} vs {:?}",
                n.label, n.limits, r.limits
            );
        }
    }
}

/// A directory of this test's own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("vedette-agent-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_load(args: &[&str]) -> CheckResult {
    load::Load::new(load::LoadConfig::from_args(args).expect("load flags")).run()
}

#[test]
fn load_matches_check_load() {
    for args in [
        &["-w", "15,10,5", "-c", "30,25,20"][..],
        &["-r", "-w", "15,10,5", "-c", "30,25,20"],
        &["-w", "40", "-c", "50"],
    ] {
        // Load moves between the two reads: a generous tolerance on values,
        // thresholds must still be exact (they are far from the tolerance).
        assert_same(
            &format!("load {args:?}"),
            &run_load(args),
            &plugin("check_load", args),
            0.5,
        );
    }
    // Crossed on purpose: this test process is running, so load1 > 0.
    let args = ["-w", "0,0,0", "-c", "0,0,0"];
    let native = run_load(&args);
    assert_eq!(native.status, Status::Critical, "{native:?}");
    assert_same("load crossed", &native, &plugin("check_load", &args), 0.5);
}

/// A swap file switched on for the test and off again on drop.
struct SwapFile {
    path: PathBuf,
    _dir: TempDir,
}

impl SwapFile {
    fn on(mib: usize) -> SwapFile {
        let dir = TempDir::new("swap");
        let path = dir.0.join("swapfile");
        std::fs::write(&path, vec![0u8; mib * 1024 * 1024]).expect("write swap file");
        let status = Command::new("chmod")
            .arg("600")
            .arg(&path)
            .status()
            .expect("chmod");
        assert!(status.success());
        let status = Command::new("mkswap")
            .arg(&path)
            .output()
            .expect("mkswap (util-linux)");
        assert!(status.status.success(), "mkswap failed: {status:?}");
        let status = Command::new("swapon")
            .arg(&path)
            .output()
            .expect("swapon (util-linux)");
        assert!(
            status.status.success(),
            "swapon failed (needs root): {status:?}"
        );
        SwapFile { path, _dir: dir }
    }
}

impl Drop for SwapFile {
    fn drop(&mut self) {
        let _ = Command::new("swapoff").arg(&self.path).status();
    }
}

fn run_swap(args: &[&str]) -> CheckResult {
    swap::Swap::new(swap::SwapConfig::from_args(args).expect("swap flags")).run()
}

#[test]
fn swap_matches_check_swap() {
    let args = ["-w", "20%", "-c", "10%"];
    // Whatever swap the machine has (maybe none).
    assert_same(
        "swap as found",
        &run_swap(&args),
        &plugin("check_swap", &args),
        0.01,
    );
    let _swap = SwapFile::on(16);
    for args in [
        &args[..],
        &["-w", "1048576", "-c", "1024"],
        &["-w", "30%", "-c", "20%", "-n", "ok"],
    ] {
        let native = run_swap(args);
        assert_same(
            &format!("swap {args:?}"),
            &native,
            &plugin("check_swap", args),
            0.01,
        );
        assert!(native.output.contains("MB out of"), "{native:?}");
    }
    // Crossed on purpose: an unused swap file is 100% free, so "at most
    // 100% free" alerts, and 16 MiB free is at most 1 GiB.
    let crossed: [(&[&str], Status); 4] = [
        (&["-w", "100%", "-c", "10%"], Status::Warning),
        (&["-w", "100%", "-c", "100%"], Status::Critical),
        (&["-w", "1073741824", "-c", "1024"], Status::Warning),
        (&["-w", "0%", "-c", "1073741824"], Status::Critical),
    ];
    for (args, want) in crossed {
        let native = run_swap(args);
        assert_eq!(native.status, want, "{native:?}");
        assert_same(
            &format!("swap crossed {args:?}"),
            &native,
            &plugin("check_swap", args),
            0.01,
        );
    }
}

/// A small tmpfs mounted for the test, unmounted on drop, so disk numbers
/// stay still between the native read and the plugin's.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount() -> Tmpfs {
        let dir = TempDir::new("tmpfs");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "size=8m,nr_inodes=1000",
                "vedette-test",
            ])
            .arg(&dir.0)
            .output()
            .expect("mount (util-linux)");
        assert!(
            out.status.success(),
            "mounting a tmpfs failed (needs root): {out:?}"
        );
        // Use some space and inodes so neither is at 0%.
        std::fs::write(dir.0.join("fill"), vec![1u8; 3 * 1024 * 1024]).expect("fill tmpfs");
        for i in 0..100 {
            std::fs::write(dir.0.join(format!("f{i}")), b"x").expect("file on tmpfs");
        }
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir.0).status();
    }
}

fn run_disk(args: &[&str]) -> CheckResult {
    disk::Disk::new(disk::DiskConfig::from_args(args).expect("disk flags")).run()
}

#[test]
fn disk_matches_check_disk_on_root() {
    // `/usr/lib` is no mount point: both must name the mount holding it.
    for path in ["/", "/usr/lib"] {
        let args = ["-w", "20%", "-c", "10%", "-p", path];
        let native = run_disk(&args);
        assert!(native.output.contains("free space: / "), "{native:?}");
        // Other builds write to / meanwhile: 1% tolerance on bytes.
        assert_same(
            &format!("disk {path}"),
            &native,
            &plugin("check_disk", &args),
            0.01,
        );
    }
}

#[test]
fn disk_matches_check_disk_exactly_on_a_quiet_tmpfs() {
    let fs = Tmpfs::mount();
    let path = fs.dir.0.to_str().expect("utf-8 temp path");
    let cases: &[(&[&str], Status)] = &[
        (&["-w", "20%", "-c", "10%"], Status::Ok),
        (&["-w", "2M", "-c", "1M"], Status::Ok),
        (&["-w", "70%", "-c", "10%"], Status::Warning),
        (&["-w", "99%", "-c", "98%"], Status::Critical),
        (&["-w", "6M", "-c", "1M"], Status::Warning),
        (&["-W", "95%", "-K", "5%"], Status::Warning),
        (&["-W", "95%", "-K", "92%"], Status::Critical),
    ];
    for (flags, want) in cases {
        let mut args = flags.to_vec();
        args.extend(["-p", path]);
        let native = run_disk(&args);
        let real = plugin("check_disk", &args);
        assert_eq!(native.status, *want, "{args:?}: {native:?}");
        assert_eq!(
            (native.status, &native.output),
            (real.status, &real.output),
            "{args:?}"
        );
        assert_eq!(native.perfdata, real.perfdata, "{args:?}");
    }
    // A directory inside the mount is reported under the mount's name.
    let sub = fs.dir.0.join("sub");
    std::fs::create_dir(&sub).expect("mkdir on tmpfs");
    let args = [
        "-w",
        "20%",
        "-c",
        "10%",
        "-p",
        sub.to_str().expect("utf-8 temp path"),
    ];
    let native = run_disk(&args);
    assert!(native.output.contains(&format!(" {path} ")), "{native:?}");
    assert_eq!(native, plugin("check_disk", &args));
}

/// Copies of `sleep` under a name of the test's own, killed on drop.
struct Sleepers {
    name: String,
    children: Vec<Child>,
    _dir: TempDir,
}

impl Sleepers {
    fn start(count: usize) -> Sleepers {
        let dir = TempDir::new("procs");
        // comm holds at most 15 bytes; this stays under.
        let name = format!("vdt{}", std::process::id() % 1_000_000);
        let exe = dir.0.join(&name);
        std::fs::copy("/bin/sleep", &exe).expect("copy /bin/sleep (coreutils)");
        let children = (0..count)
            .map(|_| Command::new(&exe).arg("60").spawn().expect("start sleeper"))
            .collect();
        Sleepers {
            name,
            children,
            _dir: dir,
        }
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run_procs(args: &[&str]) -> CheckResult {
    procs::Procs::new(procs::ProcsConfig::from_args(args).expect("procs flags")).run()
}

#[test]
fn procs_matches_check_procs() {
    let sleepers = Sleepers::start(3);
    let name = sleepers.name.as_str();
    let cases: &[(&[&str], Status)] = &[
        (&["-w", "1:5", "-c", "1:10"], Status::Ok),
        (&["-w", "1:2", "-c", "1:10"], Status::Warning),
        (&["-w", "1:2", "-c", "@3"], Status::Critical),
        (&["-w", "5"], Status::Ok),
    ];
    for (flags, want) in cases {
        let mut args = vec!["-C", name];
        args.extend_from_slice(flags);
        let native = run_procs(&args);
        let real = plugin("check_procs", &args);
        assert_eq!(native.status, *want, "{args:?}: {native:?}");
        assert_eq!(native, real, "{args:?}");
    }
    let args = ["-C", "vdt-none-such", "-w", "1:5", "-c", "1:10"];
    let native = run_procs(&args);
    assert_eq!(native.status, Status::Critical);
    assert_eq!(native, plugin("check_procs", &args));
    drop(sleepers);
}

/// `free -b`'s `Mem:` line: (total, available) in bytes.
fn free_bytes() -> (f64, f64) {
    let out = Command::new("free")
        .arg("-b")
        .output()
        .expect("free (Debian package procps)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("Mem:"))
        .expect("Mem: line from free");
    let cols: Vec<f64> = line
        .split_ascii_whitespace()
        .skip(1)
        .map(|c| c.parse().expect("number"))
        .collect();
    assert!(cols.len() >= 6, "free -b has no available column: {line}");
    (cols[0], cols[5])
}

#[test]
fn memory_agrees_with_free() {
    let run = |args: &[&str]| {
        vedette_agent::checks::memory::Memory::new(
            vedette_agent::checks::memory::MemoryConfig::from_args(args).expect("memory flags"),
        )
        .run()
    };
    let native = run(&["-w", "101", "-c", "101"]);
    assert_eq!(native.status, Status::Ok, "{native:?}");
    let (total, available) = free_bytes();
    let perf = items(&native.perfdata);
    let labels: Vec<&str> = perf.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(labels, ["used_pct", "used", "available"]);
    // procps reads the same MemTotal/MemAvailable; memory moves a little.
    assert_eq!(
        perf[2].limits.last().map(String::as_str),
        Some(&*total.to_string())
    );
    assert!(
        close(perf[2].value, available, 0.05),
        "available {} vs free's {available}",
        perf[2].value
    );
    assert!(close(perf[1].value + perf[2].value, total, 1e-9));
    // Crossed on purpose: some memory is always in use.
    assert_eq!(run(&["-w", "0:0.001"]).status, Status::Warning);
    assert_eq!(
        run(&["-w", "0:0.001", "-c", "@0:100"]).status,
        Status::Critical
    );
}

#[test]
fn cpu_sees_a_busy_interval() {
    use vedette_agent::checks::cpu::{Cpu, CpuConfig};
    let mut cpu = Cpu::new(CpuConfig::from_args(&["-w", "0:1"]).expect("cpu flags"));
    cpu.run();
    // Spin one core for a while: with it busy, at least a good share of all
    // CPU time is busy, whatever else the machine does.
    let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
    let mut x = 0u64;
    while std::time::Instant::now() < until {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    let r = cpu.run();
    let busy = items(&r.perfdata)[0].value;
    // All CPUs the kernel counts, not just those this process may use.
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let cpus = stat
        .lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count()
        .max(1) as f64;
    assert!(
        busy >= 80.0 / cpus,
        "busy {busy}% after spinning one of {cpus} CPUs: {r:?}"
    );
    // Crossed on purpose: busy above 1% warns.
    assert_eq!(r.status, Status::Warning, "{r:?}");
}
