//! Atomic publication of a run folder: everything is written under
//! `DIR/.staging-<run_id>/`, then renamed to `DIR/<run_id>/` in one step, and
//! `DIR/latest` is switched last. A crash leaves only a `.staging-*` folder,
//! which never looks complete and is never pointed at.

use std::io;
use std::path::{Path, PathBuf};

/// A run folder being written.
pub struct Staging {
    out: PathBuf,
    run_id: String,
    dir: PathBuf,
}

impl Staging {
    /// Picks a run id that no earlier run used (`<batch_id>-<n>`), and creates
    /// its staging folder. Runs are never overwritten.
    pub fn begin(out: &Path, batch_id: &str) -> io::Result<Staging> {
        for n in 1..10_000 {
            let run_id = format!("{batch_id}-{n:03}");
            let final_dir = out.join(&run_id);
            let dir = out.join(format!(".staging-{run_id}"));
            if final_dir.exists() || dir.exists() {
                continue;
            }
            // create_dir (not _all) fails if a concurrent run took the name first.
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Staging { out: out.to_path_buf(), run_id, dir }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("no free run id left for this batch"))
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Renames the staging folder into place, then points `latest` at it.
    pub fn publish(self) -> io::Result<PathBuf> {
        let final_dir = self.out.join(&self.run_id);
        sync_dir(&self.dir);
        std::fs::rename(&self.dir, &final_dir)?;
        sync_dir(&self.out);
        let link_tmp = self.out.join(format!(".latest-{}", self.run_id));
        let _ = std::fs::remove_file(&link_tmp);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&self.run_id, &link_tmp)?;
            std::fs::rename(&link_tmp, self.out.join("latest"))?;
        }
        #[cfg(not(unix))]
        {
            std::fs::write(self.out.join("latest.txt"), &self.run_id)?;
        }
        Ok(final_dir)
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_never_overwrites_the_first_and_latest_moves() {
        let out = tempfile::tempdir().unwrap();
        let a = Staging::begin(out.path(), "20261126").unwrap();
        std::fs::write(a.dir().join("verdicts.csv"), "first").unwrap();
        let a_dir = a.publish().unwrap();
        let b = Staging::begin(out.path(), "20261126").unwrap();
        assert_ne!(b.run_id(), "20261126-001");
        std::fs::write(b.dir().join("verdicts.csv"), "second").unwrap();
        let b_dir = b.publish().unwrap();
        assert_eq!(std::fs::read_to_string(a_dir.join("verdicts.csv")).unwrap(), "first");
        assert_eq!(std::fs::read_to_string(out.path().join("latest/verdicts.csv")).unwrap(), "second");
        assert_eq!(std::fs::read_to_string(b_dir.join("verdicts.csv")).unwrap(), "second");
    }

    #[test]
    fn an_unpublished_run_leaves_no_complete_looking_folder() {
        let out = tempfile::tempdir().unwrap();
        let s = Staging::begin(out.path(), "20261126").unwrap();
        std::fs::write(s.dir().join("verdicts.csv"), "partial").unwrap();
        drop(s); // a crash before publish
        let names: Vec<String> = std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(names.iter().all(|n| n.starts_with(".staging-")), "{names:?}");
        assert!(!out.path().join("latest").exists());
    }
}
