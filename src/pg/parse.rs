//! Tokens and grammar of packet-generator scripts.
//!
//! Like VPP's unformat, the grammar is a stream of whitespace-separated
//! words: line breaks only matter for the one-line `packet-generator new ...`
//! form and for the line numbers in errors.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use super::build::{incrementing, Eth, Ip, IpAddrs, IpProto, TcpFlag, Template, ETHERTYPE_IPV4, ETHERTYPE_IPV6, L4};
use super::pcapio::read_pcap;
use super::{
    check_bytes, DataSpec, ErrorKind, PgError, SizeSpec, Stream, MAX_PACKETS_PER_STREAM, MAX_PACKET_SIZE,
    SUPPORTED_NODES,
};

/// One word of the script and the line it is on (1-based).
#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    line: usize,
}

/// Longest `unknown input '...'` quote.
const QUOTE_MAX: usize = 60;
/// IPv4 TTL / IPv6 hop limit unless `ttl N` says otherwise (VPP's default).
const DEFAULT_TTL: u8 = 64;

struct Ctx<'s> {
    source: &'s str,
    base_dir: &'s Path,
}

impl Ctx<'_> {
    fn err(&self, line: usize, kind: ErrorKind) -> PgError {
        super::at(self.source, line, kind)
    }

    /// `unknown input '...'` quoting the rest of the offending line.
    fn unknown(&self, toks: &[Tok], i: usize) -> PgError {
        let line = toks.get(i).map_or(1, |t| t.line);
        let mut quote = String::new();
        for t in toks.iter().skip(i).take_while(|t| t.line == line) {
            if !quote.is_empty() {
                quote.push(' ');
            }
            quote.push_str(t.text);
            if quote.chars().count() > QUOTE_MAX {
                quote = quote.chars().take(QUOTE_MAX).collect::<String>() + "...";
                break;
            }
        }
        self.err(line, ErrorKind::UnknownInput(quote))
    }
}

/// Words, with `{` and `}` always words of their own and `#` starting a comment.
fn tokenize(text: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    for (i, line_text) in text.lines().enumerate() {
        let line = i + 1;
        for word in line_text.split_whitespace() {
            if word.starts_with('#') {
                break;
            }
            let mut start = 0;
            for (j, c) in word.char_indices() {
                if c == '{' || c == '}' {
                    if j > start {
                        toks.push(Tok { text: &word[start..j], line });
                    }
                    toks.push(Tok { text: &word[j..j + 1], line });
                    start = j + 1;
                }
            }
            if start < word.len() {
                toks.push(Tok { text: &word[start..], line });
            }
        }
    }
    toks
}

/// Index of the `}` closing the `{` at `open`.
fn matching_brace(toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.text {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

pub(super) fn parse(text: &str, source: &str, base_dir: &Path) -> Result<Vec<Stream>, PgError> {
    let ctx = Ctx { source, base_dir };
    let toks = tokenize(text);
    let mut streams: Vec<Stream> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while let Some(&t) = toks.get(i) {
        if t.text != "packet-generator" {
            return Err(ctx.unknown(&toks, i));
        }
        match toks.get(i + 1) {
            Some(cmd) if cmd.text == "new" => {
                let (args, next) = stanza_args(&ctx, &toks, i + 2, cmd.line)?;
                let s = parse_stanza(&ctx, args, t.line, streams.len())?;
                if let Some(&first) = names.get(&s.name) {
                    let name = s.name.clone();
                    return Err(ctx.err(t.line, ErrorKind::DuplicateName { name, first }));
                }
                names.insert(s.name.clone(), t.line);
                streams.push(s);
                i = next;
            }
            // Scripts written for VPP start their streams; ours always run.
            Some(cmd) if cmd.text == "enable" || cmd.text == "enable-stream" => {
                log::debug!("{source}:{}: '{}' ignored", cmd.line, cmd.text);
                let line = cmd.line;
                i += 2;
                while toks.get(i).is_some_and(|t| t.line == line) {
                    i += 1;
                }
            }
            Some(_) => return Err(ctx.unknown(&toks, i + 1)),
            None => {
                return Err(ctx.err(
                    t.line,
                    ErrorKind::Expected {
                        expected: "'new' after 'packet-generator'".to_string(),
                        found: "end of file".to_string(),
                    },
                ))
            }
        }
    }
    if streams.is_empty() {
        return Err(ctx.err(1, ErrorKind::NoStreams));
    }
    Ok(streams)
}

/// The words of one stanza starting at `j` (after `new`) and the index after
/// it: `{ ... }` (braces may be on any line), or the rest of the line, with
/// `data { ... }` free to span lines.
fn stanza_args<'t, 'a>(
    ctx: &Ctx,
    toks: &'t [Tok<'a>],
    j: usize,
    line: usize,
) -> Result<(&'t [Tok<'a>], usize), PgError> {
    if let Some(open) = toks.get(j).filter(|t| t.text == "{") {
        let close = matching_brace(toks, j).ok_or_else(|| ctx.err(open.line, ErrorKind::Unterminated))?;
        return Ok((&toks[j + 1..close], close + 1));
    }
    let mut k = j;
    let mut cur = line;
    let mut depth = 0usize;
    let mut open_line = line;
    while let Some(t) = toks.get(k) {
        if depth == 0 && t.line != cur {
            break;
        }
        match t.text {
            "{" => {
                if depth == 0 {
                    open_line = t.line;
                }
                depth += 1;
            }
            // A stray `}` ends the stanza; the caller reports it.
            "}" if depth == 0 => break,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    cur = t.line;
                }
            }
            _ => {}
        }
        k += 1;
    }
    if depth > 0 {
        return Err(ctx.err(open_line, ErrorKind::Unterminated));
    }
    Ok((&toks[j..k], k))
}

