//! Command-line flags, and turning them into a validated run plan. Every
//! check that can be made before EAL starts is made here: handoff runs as
//! root, so flags, paths and numbers are treated as hostile.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::cleanup;
use crate::control::client::{DEFAULT_TIMEOUT_SECS, TIMEOUT_SECS};
use crate::control::protocol::{ClearWhat, ShowWhat};
use crate::devices::{self, NamedDevices, Vdev};
use crate::dpdk::runtime_files::RuntimeFiles;
use crate::drivers::{self, Driver};
use crate::eal_args::{self, EalArgs};
use crate::output::{ReaderWait, Sink, TraceDestination};
use crate::pg;
use crate::pipeline::topology::Topology;
use crate::pipeline::{MacPlan, OutputChoice, Plan, TxRetryLimit};
use crate::report::Section;

/// The seed's packet-generator script, run when no input is named.
pub const SEED_PG_SCRIPT: &str = include_str!("../dpdk-config/pg_input_script");

/// Packets one rx lcore can trace (each costs a few hundred bytes, preallocated).
pub use crate::pipeline::live::MAX_LIVE_TRACE as MAX_TRACE;
/// Longest `--duration`: a year (longer runs need no limit at all).
pub const MAX_DURATION_SECS: f64 = 31_536_000.0;
/// `--stats-interval` bounds: 10 lines a second at most, one an hour at least.
pub const STATS_INTERVAL_SECS: (f64, f64) = (0.1, 3600.0);
/// Largest `--ring-size`: 16 Mi indices (64 MiB per ring).
pub const MAX_RING_SIZE: u32 = 1 << 24;
/// Largest `--mbufs` per pool: 16 Mi mbufs (about 40 GB of 2 KB buffers).
pub const MAX_MBUFS: u32 = 1 << 24;

use crate::flag_error::flag_error;
pub use crate::flag_error::FlagError;

