//! Hot paths of a batch, on a generated world (see hedui-benches' lib):
//! ID validation (POLICY §2), each department's format reader (MB/s of the
//! files it reads) and the rule evaluation over the whole world.
//!
//! `cargo bench -p hedui-benches` (world size: `HEDUI_BENCH_HOUSEHOLDS`).
//!
//! `read_1m_*`: each delivery format read through its adapter from files of
//! at least 1,000,000 data rows (hedui-benches' `big`, written once under
//! `target/bench-worlds/rows-1m/`). `benches/readers.sh` runs them one per
//! process and adds rows/s and peak RSS.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use divan::counter::{BytesCount, ItemsCount};
use divan::{black_box, Bencher};
use hedui_benches as b;
use hedui_core::engine::SourceInput;

fn main() {
    divan::main();
}

fn world() -> &'static PathBuf {
    static W: OnceLock<PathBuf> = OnceLock::new();
    W.get_or_init(b::world)
}

fn scratch() -> &'static tempfile_dir::Dir {
    static S: OnceLock<tempfile_dir::Dir> = OnceLock::new();
    S.get_or_init(tempfile_dir::Dir::new)
}

/// A scratch folder under target/ (outbox, audit log), removed never: benches are re-run.
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-worlds/scratch");
            std::fs::create_dir_all(&p).expect("scratch folder");
            Dir(p)
        }
    }
}

/// Every ID the roster declares, as delivered (legacy, lowercase, full-width, spaces, invalid).
fn raw_ids() -> &'static Vec<String> {
    static IDS: OnceLock<Vec<String>> = OnceLock::new();
    IDS.get_or_init(|| hedui_civil_affairs::load_roster(&world().join("inbox/roster")).expect("roster").members.into_iter().map(|m| m.id_raw).collect())
}

#[divan::bench]
fn id_validation(bencher: Bencher) {
    let ids = raw_ids();
    let d = b::as_of();
    bencher.counter(ItemsCount::new(ids.len())).bench(|| ids.iter().filter(|id| hedui_core::identity::parse_id(black_box(id), d).is_ok()).count());
}

#[divan::bench]
fn read_roster(bencher: Bencher) {
    let dir = world().join("inbox/roster");
    bencher.counter(BytesCount::new(b::bytes_of(&dir, "*.csv"))).bench(|| hedui_civil_affairs::load_roster(&dir).expect("roster"));
}

/// One file source read through its adapter (`Source::fetch`).
fn read_source(bencher: Bencher, kind: &str, patterns: &[&str]) {
    let roster = hedui_civil_affairs::load_roster(&world().join("inbox/roster")).expect("roster");
    let dir = world().join("inbox").join(kind);
    let bytes: u64 = patterns.iter().map(|p| b::bytes_of(&dir, p)).sum();
    let source = b::source(kind, &[]);
    let cx = b::context(world(), &roster, kind, &scratch().0);
    bencher.counter(BytesCount::new(bytes)).bench(|| b::fetch(source.as_ref(), &cx).records.len());
}

#[divan::bench]
fn read_public_security_gbk_csv(bencher: Bencher) {
    read_source(bencher, "public_security", &["huji_*.csv", "jdc_*.csv"]);
}

#[divan::bench]
fn read_health_xlsx(bencher: Bencher) {
    read_source(bencher, "health", &["yiliao_*.xlsx"]);
}

#[divan::bench]
fn read_market_regulation_jsonl(bencher: Bencher) {
    read_source(bencher, "market_regulation", &["*.jsonl"]);
}

#[divan::bench]
fn read_housing_bom_csv(bencher: Bencher) {
    read_source(bencher, "housing", &["budongchan_*.csv"]);
}

#[divan::bench]
fn read_disability_csv(bencher: Bencher) {
    read_source(bencher, "disability", &["canlian_*.csv"]);
}

#[divan::bench]
fn read_banking_responses(bencher: Bencher) {
    let dir = world().join("inbox/banking");
    let batch = b::as_of().format("RSP_%Y%m%d_*.txt").to_string();
    let files: Vec<(PathBuf, Vec<u8>)> = hedui_adapter::files::list_files(&dir, &batch).expect("responses").into_iter().map(|p| {
        let bytes = std::fs::read(&p).expect("response");
        (p, bytes)
    }).collect();
    let total: usize = files.iter().map(|f| f.1.len()).sum();
    bencher.counter(BytesCount::new(total)).bench(|| {
        let mut out = hedui_adapter::SourceOutput::default();
        for (p, bytes) in &files {
            hedui_banking::parse_response(p, bytes, &mut out).expect("complete response");
        }
        out.records.bank_balances.len()
    });
}

#[divan::bench(sample_count = 10)]
fn rules_verify_world(bencher: Bencher) {
    let (roster, outputs) = b::all_sources(world(), &scratch().0);
    let policy = b::policy();
    let none: HashSet<String> = HashSet::new();
    let records: usize = outputs.iter().map(|(_, o, _)| o.records.len()).sum();
    // The inputs borrow the records (as tests do); building them is free.
    let inputs = || -> Vec<SourceInput> {
        outputs.iter().map(|(code, o, kinds)| SourceInput { code, kinds, available: true, failed_persons: &none, records: Cow::Borrowed(&o.records) }).collect()
    };
    bencher
        .counter(ItemsCount::new(records))
        .with_inputs(inputs)
        .bench_local_values(|inputs| hedui_core::engine::verify(black_box(&roster), &policy, b::as_of(), inputs).expect("verify").verdicts.len());
}

/// One format of at least a million rows, read whole through its adapter
/// (a few samples of one run each: a run takes seconds).
fn read_1m(bencher: Bencher, format: &str) {
    let f = b::big::format(format);
    bencher.counter(BytesCount::new(f.bytes())).bench(|| f.read());
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn read_1m_gbk_csv(bencher: Bencher) {
    read_1m(bencher, "gbk_csv");
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn read_1m_bom_csv(bencher: Bencher) {
    read_1m(bencher, "bom_csv");
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn read_1m_csv(bencher: Bencher) {
    read_1m(bencher, "csv");
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn read_1m_roster_csv(bencher: Bencher) {
    read_1m(bencher, "roster_csv");
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn read_1m_jsonl(bencher: Bencher) {
    read_1m(bencher, "jsonl");
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn read_1m_banking_rsp(bencher: Bencher) {
    read_1m(bencher, "banking_rsp");
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn read_1m_xlsx(bencher: Bencher) {
    read_1m(bencher, "xlsx");
}