/// A stanza's settings as read, before its data is made into a spec.
struct Fields<'t> {
    name: Option<String>,
    limit: u64,
    limit_line: Option<usize>,
    size: SizeSpec,
    interface: String,
    node: String,
    worker: Option<u32>,
    rate: Option<f64>,
    maxframe: Option<u32>,
    pcap: Option<(&'t str, usize)>,
    data: Option<(&'t [Tok<'t>], usize)>,
}

fn parse_stanza(ctx: &Ctx, args: &[Tok], line: usize, index: usize) -> Result<Stream, PgError> {
    let mut f = Fields {
        name: None,
        limit: 0,
        limit_line: None,
        size: SizeSpec::Step { min: 64, max: 64 },
        interface: "local0".to_string(),
        node: SUPPORTED_NODES[0].to_string(),
        worker: None,
        rate: None,
        maxframe: None,
        pcap: None,
        data: None,
    };
    read_fields(ctx, args, &mut f)?;
    let spec = data_spec(ctx, &mut f, line)?;
    let stream = Stream {
        name: f.name.unwrap_or_else(|| format!("stream{index}")),
        limit: f.limit,
        size: f.size,
        interface: f.interface,
        node: f.node,
        worker: f.worker,
        rate: f.rate,
        maxframe: f.maxframe,
        line,
        source: ctx.source.to_string(),
        data: spec,
    };
    let count = stream.packet_count()?;
    check_bytes(count, f.size.bounds().1).map_err(|kind| ctx.err(f.limit_line.unwrap_or(line), kind))?;
    Ok(stream)
}

