//! Files of at least a million data rows per delivery format, for the reader
//! benchmarks (`read_1m_*` in hot_paths.rs, `examples/read_1m.rs`,
//! `benches/readers.sh`).
//!
//! Written once under `target/bench-worlds/rows-1m/inbox/<source>/` in each
//! department's real format (DEPARTMENTS.md): Chinese names, valid
//! GB 11643 IDs, dates in the department's spelling, amounts. Deterministic:
//! a fixed seed per format. A format's files are rewritten only when its
//! `.done-<format>` marker is missing.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Datelike, Duration, NaiveDate};
use hedui_adapter::{AuditLog, NoProgress, SourceContext, SourceOutput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Data rows written per format (the XLSX ones split over workbooks).
pub const ROWS: u64 = 1_000_000;

/// The formats, by the name the benchmarks use.
pub const FORMATS: [&str; 7] = ["gbk_csv", "bom_csv", "csv", "roster_csv", "jsonl", "banking_rsp", "xlsx"];

/// The folder of the million-row files.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-worlds/rows-1m")
}

/// What one format is: the source that reads it, its folder, its files.
pub struct Format {
    pub name: &'static str,
    /// What is read (for tables).
    pub what: &'static str,
    /// The folder under the inbox.
    pub folder: &'static str,
    /// The file patterns read.
    pub patterns: &'static [&'static str],
}

