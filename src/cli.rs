//! Command-line flags, and turning them into a validated run plan.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};

use crate::eal_args;
use crate::input;
use crate::pg;
use crate::pipeline::{OutputChoice, Plan};
use crate::report::Section;

/// The seed's packet-generator script, run when no input is named.
pub const SEED_PG_SCRIPT: &str = include_str!("../dpdk-config/pg_input_script");

/// Packets one rx lcore can trace (each costs a few hundred bytes, preallocated).
pub const MAX_TRACE: u32 = 100_000;

#[derive(Parser, Debug)]
#[command(
    name = "handoff",
    version = crate::dpdk::version::summary(),
    about = "A DPDK forwarder that hands packets from an rx lcore to a worker lcore over an rte_ring, \
             with VPP's counters, runtime and packet tracer",
    after_help = "With no input (--vdev, -a or --pg), runs the seed demo: the VPP handoffdemo \
                  packet-generator script on a net_pcap vdev, without hugepages.\n\
                  Anything after -- is passed to EAL unchanged."
)]
pub struct Cli {
    /// VPP packet-generator script to make the input from (fed through net_pcap; implies --no-huge)
    #[arg(long, value_name = "FILE")]
    pub pg: Option<PathBuf>,

    /// Trace the first N packets entering dpdk-input on each rx lcore
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub trace: u32,

    /// Trace only packets matching a pcap-filter expression, e.g. 'udp port 53' (needs --trace)
    #[arg(long, value_name = "EXPR")]
    pub trace_filter: Option<String>,

    /// Write the traced packets to FILE as pcapng, with their node paths as comments (needs --trace)
    #[arg(long, value_name = "FILE")]
    pub trace_pcapng: Option<PathBuf>,

    /// Most packets per thread that `show trace` prints (VPP's default is 50)
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub trace_display: usize,

    /// Text sections to print, comma-separated [default: errors,runtime, plus trace with --trace]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub show: Vec<ShowArg>,

    /// Print one JSON document on stdout instead of text
    #[arg(long)]
    pub json: bool,

    /// Stop after receiving N packets
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Stop after SECS seconds
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    pub duration: Option<f64>,

    /// Print a line of rates to stderr every SECS seconds
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    pub stats_interval: Option<f64>,

    /// Indices each handoff ring holds (a power of two)
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub ring_size: u32,

    /// Packets per rx burst / ring dequeue (1-256)
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub burst: u16,

    /// When a ring is full, hold and retry instead of dropping (rx stalls)
    #[arg(long)]
    pub backpressure: bool,

    /// `drop` (the seed: error-drop -> drop) or a port name/id to transmit on
    #[arg(long, value_name = "drop|PORT", default_value = "drop")]
    pub output: String,

    /// Rx lcores (dpdk-input + handoffdemo-1), e.g. 0 or 0,1
    #[arg(long, value_name = "LIST", default_value = "0")]
    pub rx_lcores: String,

    /// Worker lcores (handoffdemo-2), e.g. 2 or 2-3
    #[arg(long, value_name = "LIST", default_value = "2")]
    pub worker_lcores: String,

    /// With several workers, send both directions of a flow to the same one
    #[arg(long)]
    pub symmetric: bool,

    /// Mbufs per packet pool [default: enough for every queue, ring and burst]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(64..))]
    pub mbufs: Option<u32>,

    /// Rx descriptors per queue
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub rx_desc: u16,

    /// Tx descriptors per queue
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub tx_desc: u16,

    /// EAL: list of lcores to run on (e.g. 0-2)
    #[arg(short = 'l', value_name = "CORELIST", help_heading = "EAL")]
    pub corelist: Option<String>,

    /// EAL: lcore to CPU map (e.g. 0@0,2@1,1@(0,1))
    #[arg(long, value_name = "MAP", help_heading = "EAL")]
    pub lcores: Option<String>,

    /// EAL: add a virtual device (repeatable), e.g. net_pcap0,rx_pcap=in.pcap
    #[arg(long = "vdev", value_name = "DEV", help_heading = "EAL")]
    pub vdevs: Vec<String>,

    /// EAL: allow a PCI device (repeatable)
    #[arg(short = 'a', long = "allow", value_name = "PCI", help_heading = "EAL")]
    pub allow: Vec<String>,