/// The stanza's keywords and values, into `f`.
fn read_fields<'t>(ctx: &Ctx, args: &'t [Tok<'t>], f: &mut Fields<'t>) -> Result<(), PgError> {
    let mut k = 0;
    while let Some(&t) = args.get(k) {
        let bad =
            |what: &'static str, v: &Tok| ctx.err(v.line, ErrorKind::BadValue { what, value: v.text.to_string() });
        match t.text {
            "name" | "interface" | "node" | "pcap" | "limit" | "rate" | "worker" | "maxframe" | "buffer-size" => {
                let v = match args.get(k + 1) {
                    Some(v) if v.text != "{" && v.text != "}" => *v,
                    _ => return Err(ctx.err(t.line, ErrorKind::MissingValue(t.text.to_string()))),
                };
                k += 2;
                match t.text {
                    "name" => f.name = Some(v.text.to_string()),
                    "interface" => f.interface = v.text.to_string(),
                    "node" => {
                        if !SUPPORTED_NODES.contains(&v.text) {
                            let n = v.text.to_string();
                            return Err(ctx.err(v.line, ErrorKind::UnsupportedNode(n)));
                        }
                        f.node = v.text.to_string();
                    }
                    "pcap" => f.pcap = Some((v.text, t.line)),
                    "limit" => {
                        f.limit = parse_count(v.text).ok_or_else(|| bad("limit", &v))?;
                        if f.limit > MAX_PACKETS_PER_STREAM {
                            return Err(ctx.err(v.line, ErrorKind::LimitTooBig(f.limit)));
                        }
                        f.limit_line = Some(v.line);
                    }
                    "rate" => {
                        let r = parse_rate(v.text).ok_or_else(|| bad("rate", &v))?;
                        // VPP: rate 0 means no rate limit.
                        f.rate = if r > 0.0 { Some(r) } else { None };
                    }
                    "worker" => {
                        f.worker = Some(parse_u32(v.text).ok_or_else(|| bad("worker", &v))?);
                    }
                    "maxframe" => {
                        let m = parse_u32(v.text).filter(|&m| m > 0);
                        f.maxframe = Some(m.ok_or_else(|| bad("maxframe", &v))?);
                    }
                    _ => {
                        // buffer-size: VPP's buffer data size; mbufs decide ours.
                        parse_u32(v.text).filter(|&b| b > 0).ok_or_else(|| bad("buffer-size", &v))?;
                    }
                }
            }
            "size" => {
                let (text, used) = size_text(args, k + 1);
                if used == 0 {
                    return Err(ctx.err(t.line, ErrorKind::MissingValue("size".to_string())));
                }
                f.size = parse_size(&text).map_err(|kind| ctx.err(t.line, kind))?;
                k += 1 + used;
            }
            "data" => {
                if f.data.is_some() {
                    return Err(ctx.err(t.line, ErrorKind::Duplicate("data")));
                }
                let open = k + 1;
                let close = match args.get(open) {
                    Some(o) if o.text == "{" => {
                        matching_brace(args, open).ok_or_else(|| ctx.err(o.line, ErrorKind::Unterminated))?
                    }
                    other => {
                        let found = other.map_or("end of stanza".to_string(), |o| format!("'{}'", o.text));
                        let expected = "'{' after 'data'".to_string();
                        return Err(ctx.err(t.line, ErrorKind::Expected { expected, found }));
                    }
                };
                f.data = Some((&args[open + 1..close], t.line));
                k = close + 1;
            }
            _ => return Err(ctx.unknown(args, k)),
        }
    }

    Ok(())
}

/// The packets' source: a data template (checked against the sizes) or a pcap file.
fn data_spec(ctx: &Ctx, f: &mut Fields, line: usize) -> Result<DataSpec, PgError> {
    let spec = match (f.data, f.pcap) {
        (Some(_), Some((_, pline))) => return Err(ctx.err(pline, ErrorKind::DataAndPcap)),
        (None, None) => return Err(ctx.err(line, ErrorKind::NoData)),
        (Some((dtoks, dline)), None) => {
            let tpl = parse_data(ctx, dtoks, dline)?;
            let (min, _) = f.size.bounds();
            if usize::from(min) < tpl.header_len() {
                let header = tpl.header_len();
                return Err(ctx.err(dline, ErrorKind::HeaderTooBig { min, header }));
            }
            DataSpec::Template { tpl, line: dline }
        }
        (None, Some((file, pline))) => {
            let path = ctx.base_dir.join(file);
            let packets = read_pcap(&path).map_err(|msg| {
                let file = file.to_string();
                ctx.err(pline, ErrorKind::Pcap { file, msg })
            })?;
            // As VPP: sizes come from the file, limit 0 means once through it.
            // read_pcap keeps every packet within 1..=MAX_PACKET_SIZE bytes.
            let len = |n: Option<usize>| u16::try_from(n.unwrap_or(1)).unwrap_or(MAX_PACKET_SIZE);
            f.size = SizeSpec::Step {
                min: len(packets.iter().map(Vec::len).min()),
                max: len(packets.iter().map(Vec::len).max()),
            };
            if f.limit == 0 {
                f.limit = packets.len() as u64;
            }
            DataSpec::Pcap { path, packets }
        }
    };
    Ok(spec)
}