/// The description of `name` (one of [`FORMATS`]).
pub fn format(name: &str) -> Format {
    let (name, what, folder, patterns): (&'static str, &'static str, &'static str, &'static [&'static str]) = match name {
        "gbk_csv" => ("gbk_csv", "GBK CSV (public_security 户籍)", "public_security", &["huji_*.csv", "jdc_*.csv"]),
        "bom_csv" => ("bom_csv", "UTF-8 BOM CSV (housing)", "housing", &["budongchan_*.csv"]),
        "csv" => ("csv", "CSV (disability)", "disability", &["canlian_*.csv"]),
        "roster_csv" => ("roster_csv", "CSV (roster households + members)", "roster", &["*.csv"]),
        "jsonl" => ("jsonl", "JSON Lines (market_regulation)", "market_regulation", &["*.jsonl"]),
        "banking_rsp" => ("banking_rsp", "GBK pipe-delimited + trailer (banking RSP)", "banking", &["RSP_*.txt"]),
        "xlsx" => ("xlsx", "XLSX (health, 2 workbooks)", "health", &["yiliao_*.xlsx"]),
        other => panic!("no format {other} (formats: {FORMATS:?})"),
    };
    Format { name, what, folder, patterns }
}

impl Format {
    /// The folder of this format's files, written first if need be.
    pub fn dir(&self) -> PathBuf {
        let dir = root().join("inbox").join(self.folder);
        let done = root().join(format!(".done-{}", self.name));
        if !done.is_file() {
            std::fs::create_dir_all(&dir).expect("bench folder");
            write_format(self.name, &dir).expect("bench files written");
            std::fs::write(&done, "").expect("marker");
        }
        dir
    }

    /// Total bytes of the files read.
    pub fn bytes(&self) -> u64 {
        let dir = self.dir();
        self.patterns.iter().map(|p| crate::bytes_of(&dir, p)).sum()
    }

    /// Reads the format's files through its adapter, as a batch does;
    /// returns the data rows read.
    pub fn read(&self) -> u64 {
        self.read_held().0
    }

    /// [`Format::read`], with the RSS while the adapter's output is still
    /// held (the records a batch keeps), in bytes.
    pub fn read_held(&self) -> (u64, u64) {
        let dir = self.dir();
        let held = || rss().unwrap_or(0);
        match self.name {
            "roster_csv" => {
                let roster = hedui_civil_affairs::load_roster(&dir).expect("roster");
                ((roster.households.len() + roster.members.len()) as u64, held())
            }
            "banking_rsp" => {
                // The response reader alone (the exchange would also write a request).
                let mut out = SourceOutput::default();
                for path in hedui_adapter::files::list_files(&dir, "RSP_*.txt").expect("responses") {
                    hedui_banking::read_response(&path, &mut out).expect("complete response");
                }
                (out.stats.rows_read, held())
            }
            _ => {
                let source = crate::source(self.folder, &[]);
                let out = crate::fetch(source.as_ref(), &context());
                (out.stats.rows_read, held())
            }
        }
    }
}

/// A context for the file sources of the million-row inbox (no requests:
/// file sources read everything).
pub fn context() -> SourceContext {
    let scratch = root().join("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch");
    SourceContext {
        as_of: crate::as_of(),
        batch_id: crate::as_of().format("%Y%m%d").to_string(),
        run_id: "bench-1m".into(),
        inbox: root().join("inbox"),
        outbox: scratch.join("outbox"),
        requests: Default::default(),
        audit: std::sync::Arc::new(AuditLog::open(&scratch.join("audit.jsonl"), "bench-1m").expect("audit log")),
        progress: std::sync::Arc::new(NoProgress),
    }
}

/// Peak resident set size of this process in bytes (`VmHWM`), if known.
pub fn peak_rss() -> Option<u64> {
    proc_status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// Current resident set size in bytes (`VmRSS`), if known.
pub fn rss() -> Option<u64> {
    proc_status_kb("VmRSS:").map(|kb| kb * 1024)
}

fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// Resets the peak RSS to the current RSS (Linux ≥ 4.0); `false` if it cannot.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One measured read of a format.
pub struct Measure {
    pub rows: u64,
    pub bytes: u64,
    /// Best of the runs.
    pub seconds: f64,
    /// RSS before the read, with its output held after it, and the peak
    /// during it (bytes). Peak − held ≈ what reading itself needed on top of
    /// the records it returns.
    pub rss_before: u64,
    pub rss_held: u64,
    pub peak_rss: u64,
}

/// Reads `format` `runs` times (the first run after writing the files if
/// need be); the fastest time and the highest peak RSS.
pub fn measure(name: &str, runs: usize) -> Measure {
    let f = format(name);
    let bytes = f.bytes();
    let (mut best, mut rows, mut peak, mut before, mut held) = (f64::MAX, 0, 0, u64::MAX, 0);
    for _ in 0..runs.max(1) {
        let rss0 = rss().unwrap_or(0);
        reset_peak_rss();
        let t = Instant::now();
        let (n, rss_held) = f.read_held();
        rows = n;
        best = best.min(t.elapsed().as_secs_f64());
        held = held.max(rss_held);
        peak = peak.max(peak_rss().unwrap_or(0));
        before = before.min(rss0);
    }
    Measure { rows, bytes, seconds: best, rss_before: before, rss_held: held, peak_rss: peak }
}

// ----------------------------------------------------------------- writing

fn write_format(name: &str, dir: &Path) -> std::io::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(20261126 + FORMATS.iter().position(|f| *f == name).unwrap_or(0) as u64);
    match name {
        "gbk_csv" => write_public_security(&mut rng, dir),
        "bom_csv" => write_housing(&mut rng, dir),
        "csv" => write_disability(&mut rng, dir),
        "roster_csv" => write_roster(&mut rng, dir),
        "jsonl" => write_market(&mut rng, dir),
        "banking_rsp" => write_banking(&mut rng, dir),
        "xlsx" => write_health(&mut rng, dir),
        other => panic!("no format {other}"),
    }
}

const REGIONS: [&str; 8] = ["520102", "520103", "520111", "520112", "520113", "520115", "520121", "522722"];

/// A valid GB 11643 ID (the check character computed), its birth date and gender.
fn person(rng: &mut ChaCha8Rng) -> (String, NaiveDate, bool) {
    let born = NaiveDate::from_ymd_opt(1940, 1, 1).expect("date") + Duration::days(rng.random_range(0..30_000));
    let male = rng.random_bool(0.5);
    let seq = rng.random_range(0..500u32) * 2 + u32::from(male);
    let first17 = format!("{}{}{seq:03}", REGIONS[rng.random_range(0..REGIONS.len())], born.format("%Y%m%d"));
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(b, w)| (b - b'0') as u32 * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    (format!("{first17}{check}"), born, male)
}

fn name(rng: &mut ChaCha8Rng) -> String {
    hedui_generator::names::person_name(rng)
}

/// A name as a GBK department holds it (`?` for a character GBK lacks).
fn gbk_name(rng: &mut ChaCha8Rng) -> String {
    let n = name(rng);
    if hedui_generator::names::has_non_gbk(&n) {
        hedui_generator::names::gbk_question_marks(&n)
    } else {
        n
    }
}

fn date_between(rng: &mut ChaCha8Rng, from_year: i32, to_year: i32) -> NaiveDate {
    let from = NaiveDate::from_ymd_opt(from_year, 1, 1).expect("date");
    let days = (NaiveDate::from_ymd_opt(to_year, 12, 31).expect("date") - from).num_days();
    from + Duration::days(rng.random_range(0..=days))
}

fn pick<'a>(rng: &mut ChaCha8Rng, options: &[&'a str]) -> &'a str {
    options[rng.random_range(0..options.len())]
}

