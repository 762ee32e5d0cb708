//! handoff: VPP's handoffdemo on DPDK lcores. See README.md.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use handoff::cli::{self, FlagError, TxOutput};
use handoff::output::Written;
use handoff::pipeline::facts::{FileCheck, RunFacts};
use handoff::pipeline::supervise::{self, StopReason};
use handoff::report;
use handoff::{cleanup, console, input, pipeline};

fn main() -> ExitCode {
    console::note_closed_stdout();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .target(env_logger::Target::Pipe(Box::new(console::StderrWriter)))
        .init();
    // Whatever way main is left, a panic included, this run's files go.
    let _cleanup = cleanup::OnExit;
    let mut cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("bad arguments").trim_start_matches("error: ");
            console::errln(&format!("handoff: {first} (see --help)"));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.take() {
        Some(command) => control(command),
        None => run(cli),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            console::errln(&format!("handoff: {}", one_line(&e)));
            if e.chain().any(|c| c.downcast_ref::<FlagError>().is_some()) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    };
    // From here a second signal no longer aborts with its own status.
    cleanup::claim_exit();
    code
}

/// An error chain as one line, outermost context first.
fn one_line(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e.chain().map(|c| c.to_string().replace('\n', " ")).collect();
    parts.join(": ")
}

fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    for dir in handoff::output::reclaim_stale_relays() {
        log::info!("removed {}, the relay directory of a handoff process that is gone", dir.display());
    }
    for dir in cleanup::reclaim_dead_input_dirs() {
        log::info!("removed {}, the input directory of a handoff process that is gone", dir.display());
    }
    // Before outputs are opened: a FIFO's wait for its reader ends on a signal.
    supervise::install_signals();
    let mut prepared = cli::prepare(cli)?;
    if let Some(n) = &prepared.notice {
        console::errln(n);
    }
    let hooks = handoff::control::metrics::Hooks {
        control: &handoff::control::server::ControlSocket,
        metrics: prepared.metrics.take(),
    };
    let outcome = match pipeline::run(&prepared.plan, &hooks) {
        Ok(o) => o,
        Err(e) => {
            // No report: every output stays as it was before the run.
            for t in &prepared.tx_outputs {
                t.sink.discard();
            }
            if let Some(d) = prepared.trace_pcapng {
                d.discard();
            }
            return Err(e);
        }
    };
    let mut facts = outcome.facts;
    for t in prepared.tx_outputs.iter().filter(|t| t.sink.can_verify()) {
        facts.file_checks.push(check_tx_file(t, &facts));
    }
    let trace_max = if prepared.json { usize::MAX } else { prepared.trace_display };
    let report = report::build(&facts, &outcome.stop, trace_max);
    let mut code = ExitCode::SUCCESS;
    // The run has a report: its outputs become the user's files, short or not.
    for t in &prepared.tx_outputs {
        if let Err(e) = t.sink.commit() {
            console::errln(&format!("handoff: {}", one_line(&e)));
            code = ExitCode::FAILURE;
        }
    }

    // With `--trace-pcapng -` stdout carries the capture, so the report goes to stderr.
    let pcapng_on_stdout = prepared.trace_pcapng.as_ref().is_some_and(|d| d.is_stdout());
    let text = if prepared.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        report.text(&prepared.sections, prepared.trace_display)
    };
    // Stats lines still queued come before the end of the run.
    console::settle();
    if pcapng_on_stdout {
        if !console::err(&text) {
            code = ExitCode::FAILURE;
        }
    } else if let Err(e) = console::out(text.as_bytes()) {
        console::errln(&format!("handoff: the report is lost: cannot write it to stdout: {e}"));
        code = ExitCode::FAILURE;
    }
    if let Some(dest) = prepared.trace_pcapng {
        match dest.write_with(|w| report::pcapng::write(w, &facts)) {
            Ok(n) => log::info!("{n} traced packets written as pcapng"),
            Err(e) => {
                console::errln(&format!("handoff: {}", one_line(&e)));
                code = ExitCode::FAILURE;
            }
        }
    }

    if let StopReason::Failed(why) = &outcome.stop {
        console::errln(&format!("handoff: the run failed: {why}"));
        code = ExitCode::FAILURE;
    }
    if let Some(problem) = report.conservation_problem() {
        console::errln(&format!("handoff: conservation check failed: {problem}"));
        code = ExitCode::FAILURE;
    } else if code == ExitCode::SUCCESS && !prepared.json {
        // Stdout holds exactly VPP's text; the verdict goes beside it.
        console::errln(&format!("handoff: {}", report.conservation_summary(facts.mbufs_total)));
    }
    Ok(code)
}

