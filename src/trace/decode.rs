//! Header decode for the dpdk-input trace record, laid out like VPP's
//! format_ethernet_header_with_length, format_ip4_header, format_tcp_header,
//! format_udp_header and the ICMP formatters. Parsing is etherparse's lax
//! slicing: whatever parses is shown, then one line says why decoding
//! stopped. Any byte string decodes without a panic.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::err::packet::SliceError;
use etherparse::err::Layer;
use etherparse::{
    EtherType, Icmpv4Slice, Icmpv6Slice, LaxIpv4Slice, LaxIpv6Slice, LaxNetSlice, LaxSlicedPacket, LinkSlice,
    SingleVlanSlice, TcpSlice, TransportSlice, UdpSlice, VlanSlice,
};

/// Size of an ARP packet for IPv4 over Ethernet; VPP wants all of it.
const ARP_LEN: usize = 28;

/// Decode lines for a frame starting at its Ethernet header, without indent
/// (nested lines carry VPP's relative two-space indent).
pub fn decode_headers(data: &[u8]) -> Vec<String> {
    let mut lines = Vec::with_capacity(8);
    let Ok(pkt) = LaxSlicedPacket::from_ethernet(data) else {
        lines.push("ethernet header truncated".to_string());
        return lines;
    };
    let Some(LinkSlice::Ethernet2(eth)) = &pkt.link else {
        return lines;
    };

    // VPP names the type after the VLAN tags and lists the tags at the end.
    let mut inner_type = eth.ether_type();
    let mut tags = String::new();
    match &pkt.vlan {
        Some(VlanSlice::SingleVlan(v)) => {
            push_vlan(&mut tags, inner_type, v);
            inner_type = v.ether_type();
        }
        Some(VlanSlice::DoubleVlan(d)) => {
            let (outer, inner) = (d.outer(), d.inner());
            push_vlan(&mut tags, inner_type, &outer);
            push_vlan(&mut tags, outer.ether_type(), &inner);
            inner_type = inner.ether_type();
        }
        None => {}
    }
    let mut l = String::with_capacity(64);
    push_ether_type(&mut l, inner_type);
    l.push_str(": ");
    push_mac(&mut l, &eth.source());
    l.push_str(" -> ");
    push_mac(&mut l, &eth.destination());
    l.push_str(&tags);
    lines.push(l);

    if inner_type == EtherType::ARP {
        if let Some(p) = pkt.ether_payload() {
            arp(&mut lines, p.payload);
        }
    }
    match &pkt.net {
        Some(LaxNetSlice::Ipv4(ip)) => ipv4(&mut lines, ip),
        Some(LaxNetSlice::Ipv6(ip)) => ipv6(&mut lines, ip),
        None => {}
    }
    match &pkt.transport {
        Some(TransportSlice::Tcp(t)) => tcp(&mut lines, t),
        Some(TransportSlice::Udp(u)) => udp(&mut lines, u),
        Some(TransportSlice::Icmpv4(i)) => icmp4(&mut lines, i),
        Some(TransportSlice::Icmpv6(i)) => icmp6(&mut lines, i),
        None => {}
    }
    if let Some((err, layer)) = &pkt.stop_err {
        lines.push(stop_line(err, *layer));
    }
    lines
}

/// ` 802.1q vlan %d[ priority %d][ cfi]` (VPP's format_ethernet_vlan_tci);
/// `tpid` is the ether type that announced this tag.
fn push_vlan(out: &mut String, tpid: EtherType, v: &SingleVlanSlice) {
    let kind = if tpid == EtherType::VLAN_TAGGED_FRAME { "802.1q" } else { "802.1ad" };
    let _ = write!(out, " {kind} vlan {}", v.vlan_identifier().value());
    let pcp = v.priority_code_point().value();
    if pcp != 0 {
        let _ = write!(out, " priority {pcp}");
    }
    if v.drop_eligible_indicator() {
        out.push_str(" cfi");
    }
}

fn push_ether_type(out: &mut String, t: EtherType) {
    match ether_type_name(t.0) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "0x{:04x}", t.0);
        }
    }
}

fn push_mac(out: &mut String, m: &[u8; 6]) {
    let _ = write!(out, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

fn push_ip_protocol(out: &mut String, p: u8) {
    match ip_protocol_name(p) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "unknown {p}");
        }
    }
}

/// VPP's format_ethernet_arp_header. etherparse 0.16 has no ARP support, so
/// the fixed fields are read here (bounds-checked).
fn arp(lines: &mut Vec<String>, p: &[u8]) {
    let Some(a) = p.get(..ARP_LEN) else {
        lines.push("ARP header truncated".to_string());
        return;
    };
    let be16 = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
    let (hw, proto, op) = (be16(0), be16(2), be16(6));
    let mut l = String::with_capacity(64);
    match arp_opcode_name(op) {
        Some(name) => l.push_str(name),
        None => {
            let _ = write!(l, "unknown 0x{op:x}");
        }
    }
    l.push_str(", type ");
    match arp_hardware_name(hw) {
        Some(name) => l.push_str(name),
        None => {
            let _ = write!(l, "unknown 0x{hw:x}");
        }
    }
    l.push('/');
    push_ether_type(&mut l, EtherType(proto));
    let _ = write!(l, ", address size {}/{}", a[4], a[5]);
    lines.push(l);
    if hw == 1 && proto == EtherType::IPV4.0 {
        let mut l = String::with_capacity(64);
        let mac = |i: usize| [a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5]];
        let ip = |i: usize| Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]);
        push_mac(&mut l, &mac(8));
        let _ = write!(l, "/{} -> ", ip(14));
        push_mac(&mut l, &mac(18));
        let _ = write!(l, "/{}", ip(24));
        lines.push(l);
    }
}