fn yuan(rng: &mut ChaCha8Rng, max_fen: u64) -> String {
    let fen = rng.random_range(0..max_fen);
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn create(path: PathBuf) -> std::io::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
}

fn gbk(line: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(line);
    assert!(!unmappable, "GBK line {line:?}");
    bytes.into_owned()
}

fn write_public_security(rng: &mut ChaCha8Rng, dir: &Path) -> std::io::Result<()> {
    let mut w = create(dir.join("huji_01.csv"))?;
    w.write_all(&gbk("户号,公民身份号码,姓名,性别,出生日期,与户主关系,人员状态,状态日期,行政区划\r\n"))?;
    let mut household = 0u64;
    for i in 0..ROWS {
        let (id, born, male) = person(rng);
        let relation = if i % 3 == 0 {
            household += 1;
            "户主"
        } else {
            pick(rng, &["配偶", "子女", "父母", "孙子女", "其他"])
        };
        let (status, status_date) = match rng.random_range(0..100) {
            0 => ("死亡", date_between(rng, 2010, 2026).format("%Y%m%d").to_string()),
            1 => ("迁出", date_between(rng, 2010, 2026).format("%Y%m%d").to_string()),
            2..=40 => ("正常", String::new()),
            _ => ("正常", date_between(rng, 1990, 2026).format("%Y%m%d").to_string()),
        };
        let line = format!(
            "52{:011},{id},{},{},{},{relation},{status},{status_date},{}\r\n",
            household,
            gbk_name(rng),
            if male { "男" } else { "女" },
            born.format("%Y%m%d"),
            &id[..6]
        );
        w.write_all(&gbk(&line))?;
    }
    w.flush()?;
    // The vehicles file must be delivered too; a header and a few rows.
    let mut w = create(dir.join("jdc_01.csv"))?;
    w.write_all(&gbk("号牌号码,号牌种类,车辆类型,所有人身份号码,所有人姓名,初次登记日期,机动车状态\r\n"))?;
    for i in 0..1_000 {
        let (id, _, _) = person(rng);
        let line = format!("贵A{:05},02,K33,{id},{},{},正常\r\n", i, gbk_name(rng), date_between(rng, 2005, 2026).format("%Y-%m-%d"));
        w.write_all(&gbk(&line))?;
    }
    w.flush()
}

fn write_housing(rng: &mut ChaCha8Rng, dir: &Path) -> std::io::Result<()> {
    let mut w = create(dir.join("budongchan_01.csv"))?;
    w.write_all("\u{feff}不动产权证号,权利人证件号,权利人姓名,共有情况,用途,建筑面积,登记日期,状态\n".as_bytes())?;
    for i in 0..ROWS {
        let (id, _, _) = person(rng);
        let registered = date_between(rng, 2000, 2026);
        writeln!(
            w,
            "黔({})贵阳市不动产权第{:07}号,{id},{},{},{},{},{},{}",
            registered.format("%Y"),
            i,
            name(rng),
            pick(rng, &["单独所有", "单独所有", "共同共有", "按份共有"]),
            pick(rng, &["住宅", "住宅", "住宅", "商业", "办公", "工业", "其他"]),
            yuan(rng, 30_000),
            registered.format("%Y-%m-%d"),
            pick(rng, &["现势", "现势", "现势", "注销", "查封"]),
        )?;
    }
    w.flush()
}

fn write_disability(rng: &mut ChaCha8Rng, dir: &Path) -> std::io::Result<()> {
    let mut w = create(dir.join("canlian_01.csv"))?;
    writeln!(w, "残疾证号,身份证号,姓名,残疾类别,残疾等级,有效期至,困难残疾人生活补贴,重度残疾人护理补贴")?;
    for _ in 0..ROWS {
        let (id, _, _) = person(rng);
        let category = rng.random_range(1..=7usize);
        let level = rng.random_range(1..=4usize);
        writeln!(
            w,
            "{id}{category}{level},{id},{},{},{},{},{},{}",
            name(rng),
            ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"][category - 1],
            if rng.random_bool(0.5) { ["一级", "二级", "三级", "四级"][level - 1].to_string() } else { level.to_string() },
            date_between(rng, 2024, 2035).format("%Y-%m-%d"),
            pick(rng, &["是", "否"]),
            if level <= 2 { "是" } else { "否" },
        )?;
    }
    w.flush()
}