#[derive(Parser, Debug)]
#[command(
    name = "handoff",
    version = crate::dpdk::version::summary(),
    about = "A DPDK forwarder that hands packets from an rx lcore to a worker lcore over an rte_ring, \
             with VPP's counters, runtime and packet tracer",
    after_help = "With no input (--vdev, -a or --pg), runs the seed demo: the VPP handoffdemo \
                  packet-generator script on a net_pcap vdev, without hugepages.\n\
                  Anything after -- is passed to EAL unchanged (and checked like the rest).\n\
                  While it runs: handoff show runtime|errors|interfaces|xstats|trace|handoff|pairs, \
                  handoff trace add N, handoff clear trace|runtime|errors|interfaces, handoff list.\n\
                  Exit status: 0 ok, 1 the run failed (or lost a packet, or its report), 2 a wrong command line, \
                  128+n aborted by a second signal n.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Operate a running forwarder (like vppctl); without one, handoff runs a forwarder
    #[command(subcommand)]
    pub command: Option<Command>,

    /// VPP packet-generator script to make the input from (fed through net_pcap; implies --no-huge)
    #[arg(long, value_name = "FILE")]
    pub pg: Option<PathBuf>,

    /// Trace the first N packets entering dpdk-input on each rx lcore (0-100000)
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=MAX_TRACE as i64))]
    pub trace: u32,

    /// Trace only packets matching a pcap-filter expression, e.g. 'udp port 53' (needs --trace)
    #[arg(long, value_name = "EXPR")]
    pub trace_filter: Option<String>,

    /// Write the traced packets as pcapng, with their node paths as comments (needs --trace); '-' is stdout
    #[arg(long, value_name = "FILE")]
    pub trace_pcapng: Option<PathBuf>,

    /// Most packets per thread that `show trace` prints (0-1000000; VPP's default is 50)
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub trace_display: u32,

    /// Text sections to print, comma-separated (not with --json) [default: errors,runtime, plus trace with --trace]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub show: Vec<Section>,

    /// Print one JSON document on stdout instead of text
    #[arg(long)]
    pub json: bool,

    /// Serve the live counters on http://ADDR:PORT/metrics in the OpenMetrics text format (a bare PORT: 127.0.0.1)
    #[arg(long, value_name = "ADDR:PORT", value_parser = metrics_addr)]
    pub metrics: Option<std::net::SocketAddr>,

    /// Stop after receiving N packets (1 or more)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Stop after SECS seconds (more than 0, at most 31536000, a year)
    #[arg(long, value_name = "SECS", value_parser = duration_secs)]
    pub duration: Option<f64>,

    /// Print a line of rates to stderr every SECS seconds (0.1-3600)
    #[arg(long, value_name = "SECS", value_parser = interval_secs)]
    pub stats_interval: Option<f64>,

    /// Indices each handoff ring holds (a power of two, 2-16777216)
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub ring_size: u32,

    /// Packets per rx burst / ring dequeue (1-256)
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub burst: u16,

    /// Packets dpdk-input gathers into one frame before handing off: it polls --burst at a time until N, or until a poll comes back short (VPP's dpdk-input; 1-256, at least --burst)
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub frame: u16,

    /// When a ring or a tx queue is full, hold and retry (rx stalls) [default when every input is a capture file]
    #[arg(long, conflicts_with = "drop_on_congestion")]
    pub backpressure: bool,

    /// When a ring is full, drop and count (VPP's behaviour) [default for live inputs]
    #[arg(long)]
    pub drop_on_congestion: bool,

    /// Retry a tx queue's refused packets N times, USECS apart (busy wait), then drop (testpmd's
    /// burst tx retry; 0 drops at once) [default: with backpressure retry until sent, else drop]
    #[arg(long, value_name = "N[,USECS]", value_parser = tx_retry)]
    pub tx_retry: Option<TxRetryLimit>,

    /// `drop` (the seed: error-drop -> drop), a port name/id to transmit on, or port pairs
    /// `A:B,C:D` (l2fwd-style: what A receives leaves by B)
    #[arg(long, value_name = "drop|PORT|A:B,..", default_value = "drop", value_parser = output_spec)]
    pub output: String,

    /// Swap each frame's source and destination MAC before it leaves (testpmd's macswap mode)
    #[arg(long, conflicts_with = "eth_peer")]
    pub mac_swap: bool,

    /// Frames leaving PORT (id or name) go to MAC, from PORT's own address (testpmd's
    /// --eth-peer, mac mode); repeatable
    #[arg(long, value_name = "PORT,MAC", value_parser = eth_peer)]
    pub eth_peer: Vec<(String, [u8; 6])>,

    /// Rx lcores (dpdk-input + handoffdemo-1), e.g. 0 or 0,1
    #[arg(long, value_name = "LIST", default_value = "0")]
    pub rx_lcores: String,

    /// Worker lcores (handoffdemo-2), e.g. 2 or 2-3
    #[arg(long, value_name = "LIST", default_value = "2")]
    pub worker_lcores: String,

    /// With several workers, send both directions of a flow to the same one
    #[arg(long)]
    pub symmetric: bool,

    /// Mbufs per packet pool (64-16777216) [default: enough for every queue, ring and burst]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(64..=MAX_MBUFS as i64))]
    pub mbufs: Option<u32>,

    /// Mbuf data room with its 128-byte headroom, as testpmd's (256-65535) [default: 2176, raised to fit af_packet frames]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(i64::from(drivers::MIN_MBUF_SIZE)..))]
    pub mbuf_size: Option<u16>,

    /// Largest frame each port takes, as testpmd's: MTU + 18 (64-65535; sets each port's MTU, af_packet's frame size)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(64..=65535))]
    pub max_pkt_len: Option<u32>,

    /// Rx descriptors per queue (32-32768; the PMD may round it)
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u16).range(32..=32768))]
    pub rx_desc: u16,

    /// Tx descriptors per queue (32-32768; the PMD may round it)
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u16).range(32..=32768))]
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

    /// EAL: megabytes of memory to reserve (16-1048576)
    #[arg(short = 'm', value_name = "MB", help_heading = "EAL",
          value_parser = clap::value_parser!(u32).range(16..=1_048_576))]
    pub memory: Option<u32>,

    /// EAL: prefix for this process's runtime files, one path component [default: handoff-<pid>]
    #[arg(long, value_name = "NAME", help_heading = "EAL")]
    pub file_prefix: Option<String>,

    /// EAL: keep no shared files (single process)
    #[arg(long, help_heading = "EAL")]
    pub in_memory: bool,

    /// EAL: log level, e.g. notice or lib.eal:debug (repeatable)
    #[arg(long, value_name = "LEVEL", help_heading = "EAL")]
    pub log_level: Vec<String>,

    /// EAL: read EAL arguments from a profile (see dpdk-config/); flags given here win over it
    #[arg(long, value_name = "FILE", help_heading = "EAL")]
    pub eal_config: Option<PathBuf>,

    /// EAL arguments passed on unchanged
    #[arg(last = true, value_name = "EAL ARGS")]
    pub eal_extra: Vec<String>,
}