/// The words of a size, rejoined: `64-128`, `64 - 128`, `64 -128` and
/// `64- 128` all mean `64-128`. Returns the text and the words used.
fn size_text(args: &[Tok], k: usize) -> (String, usize) {
    let word = |i: usize| args.get(i).map(|t| t.text).filter(|t| *t != "{" && *t != "}");
    let Some(first) = word(k) else {
        return (String::new(), 0);
    };
    let mut text = first.to_string();
    let mut used = 1;
    while used < 3 {
        let Some(next) = word(k + used) else { break };
        let ends_open = text.ends_with(['-', '+']);
        let starts_op = !text.contains(['-', '+']) && next.starts_with(['-', '+']);
        if !(ends_open || starts_op) {
            break;
        }
        text.push_str(next);
        used += 1;
    }
    (text, used)
}

fn parse_size(text: &str) -> Result<SizeSpec, ErrorKind> {
    let bad = || ErrorKind::BadValue { what: "size", value: text.to_string() };
    let (a, b, random) = if let Some((a, b)) = text.split_once('-') {
        (a, b, false)
    } else if let Some((a, b)) = text.split_once('+') {
        (a, b, true)
    } else {
        (text, text, false)
    };
    let one = |s: &str| -> Result<u16, ErrorKind> {
        let v = parse_uint(s).ok_or_else(bad)?;
        if v == 0 {
            return Err(ErrorKind::SizeZero);
        }
        if v > u64::from(MAX_PACKET_SIZE) {
            return Err(ErrorKind::SizeTooBig(v));
        }
        u16::try_from(v).map_err(|_| bad())
    };
    let (min, max) = (one(a)?, one(b)?);
    if max < min {
        return Err(ErrorKind::MaxLessThanMin);
    }
    Ok(if random { SizeSpec::Random { min, max } } else { SizeSpec::Step { min, max } })
}

/// Decimal or `0x` hex, digits only (no sign).
fn parse_uint(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return u64::from_str_radix(h, 16).ok();
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_u32(s: &str) -> Option<u32> {
    parse_uint(s).and_then(|v| u32::try_from(v).ok())
}

fn parse_u16(s: &str) -> Option<u16> {
    parse_uint(s).and_then(|v| u16::try_from(v).ok())
}

fn parse_u8(s: &str) -> Option<u8> {
    parse_uint(s).and_then(|v| u8::try_from(v).ok())
}

/// A packet count: an integer, or a whole float such as `1e6` (VPP reads
/// `limit` with `%f`).
fn parse_count(s: &str) -> Option<u64> {
    if let Some(v) = parse_uint(s) {
        return Some(v);
    }
    let f: f64 = s.parse().ok()?;
    // Bounds checked so the cast below is exact.
    if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 {
        Some(f as u64)
    } else {
        None
    }
}

/// Packets per second, with an optional k / m / g suffix.
fn parse_rate(s: &str) -> Option<f64> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1e3),
        Some((i, 'm' | 'M')) => (&s[..i], 1e6),
        Some((i, 'g' | 'G')) => (&s[..i], 1e9),
        _ => (s, 1.0),
    };
    // Letters would let "inf" / "nan" through f64's parser.
    if num.is_empty() || num.bytes().any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') {
        return None;
    }
    let v = num.parse::<f64>().ok()? * mult;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// `0x0011aabb` or `0011aabb`, an even number of digits.
fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if h.is_empty() || h.len() % 2 != 0 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // All ASCII, so byte offsets are char boundaries.
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok()).collect()
}

/// `00:01:00:02:00:03`, `00-01-...` or VPP's `1.2.3` (three 16-bit groups).
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let hex = |p: &str, max: usize| !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_hexdigit());
    let mut mac = [0u8; 6];
    if s.contains('.') {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 3 || !parts.iter().all(|p| hex(p, 4)) {
            return None;
        }
        for (i, p) in parts.iter().enumerate() {
            let v = u16::from_str_radix(p, 16).ok()?.to_be_bytes();
            mac[2 * i] = v[0];
            mac[2 * i + 1] = v[1];
        }
        return Some(mac);
    }
    let sep = if s.contains(':') { ':' } else { '-' };
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 6 || !parts.iter().all(|p| hex(p, 2)) {
        return None;
    }
    for (m, p) in mac.iter_mut().zip(&parts) {
        *m = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

/// Header words of the data block, upper-cased without the colon.
const LAYER_WORDS: [&str; 7] = ["IP4", "IP6", "IP", "UDP", "TCP", "ICMP", "ICMP6"];

fn layer_word(text: &str) -> Option<String> {
    let w = text.strip_suffix(':')?.to_ascii_uppercase();
    LAYER_WORDS.contains(&w.as_str()).then_some(w)
}

/// Splits `a->b` around the arrow and `UDP:1.2.3.4` after the colon, so
/// that spacing does not matter.
fn split_data_tokens<'a>(toks: &[Tok<'a>]) -> Vec<Tok<'a>> {
    let mut out = Vec::new();
    for t in toks {
        let line = t.line;
        let mut push = |s: &'a str| {
            if s.is_empty() {
                return;
            }
            if let Some((w, tail)) = s.split_once(':') {
                let word = &s[..w.len() + 1];
                if !tail.is_empty() && layer_word(word).is_some() {
                    out.push(Tok { text: word, line });
                    out.push(Tok { text: tail, line });
                    return;
                }
            }
            out.push(Tok { text: s, line });
        };
        let mut rest = t.text;
        while let Some(p) = rest.find("->") {
            push(&rest[..p]);
            push(&rest[p..p + 2]);
            rest = &rest[p + 2..];
        }
        push(rest);
    }
    out
}

