//! `cityloop import FORMAT FILE`: a progress bar over the file, then what became of its records; and
//! `cityloop export FORMAT`: the case list in another system's format.

use std::path::PathBuf;

use anyhow::{Context, Result};
use cityloop_app::import::formats::SourceFormat;
use cityloop_app::import::mapping::Mapping;
use cityloop_app::import::{ImportOptions, DEFAULT_BATCH};
use cityloop_app::App;
use indicatif::{ProgressBar, ProgressStyle};

/// The arguments of `cityloop import`.
pub struct ImportArgs {
    pub format: String,
    pub file: PathBuf,
    pub mapping: Option<PathBuf>,
    pub rejects: Option<PathBuf>,
    pub batch: Option<usize>,
    pub limit: Option<u64>,
}

pub async fn run(app: &App, args: ImportArgs) -> Result<()> {
    let format = SourceFormat::parse(&args.format)
        .with_context(|| format!("unknown format `{}`: use one of {}", args.format, SourceFormat::NAMES.join(", ")))?;
    let mapping = match &args.mapping {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read as UTF-8 text", path.display()))?;
            Mapping::parse(&path.display().to_string(), &text, &app.reference()).map_err(|e| anyhow::anyhow!("{e}"))?
        }
        None => Mapping::default(),
    };
    let rejects = args.rejects.clone().unwrap_or_else(|| {
        let mut name = args.file.clone().into_os_string();
        name.push(".rejects.csv");
        PathBuf::from(name)
    });
    let options = ImportOptions {
        format,
        path: args.file.clone(),
        mapping,
        rejects: rejects.clone(),
        batch: args.batch.unwrap_or(DEFAULT_BATCH),
        limit: args.limit,
    };
    // Drawn on stderr only when it is a terminal; otherwise (a scheduled job, a log) one line per
    // stored batch says how far the import has come.
    let lines = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let name = args.file.display().to_string();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {percent:>3}% {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = app
        .import_file(&options, |p| {
            bar.set_length(p.total);
            bar.set_position(p.done);
            bar.set_message(format!("imported {} skipped {} rejected {}", p.imported, p.skipped, p.rejected));
            if lines {
                let percent = (p.done * 100).checked_div(p.total).unwrap_or(100);
                eprintln!(
                    "{name}: {percent}% stored: imported {}, skipped {}, rejected {}",
                    p.imported, p.skipped, p.rejected
                );
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    let file = args.file.display();
    if report.resumed {
        println!("{file}: went on with the interrupted run {}", report.run);
    }
    println!(
        "{file}: {} records read in {:.2} s ({:.0} records/s): {} imported, {} already imported, {} rejected{}",
        report.read,
        report.seconds,
        report.rows_per_second(),
        report.imported,
        report.skipped,
        report.rejected,
        if report.rejected > 0 { format!(" (see {})", rejects.display()) } else { String::new() },
    );
    if report.indexes_rebuilt > 0 {
        println!(
            "{file}: a first load: {} indexes built once, after the rows, in {:.2} s (included above)",
            report.indexes_rebuilt, report.index_seconds
        );
    }
    if !report.finished {
        println!("{file}: stopped after {} records; run the same command again to go on", report.read);
    }
    for (kind, values) in &report.unmapped {
        let mut top: Vec<(&String, &u64)> = values.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = top.iter().take(5).map(|(v, n)| format!("{v} ({n})")).collect();
        println!(
            "not in the mapping: {} {kind} values, most often {}{}",
            values.len(),
            shown.join(", "),
            if values.len() > 5 { ", …" } else { "" }
        );
    }
    Ok(())
}

/// The arguments of `cityloop export`.
pub struct ExportArgs {
    pub format: String,
    pub out: Option<PathBuf>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub states: Vec<String>,
}

pub async fn export(app: &App, args: ExportArgs) -> Result<()> {
    use cityloop_app::export::ExportFormat;
    let format = ExportFormat::parse(&args.format)
        .with_context(|| format!("unknown format `{}`: use one of {}", args.format, ExportFormat::NAMES.join(", ")))?;
    let reference = app.reference();
    let mut filter = cityloop_store::CaseFilter::new(cityloop_store::CaseScope::everything(), app.now());
    let midnight = |d: chrono::NaiveDate| reference.calendar.local_midnight(d);
    filter.created_from = args.from.map(midnight);
    filter.created_to = args.to.map(midnight);
    for s in &args.states {
        let state = cityloop_domain::State::parse(s).with_context(|| {
            format!("--state: `{s}` is not one of {}", cityloop_domain::State::wire_names().join(", "))
        })?;
        filter.states.push(state);
    }
    let count = match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("{}: cannot be written", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let n = app.export_cases(filter, format, &mut out).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("{}: {n} cases", path.display());
            n
        }
        None if format == ExportFormat::Xlsx => anyhow::bail!("xlsx needs a file: --out FILE.xlsx"),
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout());
            app.export_cases(filter, format, &mut out).await.map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    tracing::debug!(count, "exported");
    Ok(())
}
