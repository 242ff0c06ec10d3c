//! Progress while a batch runs: bars on a terminal (indicatif), periodic log
//! lines otherwise (schedulers read logs, not bars).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hedui_adapter::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Bars when stderr is a terminal (and not disabled), log lines otherwise.
pub fn for_terminal(disabled: bool) -> Arc<dyn ProgressHandle> {
    if !disabled && std::io::stderr().is_terminal() {
        Arc::new(Bars { multi: MultiProgress::new(), bars: Mutex::new(HashMap::new()) })
    } else {
        Arc::new(LogLines { last: Mutex::new(HashMap::new()) })
    }
}

/// What `main` holds: reportable and closable.
pub trait ProgressHandle: Progress {
    fn finish(&self);
}

struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress for Bars {
    fn update(&self, source: &str, done: u64, total: u64) {
        let mut bars = self.bars.lock().expect("progress lock");
        let bar = bars.entry(source.to_string()).or_insert_with(|| {
            let b = self.multi.add(ProgressBar::new(total));
            b.set_style(ProgressStyle::with_template("{prefix:>20} [{bar:40}] {pos}/{len} {per_sec}").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "));
            b.set_prefix(source.to_string());
            b
        });
        bar.set_length(total);
        bar.set_position(done);
    }
}

impl ProgressHandle for Bars {
    fn finish(&self) {
        for b in self.bars.lock().expect("progress lock").values() {
            b.finish();
        }
    }
}

struct LogLines {
    last: Mutex<HashMap<String, Instant>>,
}

impl Progress for LogLines {
    fn update(&self, source: &str, done: u64, total: u64) {
        let mut last = self.last.lock().expect("progress lock");
        let now = Instant::now();
        let due = last.get(source).is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(10));
        if due || done == total {
            last.insert(source.to_string(), now);
            tracing::info!(source, done, total, "progress");
        }
    }
}

impl ProgressHandle for LogLines {
    fn finish(&self) {}
}