/// VPP's format_ip4_header.
fn ipv4(lines: &mut Vec<String>, ip: &LaxIpv4Slice) {
    let h = ip.header();
    let raw = h.slice();
    // The header slice is at least 20 bytes; `get` keeps this panic-free.
    let tos = raw.get(1).copied().unwrap_or(0);
    let flags_frag = raw.get(6..8).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));

    let mut l = String::with_capacity(64);
    push_ip_protocol(&mut l, h.protocol().0);
    let _ = write!(l, ": {} -> {}", h.source_addr(), h.destination_addr());
    lines.push(l);

    let header_bytes = u16::from(h.ihl()) * 4;
    if h.version() != 4 || header_bytes != 20 {
        lines.push(format!("  version {}, header length {header_bytes}", h.version()));
    }

    let mut l = String::with_capacity(80);
    let _ = write!(
        l,
        "  tos 0x{tos:02x}, ttl {}, length {}, checksum 0x{:04x}",
        h.ttl(),
        h.total_len(),
        h.header_checksum()
    );
    let should_be = h.to_header().calc_header_checksum();
    if should_be != h.header_checksum() {
        let _ = write!(l, " (should be 0x{should_be:04x})");
    }
    let _ = write!(l, " dscp {} ecn {}", dscp_name(tos >> 2), ecn_name(tos & 3));
    lines.push(l);

    let mut l = String::with_capacity(48);
    let _ = write!(l, "  fragment id 0x{:04x}", h.identification());
    let offset = u32::from(flags_frag & 0x1fff) * 8;
    if offset != 0 {
        let _ = write!(l, " offset {offset}");
    }
    let flags = flags_frag & !0x1fff;
    if flags != 0 {
        l.push_str(", flags");
        // VPP runs the names together; a space keeps two flags readable.
        for (bit, name) in [(0x2000, "MORE_FRAGMENTS"), (0x4000, "DONT_FRAGMENT"), (0x8000, "CONGESTION")] {
            if flags & bit != 0 {
                l.push(' ');
                l.push_str(name);
            }
        }
    }
    lines.push(l);
}

/// VPP's format_ip6_header.
fn ipv6(lines: &mut Vec<String>, ip: &LaxIpv6Slice) {
    let h = ip.header();
    let mut l = String::with_capacity(96);
    push_ip_protocol(&mut l, h.next_header().0);
    let _ = write!(l, ": {} -> {}", h.source_addr(), h.destination_addr());
    lines.push(l);
    if h.version() != 6 {
        lines.push(format!("  version {}", h.version()));
    }
    lines.push(format!(
        "  tos 0x{:02x}, flow label 0x{:x}, hop limit {}, payload length {}",
        h.traffic_class(),
        h.flow_label().value(),
        h.hop_limit(),
        h.payload_length()
    ));
}

/// VPP's format_tcp_header (flag list without VPP's dangling ", ").
fn tcp(lines: &mut Vec<String>, t: &TcpSlice) {
    lines.push(format!("TCP: {} -> {}", t.source_port(), t.destination_port()));
    lines.push(format!("  seq. 0x{:08x} ack 0x{:08x}", t.sequence_number(), t.acknowledgment_number()));
    let mut l = String::with_capacity(64);
    l.push_str("  flags ");
    let mut any = false;
    for (set, name) in [
        (t.fin(), "FIN"),
        (t.syn(), "SYN"),
        (t.rst(), "RST"),
        (t.psh(), "PSH"),
        (t.ack(), "ACK"),
        (t.urg(), "URG"),
        (t.ece(), "ECE"),
        (t.cwr(), "CWR"),
    ] {
        if set {
            if any {
                l.push_str(", ");
            }
            l.push_str(name);
            any = true;
        }
    }
    if !any {
        l.push_str("none");
    }
    let _ = write!(l, ", tcp header: {} bytes", u16::from(t.data_offset()) * 4);
    lines.push(l);
    lines.push(format!("  window {}, checksum 0x{:04x}", t.window_size(), t.checksum()));
}

/// VPP's format_udp_header.
fn udp(lines: &mut Vec<String>, u: &UdpSlice) {
    lines.push(format!("UDP: {} -> {}", u.source_port(), u.destination_port()));
    lines.push(format!("  length {}, checksum 0x{:04x}", u.length(), u.checksum()));
}

/// Echo id (bytes 4..6 of an echo request or reply).
fn echo_id(rest: [u8; 4]) -> u16 {
    u16::from_be_bytes([rest[0], rest[1]])
}

