//! Peers for the tcp probe's TLS tests: certificates made by the openssl
//! CLI, `openssl s_server` as the real TLS peer, and a small TLS banner
//! server (rustls) for the mail services, whose greeting s_server cannot
//! send on its own.
//!
//! | certificate | CN | valid |
//! | --- | --- | --- |
//! | `valid` | `valid.test` | 365 days from now |
//! | `expiring` | `expiring.test` | 5 days from now |
//! | `expired` | `expired.test` | 2020-01-01 to 2020-02-01 (signed by `openssl ca`, which takes dates) |
//!
//! All are X.509 v3: rustls refuses v1 certificates (what `openssl ca`
//! makes without extensions) where OpenSSL takes them.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use super::{free_port, TempDir};

/// How long a TLS banner peer waits for the quit string before closing.
const HOLD: Duration = Duration::from_secs(2);

/// The test certificates, in a temporary directory.
pub struct Certs {
    dir: TempDir,
}

impl Certs {
    /// Makes the three certificates of the table above.
    pub fn make() -> Certs {
        let dir = TempDir::new("tcp-certs");
        let d = dir.path();
        for (name, days) in [("valid", "365"), ("expiring", "5")] {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={name}.test"),
                "-days",
                days,
                "-keyout",
                &path(d, name, "key"),
                "-out",
                &path(d, name, "pem"),
            ]);
        }
        // `req -days` takes no past dates; `ca` signs with given ones.
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=expired.test",
            "-keyout",
            &path(d, "expired", "key"),
            "-out",
            &path(d, "expired", "csr"),
        ]);
        let ca_conf = "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\n\
            new_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = any\n\
            x509_extensions = v3\n[any]\ncommonName = supplied\n\
            [v3]\nbasicConstraints = CA:FALSE\n";
        std::fs::write(d.join("ca.cnf"), ca_conf).expect("ca config");
        std::fs::write(d.join("index.txt"), "").expect("ca index");
        std::fs::write(d.join("serial"), "01\n").expect("ca serial");
        let out = Command::new("openssl")
            .current_dir(d)
            .args(["ca", "-batch", "-config", "ca.cnf", "-selfsign", "-notext"])
            .args(["-keyfile", "expired.key", "-in", "expired.csr"])
            .args(["-out", "expired.pem"])
            .args([
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200201000000Z",
            ])
            .output()
            .expect(
                "the openssl CLI is missing: install Debian's openssl (apt-get install openssl)",
            );
        assert!(
            out.status.success(),
            "openssl ca failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Certs { dir }
    }

    /// The certificate `name` (PEM).
    pub fn cert(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.pem"))
    }

    /// Its private key (PEM).
    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.key"))
    }
}

fn path(dir: &Path, name: &str, ext: &str) -> String {
    dir.join(format!("{name}.{ext}")).display().to_string()
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is missing: install Debian's openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `openssl s_server`; killed on drop.
pub struct SServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

impl SServer {
    /// Serves certificate `name`, and `sni.1` to clients that ask for the
    /// server name `sni.0`. It sends nothing and closes each connection
    /// once the handshake is done and the client has spoken.
    pub fn start(certs: &Certs, name: &str, sni: Option<(&str, &str)>) -> SServer {
        let port = free_port();
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(certs.cert(name))
            .arg("-key")
            .arg(certs.key(name));
        if let Some((server_name, other)) = sni {
            cmd.args(["-servername", server_name])
                .arg("-cert2")
                .arg(certs.cert(other))
                .arg("-key2")
                .arg(certs.key(other));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "the openssl CLI is missing: install Debian's openssl (apt-get install openssl)",
            );
        let mut server = SServer { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("openssl s_server exited with {status}");
            }
            assert!(Instant::now() < deadline, "openssl s_server never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TLS server that greets each client with a banner, reads what the
/// client sends for up to [`HOLD`], then closes; stops on drop.
pub struct TlsBanner {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TlsBanner {
    /// Serves certificate `name` and greets with `banner`.
    pub fn start(certs: &Certs, name: &str, banner: &'static [u8]) -> TlsBanner {
        let chain = CertificateDer::pem_file_iter(certs.cert(name))
            .expect("read certificate")
            .collect::<Result<Vec<_>, _>>()
            .expect("parse certificate");
        let key = PrivateKeyDer::from_pem_file(certs.key(name)).expect("read key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = super::probes::runtime();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                let serve = async {
                    loop {
                        let Ok((conn, _)) = listener.accept().await else {
                            continue;
                        };
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            let Ok(mut tls) = acceptor.accept(conn).await else {
                                return;
                            };
                            let _ = tls.write_all(banner).await;
                            let _ = tls.flush().await;
                            let mut sink = [0u8; 256];
                            let _ = tokio::time::timeout(HOLD, async {
                                while matches!(tls.read(&mut sink).await, Ok(n) if n > 0) {}
                            })
                            .await;
                            let _ = tls.shutdown().await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stopped => {}
                }
            });
        });
        let addr = addr_rx.recv().expect("server address");
        TlsBanner {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the server and re-raises a panic from its thread.
    pub fn join(mut self) {
        self.shutdown(true);
    }

    fn shutdown(&mut self, raise: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if let Err(panic) = thread.join() {
                if raise {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

impl Drop for TlsBanner {
    fn drop(&mut self) {
        self.shutdown(false);
    }
}
