//! Binds DPDK (>= 22.11, found with pkg-config) with bindgen, compiles the
//! wrappers bindgen generates for DPDK's static inline functions and the
//! macro shim with DPDK's own cflags, and links DPDK shared.
//!
//! Tested against DPDK 22.11 LTS (Debian bookworm) and 24.11 LTS (Debian
//! trixie). What differs between them is read from the headers themselves
//! (the generated bindings), not guessed from the version number:
//! - `handoff_mbuf_field_unions`: struct rte_mbuf's rx fields sit in
//!   anonymous unions (24.11) instead of after zero-length markers (22.11).
//! - `handoff_tel_dict_uint`: telemetry has `rte_tel_data_add_dict_uint`
//!   (23.03+), which deprecates `rte_tel_data_add_dict_u64`.
//!
//! It also exports the DPDK version it built against as
//! `HANDOFF_DPDK_BUILD_VERSION` (for `handoff --version`).

use std::env;
use std::path::PathBuf;

const SHIM_DIR: &str = "src/dpdk/shim";

fn main() {
    println!("cargo:rerun-if-changed={SHIM_DIR}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rustc-check-cfg=cfg(handoff_mbuf_field_unions)");
    println!("cargo:rustc-check-cfg=cfg(handoff_tel_dict_uint)");

    let dpdk = match pkg_config::Config::new().atleast_version("22.11").cargo_metadata(true).probe("libdpdk") {
        Ok(lib) => lib,
        Err(e) => panic!(
            "\n\nDPDK >= 22.11 was not found through pkg-config ({e}).\n\
             Install the build dependencies with: sudo scripts/install-deps.sh\n\n"
        ),
    };
    // pkg-config's cflags carry `-include rte_config.h` and `-march=...`, which
    // both clang (bindgen) and cc need to see DPDK's headers as DPDK does.
    let cflags = pkg_config::get_variable("libdpdk", "cflags").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| {
        let out = std::process::Command::new("pkg-config")
            .args(["--cflags", "libdpdk"])
            .output()
            .expect("pkg-config --cflags libdpdk");
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    let cflags: Vec<String> = cflags.split_whitespace().map(String::from).collect();

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let static_fns = out.join("static_fns");

    let bindings = bindgen::Builder::default()
        .header(format!("{SHIM_DIR}/wrapper.h"))
        .clang_args(&cflags)
        .clang_arg(format!("-I{SHIM_DIR}"))
        .wrap_static_fns(true)
        .wrap_static_fns_path(&static_fns)
        // Exactly what src/dpdk calls; anything new is added here on purpose.
        .allowlist_function("rte_eal_(init|cleanup|remote_launch|wait_lcore)")
        .allowlist_function("rte_(get_main_lcore|lcore_is_enabled|lcore_to_socket_id|get_tsc_hz|rdtsc|strerror|version)")
        .allowlist_function("rte_pktmbuf_(pool_create|free|free_bulk|pool_init|init)|rte_mbuf_best_mempool_ops")
        .allowlist_function("rte_mempool_(obj_iter|avail_count|free|put_bulk|create_empty|populate_default|set_ops_byname)")
        .allowlist_function("rte_mbuf_(dynfield_register|dynflag_register|dynflag_lookup)")
        .allowlist_function("rte_eth_(dev_info_get|dev_configure|rx_queue_setup|tx_queue_setup|dev_start|dev_stop|dev_close|stats_get|rx_burst|tx_burst|dev_get_name_by_port|dev_socket_id|promiscuous_enable|macaddr_get|find_next|dev_adjust_nb_rx_tx_desc|xstats_get_names|xstats_get)")
        .allowlist_function("rte_ring_(create_elem|free|enqueue_burst_elem|dequeue_burst_elem|count)")
        .allowlist_function("rte_pdump_init|rte_openlog_stream")
        .allowlist_function("rte_tel_data_(start_dict|add_dict_u64|add_dict_uint)|rte_telemetry_register_cmd")
        .allowlist_function("handoff_.*")
        .allowlist_var("RTE_(MBUF_F_RX_RSS_HASH|MBUF_F_INDIRECT|MBUF_F_EXTERNAL|MEMPOOL_F_NO_IOVA_CONTIG|MAX_ETHPORTS|MAX_LCORE|TEL_MAX_DICT_ENTRIES)|RING_F_(SP_ENQ|SC_DEQ|EXACT_SZ)")
        .allowlist_type("rte_(ether_addr|pktmbuf_pool_private|mbuf|eth_stats|eth_xstat|eth_xstat_name|eth_dev_info|eth_conf|eth_rxconf|eth_txconf|ring|mempool|mbuf_dynfield|mbuf_dynflag|tel_data)")
        .default_enum_style(bindgen::EnumVariation::ModuleConsts)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen could not bind DPDK's headers");
    let text = bindings.to_string();
    std::fs::write(out.join("bindings.rs"), &text).expect("write bindings.rs");
    println!("cargo:rustc-env=HANDOFF_DPDK_BUILD_VERSION={}", dpdk.version);
    if mbuf_fields_in_unions(&text) {
        println!("cargo:rustc-cfg=handoff_mbuf_field_unions");
    }
    if text.contains("pub fn rte_tel_data_add_dict_uint(") {
        println!("cargo:rustc-cfg=handoff_tel_dict_uint");
    }

    // The generated C file #includes wrapper.h; compile it and the shim with
    // DPDK's cflags so inline functions see the same configuration.
    let mut build = cc::Build::new();
    build
        .file(static_fns.with_extension("c"))
        .file(format!("{SHIM_DIR}/shim.c"))
        .include(SHIM_DIR)
        .include(env::current_dir().unwrap())
        .warnings(false)
        .opt_level(3);
    for flag in &cflags {
        build.flag(flag);
    }
    build.compile("handoff_dpdk_shim");
}

/// Whether `pkt_len` is a member of struct rte_mbuf itself (22.11) or of an
/// anonymous struct inside a union (24.11).
fn mbuf_fields_in_unions(bindings: &str) -> bool {
    let start = bindings.find("pub struct rte_mbuf {").expect("bindings have struct rte_mbuf");
    let body = &bindings[start..];
    let body = &body[..body.find("\n}").expect("struct rte_mbuf ends")];
    !body.contains("pub pkt_len:")
}