struct DataParser<'c, 'a> {
    ctx: &'c Ctx<'c>,
    toks: Vec<Tok<'a>>,
    pos: usize,
}

impl<'a> DataParser<'_, 'a> {
    fn next(&mut self) -> Option<Tok<'a>> {
        let t = self.toks.get(self.pos).copied();
        self.pos += usize::from(t.is_some());
        t
    }

    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn layer(&self, line: usize, msg: impl Into<String>) -> PgError {
        self.ctx.err(line, ErrorKind::Layer(msg.into()))
    }

    /// The next word, which must exist and not be `->`.
    fn value(&mut self, expected: &str, after: Tok) -> Result<Tok<'a>, PgError> {
        match self.peek() {
            Some(t) if t.text != "->" => {
                self.pos += 1;
                Ok(t)
            }
            other => {
                let found = other.map_or("end of data".to_string(), |t| format!("'{}'", t.text));
                let line = other.map_or(after.line, |t| t.line);
                let expected = expected.to_string();
                Err(self.ctx.err(line, ErrorKind::Expected { expected, found }))
            }
        }
    }

    fn arrow(&mut self, after: Tok) -> Result<(), PgError> {
        match self.peek() {
            Some(t) if t.text == "->" => {
                self.pos += 1;
                Ok(())
            }
            other => {
                let found = other.map_or("end of data".to_string(), |t| format!("'{}'", t.text));
                let line = other.map_or(after.line, |t| t.line);
                let expected = format!("'->' after '{}'", after.text);
                Err(self.ctx.err(line, ErrorKind::Expected { expected, found }))
            }
        }
    }

    fn bad(&self, what: &'static str, t: Tok) -> PgError {
        let value = t.text.to_string();
        self.ctx.err(t.line, ErrorKind::BadValue { what, value })
    }

    /// `word value` options after a header, while the next word is in `names`.
    fn options<T>(
        &mut self,
        names: &[&str],
        mut f: impl FnMut(&mut Self, &str, Tok<'a>) -> Result<T, PgError>,
    ) -> Result<(), PgError> {
        while let Some(t) = self.peek() {
            let Some(&name) = names.iter().find(|n| t.text.eq_ignore_ascii_case(n)) else {
                break;
            };
            self.pos += 1;
            let v = self.value(&format!("a value after '{}'", t.text), t)?;
            f(self, name, v)?;
        }
        Ok(())
    }
}

/// Stages of a packet, front to back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Start,
    Eth,
    Ip,
    L4,
    Payload,
}

