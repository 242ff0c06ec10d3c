//! Reads one format's million-row files through its adapter and prints one
//! JSON line: rows, bytes, best time of the runs, MB/s, rows/s, RSS before
//! the read, with its output held after it, and the peak during it. One process per format, so that each peak
//! is that format's own (see benches/readers.sh).
//!
//! `cargo run --profile perf -p hedui-benches --example read_1m -- <format> [runs]`
//! (formats: hedui_benches::big::FORMATS; `write` only writes the files).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let format = args.get(1).map(String::as_str).unwrap_or_else(|| panic!("usage: read_1m <format> [runs] (formats: {:?})", hedui_benches::big::FORMATS));
    if format == "write" {
        for f in hedui_benches::big::FORMATS {
            let t = std::time::Instant::now();
            hedui_benches::big::format(f).dir();
            eprintln!("{f}: files ready ({:.1} s)", t.elapsed().as_secs_f64());
        }
        return;
    }
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3);
    let f = hedui_benches::big::format(format);
    f.dir();
    let m = hedui_benches::big::measure(format, runs);
    let mb = m.bytes as f64 / 1e6;
    let line = serde_json::json!({
        "format": f.name,
        "what": f.what,
        "rows": m.rows,
        "mb": mb,
        "seconds": m.seconds,
        "mb_per_s": mb / m.seconds,
        "rows_per_s": m.rows as f64 / m.seconds,
        "rss_before_mib": m.rss_before as f64 / 1048576.0,
        "rss_held_mib": m.rss_held as f64 / 1048576.0,
        "peak_rss_mib": m.peak_rss as f64 / 1048576.0,
    });
    println!("{line}");
}