/// Commands to a running forwarder, over its control socket.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print a running forwarder's counters or trace as VPP's `show` does (or --json)
    Show {
        what: ShowWhat,
        /// show trace: packets per thread to print, instead of the forwarder's --trace-display
        #[arg(long, value_name = "N")]
        max: Option<u32>,
        #[command(flatten)]
        target: Target,
    },
    /// Arm a running forwarder's tracer (VPP's `trace add dpdk-input N`)
    Trace {
        #[command(subcommand)]
        op: TraceCommand,
    },
    /// Empty a running forwarder's trace, or zero its counters (VPP's `clear ...`)
    Clear {
        what: ClearWhat,
        #[command(flatten)]
        target: Target,
    },
    /// The running forwarders this user can reach: prefix, pid, ports, uptime
    List {
        /// One JSON array instead of text
        #[arg(long)]
        json: bool,
        /// Give up on a forwarder after SECS seconds for the whole exchange (0.1-3600)
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT_SECS, value_parser = timeout_secs)]
        timeout: f64,
    },
}

#[derive(Subcommand, Debug)]
pub enum TraceCommand {
    /// Trace the next N packets on each rx thread (1-100000)
    Add {
        #[arg(value_parser = clap::value_parser!(u32).range(1..=MAX_TRACE as i64))]
        count: u32,
        /// Only packets matching a pcap-filter expression, e.g. 'udp port 53'
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

/// Which forwarder to ask, and how to print its answer.
#[derive(Args, Debug)]
pub struct Target {
    /// The forwarder's EAL --file-prefix (needed only when several run)
    #[arg(long, value_name = "NAME")]
    pub file_prefix: Option<String>,
    /// Print the answer as JSON
    #[arg(long)]
    pub json: bool,
    /// Give up after SECS seconds for the whole exchange (0.1-3600)
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT_SECS, value_parser = timeout_secs)]
    pub timeout: f64,
}

fn seconds(s: &str, min: f64, min_inclusive: bool, max: f64) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (v > min || (min_inclusive && v == min)) && v <= max => Ok(v),
        _ => Err(format!(
            "'{s}' is not a number of seconds {} {min} and at most {max}",
            if min_inclusive { "of at least" } else { "above" }
        )),
    }
}

/// `--output` as given; `resolve_output` reads it against the named devices.
fn output_spec(s: &str) -> Result<String, String> {
    match s {
        "" => Err("name a port, or drop".into()),
        spec => Ok(spec.to_string()),
    }
}

/// Longest busy wait `--tx-retry` may spend on one burst (retries x delay): 1 s.
pub const MAX_TX_RETRY_WAIT_US: u64 = 1_000_000;