fn parse_data(ctx: &Ctx, toks: &[Tok], data_line: usize) -> Result<Template, PgError> {
    let mut p = DataParser { ctx, toks: split_data_tokens(toks), pos: 0 };
    if p.toks.is_empty() {
        return Err(ctx.err(data_line, ErrorKind::NoData));
    }
    let cap = usize::from(MAX_PACKET_SIZE);
    let mut tpl = Template::default();
    let mut stage = Stage::Start;
    let mut ip_line = data_line;
    while let Some(t) = p.next() {
        if let Some(word) = layer_word(t.text) {
            if stage == Stage::Payload {
                return Err(p.layer(t.line, "headers must come before the payload"));
            }
            (stage, ip_line) = parse_layer(&mut p, &mut tpl, &word, t, stage, ip_line)?;
        } else if t.text.eq_ignore_ascii_case("ICMP") || t.text.eq_ignore_ascii_case("ICMP6") {
            let is_icmp = tpl.ip.as_ref().is_some_and(|ip| ip.proto == IpProto::Icmp);
            if stage != Stage::Ip || !is_icmp {
                return Err(p.layer(t.line, format!("'{}' needs an IP header of protocol ICMP just before it", t.text)));
            }
            tpl.l4 = Some(parse_icmp(&mut p, t)?);
            stage = Stage::L4;
        } else if t.text.eq_ignore_ascii_case("incrementing") {
            let v = p.value("a byte count after 'incrementing'", t)?;
            let n = parse_uint(v.text).ok_or_else(|| p.bad("incrementing count", v))?;
            let room = cap.saturating_sub(tpl.payload.len());
            tpl.payload.extend(incrementing(n, room));
            stage = Stage::Payload;
        } else if t.text.eq_ignore_ascii_case("hex") {
            let v = p.value("hex bytes after 'hex'", t)?;
            let bytes = parse_hex(v.text).ok_or_else(|| p.bad("hex string (even number of hex digits)", v))?;
            let room = cap.saturating_sub(tpl.payload.len());
            tpl.payload.extend(bytes.into_iter().take(room));
            stage = Stage::Payload;
        } else {
            return Err(ctx.unknown(&p.toks, p.pos - 1));
        }
    }
    if tpl.ip.is_some() && tpl.l4.is_none() {
        return Err(p.layer(
            ip_line,
            "the IP header needs a transport header after it \
             ('UDP: SRC-PORT -> DST-PORT', 'TCP: SRC-PORT -> DST-PORT' or 'ICMP echo_request')",
        ));
    }
    Ok(tpl)
}

/// A header layer (`IP4: src -> dst`, `UDP: ...`, ...): fills `tpl`,
/// returns the stage reached and the line of the IP header.
fn parse_layer<'a>(
    p: &mut DataParser<'_, 'a>,
    tpl: &mut Template,
    word: &str,
    t: Tok<'a>,
    mut stage: Stage,
    mut ip_line: usize,
) -> Result<(Stage, usize), PgError> {
    match word {
        "IP4" | "IP" | "IP6" => {
            if stage != Stage::Start {
                return Err(p.layer(t.line, format!("'{}' (Ethernet header) must come first, once", t.text)));
            }
            let s = p.value("a source MAC address", t)?;
            let src = parse_mac(s.text).ok_or_else(|| p.bad("MAC address", s))?;
            p.arrow(s)?;
            let d = p.value("a destination MAC address", t)?;
            let dst = parse_mac(d.text).ok_or_else(|| p.bad("MAC address", d))?;
            let ether_type = if word == "IP6" { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
            tpl.eth = Some(Eth { src, dst, ether_type });
            stage = Stage::Eth;
        }
        _ => {
            let v = p.value("addresses or ports", t)?;
            if v.text.parse::<IpAddr>().is_ok() {
                if stage >= Stage::Ip {
                    return Err(p.layer(t.line, "only one IP header is supported"));
                }
                tpl.ip = Some(parse_ip(p, word, t, v, tpl.eth.as_ref())?);
                ip_line = t.line;
                stage = Stage::Ip;
            } else {
                if stage >= Stage::L4 {
                    return Err(p.layer(t.line, "only one transport header is supported"));
                }
                tpl.l4 = Some(parse_ports(p, word, t, v, tpl.ip.as_ref())?);
                stage = Stage::L4;
            }
        }
    }
    Ok((stage, ip_line))
}

/// `ICMP echo_request|echo_reply [id N] [seq N]`, the word `ICMP` already read.
fn parse_icmp(p: &mut DataParser, t: Tok) -> Result<L4, PgError> {
    let v = p.value("'echo_request' or 'echo_reply'", t)?;
    let reply = match v.text.to_ascii_lowercase().replace('-', "_").as_str() {
        "echo_request" => false,
        "echo_reply" => true,
        _ => return Err(p.bad("ICMP type (expected echo_request or echo_reply)", v)),
    };
    let (mut id, mut seq) = (0u16, 0u16);
    p.options(&["id", "seq"], |p, name, v| {
        let n = parse_u16(v.text).ok_or_else(|| p.bad("ICMP id/seq", v))?;
        if name == "id" {
            id = n;
        } else {
            seq = n;
        }
        Ok(())
    })?;
    Ok(L4::IcmpEcho { reply, id, seq })
}

/// `UDP: 1.2.3.4 -> 5.6.7.8 [ttl N] [tos N]`, `src` already read.
fn parse_ip<'a>(
    p: &mut DataParser<'_, 'a>,
    word: &str,
    t: Tok<'a>,
    src: Tok<'a>,
    eth: Option<&Eth>,
) -> Result<Ip, PgError> {
    let s: IpAddr = src.text.parse().map_err(|_| p.bad("IP address", src))?;
    p.arrow(src)?;
    let d_tok = p.value("a destination IP address", t)?;
    let d: IpAddr = d_tok.text.parse().map_err(|_| p.bad("IP address", d_tok))?;
    let addrs = match (s, d) {
        (IpAddr::V4(s), IpAddr::V4(d)) => IpAddrs::V4(s.octets(), d.octets()),
        (IpAddr::V6(s), IpAddr::V6(d)) => IpAddrs::V6(s.octets(), d.octets()),
        _ => return Err(p.layer(t.line, "source and destination must both be IPv4 or both IPv6")),
    };
    let v6 = matches!(addrs, IpAddrs::V6(..));
    let proto = match word {
        "UDP" => IpProto::Udp,
        "TCP" => IpProto::Tcp,
        "ICMP6" if !v6 => return Err(p.layer(t.line, "'ICMP6:' needs IPv6 addresses")),
        _ => IpProto::Icmp,
    };
    if let Some(eth) = eth {
        let want = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
        if eth.ether_type != want {
            let (has, addr) = if v6 { ("IP4", "IPv6") } else { ("IP6", "IPv4") };
            return Err(p.layer(t.line, format!("Ethernet type '{has}:' does not match {addr} addresses")));
        }
    }
    let (mut ttl, mut tos) = (DEFAULT_TTL, 0u8);
    p.options(&["ttl", "hop-limit", "hop_limit", "tos"], |p, name, v| {
        let n = parse_u8(v.text).ok_or_else(|| p.bad("ttl/tos (0-255)", v))?;
        if name == "tos" {
            tos = n;
        } else {
            ttl = n;
        }
        Ok(())
    })?;
    Ok(Ip { proto, addrs, ttl, tos })
}

