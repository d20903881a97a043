//! The peers the tests talk to: Debian's nrpe daemon and check_nrpe, our
//! server and CLI, each on a loopback port of its own with a temporary
//! config, stopped by PID on drop.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Debian's daemon.
pub const NRPE_DAEMON: &str = "/usr/sbin/nrpe";
/// Debian's plugin.
pub const CHECK_NRPE: &str = "/usr/lib/nagios/plugins/check_nrpe";
/// Our binary.
pub const OURS: &str = env!("CARGO_BIN_EXE_vedette-nrpe");

/// Fails the test, naming the package, when `path` is missing.
pub fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install the Debian package {package} (bash .ci/deps)"
    );
}

/// A temporary directory, world-readable (the nrpe daemon runs its
/// commands as `nobody`), removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "vedette-nrpe-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        set_mode(&p, 0o755);
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes an executable script and returns its path.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
        set_mode(&p, 0o755);
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768 up): a port from that range
    // can be taken as the source port of any outgoing connection between
    // this choice and the bind, and the kernel may hand the same one to two
    // binds in a row. No port is handed out twice in one test process.
    static NEXT: std::sync::Mutex<u16> = std::sync::Mutex::new(0);
    let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
    if *next == 0 {
        // Test binaries run one after another; spreading them by pid keeps
        // a lingering peer of the last one out of the way.
        *next = 20_000 + (std::process::id() % 1_000) as u16 * 10;
    }
    loop {
        let port = *next;
        *next = if port >= 32_000 { 20_000 } else { port + 1 };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The commands every test config defines, for the scripts in `dir`.
pub fn commands(dir: &TempDir) -> String {
    let ok = dir.script("ok.sh", "echo \"OK - all fine|load=0.5;1;2 $*\"\nexit 0");
    let crit = dir.script(
        "crit.sh",
        "echo 'CRITICAL - disk full'\necho 'second line'\nexit 2",
    );
    let slow = dir.script("slow.sh", "sleep 10\necho late");
    let mut lines = format!(
        "command[ok]={} $ARG1$ $ARG2$\ncommand[crit]={}\ncommand[slow]={}\n",
        ok.display(),
        crit.display(),
        slow.display()
    );
    // Edge cases where a daemon's own exit-code and output rules show.
    let edges = [
        ("exit5", "echo five\nexit 5"),
        ("killed", "echo killed\nkill -9 $$"),
        ("newlines", "printf 'a\\r\\n\\n'"),
        ("nul", "printf 'a\\000b\\n'"),
        ("stderr", "echo oops >&2\nexit 1"),
    ];
    for (name, body) in edges {
        let script = dir.script(&format!("{name}.sh"), body);
        lines += &format!("command[{name}]={}\n", script.display());
    }
    // Lines only a shell runs as meant, and lines with nothing to run.
    lines += "command[missing]=/no/such/plugin -x\ncommand[builtin]=exit 2\n\
              command[assign]=FOO=bar /usr/bin/printenv FOO\ncommand[blank]=$ARG1$\n";
    lines
}

/// How a daemon is set up for a test.
pub struct Setup<'a> {
    pub tls: bool,
    pub arguments: bool,
    pub allowed: &'a str,
    pub command_timeout: u32,
    /// Certificate mode: the server's certificate, and client
    /// certificates signed by the CA required.
    pub certs: Option<&'a Certs>,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            tls: true,
            arguments: false,
            allowed: "127.0.0.1",
            command_timeout: 2,
            certs: None,
        }
    }
}

/// A test CA with a server and a client certificate, made by the openssl
/// CLI (Debian package openssl), world-readable for the daemon's `nobody`.
pub struct Certs {
    dir: TempDir,
}

impl Certs {
    pub fn new() -> Certs {
        let dir = TempDir::new("certs");
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl CLI: install the Debian package openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        for name in ["server", "client"] {
            let (key, csr, pem) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
            );
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &key,
                "-out",
                &csr,
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
            ]);
        }
        for f in std::fs::read_dir(dir.path())
            .expect("read certs dir")
            .flatten()
        {
            set_mode(&f.path(), 0o644);
        }
        Certs { dir }
    }

    /// The path of `name` (`ca.pem`, `server.key`, `client.pem`, …).
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn config(&self) -> String {
        format!(
            "ssl_cert_file={}\nssl_privatekey_file={}\nssl_cacert_file={}\nssl_client_certs=2\n",
            self.path("server.pem"),
            self.path("server.key"),
            self.path("ca.pem")
        )
    }
}

