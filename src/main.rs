//! handoff: VPP's handoffdemo on DPDK lcores. See README.md and SPEC.md.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use handoff::{cli, control, pipeline, report};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("bad arguments").trim_start_matches("error: ");
            eprintln!("handoff: {first} (see --help)");
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("handoff: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error chain as one line, outermost context first.
fn one_line(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e.chain().map(|c| c.to_string().replace('\n', " ")).collect();
    parts.join(": ")
}

fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    let prepared = cli::prepare(cli)?;
    if let Some(n) = &prepared.notice {
        eprintln!("{n}");
    }
    control::install_signals();
    let outcome = match pipeline::run(&prepared.plan) {
        Ok(o) => o,
        Err(e) => {
            // The PMD created these at start-up; a failed run leaves none behind.
            for f in &prepared.new_outputs {
                let _ = std::fs::remove_file(f);
            }
            return Err(e);
        }
    };
    let stopped_by = format!("{:?}", outcome.stop);
    let report = report::build(&outcome.facts, &stopped_by);
    if let Some(path) = &prepared.trace_pcapng {
        let n = report::pcapng::write(path, &outcome.facts)?;
        log::info!("{n} traced packets written to {}", path.display());
    }

    let mut out = std::io::stdout().lock();
    if prepared.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        out.write_all(report.text(&prepared.sections, prepared.trace_display).as_bytes())?;
    }
    out.flush()?;

    let mut code = ExitCode::SUCCESS;
    if let control::StopReason::Failed(why) = &outcome.stop {
        eprintln!("handoff: the run failed: {why}");
        code = ExitCode::FAILURE;
    }
    if let Some(problem) = report.conservation_problem() {
        eprintln!("handoff: conservation check failed: {problem}");
        code = ExitCode::FAILURE;
    }
    Ok(code)
}
