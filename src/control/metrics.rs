//! `--metrics ADDR:PORT`: the running forwarder's counters on `GET /metrics`
//! in the OpenMetrics text format, for Prometheus and its kin.
//!
//! Read-only, and held to the control socket's rules: the listener is bound
//! before EAL starts (`cli::prepare`: a bad address is a command-line error,
//! a taken one a failed start), one
//! thread accepts (non-blocking, checking the stop flag every 100 ms), each
//! client gets a thread of its own up to `MAX_CLIENTS`, a request may take
//! `REQUEST_TIME` and `MAX_REQUEST` bytes, and nothing here is ever joined
//! by the run's end: the threads hold only an `Arc` of the live view.
//!
//! Every value is read from the lcores' single-writer counters at scrape
//! time; `clear` on the control socket does not touch them (Prometheus
//! counters only grow).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::dpdk;
use crate::nodes::ring_stats::wait_histogram;
use crate::nodes::Reason;
use crate::pipeline::live::{LiveHook, LiveView, Reply, Request as LcoreRequest};
use crate::pipeline::snapshot::RunSnapshot;

/// How long a worker may take to copy its ring-wait histograms.
const LCORE_ANSWER: Duration = Duration::from_millis(500);

/// Clients served at once; more get `503` and are closed.
const MAX_CLIENTS: usize = 8;
/// Longest request head accepted (a scrape's is a few hundred bytes).
const MAX_REQUEST: usize = 8 * 1024;
/// Time a client has to send its request and take the answer.
const REQUEST_TIME: Duration = Duration::from_secs(2);
/// How often the accept loop and a client's read notice the stop.
const TICK: Duration = Duration::from_millis(100);

/// The control socket and, with `--metrics`, the OpenMetrics endpoint.
pub struct Hooks<'a> {
    pub control: &'a dyn LiveHook,
    pub metrics: Option<TcpListener>,
}

impl LiveHook for Hooks<'_> {
    fn started(&self, view: Arc<LiveView>) -> Option<Box<dyn std::any::Any>> {
        let control = self.control.started(view.clone());
        let metrics = self.metrics.as_ref().and_then(|l| match Exporter::start(l, view) {
            Ok(e) => Some(e),
            Err(e) => {
                log::warn!("no metrics endpoint: {e:#}");
                None
            }
        });
        Some(Box::new((control, metrics)))
    }
}

/// The running endpoint; dropping it stops the accept loop (never waits on a client).
pub struct Exporter {
    stop: Arc<AtomicBool>,
}

impl Exporter {
    fn start(listener: &TcpListener, view: Arc<LiveView>) -> Result<Exporter> {
        let listener = listener.try_clone().context("listener")?;
        listener.set_nonblocking(true).context("listener")?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        std::thread::Builder::new()
            .name("handoff-metrics".into())
            .spawn(move || accept(listener, view, stop2))
            .context("cannot start the metrics thread")?;
        Ok(Exporter { stop })
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn accept(listener: TcpListener, view: Arc<LiveView>, stop: Arc<AtomicBool>) {
    let clients = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Acquire) {
        let mut conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(TICK);
                continue;
            }
            Err(e) => {
                log::debug!("metrics accept: {e}");
                std::thread::sleep(TICK);
                continue;
            }
        };
        if clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
            clients.fetch_sub(1, Ordering::AcqRel);
            let _ = conn.set_write_timeout(Some(TICK));
            let _ = conn.write_all(&response(503, "text/plain", "too many clients\n"));
            continue;
        }
        let (view, stop, clients) = (view.clone(), stop.clone(), clients.clone());
        let spawned = std::thread::Builder::new().name("handoff-metrics-client".into()).spawn(move || {
            if let Err(e) = serve(conn, &view, &stop) {
                log::debug!("metrics client: {e:#}");
            }
            clients.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            log::debug!("metrics: no thread for a client");
        }
    }
}