/// VPP's format_ip4_icmp_header with the echo id of later VPPs.
fn icmp4(lines: &mut Vec<String>, i: &Icmpv4Slice) {
    let (ty, code) = (i.type_u8(), i.code_u8());
    let mut l = String::with_capacity(64);
    l.push_str("ICMP ");
    match icmp4_type_name(ty) {
        Some(name) => {
            l.push_str(name);
            if let Some(c) = icmp4_code_name(ty, code) {
                l.push(' ');
                l.push_str(c);
            }
        }
        None => {
            let _ = write!(l, "unknown 0x{ty:x}");
        }
    }
    let _ = write!(l, " checksum 0x{:x}", i.checksum());
    if ty == 0 || ty == 8 {
        let _ = write!(l, " id {}", echo_id(i.bytes5to8()));
    }
    lines.push(l);
}

/// VPP's format_icmp6_header (named ICMP6 so it is not taken for ICMPv4).
fn icmp6(lines: &mut Vec<String>, i: &Icmpv6Slice) {
    let (ty, code) = (i.type_u8(), i.code_u8());
    let mut l = String::with_capacity(64);
    l.push_str("ICMP6 ");
    match icmp6_type_name(ty) {
        Some(name) => {
            l.push_str(name);
            if let Some(c) = icmp6_code_name(ty, code) {
                l.push(' ');
                l.push_str(c);
            }
        }
        None => {
            let _ = write!(l, "unknown 0x{ty:x}");
        }
    }
    let _ = write!(l, " checksum 0x{:x}", i.checksum());
    if ty == 128 || ty == 129 {
        let _ = write!(l, " id {}", echo_id(i.bytes5to8()));
    }
    lines.push(l);
    // Neighbor solicitation / advertisement: the target follows the header.
    if ty == 135 || ty == 136 {
        if let Some(t) = i.payload().get(..16) {
            let mut a = [0u8; 16];
            a.copy_from_slice(t);
            lines.push(format!("  target address {}", Ipv6Addr::from(a)));
        }
    }
}

/// Why decoding stopped: VPP's `UDP header truncated` for missing bytes,
/// etherparse's own message for invalid contents.
fn stop_line(err: &SliceError, layer: Layer) -> String {
    let what = match layer {
        Layer::VlanHeader => "VLAN",
        Layer::IpHeader | Layer::Ipv4Header | Layer::Ipv4Packet | Layer::Ipv6Header | Layer::Ipv6Packet => "IP",
        Layer::IpAuthHeader => "IP authentication",
        Layer::Ipv6ExtHeader
        | Layer::Ipv6HopByHopHeader
        | Layer::Ipv6DestOptionsHeader
        | Layer::Ipv6RouteHeader
        | Layer::Ipv6FragHeader => "IPv6 extension",
        Layer::UdpHeader | Layer::UdpPayload => "UDP",
        Layer::TcpHeader => "TCP",
        Layer::Icmpv4 | Layer::Icmpv4Timestamp | Layer::Icmpv4TimestampReply => "ICMP",
        Layer::Icmpv6 => "ICMP6",
        _ => "packet",
    };
    match err {
        SliceError::Len(_) => format!("{what} header truncated"),
        // etherparse's message already names the header.
        other => other.to_string(),
    }
}

/// VPP's DSCP names (ip_packet.h, including its CS7 = 50).
fn dscp_name(d: u8) -> &'static str {
    match d {
        0 => "CS0",
        8 => "CS1",
        10 => "AF11",
        12 => "AF12",
        14 => "AF13",
        16 => "CS2",
        18 => "AF21",
        20 => "AF22",
        22 => "AF23",
        24 => "CS3",
        26 => "AF31",
        28 => "AF32",
        30 => "AF33",
        32 => "CS4",
        34 => "AF41",
        36 => "AF42",
        38 => "AF43",
        40 => "CS5",
        46 => "EF",
        48 => "CS6",
        50 => "CS7",
        _ => "unknown",
    }
}

/// VPP's ECN names (ip_packet.h numbers them 0..3 in this order).
fn ecn_name(e: u8) -> &'static str {
    match e {
        0 => "NON_ECN",
        1 => "ECT_0",
        2 => "ECT_1",
        _ => "CE",
    }
}

/// ICMPv4 type names (VPP's icmp46_packet.h).
fn icmp4_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0 => "echo_reply",
        3 => "destination_unreachable",
        4 => "source_quench",
        5 => "redirect",
        6 => "alternate_host_address",
        8 => "echo_request",
        9 => "router_advertisement",
        10 => "router_solicitation",
        11 => "time_exceeded",
        12 => "parameter_problem",
        13 => "timestamp_request",
        14 => "timestamp_reply",
        15 => "information_request",
        16 => "information_reply",
        17 => "address_mask_request",
        18 => "address_mask_reply",
        30 => "traceroute",
        31 => "datagram_conversion_error",
        32 => "mobile_host_redirect",
        33 => "ip6_where_are_you",
        34 => "ip6_i_am_here",
        35 => "mobile_registration_request",
        36 => "mobile_registration_reply",
        37 => "domain_name_request",
        38 => "domain_name_reply",
        39 => "skip",
        40 => "photuris",
        _ => return None,
    })
}