/// `PORT,MAC` (the port is checked against the devices later, before EAL starts).
fn eth_peer(s: &str) -> Result<(String, [u8; 6]), String> {
    let bad = || format!("'{s}' is not PORT,MAC (e.g. 0,02:00:00:00:00:01)");
    let (port, mac) = s.split_once(',').ok_or_else(bad)?;
    let mut out = [0u8; 6];
    let mut parts = mac.split(':');
    for b in out.iter_mut() {
        let p = parts.next().filter(|p| p.len() == 2).ok_or_else(bad)?;
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if port.is_empty() || parts.next().is_some() {
        return Err(bad());
    }
    Ok((port.to_string(), out))
}

/// `--mac-swap` or `--eth-peer`s, their ports checked against the devices.
fn mac_plan(cli: &Cli, named: &NamedDevices) -> Result<Option<MacPlan>> {
    if cli.mac_swap {
        return Ok(Some(MacPlan::Swap));
    }
    if cli.eth_peer.is_empty() {
        return Ok(None);
    }
    for (port, _) in &cli.eth_peer {
        if port_named(port, named).is_none() {
            return Err(flag_error(format!(
                "--eth-peer {port},...: unknown port '{port}'; ports are: {}",
                named.names.join(", ")
            )));
        }
    }
    Ok(Some(MacPlan::Peers(cli.eth_peer.clone())))
}

/// `N[,USECS]`: USECS defaults to testpmd's 1 us.
fn tx_retry(s: &str) -> Result<TxRetryLimit, String> {
    let (n, us) = s.split_once(',').unwrap_or((s, "1"));
    let bad = || format!("'{s}' is not N[,USECS] (retries 0-1000000, microseconds 0-1000000 between them)");
    let retries: u32 = n.parse().map_err(|_| bad())?;
    let delay_us: u32 = us.parse().map_err(|_| bad())?;
    if retries > 1_000_000 || delay_us > 1_000_000 {
        return Err(bad());
    }
    if u64::from(retries) * u64::from(delay_us) > MAX_TX_RETRY_WAIT_US {
        return Err(format!("'{s}': {retries} retries {delay_us} us apart wait more than 1 s on one burst"));
    }
    Ok(TxRetryLimit { retries, delay_us })
}

fn duration_secs(s: &str) -> Result<f64, String> {
    seconds(s, 0.0, false, MAX_DURATION_SECS)
}

fn interval_secs(s: &str) -> Result<f64, String> {
    seconds(s, STATS_INTERVAL_SECS.0, true, STATS_INTERVAL_SECS.1)
}

fn timeout_secs(s: &str) -> Result<f64, String> {
    seconds(s, TIMEOUT_SECS.0, true, TIMEOUT_SECS.1)
}

/// A file a net_pcap vdev writes (`tx_pcap=`), through a sink that keeps
/// the user's file intact until the run has a report.
pub struct TxOutput {
    pub vdev: String,
    pub sink: Sink,
}

/// A validated plan, the sections to print, and what the run writes.
pub struct Prepared {
    pub plan: Plan,
    pub sections: Vec<Section>,
    pub json: bool,
    pub trace_display: usize,
    pub trace_pcapng: Option<TraceDestination>,
    pub tx_outputs: Vec<TxOutput>,
    /// `--metrics`: bound before EAL starts, served once the lcores run.
    pub metrics: Option<std::net::TcpListener>,
    /// Generated pcaps, alive as long as the run.
    pub _workdir: Option<tempfile::TempDir>,
    /// Ethernet copies of raw IP and Linux cooked inputs, alive as long as the run.
    pub _ethernet_copies: crate::linktype::EthernetCopies,
    /// Said on stderr before the run (e.g. that the seed demo runs).
    pub notice: Option<String>,
}

pub fn prepare(cli: Cli) -> Result<Prepared> {
    let (rx_lcores, worker_lcores) = check_flags(&cli)?;
    let ours = command_line_eal(&cli);
    let mut eal = profile_and_devices(&cli, &ours)?;
    let generates = generates_input(&cli, &eal, &ours);
    // Generated vdevs follow the profile's and --vdev's, before the EAL arguments after --.
    let generated_at = eal.values("--vdev").len();
    let prefix = complete_eal(&cli, &mut eal, ours, generates.is_some(), &rx_lcores, &worker_lcores)?;
    // Every --vdev is parsed here, once; they go back into `eal` in prepare_outputs.
    let mut vdevs = devices::take_vdevs(&mut eal);
    let generated = generates.map(|demo| generated_input(&cli, demo, &vdevs)).transpose()?;
    if let Some(g) = &generated {
        vdevs.splice(generated_at..generated_at, g.vdevs.iter().cloned());
    }
    let mbuf_size = drivers::fit_frames(&mut vdevs, cli.mbuf_size, cli.max_pkt_len)?;
    drivers::check_af_packet_queues(&vdevs, rx_lcores.len())?;

    let metrics = cli
        .metrics
        .map(|a| std::net::TcpListener::bind(a).with_context(|| format!("--metrics {a}: cannot listen there")))
        .transpose()?;
    let named = devices::check(&eal, &vdevs)?;
    let output = resolve_output(&cli.output, &named)?;
    let tx_only = tx_only_port(&output, &named);
    let mac_rewrite = mac_plan(&cli, &named)?;
    // A file is not a wire: with only capture files in, a full ring holds.
    let tx_only_name = tx_only.map(|d| named.names[d].as_str());
    let backpressure = cli.backpressure || (!cli.drop_on_congestion && named.all_inputs_finite_besides(tx_only_name));
    // A FIFO output waits for its reader no longer than the run would last, nor past a signal.
    let wait = ReaderWait {
        limit: cli.duration.map(std::time::Duration::from_secs_f64),
        interrupt: crate::pipeline::supervise::signal_channel(),
    };
    let (tx_outputs, trace_pcapng, ethernet_copies) = prepare_outputs(&mut vdevs, cli.trace_pcapng.as_deref(), &wait)?;
    devices::put_vdevs(&mut eal, &vdevs);

    let trace = match &generated {
        Some(g) if g.demo && cli.trace == 0 => 100,
        _ => cli.trace,
    };
    let (notice, workdir) = match generated {
        Some(g) => (g.demo.then(|| SEED_DEMO_NOTICE.to_string()), Some(g.dir)),
        None => (None, None),
    };
    Ok(Prepared {
        plan: Plan {
            eal_args: eal,
            runtime_files: RuntimeFiles::before_init(&prefix),
            devices: named.names.clone(),
            topology: Topology::new(&rx_lcores, &worker_lcores),
            ring_size: cli.ring_size,
            burst: cli.burst as usize,
            frame: cli.frame as usize,
            backpressure,
            tx_retry: cli.tx_retry,
            symmetric: cli.symmetric,
            output,
            mac_rewrite,
            tx_only,
            trace,
            trace_filter: cli.trace_filter.clone(),
            trace_display: cli.trace_display,
            count: cli.count,
            duration: cli.duration,
            stats_interval: cli.stats_interval,
            rx_desc: cli.rx_desc,
            tx_desc: cli.tx_desc,
            mbufs: cli.mbufs,
            mbuf_size,
            max_pkt_len: cli.max_pkt_len,
            finite_inputs: named.finite,
        },
        sections: sections(&cli.show, trace > 0),
        json: cli.json,
        trace_display: cli.trace_display as usize,
        trace_pcapng,
        tx_outputs,
        metrics,
        _workdir: workdir,
        _ethernet_copies: ethernet_copies,
        notice,
    })
}

/// `--metrics ADDR:PORT`, or a bare PORT on loopback.
fn metrics_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().map_err(|_| format!("'{s}' is not ADDR:PORT or PORT (e.g. 127.0.0.1:9100, [::1]:9100, 9100)"))
}