fn write_roster(rng: &mut ChaCha8Rng, dir: &Path) -> std::io::Result<()> {
    // 250,000 households of 3 members: 1,000,000 data rows in all.
    let households = ROWS / 4;
    let mut h = create(dir.join("households.csv"))?;
    let mut m = create(dir.join("members.csv"))?;
    writeln!(
        h,
        "household_id,program,county_code,area_type,head_id,declared_monthly_income_yuan,declared_financial_assets_yuan,declared_vehicle_count,declared_property_count,auth_no,auth_signed_date,auth_valid_until,auth_scope"
    )?;
    writeln!(m, "household_id,id_number,name,relation")?;
    for i in 0..households {
        let hid = format!("H{:08}", i + 1);
        let members: Vec<(String, String)> = (0..3).map(|_| (person(rng).0, name(rng))).collect();
        let signed = date_between(rng, 2025, 2026);
        writeln!(
            h,
            "{hid},{},{},{},{},{},{},{},{},SQ{:010},{},{},{}",
            pick(rng, &["DIBAO", "DIBAO", "TEKUN"]),
            REGIONS[rng.random_range(0..REGIONS.len())],
            pick(rng, &["urban", "rural"]),
            members[0].0,
            yuan(rng, 300_000),
            yuan(rng, 5_000_000),
            rng.random_range(0..2),
            rng.random_range(0..2),
            i + 1,
            signed.format("%Y-%m-%d"),
            (signed + Duration::days(365)).format("%Y-%m-%d"),
            pick(rng, &["ALL", "ALL", "public_security|housing|banking"]),
        )?;
        for (k, (id, n)) in members.iter().enumerate() {
            writeln!(m, "{hid},{id},{n},{}", ["户主", "配偶", "子女"][k])?;
        }
    }
    h.flush()?;
    m.flush()
}