    /// EAL: use anonymous memory instead of hugepages
    #[arg(long, help_heading = "EAL")]
    pub no_huge: bool,

    /// EAL: megabytes of memory to reserve
    #[arg(short = 'm', value_name = "MB", help_heading = "EAL")]
    pub memory: Option<u32>,

    /// EAL: prefix for this process's runtime files [default: handoff-<pid>]
    #[arg(long, value_name = "NAME", help_heading = "EAL")]
    pub file_prefix: Option<String>,

    /// EAL: keep no shared files (single process)
    #[arg(long, help_heading = "EAL")]
    pub in_memory: bool,

    /// EAL: log level, e.g. notice or lib.eal:debug (repeatable)
    #[arg(long, value_name = "LEVEL", help_heading = "EAL")]
    pub log_level: Vec<String>,

    /// EAL: read EAL arguments from a profile (see dpdk-config/)
    #[arg(long, value_name = "FILE", help_heading = "EAL")]
    pub eal_config: Option<PathBuf>,

    /// EAL arguments passed on unchanged
    #[arg(last = true, value_name = "EAL ARGS")]
    pub eal_extra: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShowArg {
    Errors,
    Runtime,
    Trace,
    Interfaces,
}

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a positive number of seconds")),
    }
}

/// A validated plan, the sections to print, and files that must live as
/// long as the run (generated pcaps).
pub struct Prepared {
    pub plan: Plan,
    pub sections: Vec<Section>,
    pub json: bool,
    pub trace_display: usize,
    pub trace_pcapng: Option<PathBuf>,
    pub _workdir: Option<tempfile::TempDir>,
    /// Output files (tx_pcap) that did not exist before this run: removed
    /// if the run fails, so a failure leaves no half-written file.
    pub new_outputs: Vec<PathBuf>,
    /// Said on stderr before the run (e.g. that the seed demo runs).
    pub notice: Option<String>,
}