const SEED_DEMO_NOTICE: &str = "handoff: no input named; running the seed demo \
     (dpdk-config/pg_input_script on a net_pcap vdev, --trace 100, no hugepages)";

/// The EAL flags given on the command line, which win over a profile's.
fn command_line_eal(cli: &Cli) -> EalArgs {
    let mut ours = EalArgs::default();
    if let Some(m) = cli.memory {
        ours.push("-m", Some(&m.to_string()));
    }
    if let Some(p) = &cli.file_prefix {
        ours.push("--file-prefix", Some(p));
    }
    if let Some(l) = &cli.corelist {
        ours.push("-l", Some(l));
    }
    if let Some(l) = &cli.lcores {
        ours.push("--lcores", Some(l));
    }
    ours.extend(cli.eal_extra.iter().cloned());
    ours
}

/// The profile (less what the command line overrides) and the named devices,
/// checked together with the command line's EAL flags before anything is made.
fn profile_and_devices(cli: &Cli, ours: &EalArgs) -> Result<EalArgs> {
    let mut eal = match &cli.eal_config {
        Some(p) => EalArgs::new(eal_args::drop_overridden(eal_args::read_profile(p)?, ours.as_slice())),
        None => EalArgs::default(),
    };
    for v in &cli.vdevs {
        eal.push("--vdev", Some(v));
    }
    for a in &cli.allow {
        eal.push("-a", Some(a));
    }
    eal_args::check_values(&cli.eal_extra, "the EAL arguments after --")?;
    let all: Vec<String> = eal.as_slice().iter().chain(ours.as_slice()).cloned().collect();
    eal_args::validate(&all)?;
    Ok(eal)
}

/// Inputs generated from a pg script (or the seed demo when nothing is named).
struct Generated {
    vdevs: Vec<Vdev>,
    dir: tempfile::TempDir,
    demo: bool,
}

/// Whether the input is generated (a pg script, or the seed demo when
/// nothing is named): None, or Some(whether it is the demo).
fn generates_input(cli: &Cli, eal: &EalArgs, ours: &EalArgs) -> Option<bool> {
    let named_input = eal.names_any(&["--vdev", "-a", "--allow"]) || ours.names_any(&["--vdev", "-a", "--allow"]);
    let demo = cli.pg.is_none() && !named_input;
    (cli.pg.is_some() || demo).then_some(demo)
}

fn generated_input(cli: &Cli, demo: bool, vdevs: &[Vdev]) -> Result<Generated> {
    let streams = match &cli.pg {
        Some(path) => pg::parse_file(path)?,
        None => pg::parse_str(SEED_PG_SCRIPT, "pg_input_script", Path::new("."))?,
    };
    let dir = cleanup::input_dir("handoff-pg-").context("cannot make a temporary directory")?;
    let inputs = pg_inputs(&streams, dir.path())?;
    // Named so that no user --vdev has the same name.
    let taken: Vec<String> = vdevs.iter().map(|v| v.name.clone()).collect();
    let vdevs = inputs
        .iter()
        .zip(devices::free_pcap_names(&taken, inputs.len()))
        .map(|(input, name)| {
            let mut args = vec![("rx_pcap".to_string(), input.path.to_string_lossy().into_owned())];
            if input.infinite {
                args.push(("infinite_rx".into(), "1".into()));
            }
            Vdev::new(name, args)
        })
        .collect();
    Ok(Generated { vdevs, dir, demo })
}

