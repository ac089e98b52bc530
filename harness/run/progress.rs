//! Runs in flight, seen from outside the process that trains them. While a sweep trains a
//! run it keeps `DIR/.progress/<run id>.json` — the epochs done of the run's total, when it
//! started and when the file was last written — rewritten atomically after an epoch (at most
//! once a second, and after the last) and removed once the run's record is stored.
//! `mtlbench status DIR` lists the planned runs that have such a file and no record yet,
//! with the time they have taken and, at their pace so far, the time they still need; a run whose process was killed leaves its file
//! behind, which status shows by its age (and `--resume` overwrites). Progress is best
//! effort: a file that cannot be written never stops a run.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The folder of the progress files, inside a sweep's output directory (hidden, and
/// ignored by git, so that a study committed as it runs never carries one).
pub const PROGRESS_DIR: &str = ".progress";

/// One run's progress file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub id: String,
    /// Epochs finished (0 until the first ends).
    pub epoch: usize,
    pub epochs: usize,
    /// Seconds since the Unix epoch.
    pub started_unix_s: u64,
    pub updated_unix_s: u64,
}

fn now_unix_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn path_of(out: &Path, id: &str) -> PathBuf {
    out.join(PROGRESS_DIR).join(format!("{id}.json"))
}

/// The least time between two writes of a progress file after its first: runs of tiny
/// studies finish epochs in microseconds, and a file written and synced after every epoch
/// took 7.9% of the CPU time of `bench`'s sweep of 8 small runs, besides its waits for
/// the disk.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The progress file of one run of a sweep into `out`.
pub struct Tracker {
    path: PathBuf,
    interval: Duration,
    state: std::sync::Mutex<(Progress, Instant)>,
}

impl Tracker {
    /// Starts the file of run `id` (of `epochs` epochs) at epoch 0; later epochs are written
    /// at most once per [`MIN_INTERVAL`], the last one always.
    pub fn start(out: &Path, id: &str, epochs: usize) -> Tracker {
        Tracker::every(out, id, epochs, MIN_INTERVAL)
    }

    /// [`Tracker::start`] with `interval` between writes.
    pub fn every(out: &Path, id: &str, epochs: usize, interval: Duration) -> Tracker {
        let now = now_unix_s();
        let progress = Progress {
            id: id.to_string(),
            epoch: 0,
            epochs,
            started_unix_s: now,
            updated_unix_s: now,
        };
        let tracker = Tracker {
            path: path_of(out, id),
            interval,
            state: std::sync::Mutex::new((progress, Instant::now())),
        };
        if let Some(dir) = tracker.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(state) = tracker.state.lock() {
            tracker.write(&state.0);
        }
        tracker
    }

    /// Epoch `epoch` finished: written when the interval has passed since the last write,
    /// or when it is the run's last.
    pub fn epoch(&self, epoch: usize) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.0.epoch = epoch;
        state.0.updated_unix_s = now_unix_s();
        if epoch >= state.0.epochs || state.1.elapsed() >= self.interval {
            self.write(&state.0);
            state.1 = Instant::now();
        }
    }

    /// Replaces the file, atomically for readers but not synced to disk (it is advice, not
    /// a record).
    fn write(&self, progress: &Progress) {
        let json = serde_json::to_vec(progress).expect("progress always serialises");
        let _ = mtlbench_results::store::replace_unsynced(&self.path, &json);
    }

    /// Removes the file (the run's record is stored).
    pub fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The progress files under `out` (unreadable ones skipped), by run id.
pub fn read_all(out: &Path) -> Vec<Progress> {
    let Ok(entries) = std::fs::read_dir(out.join(PROGRESS_DIR)) else {
        return Vec::new();
    };
    let mut all: Vec<Progress> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
        .collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all
}

/// Minutes (or hours) as a person reads them: "45 s", "12 min", "3.4 h".
fn span(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 5_400 => format!("{} min", (s + 30) / 60),
        s => format!("{:.1} h", s as f64 / 3600.0),
    }
}

/// One status line of a run in flight at `now` (Unix seconds).
pub fn render(p: &Progress, now: u64) -> String {
    let elapsed = p.updated_unix_s.saturating_sub(p.started_unix_s);
    let quiet = now.saturating_sub(p.updated_unix_s);
    let mut line = format!(
        "  in flight {}: epoch {}/{}, started {} ago",
        p.id,
        p.epoch,
        p.epochs,
        span(now.saturating_sub(p.started_unix_s))
    );
    if p.epoch > 0 && p.epoch < p.epochs {
        let left = elapsed as f64 / p.epoch as f64 * (p.epochs - p.epoch) as f64;
        line.push_str(&format!(
            ", about {} left at its pace",
            span(left.round() as u64)
        ));
    }
    line.push_str(&format!("; last written {} ago", span(quiet)));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracker_writes_each_epoch_and_leaves_nothing_when_finished() {
        let dir = std::env::temp_dir().join(format!("mtlbench-progress-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let tracker = Tracker::every(&dir, "run-a", 100, Duration::ZERO);
        assert_eq!(read_all(&dir)[0].epoch, 0);
        tracker.epoch(37);
        let all = read_all(&dir);
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].id.as_str(), all[0].epoch, all[0].epochs),
            ("run-a", 37, 100)
        );
        tracker.finish();
        assert!(read_all(&dir).is_empty());
        // Nothing but the (now empty) folder: no temporary file left behind.
        assert_eq!(
            std::fs::read_dir(dir.join(PROGRESS_DIR)).unwrap().count(),
            0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_tracker_writes_at_most_once_per_interval_and_always_the_last_epoch() {
        let dir =
            std::env::temp_dir().join(format!("mtlbench-progress-interval-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // An hour between writes: the epochs before the last are kept in memory only.
        let tracker = Tracker::every(&dir, "run-b", 10, Duration::from_secs(3600));
        tracker.epoch(1);
        tracker.epoch(9);
        assert_eq!(read_all(&dir)[0].epoch, 0);
        tracker.epoch(10);
        assert_eq!(read_all(&dir)[0].epoch, 10);
        tracker.finish();
        assert!(read_all(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_line_says_the_epoch_the_time_taken_and_left() {
        let p = Progress {
            id: "r".into(),
            epoch: 25,
            epochs: 100,
            started_unix_s: 1_000,
            updated_unix_s: 1_600,
        };
        // 600 s for 25 epochs: 1,800 s for the 75 left.
        assert_eq!(
            render(&p, 1_660),
            "  in flight r: epoch 25/100, started 11 min ago, about 30 min left at its pace; last written 1 min ago"
        );
        let first = Progress {
            epoch: 0,
            ..p.clone()
        };
        assert_eq!(
            render(&first, 1_000 + 7_200),
            "  in flight r: epoch 0/100, started 2.0 h ago; last written 1.8 h ago"
        );
    }
}