/// A running daemon (Debian's or ours), killed by PID on drop.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: TempDir,
}

impl Daemon {
    /// Debian's `nrpe -f`, with a fresh nrpe.cfg.
    pub fn debian(setup: &Setup) -> Daemon {
        require(NRPE_DAEMON, "nagios-nrpe-server");
        let dir = TempDir::new("nrpe");
        let port = free_port();
        let cfg = format!(
            "pid_file={dir}/nrpe.pid\nlog_file={dir}/nrpe.log\ndebug=1\nserver_port={port}\n\
             server_address=127.0.0.1\nnrpe_user=nobody\nnrpe_group=nogroup\n\
             allowed_hosts={allowed}\ndont_blame_nrpe={args}\ncommand_timeout={ct}\n\
             connection_timeout=10\n{certs}{commands}",
            dir = dir.path().display(),
            certs = setup.certs.map(Certs::config).unwrap_or_default(),
            allowed = setup.allowed,
            args = u8::from(setup.arguments),
            ct = setup.command_timeout,
            commands = commands(&dir),
        );
        let path = dir.path().join("nrpe.cfg");
        std::fs::write(&path, cfg).expect("write nrpe.cfg");
        let mut cmd = Command::new(NRPE_DAEMON);
        cmd.arg("-c").arg(&path).arg("-f");
        if !setup.tls {
            cmd.arg("-n");
        }
        let log = dir.path().join("nrpe.log");
        Daemon::start(cmd, port, log, dir)
    }

    /// Our `vedette-nrpe serve`, with the same kind of nrpe.cfg.
    pub fn ours(setup: &Setup) -> Daemon {
        let dir = TempDir::new("ours");
        let port = free_port();
        let cfg = format!(
            "server_port={port}\nserver_address=127.0.0.1\nallowed_hosts={allowed}\n\
             dont_blame_nrpe={args}\ncommand_timeout={ct}\nconnection_timeout=10\n\
             pid_file=/ignored\nnrpe_user=nobody\n{certs}{commands}",
            certs = setup.certs.map(Certs::config).unwrap_or_default(),
            allowed = setup.allowed,
            args = u8::from(setup.arguments),
            ct = setup.command_timeout,
            commands = commands(&dir),
        );
        let path = dir.path().join("nrpe.cfg");
        std::fs::write(&path, cfg).expect("write nrpe.cfg");
        let log = dir.path().join("serve.log");
        let mut cmd = Command::new(OURS);
        cmd.arg("serve").arg("--config").arg(&path);
        if !setup.tls {
            cmd.arg("--no-ssl");
        }
        cmd.env("RUST_LOG", "debug");
        Daemon::start(cmd, port, log, dir)
    }

    fn start(mut cmd: Command, port: u16, log: PathBuf, dir: TempDir) -> Daemon {
        let out = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let mut d = Daemon {
            child,
            port,
            log,
            _dir: dir,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("{cmd:?} exited at start ({status}): {}", d.stderr());
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{cmd:?} does not listen on {addr}: {}",
                d.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// What the daemon wrote to stderr (and its log file), for messages.
    pub fn stderr(&self) -> String {
        let dir = self.log.parent().unwrap_or(Path::new("."));
        let a = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
        let b = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("{a}{b}")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a check_nrpe-like run printed and exited with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `program -H 127.0.0.1 -p PORT ARGS`.
pub fn run(program: &str, port: u16, args: &[&str]) -> Run {
    Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
        .into()
}

/// Runs Debian's check_nrpe.
pub fn check_nrpe(port: u16, args: &[&str]) -> Run {
    require(CHECK_NRPE, "nagios-nrpe-plugin");
    run(CHECK_NRPE, port, args)
}

/// Runs check_nrpe until it is not killed by a signal: when a daemon
/// hangs up before the TLS handshake, check_nrpe sometimes dies of SIGPIPE
/// (its bug, a race; a Rust binary ignores SIGPIPE and reports the error).
pub fn check_nrpe_unbroken(port: u16, args: &[&str]) -> Run {
    for _ in 0..10 {
        let r = check_nrpe(port, args);
        if r.code >= 0 {
            return r;
        }
    }
    panic!("check_nrpe {args:?} killed by a signal 10 times in a row");
}

/// Runs our CLI.
pub fn ours(port: u16, args: &[&str]) -> Run {
    run(OURS, port, args)
}