pub fn prepare(cli: Cli) -> Result<Prepared> {
    let (rx_lcores, worker_lcores) = check_flags(&cli)?;

    let mut eal: Vec<String> = match &cli.eal_config {
        Some(p) => eal_args::read_profile(p)?,
        None => Vec::new(),
    };
    for v in &cli.vdevs {
        eal.extend(["--vdev".into(), v.clone()]);
    }
    for a in &cli.allow {
        eal.extend(["-a".into(), a.clone()]);
    }
    let mut notice = None;
    let mut workdir = None;
    let mut pg_vdevs = Vec::new();
    let mut trace = cli.trace;
    let named_input =
        |eal: &[String]| ["--vdev", "-a", "--allow"].iter().any(|f| !eal_args::values_of(eal, f).is_empty());
    let all_so_far: Vec<String> = eal.iter().chain(&cli.eal_extra).cloned().collect();
    let demo = cli.pg.is_none() && !named_input(&all_so_far);
    if demo {
        notice = Some(
            "handoff: no input named; running the seed demo (dpdk-config/pg_input_script on a net_pcap vdev, \
             --trace 100, no hugepages)"
                .to_string(),
        );
        if trace == 0 {
            trace = 100;
        }
    }
    if cli.pg.is_some() || demo {
        let dir =
            tempfile::Builder::new().prefix("handoff-pg-").tempdir().context("cannot make a temporary directory")?;
        let streams = match &cli.pg {
            Some(path) => pg::parse_file(path)?,
            None => pg::parse_str(SEED_PG_SCRIPT, "pg_input_script", Path::new("."))?,
        };
        pg_vdevs = pg_inputs(&streams, dir.path())?;
        workdir = Some(dir);
        for v in &pg_vdevs {
            eal.extend(["--vdev".into(), v.clone()]);
        }
    }
    let no_huge = cli.no_huge || !pg_vdevs.is_empty();
    if no_huge && !eal.iter().any(|a| a == "--no-huge") {
        eal.push("--no-huge".into());
    }
    if let Some(m) = cli.memory {
        eal.extend(["-m".into(), m.to_string()]);
    } else if no_huge && eal_args::values_of(&eal, "-m").is_empty() {
        // EAL's 64 MB default without hugepages is too tight for the pool.
        eal.extend(["-m".into(), "512".into()]);
    }
    if cli.in_memory {
        eal.push("--in-memory".into());
    }
    if let Some(p) = &cli.file_prefix {
        eal.extend(["--file-prefix".into(), p.clone()]);
    }
    for l in &cli.log_level {
        eal.push(format!("--log-level={l}"));
    }
    if let Some(l) = &cli.corelist {
        eal.extend(["-l".into(), l.clone()]);
    }
    if let Some(l) = &cli.lcores {
        eal.extend(["--lcores".into(), l.clone()]);
    }
    eal.extend(cli.eal_extra.iter().cloned());
    // Without an allow-list EAL would probe every PCI NIC, including the one
    // this machine is reached through; virtual devices need no PCI scan.
    let pci_named = ["-a", "--allow", "-b", "--block"].iter().any(|f| !eal_args::values_of(&eal, f).is_empty());
    if !pci_named && !eal.iter().any(|a| a == "--no-pci") {
        eal.push("--no-pci".into());
    }

    place_lcores(&mut eal, &rx_lcores, &worker_lcores)?;
    // A unique prefix lets several runs (and tests) share a machine.
    let own_file_prefix = !eal.iter().any(|a| a == "--file-prefix" || a.starts_with("--file-prefix="))
        && !eal.iter().any(|a| a == "--in-memory");
    if own_file_prefix {
        eal.extend(["--file-prefix".into(), format!("handoff-{}", std::process::id())]);
    }
    if cli.log_level.is_empty() && !eal.iter().any(|a| a.starts_with("--log-level")) {
        // EAL's start-up chatter hides our output; errors and warnings still show.
        eal.push("--log-level=warning".into());
        eal.push("--log-level=lib.telemetry:error".into());
    }

    let vdevs = eal_args::values_of(&eal, "--vdev");
    let finite_inputs = input::finite_inputs(&vdevs)?;
    let new_outputs = input::output_files(&vdevs).into_iter().filter(|p| !p.exists()).collect();
    let output = match cli.output.as_str() {
        "drop" => OutputChoice::Drop,
        p => OutputChoice::Port(p.to_string()),
    };

    let sections = if cli.show.is_empty() {
        let mut s = vec![Section::Errors, Section::Runtime];
        if trace > 0 {
            s.push(Section::Trace);
        }
        s
    } else {
        cli.show
            .iter()
            .map(|s| match s {
                ShowArg::Errors => Section::Errors,
                ShowArg::Runtime => Section::Runtime,
                ShowArg::Trace => Section::Trace,
                ShowArg::Interfaces => Section::Interfaces,
            })
            .collect()
    };

    Ok(Prepared {
        plan: Plan {
            eal_args: eal,
            own_file_prefix,
            rx_lcores,
            worker_lcores,
            ring_size: cli.ring_size,
            burst: cli.burst as usize,
            backpressure: cli.backpressure,
            symmetric: cli.symmetric,
            output,
            trace,
            trace_filter: cli.trace_filter.clone(),
            count: cli.count,
            duration: cli.duration,
            stats_interval: cli.stats_interval,
            rx_desc: cli.rx_desc,
            tx_desc: cli.tx_desc,
            mbufs: cli.mbufs,
            finite_inputs,
        },
        sections,
        json: cli.json,
        trace_display: cli.trace_display,
        trace_pcapng: cli.trace_pcapng.clone(),
        _workdir: workdir,
        new_outputs,
        notice,
    })
}

