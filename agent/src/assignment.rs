//! The last assignment the engine sent, kept in `STATE_DIR/assigned.json`
//! so that an agent started while the engine is unreachable runs its
//! checks (and spools the results) from the first second instead of
//! waiting for a connection. The engine's next `Assign` replaces it.

use std::path::{Path, PathBuf};

use vedette_proto::wire::AssignedCheck;

use crate::atomic::write_atomic;

const FILE: &str = "assigned.json";

/// Why the saved assignment cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AssignmentError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not an assignment.
    #[error("{path}: not a saved assignment: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the JSON reader said.
        source: serde_json::Error,
    },
}

/// Saves `checks` as the last assignment.
pub fn save(state_dir: &Path, checks: &[AssignedCheck]) -> Result<(), AssignmentError> {
    let path = state_dir.join(FILE);
    let json = serde_json::to_vec(checks).map_err(|source| AssignmentError::Json {
        path: path.clone(),
        source,
    })?;
    write_atomic(&path, &json, 0o600).map_err(|source| AssignmentError::Io { path, source })
}

/// The last saved assignment; `None` if there is none yet.
pub fn load(state_dir: &Path) -> Result<Option<Vec<AssignedCheck>>, AssignmentError> {
    let path = state_dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(AssignmentError::Io { path, source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| AssignmentError::Json { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let dir = std::env::temp_dir().join(format!("vedette-assigned-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        assert!(load(&dir).expect("none yet").is_none());
        let checks = vec![AssignedCheck {
            service: "load".into(),
            command: "check_load -w 5 -c 10".into(),
            interval_s: 60.0,
            retry_interval_s: 10.0,
            max_attempts: 3,
            timeout_s: 30.0,
        }];
        save(&dir, &checks).expect("save");
        assert_eq!(load(&dir).expect("load"), Some(checks));
        std::fs::write(dir.join(FILE), "{").expect("write");
        let err = load(&dir).expect_err("garbage");
        assert!(err.to_string().contains("not a saved assignment"), "{err}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