/// Everything EAL needs besides the devices: memory, the command line's
/// flags, no PCI scan unless asked, the lcore map and a file prefix of the
/// run's own. Returns the prefix.
fn complete_eal(
    cli: &Cli,
    eal: &mut EalArgs,
    ours: EalArgs,
    generated: bool,
    rx_lcores: &[u32],
    worker_lcores: &[u32],
) -> Result<String> {
    let users_no_huge = cli.no_huge || eal.has("--no-huge") || ours.has("--no-huge");
    let no_huge = cli.no_huge || generated;
    if no_huge && !eal.has("--no-huge") {
        eal.push("--no-huge", None);
    }
    let sized = |e: &EalArgs| e.names_any(&["-m", "--socket-mem"]);
    if no_huge && !sized(eal) && !sized(&ours) {
        // EAL's 64 MB default without hugepages is too tight for the pool.
        eal.push("-m", Some("512"));
    }
    if cli.in_memory {
        eal.push("--in-memory", None);
    }
    eal.extend(cli.log_level.iter().map(|l| format!("--log-level={l}")));
    eal.extend(ours.as_slice().iter().cloned());
    // Without an allow-list EAL would probe every PCI NIC, including the one
    // this machine is reached through; virtual devices need no PCI scan.
    if !eal.names_any(&["-a", "--allow", "-b", "--block"]) && !eal.has("--no-pci") {
        eal.push("--no-pci", None);
    }
    // Before EAL starts, so the line names the user's flags, not what EAL infers.
    let no_huge_by =
        (!users_no_huge && generated).then_some("a --pg input (or the seed demo), which runs without hugepages");
    eal_args::check_conflicts(eal.as_slice(), no_huge_by)?;
    place_lcores(eal, rx_lcores, worker_lcores)?;
    // A prefix of its own lets several runs (and tests) share a machine.
    let prefix = match eal.file_prefix() {
        Some(p) => p,
        None if eal.has("--in-memory") => "rte".to_string(),
        None => {
            let p = format!("handoff-{}", std::process::id());
            eal.push("--file-prefix", Some(&p));
            p
        }
    };
    if !eal.as_slice().iter().any(|a| a.starts_with("--log-level")) {
        // EAL's start-up chatter hides our output; errors and warnings still show.
        eal.extend(["--log-level=warning".to_string(), "--log-level=lib.telemetry:error".to_string()]);
    }
    Ok(prefix)
}

/// The text sections to print: those asked for, else errors and runtime
/// (and the trace when tracing).
fn sections(show: &[Section], tracing: bool) -> Vec<Section> {
    if show.is_empty() {
        let mut s = vec![Section::Errors, Section::Runtime];
        if tracing {
            s.push(Section::Trace);
        }
        return s;
    }
    let mut unique: Vec<Section> = Vec::with_capacity(show.len());
    for s in show {
        if !unique.contains(s) {
            unique.push(*s);
        }
    }
    unique
}

/// `--output` against the devices the run names, before EAL starts (a typo
/// must not cost the user an existing tx_pcap file), once: `drop`, one
/// port, or port pairs `A:B,C:D` (ids or names; a PCI name's own colons are
/// told apart by which split names two ports), as devices' indices in
/// `named.names`, which set-up maps to port ids.
fn resolve_output(output: &str, named: &NamedDevices) -> Result<OutputChoice> {
    if output == "drop" {
        return Ok(OutputChoice::Drop);
    }
    if let Some(device) = port_named(output, named) {
        let choice = OutputChoice::Port(device);
        if is_rx_port(&named.names[device], named) && tx_only_port(&choice, named).is_none() {
            log::warn!(
                "--output {output}: {} also receives, so it sends back (reflects) its own traffic; \
                 use pairs (--output 0:1,1:0) to forward between ports",
                named.names[device]
            );
        }
        return Ok(choice);
    }
    let known = || named.names.join(", ");
    if output.contains(':') {
        return resolve_pairs(output, named).map(OutputChoice::Pairs);
    }
    if let Ok(id) = output.parse::<u16>() {
        return Err(flag_error(format!(
            "--output {id}: there are {} ports (ids 0-{}): {}",
            named.names.len(),
            named.names.len().saturating_sub(1),
            known()
        )));
    }
    Err(flag_error(format!("unknown port '{output}' for --output; ports are: {}", known())))
}

/// The device (its index in `named.names`) `--output` or one side of a pair names, by id or name.
fn port_named(spec: &str, named: &NamedDevices) -> Option<usize> {
    if let Ok(id) = spec.parse::<u16>() {
        return Some(usize::from(id)).filter(|&i| i < named.names.len());
    }
    // A PCI address with or without its `0000:` domain; nothing after it
    // (`01:00.0:1` is a pair, not a port of 01:00.0).
    let full = |name: &str| match name.matches(':').count() {
        1 => format!("0000:{name}"),
        _ => name.to_string(),
    };
    named.names.iter().position(|n| full(n) == full(spec))
}