/// One request, one answer, then close.
fn serve(mut conn: TcpStream, view: &LiveView, stop: &AtomicBool) -> Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(TICK))?;
    conn.set_write_timeout(Some(REQUEST_TIME))?;
    let start = Instant::now();
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    let path = loop {
        if stop.load(Ordering::Acquire) || start.elapsed() > REQUEST_TIME {
            return Ok(());
        }
        if len == buf.len() {
            conn.write_all(&response(431, "text/plain", "request too large\n"))?;
            linger(&mut conn);
            return Ok(());
        }
        match conn.read(&mut buf[len..]) {
            Ok(0) => return Ok(()),
            Ok(n) => len += n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e.into()),
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => {
                if req.method != Some("GET") {
                    conn.write_all(&response(405, "text/plain", "only GET\n"))?;
                    return Ok(());
                }
                break req.path.unwrap_or("").split('?').next().unwrap_or("").to_string();
            }
            Ok(httparse::Status::Partial) => continue,
            Err(_) => {
                conn.write_all(&response(400, "text/plain", "bad request\n"))?;
                return Ok(());
            }
        }
    };
    if path != "/metrics" {
        conn.write_all(&response(404, "text/plain", "only /metrics\n"))?;
        return Ok(());
    }
    let Some(body) = render(view) else {
        conn.write_all(&response(503, "text/plain", "the run is stopping\n"))?;
        return Ok(());
    };
    let body = body.context("encoding")?;
    conn.write_all(&response(200, "application/openmetrics-text; version=1.0.0; charset=utf-8", &body))?;
    Ok(())
}

