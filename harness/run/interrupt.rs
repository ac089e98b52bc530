//! Ctrl-C (SIGINT) during `mtlbench run`: the sweep stops at once and the program ends with
//! one line — how many runs of the plan are stored and the exact command that continues
//! it (`--resume`) — and exit code 130.
//!
//! Runs in flight are abandoned: nothing of theirs was stored, and `--resume` runs them
//! again. A run being stored is not cut short: storing a record (and its TensorBoard file)
//! holds `STORING`, which the handler takes before it ends the program, so every record
//! on disk is whole (the store writes each through a temporary file and a rename anyway).
//! A progress bar on the terminal is ended on its own line before the message.
//!
//! Only the binary turns this on (`enable`); a library caller keeps the default SIGINT.

use indicatif::ProgressBar;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The exit code of a program ended by SIGINT (128 + 2), as shells report it.
pub const EXIT_CODE: u8 = 130;

/// The sweep in progress: its output directory, its planned run ids and its bar.
struct Sweep {
    out: PathBuf,
    planned: Vec<String>,
    bar: ProgressBar,
}

/// Set once `enable` has installed the handler.
static ENABLED: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// The sweep the message is about (the latest to start).
static CURRENT: Mutex<Option<Sweep>> = Mutex::new(None);
/// Held while a finished run is being stored; the handler takes it and never gives it back.
static STORING: Mutex<()> = Mutex::new(());

/// Installs the SIGINT handler and the thread that acts on it (once; later calls do
/// nothing). Where the handler cannot be installed, Ctrl-C keeps its default.
pub fn enable() {
    ENABLED.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        if signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone()).is_ok() {
            let seen = flag.clone();
            std::thread::spawn(move || loop {
                if seen.load(Ordering::SeqCst) {
                    stop();
                }
                std::thread::sleep(Duration::from_millis(20));
            });
        }
        flag
    });
}

/// Records the sweep a Ctrl-C would stop (no effect unless `enable` was called).
pub fn sweep_started(out: &std::path::Path, planned: Vec<String>, bar: &ProgressBar) {
    if ENABLED.get().is_some() {
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(Sweep {
            out: out.to_path_buf(),
            planned,
            bar: bar.clone(),
        });
    }
}

/// Runs `store` (writing one finished run) so that Ctrl-C cannot end the program halfway.
pub fn storing<T>(store: impl FnOnce() -> T) -> T {
    let _guard = STORING.lock().unwrap_or_else(|e| e.into_inner());
    store()
}

/// Ends the program: waits for a record being stored, ends the bar, prints the line.
fn stop() -> ! {
    let _no_more_writes = STORING.lock().unwrap_or_else(|e| e.into_inner());
    let sweep = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).take();
    let line = match sweep {
        Some(s) => {
            s.bar.abandon();
            let stored: std::collections::HashSet<String> =
                mtlbench_results::store::stored_ids(&mtlbench_results::store::runs_dir(&s.out))
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
            let done = s.planned.iter().filter(|id| stored.contains(*id)).count();
            format!(
                "interrupted: {done} of {} planned runs stored in {}; continue with: {}",
                s.planned.len(),
                s.out.display(),
                resume_command(std::env::args().collect())
            )
        }
        None => format!(
            "interrupted before any run started; continue with: {}",
            resume_command(std::env::args().collect())
        ),
    };
    eprintln!("{line}");
    std::process::exit(EXIT_CODE.into())
}

/// The command line `args` (the program first) with `--resume` (added once), quoted for a
/// POSIX shell.
pub fn resume_command(args: Vec<String>) -> String {
    let mut args = args;
    if !args.iter().skip(1).any(|a| a == "--resume") {
        args.push("--resume".into());
    }
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` as the shell reads it back: unchanged when it holds only safe characters, else
/// in single quotes.
fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_command_repeats_the_arguments_with_resume_once() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            resume_command(args(&["mtlbench", "run", "s.yaml", "--out", "o"])),
            "mtlbench run s.yaml --out o --resume"
        );
        assert_eq!(
            resume_command(args(&[
                "mtlbench",
                "run",
                "--resume",
                "--set",
                "training.lr=[0.1, 1]"
            ])),
            "mtlbench run --resume --set 'training.lr=[0.1, 1]'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