/// Checks what needs no EAL; returns the rx and worker lcores.
fn check_flags(cli: &Cli) -> Result<(Vec<u32>, Vec<u32>)> {
    let rx_lcores = eal_args::parse_list(&cli.rx_lcores).context("--rx-lcores")?;
    let worker_lcores = eal_args::parse_list(&cli.worker_lcores).context("--worker-lcores")?;
    check_distinct(&rx_lcores, "--rx-lcores")?;
    check_distinct(&worker_lcores, "--worker-lcores")?;
    if let Some(l) = rx_lcores.iter().find(|l| worker_lcores.contains(l)) {
        bail!("lcore {l} is both an rx lcore and a worker lcore; give each role its own lcore");
    }
    if !cli.ring_size.is_power_of_two() || cli.ring_size < 2 {
        bail!("--ring-size {} is not a power of two (try {})", cli.ring_size, cli.ring_size.next_power_of_two().max(2));
    }
    if cli.trace > MAX_TRACE {
        bail!("--trace {} is more than the {MAX_TRACE} packets a trace buffer holds", cli.trace);
    }
    if cli.trace == 0 && (cli.trace_filter.is_some() || cli.trace_pcapng.is_some()) {
        bail!("--trace-filter and --trace-pcapng need --trace N (how many packets to trace)");
    }
    if let Some(expr) = &cli.trace_filter {
        crate::trace::filter::compile(expr)?;
    }
    if let Some(p) = &cli.trace_pcapng {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            bail!("--trace-pcapng {}: directory {} does not exist", p.display(), dir.display());
        }
    }
    if cli.count == Some(0) {
        bail!("--count 0 would receive nothing; give at least 1");
    }
    Ok((rx_lcores, worker_lcores))
}

/// The control thread runs on EAL's main lcore, which must not be an rx or
/// worker lcore: picks it (and, without -l/--lcores, the whole lcore map).
fn place_lcores(eal: &mut Vec<String>, rx_lcores: &[u32], worker_lcores: &[u32]) -> Result<()> {
    let data: Vec<u32> = rx_lcores.iter().chain(worker_lcores).copied().collect();
    let mains = eal_args::values_of(eal, "--main-lcore");
    match eal_args::lcore_set(eal)? {
        None => {
            let control = (0..).find(|l| !data.contains(l)).expect("a free lcore id");
            let map = eal_args::default_lcores_map(&data, control, &eal_args::allowed_cpus());
            eal.extend(["--lcores".into(), map]);
            if mains.is_empty() {
                eal.extend(["--main-lcore".into(), control.to_string()]);
            }
        }
        Some(set) => {
            for (l, role) in rx_lcores.iter().map(|l| (l, "rx")).chain(worker_lcores.iter().map(|l| (l, "worker"))) {
                if !set.contains(l) {
                    bail!("{role} lcore {l} is not in the EAL lcore map {:?}; add it to -l/--lcores", set);
                }
            }
            if mains.is_empty() {
                let Some(control) = set.iter().find(|l| !data.contains(l)) else {
                    bail!(
                        "the lcore map {:?} has no lcore left for the control thread besides the rx and worker lcores; add one (e.g. -l 0-2)",
                        set
                    );
                };
                eal.extend(["--main-lcore".into(), control.to_string()]);
            }
        }
    }
    Ok(())
}

fn check_distinct(list: &[u32], flag: &str) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for l in list {
        if !seen.insert(l) {
            bail!("{flag} names lcore {l} twice");
        }
    }
    Ok(())
}

/// Writes each pg interface's packets to a pcap file and returns one
/// net_pcap vdev per interface, in order of first appearance.
fn pg_inputs(streams: &[pg::Stream], dir: &Path) -> Result<Vec<String>> {
    let mut interfaces: Vec<(String, Vec<Vec<u8>>, bool)> = Vec::new();
    for s in streams {
        if s.rate.is_some() {
            log::warn!("pg stream '{}': rate is not applied, net_pcap replays as fast as it can", s.name);
        }
        if s.worker.is_some() || s.maxframe.is_some() {
            log::warn!("pg stream '{}': worker and maxframe are not applied (see --rx-lcores, --burst)", s.name);
        }
        let packets = s.packets()?;
        match interfaces.iter_mut().find(|(name, _, _)| *name == s.interface) {
            Some((_, all, infinite)) => {
                all.extend(packets);
                *infinite |= s.is_infinite();
            }
            None => interfaces.push((s.interface.clone(), packets, s.is_infinite())),
        }
    }
    let mut vdevs = Vec::new();
    for (i, (name, packets, infinite)) in interfaces.iter().enumerate() {
        let file = dir.join(format!("pg-{i}-{}.pcap", sanitize(name)));
        pg::write_pcap(&file, packets).with_context(|| format!("cannot write {}", file.display()))?;
        let mut v = format!("net_pcap{i},rx_pcap={}", file.display());
        if *infinite {
            v.push_str(",infinite_rx=1");
        }
        vdevs.push(v);
    }
    Ok(vdevs)
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}