fn icmp4_code_name(t: u8, c: u8) -> Option<&'static str> {
    Some(match (t, c) {
        (3, 0) => "destination_unreachable_net",
        (3, 1) => "destination_unreachable_host",
        (3, 2) => "protocol_unreachable",
        (3, 3) => "port_unreachable",
        (3, 4) => "fragmentation_needed_and_dont_fragment_set",
        (3, 5) => "source_route_failed",
        (3, 6) => "destination_network_unknown",
        (3, 7) => "destination_host_unknown",
        (3, 8) => "source_host_isolated",
        (3, 9) => "network_administratively_prohibited",
        (3, 10) => "host_administratively_prohibited",
        (3, 11) => "network_unreachable_for_type_of_service",
        (3, 12) => "host_unreachable_for_type_of_service",
        (3, 13) => "communication_administratively_prohibited",
        (3, 14) => "host_precedence_violation",
        (3, 15) => "precedence_cutoff_in_effect",
        (5, 0) => "network_redirect",
        (5, 1) => "host_redirect",
        (5, 2) => "type_of_service_and_network_redirect",
        (5, 3) => "type_of_service_and_host_redirect",
        (9, 0) => "normal_router_advertisement",
        (9, 16) => "does_not_route_common_traffic",
        (11, 0) => "ttl_exceeded_in_transit",
        (11, 1) => "fragment_reassembly_time_exceeded",
        (12, 0) => "pointer_indicates_error",
        (12, 1) => "missing_required_option",
        (12, 2) => "bad_length",
        _ => return None,
    })
}

/// ICMPv6 type names (VPP's icmp46_packet.h).
fn icmp6_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "destination_unreachable",
        2 => "packet_too_big",
        3 => "time_exceeded",
        4 => "parameter_problem",
        128 => "echo_request",
        129 => "echo_reply",
        130 => "multicast_listener_request",
        131 => "multicast_listener_report",
        132 => "multicast_listener_done",
        133 => "router_solicitation",
        134 => "router_advertisement",
        135 => "neighbor_solicitation",
        136 => "neighbor_advertisement",
        137 => "redirect",
        138 => "router_renumbering",
        139 => "node_information_request",
        140 => "node_information_response",
        141 => "inverse_neighbor_solicitation",
        142 => "inverse_neighbor_advertisement",
        143 => "multicast_listener_report_v2",
        144 => "home_agent_address_discovery_request",
        145 => "home_agent_address_discovery_reply",
        146 => "mobile_prefix_solicitation",
        147 => "mobile_prefix_advertisement",
        148 => "certification_path_solicitation",
        149 => "certification_path_advertisement",
        151 => "multicast_router_advertisement",
        152 => "multicast_router_solicitation",
        153 => "multicast_router_termination",
        154 => "fmipv6_messages",
        _ => return None,
    })
}

fn icmp6_code_name(t: u8, c: u8) -> Option<&'static str> {
    Some(match (t, c) {
        (1, 0) => "no_route_to_destination",
        (1, 1) => "destination_administratively_prohibited",
        (1, 2) => "beyond_scope_of_source_address",
        (1, 3) => "address_unreachable",
        (1, 4) => "port_unreachable",
        (1, 5) => "source_address_failed_policy",
        (1, 6) => "reject_route_to_destination",
        (3, 0) => "ttl_exceeded_in_transit",
        (3, 1) => "fragment_reassembly_time_exceeded",
        (4, 0) => "erroneous_header_field",
        (4, 1) => "unrecognized_next_header",
        (4, 2) => "unrecognized_option",
        (138, 0) => "command",
        (138, 1) => "result",
        (139, 0) => "data_contains_ip6_address",
        (139, 1) => "data_contains_name",
        (139, 2) => "data_contains_ip4_address",
        (140, 0) => "success",
        (140, 1) => "failed",
        (140, 2) => "unknown_request",
        _ => return None,
    })
}

/// ARP opcodes (VPP's arp_packet.h, numbered from 0).
fn arp_opcode_name(op: u16) -> Option<&'static str> {
    const NAMES: [&str; 26] = [
        "reserved",
        "request",
        "reply",
        "reverse_request",
        "reverse_reply",
        "drarp_request",
        "drarp_reply",
        "drarp_error",
        "inarp_request",
        "inarp_reply",
        "arp_nak",
        "mars_request",
        "mars_multi",
        "mars_mserv",
        "mars_join",
        "mars_leave",
        "mars_nak",
        "mars_unserv",
        "mars_sjoin",
        "mars_sleave",
        "mars_grouplist_request",
        "mars_grouplist_reply",
        "mars_redirect_map",
        "mapos_unarp",
        "exp1",
        "exp2",
    ];
    NAMES.get(usize::from(op)).copied()
}