fn write_market(rng: &mut ChaCha8Rng, dir: &Path) -> std::io::Result<()> {
    let mut w = create(dir.join("qiye_01.jsonl"))?;
    for i in 0..ROWS {
        let (id, _, _) = person(rng);
        let individual = rng.random_bool(0.4);
        let line = serde_json::json!({
            "uscc": format!("91520100{:010}", i),
            "entity_name": hedui_generator::names::entity_name(rng, "贵阳", individual),
            "entity_type": if individual { "个体工商户" } else { "企业" },
            "status": pick(rng, &["存续", "存续", "存续", "注销", "吊销"]),
            "registered_capital_wan": if rng.random_bool(0.1) { String::new() } else { rng.random_range(1..5000).to_string() },
            "person_id": id,
            "person_name": name(rng),
            "role": if individual { "经营者" } else { pick(rng, &["法定代表人", "股东"]) },
            "established": date_between(rng, 1995, 2026).format("%Y-%m-%d").to_string(),
        });
        serde_json::to_writer(&mut w, &line)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

fn write_banking(rng: &mut ChaCha8Rng, dir: &Path) -> std::io::Result<()> {
    let batch = crate::as_of().format("%Y%m%d").to_string();
    let mut w = create(dir.join(format!("RSP_{batch}_001.txt")))?;
    w.write_all(&gbk("查询编号|身份证号|姓名|机构名称|账号|账户类型|币种|余额|余额日期\r\n"))?;
    for i in 0..ROWS {
        let (id, _, _) = person(rng);
        let usd = rng.random_range(0..50) == 0;
        let line = format!(
            "Q{batch}{:07}|{id}|{}|{}|62{:017}|{}|{}|{}|{}\r\n",
            i / 3 + 1,
            gbk_name(rng),
            pick(rng, &["中国工商银行贵阳分行", "中国农业银行贵州省分行", "贵阳银行", "贵州银行", "中国建设银行贵阳分行"]),
            i,
            pick(rng, &["活期存款", "定期存款", "理财产品", "证券资产"]),
            if usd { pick(rng, &["USD", "美元"]) } else { pick(rng, &["CNY", "人民币"]) },
            {
                let y = yuan(rng, 50_000_000);
                if rng.random_bool(0.2) { thousands(&y) } else { y }
            },
            crate::as_of().format("%Y%m%d"),
        );
        w.write_all(&gbk(&line))?;
    }
    w.write_all(format!("#END|{ROWS}\r\n").as_bytes())?;
    w.flush()
}

/// `1234567.89` → `1,234,567.89`.
fn thousands(y: &str) -> String {
    let (int, frac) = y.split_once('.').unwrap_or((y, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{frac}")
}

fn write_health(rng: &mut ChaCha8Rng, dir: &Path) -> std::io::Result<()> {
    use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| std::io::Error::other(e.to_string());
    // Two workbooks of 400,000 visits and 100,000 enrollments each.
    let (visits, enrollments) = (ROWS * 2 / 5, ROWS / 10);
    for book_no in 1..=2u32 {
        let mut book = Workbook::new();
        book.set_tempdir(dir).map_err(err)?;
        let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
        let title = Format::new().set_bold().set_align(FormatAlign::Center);
        {
            let ws = book.add_worksheet_with_constant_memory().map_err(err)?;
            ws.set_name("就诊费用").map_err(err)?;
            ws.merge_range(0, 0, 0, 6, "贵州省医疗保障信息平台 就诊费用明细（个人自付）", &title).map_err(err)?;
            for (c, h) in ["就诊流水号", "身份证号", "姓名", "就诊日期", "总费用", "统筹支付", "个人自付"].iter().enumerate() {
                ws.write_string(1, c as u16, *h).map_err(err)?;
            }
            for i in 0..visits {
                let r = (i + 2) as u32;
                let (id, _, _) = person(rng);
                ws.write_string(r, 0, format!("JZ{book_no}{:09}", i)).map_err(err)?;
                ws.write_string(r, 1, &id).map_err(err)?;
                ws.write_string(r, 2, name(rng)).map_err(err)?;
                let d = date_between(rng, 2025, 2026);
                if i % 10 == 0 {
                    ws.write_string(r, 3, d.format("%Y/%m/%d").to_string()).map_err(err)?;
                } else {
                    let x = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8).map_err(err)?;
                    ws.write_datetime_with_format(r, 3, &x, &date_fmt).map_err(err)?;
                }
                let total: u64 = rng.random_range(1_000..2_000_000);
                let pooled = total * rng.random_range(0..90) / 100;
                let (t, p, s) = (total as f64 / 100.0, pooled as f64 / 100.0, (total - pooled) as f64 / 100.0);
                if i % 7 == 0 {
                    ws.write_string(r, 4, thousands(&format!("{t:.2}"))).map_err(err)?;
                } else {
                    ws.write_number(r, 4, t).map_err(err)?;
                }
                ws.write_number(r, 5, p).map_err(err)?;
                ws.write_number(r, 6, s).map_err(err)?;
            }
        }
        {
            let ws = book.add_worksheet_with_constant_memory().map_err(err)?;
            ws.set_name("参保状态").map_err(err)?;
            for (c, h) in ["身份证号", "姓名", "险种", "参保年度", "状态"].iter().enumerate() {
                ws.write_string(0, c as u16, *h).map_err(err)?;
            }
            for i in 0..enrollments {
                let r = (i + 1) as u32;
                let (id, _, _) = person(rng);
                ws.write_string(r, 0, &id).map_err(err)?;
                ws.write_string(r, 1, name(rng)).map_err(err)?;
                ws.write_string(r, 2, pick(rng, &["职工医保", "城乡居民医保"])).map_err(err)?;
                if i % 2 == 0 {
                    ws.write_number(r, 3, 2026.0).map_err(err)?;
                } else {
                    ws.write_string(r, 3, "2026年度").map_err(err)?;
                }
                ws.write_string(r, 4, pick(rng, &["参保", "参保", "停保", "终止"])).map_err(err)?;
            }
        }
        book.save(dir.join(format!("yiliao_{book_no:03}.xlsx"))).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_valid_and_amounts_grouped() {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        for _ in 0..100 {
            let (id, _, _) = super::person(&mut rng);
            assert!(hedui_core::identity::parse_id(&id, crate::as_of()).is_ok(), "{id}");
        }
        assert_eq!(super::thousands("1234567.89"), "1,234,567.89");
        assert_eq!(super::thousands("123.00"), "123.00");
    }
}
