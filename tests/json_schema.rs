//! docs/json-schema.json (JSON Schema 2020-12) against real output: the
//! end-of-run `--json` document and the control socket's answers. The
//! check is a small validator of the keywords the schema uses ($ref to
//! $defs, type, properties, required, additionalProperties, items, enum,
//! minimum):
//! the `jsonschema` crate would bring an HTTP client and regex engines
//! into the build for this one test.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("docs/json-schema.json")).unwrap()).unwrap()
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "null" => v.is_null(),
        other => panic!("the schema uses type {other}, which this check does not know"),
    }
}

/// Every problem of `v` against `s`, with its JSON path.
fn check(root: &Value, s: &Value, v: &Value, path: &str, problems: &mut Vec<String>) {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
        let target = root["$defs"].get(name).unwrap_or_else(|| panic!("$ref {r} names nothing"));
        check(root, target, v, path, problems);
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        if !type_ok(t, v) {
            problems.push(format!("{path}: {v} is not of type {t}"));
            return;
        }
    }
    if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if x < min {
            problems.push(format!("{path}: {v} is below {min}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            problems.push(format!("{path}: {v} is not one of {e:?}"));
        }
    }
    if let (Some(props), Some(o)) = (s.get("properties").and_then(Value::as_object), v.as_object()) {
        for req in s.get("required").and_then(Value::as_array).into_iter().flatten() {
            if !o.contains_key(req.as_str().unwrap()) {
                problems.push(format!("{path}: {req} is missing"));
            }
        }
        for (k, x) in o {
            match (props.get(k), s.get("additionalProperties")) {
                (Some(ps), _) => check(root, ps, x, &format!("{path}.{k}"), problems),
                (None, Some(Value::Bool(false))) => problems.push(format!("{path}: {k} is not in the schema")),
                (None, Some(extra)) if extra.is_object() => check(root, extra, x, &format!("{path}.{k}"), problems),
                _ => {}
            }
        }
    } else if let (Some(extra), Some(o)) = (s.get("additionalProperties").filter(|e| e.is_object()), v.as_object()) {
        for (k, x) in o {
            check(root, extra, x, &format!("{path}.{k}"), problems);
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            check(root, items, x, &format!("{path}[{i}]"), problems);
        }
    }
}

fn assert_valid(def: &str, v: &Value) {
    let root = schema();
    let mut problems = Vec::new();
    check(&root, &serde_json::json!({ "$ref": format!("#/$defs/{def}") }), v, def, &mut problems);
    assert!(problems.is_empty(), "{def} does not follow docs/json-schema.json:\n{}", problems.join("\n"));
}

#[test]
fn the_schema_rejects_what_it_should() {
    let mut problems = Vec::new();
    let root = schema();
    assert_eq!(root["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let bad = serde_json::json!({"thread": 1, "node": "x", "reason": "y", "count": -1, "extra": 1});
    check(&root, &serde_json::json!({"$ref": "#/$defs/error_row"}), &bad, "e", &mut problems);
    assert_eq!(problems.len(), 1 + 1, "{problems:?}");
}

#[test]
fn end_of_run_json_follows_the_schema() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let doc = Run::new("schema").args(["--pg", "dpdk-config/pg_input_script"]).trace(5).run_json();
    assert_valid("report", &doc);
    let (p, q) = (dir.path().join("p.pcap"), dir.path().join("q.pcap"));
    write_pcap(&p, &random_packets(20, 3));
    write_pcap(&q, &random_packets(20, 4));
    let doc = Run::new("schema-pairs")
        .vdev(format!("net_pcap0,rx_pcap={}", p.display()))
        .vdev(format!("net_pcap1,rx_pcap={}", q.display()))
        .output("0:1,1:0")
        .trace(3)
        .run_json();
    assert!(!doc["pairs"].as_array().unwrap().is_empty());
    assert_valid("report", &doc);
}

/// One request straight on the socket: the envelope itself.
fn raw(prefix: &str, request: &str) -> Value {
    let sock = std::path::Path::new("/var/run/dpdk").join(prefix).join("handoff.sock");
    let mut conn = std::os::unix::net::UnixStream::connect(sock).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(format!("{request}\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

#[test]
fn live_answers_follow_the_schema() {
    let _g = serial();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("live_answers_follow_the_schema: skipped: needs root (/var/run/dpdk)");
        return;
    }
    let run = Run::new("schema-live").vdev("net_null0").duration(4).limit(Duration::from_secs(30));
    let prefix = run.prefix();
    let child = run.spawn();
    run.wait_for_control();
    assert!(run.ctl(&["trace", "add", "2"]).status.success());
    for what in ["errors", "runtime", "interfaces", "xstats", "trace", "handoff", "pairs"] {
        let out = run.ctl(&["show", what, "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_valid(&format!("show_{what}"), &serde_json::from_slice(&out.stdout).unwrap());
    }
    let list = ctl(&["list", "--json"]);
    assert_valid("list", &serde_json::from_slice(&list.stdout).unwrap());
    let reply = raw(prefix, r#"{"cmd":"info"}"#);
    assert_valid("reply", &reply);
    assert_valid("info", &reply["json"]);
    assert_valid("request", &serde_json::json!({"cmd": "trace_add", "count": 5, "filter": "udp"}));
    assert_valid("request", &serde_json::json!({"cmd": "show", "what": "trace", "json": true, "max": 3}));
    let bad = raw(prefix, r#"{"cmd":"nonsense"}"#);
    assert_valid("reply", &bad);
    assert_eq!(bad["ok"], false);
    let out = run.wait(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