/// `UDP: 1234 -> 2345` / `TCP: 1234 -> 2345 [SYN ACK ...]`, `src` already read.
fn parse_ports<'a>(
    p: &mut DataParser<'_, 'a>,
    word: &str,
    t: Tok<'a>,
    src: Tok<'a>,
    ip: Option<&Ip>,
) -> Result<L4, PgError> {
    let proto = match word {
        "UDP" => IpProto::Udp,
        "TCP" => IpProto::Tcp,
        _ => {
            return Err(p.layer(
                t.line,
                format!("'{}' takes IP addresses; ICMP type goes on its own: 'ICMP echo_request'", t.text),
            ))
        }
    };
    let Some(ip) = ip else {
        // Not an address nor a port: most likely a typo'd address.
        if parse_u16(src.text).is_none() {
            return Err(p.bad("IP address or port", src));
        }
        return Err(p.layer(t.line, format!("'{word}:' ports need an IP header first ('{word}: SRC-IP -> DST-IP')")));
    };
    if ip.proto != proto {
        let has = match ip.proto {
            IpProto::Udp => "UDP",
            IpProto::Tcp => "TCP",
            IpProto::Icmp => "ICMP",
        };
        return Err(p.layer(t.line, format!("'{word}:' ports do not match the IP protocol {has}")));
    }
    let s = parse_u16(src.text).ok_or_else(|| p.bad("port", src))?;
    p.arrow(src)?;
    let d_tok = p.value("a destination port", t)?;
    let d = parse_u16(d_tok.text).ok_or_else(|| p.bad("port", d_tok))?;
    if proto == IpProto::Udp {
        return Ok(L4::Udp { src: s, dst: d });
    }
    let mut flags = Vec::new();
    while let Some(f) = p.peek().and_then(|t| TcpFlag::from_word(t.text)) {
        p.pos += 1;
        flags.push(f);
    }
    Ok(L4::Tcp { src: s, dst: d, flags })
}
