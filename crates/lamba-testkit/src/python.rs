//! pysaml2, the independent SAML implementation the SAML tests talk to,
//! run through `tests/python/saml_peer.py`. pysaml2 is installed on first
//! use into `tests/python/site-packages` (pinned in
//! `tests/python/requirements.txt`, reinstalled when that changes); Python
//! 3 with pip and Debian's `xmlsec1` are needed (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// `tests/python` at the workspace root.
pub fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python")
}

/// `tests/python/site-packages` with the pinned pysaml2, installed once
/// (one install at a time across the tests of one process).
pub fn site_packages() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static INSTALL: Mutex<()> = Mutex::new(());
    DIR.get_or_init(|| {
        let _one = INSTALL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = python_dir();
        let target = dir.join("site-packages");
        let marker = target.join(".installed-requirements");
        let wanted = std::fs::read_to_string(dir.join("requirements.txt")).unwrap();
        if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
            let status = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(["--no-warn-conflicts", "--upgrade", "--target"])
                .arg(&target)
                .arg("-r")
                .arg(dir.join("requirements.txt"))
                .status()
                .expect("the SAML tests need python3 with pip on PATH");
            assert!(
                status.success(),
                "pip could not install tests/python/requirements.txt"
            );
            std::fs::write(&marker, wanted).unwrap();
        }
        target
    })
}

/// Runs `saml_peer.py command dir`.
pub fn run_saml_peer(command: &str, dir: &Path) -> Output {
    Command::new("python3")
        .arg(python_dir().join("saml_peer.py"))
        .arg(command)
        .arg(dir)
        .env("PYTHONPATH", site_packages())
        .output()
        .expect("python3 runs")
}

/// [`run_saml_peer`], which must succeed; its standard output.
pub fn saml_peer(command: &str, dir: &Path) -> String {
    let output = run_saml_peer(command, dir);
    assert!(
        output.status.success(),
        "pysaml2 {command} refused:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