/// ARP hardware types (VPP's arp_packet.h).
fn arp_hardware_name(hw: u16) -> Option<&'static str> {
    const NAMES: [&str; 37] = [
        "reserved",
        "ethernet",
        "experimental_ethernet",
        "ax_25",
        "proteon_pronet_token_ring",
        "chaos",
        "ieee_802",
        "arcnet",
        "hyperchannel",
        "lanstar",
        "autonet",
        "localtalk",
        "localnet",
        "ultra_link",
        "smds",
        "frame_relay",
        "atm",
        "hdlc",
        "fibre_channel",
        "atm19",
        "serial_line",
        "atm21",
        "mil_std_188_220",
        "metricom",
        "ieee_1394",
        "mapos",
        "twinaxial",
        "eui_64",
        "hiparp",
        "iso_7816_3",
        "arpsec",
        "ipsec_tunnel",
        "infiniband",
        "cai",
        "wiegand",
        "pure_ip",
        "hw_exp1",
    ];
    match hw {
        256 => Some("hw_exp2"),
        _ => NAMES.get(usize::from(hw)).copied(),
    }
}

/// IP protocol names (VPP's ip/protocols.def).
fn ip_protocol_name(p: u8) -> Option<&'static str> {
    Some(match p {
        0 => "IP6_HOP_BY_HOP_OPTIONS",
        1 => "ICMP",
        2 => "IGMP",
        3 => "GGP",
        4 => "IP_IN_IP",
        5 => "ST",
        6 => "TCP",
        7 => "CBT",
        8 => "EGP",
        9 => "IGP",
        10 => "BBN_RCC_MON",
        11 => "NVP_II",
        12 => "PUP",
        13 => "ARGUS",
        14 => "EMCON",
        15 => "XNET",
        16 => "CHAOS",
        17 => "UDP",
        18 => "MUX",
        19 => "DCN_MEAS",
        20 => "HMP",
        21 => "PRM",
        22 => "XNS_IDP",
        23 => "TRUNK_1",
        24 => "TRUNK_2",
        25 => "LEAF_1",
        26 => "LEAF_2",
        27 => "RDP",
        28 => "IRTP",
        29 => "ISO_TP4",
        30 => "NETBLT",
        31 => "MFE_NSP",
        32 => "MERIT_INP",
        33 => "SEP",
        34 => "3PC",
        35 => "IDPR",
        36 => "XTP",
        37 => "DDP",
        38 => "IDPR_CMTP",
        39 => "TP",
        40 => "IL",
        41 => "IPV6",
        42 => "SDRP",
        43 => "IPV6_ROUTE",
        44 => "IPV6_FRAGMENTATION",
        45 => "IDRP",
        46 => "RSVP",
        47 => "GRE",
        48 => "MHRP",
        49 => "BNA",
        50 => "IPSEC_ESP",
        51 => "IPSEC_AH",
        52 => "I_NLSP",
        53 => "SWIPE",
        54 => "NARP",
        55 => "MOBILE",
        56 => "TLSP",
        57 => "SKIP",
        58 => "ICMP6",
        59 => "IP6_NONXT",
        60 => "IP6_DESTINATION_OPTIONS",
        62 => "CFTP",
        64 => "SAT_EXPAK",
        65 => "KRYPTOLAN",
        66 => "RVD",
        67 => "IPPC",
        69 => "SAT_MON",
        70 => "VISA",
        71 => "IPCV",
        72 => "CPNX",
        73 => "CPHB",
        74 => "WSN",
        75 => "PVP",
        76 => "BR_SAT_MON",
        77 => "SUN_ND",
        78 => "WB_MON",
        79 => "WB_EXPAK",
        80 => "ISO_IP",
        81 => "VMTP",
        82 => "SECURE_VMTP",
        83 => "VINES",
        84 => "TTP",
        85 => "NSFNET_IGP",
        86 => "DGP",
        87 => "TCF",
        88 => "EIGRP",
        89 => "OSPF",
        90 => "SPRITE_RPC",
        91 => "LARP",
        92 => "MTP",
        93 => "AX",
        94 => "IPIP",
        95 => "MICP",
        96 => "SCC_SP",
        97 => "ETHERIP",
        98 => "ENCAP",
        100 => "GMTP",
        101 => "IFMP",
        102 => "PNNI",
        103 => "PIM",
        104 => "ARIS",
        105 => "SCPS",
        106 => "QNX",
        107 => "A",
        108 => "IPCOMP",
        109 => "SNP",
        110 => "COMPAQ_PEER",
        111 => "IPX_IN_IP",
        112 => "VRRP",
        113 => "PGM",
        115 => "L2TP",
        116 => "DDX",
        117 => "IATP",
        118 => "STP",
        119 => "SRP",
        120 => "UTI",
        121 => "SMP",
        122 => "SM",
        123 => "PTP",
        124 => "ISIS",
        125 => "FIRE",
        126 => "CRTP",
        127 => "CRUDP",
        128 => "SSCOPMCE",
        129 => "IPLT",
        130 => "SPS",
        131 => "PIPE",
        132 => "SCTP",
        133 => "FC",
        134 => "RSVP_E2E_IGNORE",
        135 => "MOBILITY",
        136 => "UDP_LITE",
        137 => "MPLS_IN_IP",
        138 => "MANET",
        139 => "HIP",
        140 => "SHIM6",
        141 => "WESP",
        142 => "ROHC",
        253 => "EXP1",
        254 => "EXP2",
        255 => "RESERVED",
        _ => return None,
    })
}