/// The device `--output PORT` names when it only transmits: a live port
/// (not a capture file) while other ports receive. Polling it would send its
/// own traffic back out and keep a capture replay from ending.
fn tx_only_port(output: &OutputChoice, named: &NamedDevices) -> Option<usize> {
    let OutputChoice::Port(d) = *output else { return None };
    let device = named.names.get(d)?;
    let live = !named.finite.contains_key(device);
    let others_receive = named.names.iter().any(|n| n != device && is_rx_port(n, named));
    (live && others_receive).then_some(d)
}

/// Whether the device is polled for packets (a tx-only net_pcap is not).
fn is_rx_port(name: &str, named: &NamedDevices) -> bool {
    match named.finite.get(name) {
        Some(files) => !files.is_empty(),
        None => !Driver::of(name).reads_capture_files(),
    }
}

/// `A:B,C:D`: each rx port once, every side a known port.
fn resolve_pairs(spec: &str, named: &NamedDevices) -> Result<Vec<(usize, usize)>> {
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for item in spec.split(',') {
        let pair = item
            .match_indices(':')
            .find_map(|(i, _)| Some((&item[..i], port_named(&item[..i], named)?, port_named(&item[i + 1..], named)?)));
        let Some((a, rx, tx)) = pair else {
            return Err(flag_error(format!(
                "--output {spec}: '{item}' is not a pair of known ports (rx:tx, ids or names); ports are: {}",
                named.names.join(", ")
            )));
        };
        if pairs.iter().any(|&(r, _)| r == rx) {
            return Err(flag_error(format!("--output {spec}: port {a} is the rx side of two pairs")));
        }
        if rx == tx {
            log::warn!(
                "--output {spec}: pair {item} sends back out of {port} what {port} receives (reflects its own traffic); \
                 use 0:1,1:0 to forward between ports",
                port = named.names[rx]
            );
        }
        pairs.push((rx, tx));
    }
    Ok(pairs)
}

#[cfg(test)]
#[path = "cli_output_tests.rs"]
mod output_tests;

/// Sinks for every file the run writes, opened before EAL starts; each
/// `tx_pcap` is pointed at its sink's temporary file, and each raw IP or
/// Linux cooked `rx_pcap` at its Ethernet copy.
fn prepare_outputs(
    vdevs: &mut [Vdev],
    trace_pcapng: Option<&Path>,
    wait: &ReaderWait,
) -> Result<(Vec<TxOutput>, Option<TraceDestination>, crate::linktype::EthernetCopies)> {
    let mut outputs: Vec<(String, PathBuf)> = Vec::new();
    for v in vdevs.iter().filter(|v| v.is_pcap()) {
        outputs.extend(v.values("tx_pcap").map(|f| (format!("tx_pcap of {}", v.name), PathBuf::from(f))));
    }
    if let Some(p) = trace_pcapng.filter(|p| p.as_os_str() != "-") {
        outputs.push(("--trace-pcapng".into(), p.to_path_buf()));
    }
    devices::check_distinct_files(&devices::input_files(vdevs), &outputs)?;

    let mut tx_outputs = Vec::new();
    let mut copies = crate::linktype::EthernetCopies::default();
    for v in vdevs.iter_mut().filter(|v| v.is_pcap()) {
        for (k, file) in v.args.iter_mut() {
            if k == "tx_pcap" {
                let sink = Sink::prepare_for_pmd(&format!("tx_pcap of {}", v.name), Path::new(file), wait)?;
                *file = sink.write_path().to_string_lossy().into_owned();
                tx_outputs.push(TxOutput { vdev: v.name.clone(), sink });
            }
            if k == "rx_pcap" {
                if let Some(copy) = copies.copy_if_needed(Path::new(file))? {
                    *file = copy.to_string_lossy().into_owned();
                }
            }
        }
    }
    for t in tx_outputs.iter().filter(|t| !t.sink.can_verify()) {
        log::warn!("tx_pcap of {} is a device or FIFO: what reaches it cannot be read back and checked", t.vdev);
    }
    let trace = trace_pcapng.map(|t| TraceDestination::prepare(t, wait)).transpose()?;
    Ok((tx_outputs, trace, copies))
}