/// Closes after an early answer without resetting it: the client may still
/// be sending, and closing on unread data would send a reset that can
/// overtake the answer. Reads and discards for at most one tick.
fn linger(conn: &mut TcpStream) {
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let start = Instant::now();
    let mut sink = [0u8; 4096];
    while start.elapsed() < TICK {
        match conn.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn response(code: u16, content_type: &str, body: &str) -> Vec<u8> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// The whole exposition, `# EOF` included; None once the run is stopping.
pub fn render(view: &LiveView) -> Option<Result<String, std::fmt::Error>> {
    let mut registry = Registry::with_prefix("handoff");
    registry.register_collector(Box::new(Scrape::now(view)?));
    let mut out = String::new();
    Some(prometheus_client::encoding::text::encode(&mut out, &registry).map(|_| out))
}

type Labels = Vec<(&'static str, String)>;

/// One family: name, help, counter or gauge, its labelled values.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    samples: Vec<(Labels, u64)>,
    /// Gauges in seconds (ring waits), beside the whole-number samples.
    seconds: Vec<(Labels, f64)>,
}

/// Every value, read once at scrape time.
#[derive(Debug)]
struct Scrape {
    families: Vec<Family>,
}

impl Scrape {
    /// None once the run closed its ports and lcores (it is stopping).
    fn now(view: &LiveView) -> Option<Scrape> {
        // Ports are read and lcores asked only while the run has them.
        let _open = view.while_open()?;
        let waits = ring_wait_quantiles(view);
        let mut f = Vec::new();
        let mut family =
            |name, help, counter, samples| f.push(Family { name, help, counter, samples, seconds: Vec::new() });

        // Raw, never minus a `clear` baseline: Prometheus counters only grow.
        let now = RunSnapshot::capture(&view.threads, &view.ports, &view.rings, false);
        let ports: Vec<_> = view.ports.iter().zip(&now.ports).map(|(p, s)| (p.name.clone(), s.stats)).collect();
        let per_port = |get: fn(&dpdk::port::PortStats) -> u64| -> Vec<(Labels, u64)> {
            ports.iter().map(|(name, s)| (vec![("port", name.clone())], get(s))).collect()
        };
        family("port_rx_packets", "Packets the port received", true, per_port(|s| s.rx_packets));
        family("port_tx_packets", "Packets the port transmitted", true, per_port(|s| s.tx_packets));
        family("port_rx_bytes", "Bytes the port received", true, per_port(|s| s.rx_bytes));
        family("port_tx_bytes", "Bytes the port transmitted", true, per_port(|s| s.tx_bytes));
        family("port_rx_missed", "Packets the NIC dropped for want of rx descriptors", true, per_port(|s| s.rx_missed));
        family("port_rx_nombuf", "Receive failures for want of an mbuf", true, per_port(|s| s.rx_nombuf));
        family("port_rx_errors", "Erroneous received packets", true, per_port(|s| s.rx_errors));
        family("port_tx_errors", "Failed transmitted packets", true, per_port(|s| s.tx_errors));

        let (mut calls, mut vectors, mut clocks, mut errors) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (t, counters) in view.threads.iter().zip(&now.threads) {
            let thread = &t.thread;
            let id = thread.id.0.to_string();
            for &n in thread.nodes() {
                let (c, v, k) = counters.node(n);
                let labels = vec![("thread", id.clone()), ("node", n.name().to_string())];
                calls.push((labels.clone(), c));
                vectors.push((labels.clone(), v));
                clocks.push((labels, k));
            }
            for r in Reason::ALL.iter().filter(|r| thread.nodes().contains(&r.node())) {
                let labels =
                    vec![("thread", id.clone()), ("node", r.node().name().to_string()), ("reason", r.text().into())];
                errors.push((labels, counters.error_count(*r)));
            }
        }
        family("node_calls", "Calls of the node (VPP show runtime)", true, calls);
        family("node_vectors", "Packets the node processed", true, vectors);
        family("node_clocks", "TSC clocks spent in the node", true, clocks);
        family("errors", "Packets counted per node and reason (VPP show errors)", true, errors);

        let rings: Vec<_> = now.rings.iter().map(|(id, c)| (id.name(), *c)).collect();
        let per_ring = |get: fn(&crate::nodes::ring_stats::RingCounts) -> u64| -> Vec<(Labels, u64)> {
            rings.iter().map(|(name, c)| (vec![("ring", name.clone())], get(c))).collect()
        };
        family("ring_enqueued", "Indices handed to the ring", true, per_ring(|c| c.enqueued));
        family("ring_dequeued", "Indices the worker took from the ring", true, per_ring(|c| c.dequeued));
        family(
            "ring_congestion_drops",
            "Packets a full ring refused (drop-on-congestion)",
            true,
            per_ring(|c| c.dropped),
        );
        family("ring_backpressure_stalls", "Retries on a full ring (backpressure)", true, per_ring(|c| c.stalls));
        family("ring_high_water", "Most indices the worker found in the ring", false, per_ring(|c| c.high_water));

        let received: u64 = now.threads.iter().map(|c| c.received()).sum();
        let transmitted: u64 = now.threads.iter().map(|c| c.transmitted).sum();
        let dropped: u64 = now.threads.iter().map(|c| c.dropped()).sum();
        family(
            "received",
            "Packets received (conservation: received = transmitted + dropped + in flight)",
            true,
            vec![(vec![], received)],
        );
        family("transmitted", "Packets the tx queues accepted", true, vec![(vec![], transmitted)]);
        family("dropped", "Packets dropped, each with a reason", true, vec![(vec![], dropped)]);
        family(
            "in_flight",
            "Packets received and not yet transmitted or dropped (in rings and bursts)",
            false,
            vec![(vec![], received.saturating_sub(transmitted + dropped))],
        );
        family(
            "tsc_hz",
            "TSC clocks per second (node clocks over this are seconds)",
            false,
            vec![(vec![], view.tsc_hz)],
        );
        family(
            "uptime_seconds",
            "Seconds since the lcores started",
            false,
            vec![(vec![], view.started.elapsed().as_secs())],
        );
        f.push(Family {
            name: "ring_wait_seconds",
            help: "How long packets waited in the ring, measured per frame handed off since the run began (quantile 1 = max)",
            counter: false,
            samples: Vec::new(),
            seconds: waits,
        });
        Some(Scrape { families: f })
    }
}

/// Each ring's wait quantiles in seconds: the workers copy their histograms
/// into empty ones brought to them (nothing allocated on an lcore).
fn ring_wait_quantiles(view: &LiveView) -> Vec<(Labels, f64)> {
    let hz = view.tsc_hz.max(1) as f64;
    let mut out = Vec::new();
    for t in view.threads.iter().filter(|t| !t.is_rx() && t.running()) {
        let thread = &t.thread;
        let empty = thread.rings.iter().map(|_| wait_histogram()).collect();
        let stopping = || view.stopping.load(Ordering::Acquire);
        let Some(Reply::Waits(hs)) = t.mailbox.ask(LcoreRequest::Waits(empty), LCORE_ANSWER, &stopping) else {
            continue;
        };
        for (ring, h) in thread.rings.iter().zip(hs).filter(|(_, h)| !h.is_empty()) {
            for (q, label) in [(0.5, "0.5"), (0.99, "0.99"), (0.999, "0.999"), (1.0, "1")] {
                let v = if q < 1.0 { h.value_at_quantile(q) } else { h.max() };
                out.push((vec![("ring", ring.name()), ("quantile", label.to_string())], v as f64 / hz));
            }
        }
    }
    out
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            let kind =
                if f.counter { ConstCounter::new(0u64).metric_type() } else { ConstGauge::new(0i64).metric_type() };
            let mut e = encoder.encode_descriptor(f.name, f.help, None, kind)?;
            for (labels, v) in &f.samples {
                let sample = e.encode_family(labels)?;
                if f.counter {
                    ConstCounter::new(*v).encode(sample)?;
                } else {
                    ConstGauge::new(i64::try_from(*v).unwrap_or(i64::MAX)).encode(sample)?;
                }
            }
            for (labels, v) in &f.seconds {
                ConstGauge::new(*v).encode(e.encode_family(labels)?)?;
            }
        }
        Ok(())
    }
}