/// Ethernet type names (VPP's ethernet/types.def; 0x600 is XNS_IDP as the
/// later of its two entries wins there).
fn ether_type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        0x0600 => "XNS_IDP",
        0x0800 => "IP4",
        0x0806 => "ARP",
        0x0bad => "VINES_IP",
        0x0bae => "VINES_LOOPBACK",
        0x0baf => "VINES_ECHO",
        0x1984 => "TRAIN",
        0x2000 => "CDP",
        0x2001 => "CGMP",
        0x2007 => "SRP_CONTROL",
        0x2452 => "CENTRINO_PROMISC",
        0x6000 => "DECNET",
        0x6001 => "DECNET_DUMP_LOAD",
        0x6002 => "DECNET_REMOTE_CONSOLE",
        0x6003 => "DECNET_ROUTE",
        0x6004 => "DEC_LAT",
        0x6005 => "DEC_DIAGNOSTIC",
        0x6006 => "DEC_CUSTOMER",
        0x6007 => "DEC_SCA",
        0x6558 => "TRANSPARENT_BRIDGING",
        0x6559 => "RAW_FRAME_RELAY",
        0x8035 => "REVERSE_ARP",
        0x8038 => "DEC_LAN_BRIDGE",
        0x803d => "DEC_ETHERNET_ENCRYPTION",
        0x803f => "DEC_LAN_TRAFFIC_MONITOR",
        0x8041 => "DEC_LAST",
        0x809b => "APPLETALK",
        0x80d5 => "IBM_SNA",
        0x80f3 => "APPLETALK_AARP",
        0x80ff => "WELLFLEET_COMPRESSION",
        0x8100 => "VLAN",
        0x8137 => "IPX",
        0x814c => "SNMP",
        0x81fd => "CABLETRON_ISMP",
        0x81ff => "CABLETRON_ISMP_TBFLOOD",
        0x86dd => "IP6",
        0x86df => "ATOMIC",
        0x876b => "TCP_IP_COMPRESSION",
        0x876c => "IP_AUTONOMOUS_SYSTEMS",
        0x876d => "SECURE_DATA",
        0x8808 => "MAC_CONTROL",
        0x8809 => "SLOW_PROTOCOLS",
        0x880b => "PPP",
        0x8847 => "MPLS",
        0x8848 => "MPLS_UPSTREAM_ASSIGNED",
        0x8863 => "PPPOE_DISCOVERY",
        0x8864 => "PPPOE_SESSION",
        0x886d => "INTEL_ANS",
        0x886f => "MICROSOFT_NLB_HEARTBEAT",
        0x8870 => "LLC_ENCAP",
        0x8881 => "CDMA_2000",
        0x888e => "802_1X_AUTHENTICATION",
        0x8892 => "PROFINET",
        0x889a => "HYPERSCSI",
        0x88a2 => "AOE",
        0x88a8 => "DOT1AD",
        0x88ae => "BRDWALK",
        0x88b7 => "802_OUI_EXTENDED",
        0x88c7 => "802_11I_PRE_AUTHENTICATION",
        0x88cc => "802_1_LLDP",
        0x88e5 => "802_1_AE_MACSEC",
        0x88e7 => "DOT1AH",
        0x894f => "NSH",
        0x9000 => "LOOPBACK",
        0x9021 => "RTNET_MAC",
        0x9022 => "RTNET_CONFIG",
        0x9100 => "VLAN_9100",
        0x9200 => "VLAN_9200",
        0x9999 => "PGLAN",
        0xe23b => "802_1_AEDK_PRIVACY_PROTECTION",
        0xfefe => "SRP_ISIS",
        0xffff => "RESERVED",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{IpHeaders, IpNumber, Ipv4Header, PacketBuilder, VlanId};

    const SRC_MAC: [u8; 6] = [0x0c, 0x87, 0x6c, 0x4e, 0x00, 0x01];
    const DST_MAC: [u8; 6] = [0x0c, 0xde, 0x0d, 0xe2, 0x00, 0x02];

    fn build(builder: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = Vec::new();
        builder(&mut v);
        v
    }

    /// The ping from VPP's dpdk-input example trace.
    fn vpp_ping() -> Vec<u8> {
        let mut ip = Ipv4Header::new(0, 64, IpNumber::ICMP, [192, 168, 102, 2], [192, 168, 99, 3]).unwrap();
        ip.identification = 0x37c5;
        ip.dont_fragment = true;
        let mut p = build(|v| {
            PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
                .ip(IpHeaders::Ipv4(ip, Default::default()))
                .icmpv4_echo_request(3024, 1)
                .write(v, &[0x5a; 56])
                .unwrap()
        });
        // The example's ICMP checksum covers a payload we do not have.
        p[14 + 20 + 2..14 + 20 + 4].copy_from_slice(&[0x06, 0x4e]);
        p
    }

    fn vlan_udp() -> Vec<u8> {
        build(|v| {
            PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
                .single_vlan(VlanId::try_new(100).unwrap())
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 20)
                .udp(1234, 2345)
                .write(v, &[1, 2, 3, 4])
                .unwrap()
        })
    }

    fn ipv6_tcp() -> Vec<u8> {
        let src = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets();
        let dst = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets();
        build(|v| {
            PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
                .ipv6(src, dst, 63)
                .tcp(1234, 80, 0x0102_0304, 4096)
                .syn()
                .ack(0x0a0b_0c0d)
                .write(v, b"hello")
                .unwrap()
        })
    }

    fn ipv6_ping() -> Vec<u8> {
        let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).octets();
        let dst = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2).octets();
        build(|v| {
            PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
                .ipv6(src, dst, 64)
                .icmpv6_echo_request(7, 1)
                .write(v, &[])
                .unwrap()
        })
    }

    fn arp_request() -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&[0xff; 6]);
        p.extend_from_slice(&SRC_MAC);
        p.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        p.extend_from_slice(&SRC_MAC);
        p.extend_from_slice(&[192, 168, 1, 1]);
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&[192, 168, 1, 2]);
        p
    }

    fn valid_packets() -> Vec<Vec<u8>> {
        let double_vlan = build(|v| {
            PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
                .double_vlan(VlanId::try_new(10).unwrap(), VlanId::try_new(20).unwrap())
                .ipv4([1, 2, 3, 4], [5, 6, 7, 8], 3)
                .tcp(1, 2, 3, 4)
                .write(v, &[9; 20])
                .unwrap()
        });
        vec![vpp_ping(), vlan_udp(), ipv6_tcp(), ipv6_ping(), arp_request(), double_vlan]
    }

    #[test]
    fn vpp_example_ping() {
        assert_eq!(
            decode_headers(&vpp_ping()),
            [
                "IP4: 0c:87:6c:4e:00:01 -> 0c:de:0d:e2:00:02",
                "ICMP: 192.168.102.2 -> 192.168.99.3",
                "  tos 0x00, ttl 64, length 84, checksum 0xb88d dscp CS0 ecn NON_ECN",
                "  fragment id 0x37c5, flags DONT_FRAGMENT",
                "ICMP echo_request checksum 0x64e id 3024",
            ]
        );
    }

    #[test]
    fn bad_ip_checksum_is_flagged() {
        let mut p = vpp_ping();
        p[14 + 10] ^= 0xff;
        let lines = decode_headers(&p);
        assert_eq!(lines[2], "  tos 0x00, ttl 64, length 84, checksum 0x478d (should be 0xb88d) dscp CS0 ecn NON_ECN");
    }

    #[test]
    fn vlan_udp_lines() {
        let lines = decode_headers(&vlan_udp());
        assert_eq!(lines[0], "IP4: 0c:87:6c:4e:00:01 -> 0c:de:0d:e2:00:02 802.1q vlan 100");
        assert_eq!(lines[1], "UDP: 10.0.0.1 -> 10.0.0.2");
        assert_eq!(lines[3], "  fragment id 0x0000, flags DONT_FRAGMENT");
        assert_eq!(lines[4], "UDP: 1234 -> 2345");
        assert!(lines[5].starts_with("  length 12, checksum 0x"), "{lines:?}");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn vlan_priority_and_qinq() {
        let mut p = vlan_udp();
        p[14] |= 0xb0; // priority 5, DEI set
        assert!(decode_headers(&p)[0].ends_with(" 802.1q vlan 100 priority 5 cfi"));
        let last = valid_packets().pop().unwrap();
        let lines = decode_headers(&last);
        assert_eq!(lines[0], "IP4: 0c:87:6c:4e:00:01 -> 0c:de:0d:e2:00:02 802.1ad vlan 10 802.1q vlan 20");
        assert_eq!(lines[4], "TCP: 1 -> 2");
    }

    #[test]
    fn ipv6_tcp_lines() {
        assert_eq!(
            decode_headers(&ipv6_tcp()),
            [
                "IP6: 0c:87:6c:4e:00:01 -> 0c:de:0d:e2:00:02",
                "TCP: 2001:db8::1 -> 2001:db8::2",
                "  tos 0x00, flow label 0x0, hop limit 63, payload length 25",
                "TCP: 1234 -> 80",
                "  seq. 0x01020304 ack 0x0a0b0c0d",
                "  flags SYN, ACK, tcp header: 20 bytes",
                &format!("  window 4096, checksum 0x{:04x}", {
                    let p = ipv6_tcp();
                    u16::from_be_bytes([p[14 + 40 + 16], p[14 + 40 + 17]])
                }),
            ]
        );
    }

    #[test]
    fn icmp6_lines() {
        let lines = decode_headers(&ipv6_ping());
        assert_eq!(lines[1], "ICMP6: fe80::1 -> fe80::2");
        assert!(lines[3].starts_with("ICMP6 echo_request checksum 0x"));
        assert!(lines[3].ends_with(" id 7"));
        // A neighbor solicitation shows its target.
        let mut p = ipv6_ping();
        p[14 + 40] = 135;
        p.extend_from_slice(&Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 9).octets());
        p[14 + 5] = 24; // payload length
        let lines = decode_headers(&p);
        assert!(lines[3].starts_with("ICMP6 neighbor_solicitation checksum"));
        assert_eq!(lines[4], "  target address fe80::9");
    }

    #[test]
    fn arp_lines() {
        assert_eq!(
            decode_headers(&arp_request()),
            [
                "ARP: 0c:87:6c:4e:00:01 -> ff:ff:ff:ff:ff:ff",
                "request, type ethernet/IP4, address size 6/4",
                "0c:87:6c:4e:00:01/192.168.1.1 -> 00:00:00:00:00:00/192.168.1.2",
            ]
        );
        let p = arp_request();
        assert_eq!(decode_headers(&p[..30]), ["ARP: 0c:87:6c:4e:00:01 -> ff:ff:ff:ff:ff:ff", "ARP header truncated"]);
    }

    #[test]
    fn unknown_type_and_short_frames() {
        assert_eq!(decode_headers(&[]), ["ethernet header truncated"]);
        assert_eq!(decode_headers(&[0; 13]), ["ethernet header truncated"]);
        let mut p = vec![0u8; 14];
        p[12] = 0x0c;
        p[13] = 0x0d;
        assert_eq!(decode_headers(&p), ["0x0c0d: 00:00:00:00:00:00 -> 00:00:00:00:00:00"]);
        p[12] = 0x88;
        p[13] = 0xcc;
        assert_eq!(decode_headers(&p)[0], "802_1_LLDP: 00:00:00:00:00:00 -> 00:00:00:00:00:00");
    }

    #[test]
    fn truncated_layers_say_so() {
        let p = vlan_udp();
        let lines = decode_headers(&p[..14 + 4 + 20 + 4]);
        assert_eq!(lines.last().map(String::as_str), Some("UDP header truncated"));
        let lines = decode_headers(&p[..14 + 4 + 10]);
        assert_eq!(lines.last().map(String::as_str), Some("IP header truncated"));
        let lines = decode_headers(&p[..14 + 2]);
        assert_eq!(lines.last().map(String::as_str), Some("VLAN header truncated"));
        let p = ipv6_tcp();
        let lines = decode_headers(&p[..14 + 40 + 12]);
        assert_eq!(lines.last().map(String::as_str), Some("TCP header truncated"));
        let p = vpp_ping();
        let lines = decode_headers(&p[..14 + 20 + 3]);
        assert_eq!(lines.last().map(String::as_str), Some("ICMP header truncated"));
    }

    #[test]
    fn ip_content_errors_do_not_stop_the_frame_line() {
        let mut p = vpp_ping();
        p[14] = 0x75; // IP version 7
        let lines = decode_headers(&p);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("IP Header Error: "), "{lines:?}");
        let mut p = vpp_ping();
        p[14] = 0x46; // IHL 6: one option word, bad checksum now
        let lines = decode_headers(&p);
        assert_eq!(lines[2], "  version 4, header length 24");
    }

    #[test]
    fn fragments_stop_after_ip() {
        let mut p = vpp_ping();
        p[14 + 6] = 0x20; // MF, offset 0x0010 * 8
        p[14 + 7] = 0x10;
        let lines = decode_headers(&p);
        assert!(lines[3].starts_with("  fragment id 0x37c5 offset 128, flags MORE_FRAGMENTS"));
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn every_truncation_of_valid_packets() {
        for p in valid_packets() {
            for n in 0..=p.len() {
                let lines = decode_headers(&p[..n]);
                assert!(!lines.is_empty());
                assert!(lines.iter().all(|l| !l.contains('\n')));
            }
        }
    }

    #[test]
    fn fuzz_random_bytes() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let types: [[u8; 2]; 7] =
            [[0x08, 0x00], [0x86, 0xdd], [0x81, 0x00], [0x88, 0xa8], [0x91, 0x00], [0x08, 0x06], [0x12, 0x34]];
        let mut buf = Vec::with_capacity(256);
        for i in 0..30_000 {
            buf.clear();
            let len = rng.usize(0..200);
            buf.extend((0..len).map(|_| rng.u8(..)));
            if len >= 14 && i % 4 != 0 {
                buf[12..14].copy_from_slice(&types[rng.usize(..types.len())]);
                // Steer into IPv4/IPv6 headers with plausible versions.
                if len > 14 && rng.bool() {
                    buf[14] = if rng.bool() { 0x45 } else { 0x60 };
                }
            }
            let _ = decode_headers(&buf);
        }
        // Random corruption of valid frames, byte by byte.
        for p in valid_packets() {
            for _ in 0..2_000 {
                let mut q = p.clone();
                for _ in 0..rng.usize(1..4) {
                    let at = rng.usize(..q.len());
                    q[at] = rng.u8(..);
                }
                let cut = rng.usize(0..=q.len());
                let _ = decode_headers(&q[..cut]);
            }
        }
    }
}