/// Checks what needs no EAL; returns the rx and worker lcores.
fn check_flags(cli: &Cli) -> Result<(Vec<u32>, Vec<u32>)> {
    let rx_lcores = eal_args::parse_list(&cli.rx_lcores).map_err(|e| flag_error(format!("--rx-lcores: {e:#}")))?;
    let worker_lcores =
        eal_args::parse_list(&cli.worker_lcores).map_err(|e| flag_error(format!("--worker-lcores: {e:#}")))?;
    check_distinct(&rx_lcores, "--rx-lcores")?;
    check_distinct(&worker_lcores, "--worker-lcores")?;
    if let Some(l) = rx_lcores.iter().find(|l| worker_lcores.contains(l)) {
        return Err(flag_error(format!(
            "lcore {l} is both an rx lcore and a worker lcore; give each role its own lcore"
        )));
    }
    if !cli.ring_size.is_power_of_two() || cli.ring_size < 2 {
        return Err(flag_error(format!(
            "--ring-size {} is not a power of two (try {})",
            cli.ring_size,
            cli.ring_size.checked_next_power_of_two().unwrap_or(MAX_RING_SIZE).clamp(2, MAX_RING_SIZE)
        )));
    }
    if cli.ring_size > MAX_RING_SIZE {
        return Err(flag_error(format!("--ring-size {} is more than {MAX_RING_SIZE}", cli.ring_size)));
    }
    if cli.frame < cli.burst {
        return Err(flag_error(format!(
            "--frame {} is less than --burst {}: a frame holds at least one burst",
            cli.frame, cli.burst
        )));
    }
    if cli.trace == 0 && (cli.trace_filter.is_some() || cli.trace_pcapng.is_some()) {
        return Err(flag_error("--trace-filter and --trace-pcapng need --trace N (how many packets to trace)"));
    }
    if cli.json && !cli.show.is_empty() {
        return Err(flag_error(
            "--show picks the text report's sections; --json always holds every section (pick with jq, e.g. jq .errors)",
        ));
    }
    if let Some(expr) = &cli.trace_filter {
        // Bounded in length and time (see trace::filter), before EAL starts.
        crate::trace::filter::check(expr).map_err(|e| flag_error(format!("{e:#}")))?;
    }
    Ok((rx_lcores, worker_lcores))
}

/// The control thread runs on EAL's main lcore, which must not be an rx or
/// worker lcore: picks it (and, without -l/--lcores, the whole lcore map).
fn place_lcores(eal: &mut EalArgs, rx_lcores: &[u32], worker_lcores: &[u32]) -> Result<()> {
    let data: Vec<u32> = rx_lcores.iter().chain(worker_lcores).copied().collect();
    let mains = eal.values("--main-lcore");
    match eal.lcore_set().map_err(|e| flag_error(format!("{e:#}")))? {
        None => {
            let Some(control) = (0..crate::dpdk::MAX_LCORE).find(|l| !data.contains(l)) else {
                return Err(flag_error("every lcore id is an rx or worker lcore; none is left for the control thread"));
            };
            let map = eal_args::default_lcores_map(&data, control, &eal_args::allowed_cpus());
            eal.push("--lcores", Some(&map));
            if mains.is_empty() {
                eal.push("--main-lcore", Some(&control.to_string()));
            }
        }
        Some(set) => {
            for (l, role) in rx_lcores.iter().map(|l| (l, "rx")).chain(worker_lcores.iter().map(|l| (l, "worker"))) {
                if !set.contains(l) {
                    return Err(flag_error(format!(
                        "{role} lcore {l} is not in the EAL lcore map {set:?}; add it to -l/--lcores"
                    )));
                }
            }
            if mains.is_empty() {
                let Some(control) = set.iter().find(|l| !data.contains(l)) else {
                    return Err(flag_error(format!(
                        "the lcore map {set:?} has no lcore left for the control thread besides the rx and worker lcores; add one (e.g. -l 0-2)"
                    )));
                };
                eal.push("--main-lcore", Some(&control.to_string()));
            }
        }
    }
    Ok(())
}

fn check_distinct(list: &[u32], flag: &str) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for l in list {
        if !seen.insert(l) {
            return Err(flag_error(format!("{flag} names lcore {l} twice")));
        }
    }
    Ok(())
}

/// Writes each pg interface's packets to a pcap file, in order of first appearance.
fn pg_inputs(streams: &[pg::Stream], dir: &Path) -> Result<Vec<pg::GeneratedInput>> {
    for s in streams {
        if s.rate.is_some() {
            log::warn!("pg stream '{}': rate is not applied, net_pcap replays as fast as it can", s.name);
        }
        if s.worker.is_some() || s.maxframe.is_some() {
            log::warn!("pg stream '{}': worker and maxframe are not applied (see --rx-lcores, --burst)", s.name);
        }
    }
    Ok(pg::write_inputs(streams, dir)?)
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