/// `handoff show|trace|clear|list`: asks a running forwarder, prints its answer.
fn control(command: cli::Command) -> anyhow::Result<ExitCode> {
    use handoff::control::client;
    use handoff::control::protocol::Request;
    let (target, request) = match command {
        cli::Command::List { json, timeout } => {
            let listed = client::list(&client::Deadline::after(std::time::Duration::from_secs_f64(timeout)))?;
            let text = if json { serde_json::to_string_pretty(&listed)? + "\n" } else { client::list_text(&listed) };
            console::out(text.as_bytes())?;
            return Ok(ExitCode::SUCCESS);
        }
        cli::Command::Show { what, max, target } => {
            if max.is_some() && what != handoff::control::protocol::ShowWhat::Trace {
                return Err(FlagError::new("--max is for show trace only").into());
            }
            let json = target.json;
            (target, Request::Show { what, json, max })
        }
        cli::Command::Trace { op: cli::TraceCommand::Add { count, filter, target } } => {
            if let Some(expr) = &filter {
                // Checked here too (bounded in length and time), so a typo or a
                // filter too big is a command-line error (exit 2).
                handoff::trace::filter::check(expr).map_err(|e| FlagError::new(format!("{e:#}")))?;
            }
            (target, Request::TraceAdd { count, filter })
        }
        cli::Command::Clear { what, target } => (target, Request::Clear { what }),
    };
    let timeout = std::time::Duration::from_secs_f64(target.timeout);
    let text = client::run(target.file_prefix.as_deref(), &request, timeout)?;
    console::out(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// A tx_pcap file, read back after the port closed, against what its port
/// counted transmitted: a full disk or frames cut at the snaplen show here.
fn check_tx_file(t: &TxOutput, facts: &RunFacts) -> FileCheck {
    let stats = facts.interfaces.iter().find(|(i, _)| i.name == t.vdev).map(|(_, s)| *s).unwrap_or_default();
    let file = t.sink.target().display().to_string();
    let mut check = FileCheck {
        file,
        device: t.vdev.clone(),
        direction: "tx".into(),
        expected_packets: stats.tx_packets,
        packets: 0,
        expected_bytes: Some(stats.tx_bytes),
        bytes: None,
        ok: false,
        cause: None,
    };
    let found = match t.sink.written() {
        Some(Written::File(path)) => match input::capture_totals(&path) {
            Ok(totals) => Ok(totals),
            // A write that failed midway (disk full) usually ends in a cut record.
            Err(e) => match e.downcast_ref::<input::UnreadableRecord>() {
                Some(r) => Err((r.before, "it ends in a cut record: the disk or device filled up".to_string())),
                None => Err((Default::default(), format!("it cannot be read back: {e:#}"))),
            },
        },
        Some(Written::Relayed(r)) => r,
        None => Err((Default::default(), "it cannot be checked".to_string())),
    };
    let (totals, cause) = match found {
        Ok(t) => (t, None),
        Err((t, why)) => (t, Some(why)),
    };
    check.packets = totals.packets;
    check.bytes = Some(totals.captured_bytes);
    // net_pcap counts the bytes it wrote: a frame cut at its snaplen shows only as a cut record.
    check.ok = cause.is_none()
        && totals.packets == stats.tx_packets
        && totals.captured_bytes == stats.tx_bytes
        && totals.truncated == 0;
    if !check.ok {
        check.cause = cause.or_else(|| input::explain_shortfall(stats.tx_packets, stats.tx_bytes, &totals));
    }
    check
}
