//! No input makes the ruleset parsers or the analysis panic.

use hardenctl::facts::firewall::{parse_ruleset_json, parse_ruleset_text};
use proptest::prelude::*;

fn analyse(rs: &hardenctl::facts::firewall::Ruleset) {
    let _ = rs.input_chains();
    let _ = rs.input_policy_drop();
    let _ = rs.established_accepted();
    let _ = rs.open_ports();
    let _ = rs.ssh_rate_limited(22);
    let _ = rs.logs_dropped();
    let _ = rs.render_text();
}

/// Fragments of nft syntax, so random texts get past the tokenizer into the structure and rules.
fn nft_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("table inet f {".to_owned()),
        Just("chain input {".to_owned()),
        Just("type filter hook input priority filter;".to_owned()),
        Just("policy drop;".to_owned()),
        Just("}".to_owned()),
        Just("{".to_owned()),
        Just("\n".to_owned()),
        Just(";".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("tcp dport".to_owned()),
        Just("ct state vmap { established : accept, new : jump x }".to_owned()),
        Just("vmap".to_owned()),
        Just("jump".to_owned()),
        Just("accept".to_owned()),
        Just("define X = 1".to_owned()),
        Just("$X".to_owned()),
        Just("include \"a\"".to_owned()),
        Just("add rule inet f input".to_owned()),
        Just("add element inet f s".to_owned()),
        Just("delete table inet f".to_owned()),
        Just("flush chain".to_owned()),
        Just("limit rate over 5/minute".to_owned()),
        Just("meter m { ip saddr limit rate 1/second }".to_owned()),
        Just("\"str\"".to_owned()),
        Just("\\\n".to_owned()),
        Just("#".to_owned()),
        Just(".".to_owned()),
        "[a-z0-9@$!=/.-]{1,8}",
    ]
}

fn json_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"nftables": ["#.to_owned()),
        Just(r#"{"table": {"family": "inet", "name": "t"}}"#.to_owned()),
        Just(r#"{"chain": {"family": "inet", "table": "t", "name": "c", "hook": "input", "policy": "drop", "prio": "filter"}}"#.to_owned()),
        Just(r#"{"rule": {"family": "inet", "table": "t", "chain": "c", "expr": ["#.to_owned()),
        Just(r#"{"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "#.to_owned()),
        Just(r#"{"vmap": {"key": {"ct": {"key": "state"}}, "data": {"set": [["new", {"jump": {"target": "c"}}]]}}}"#.to_owned()),
        Just(r#"{"jump": {"target": "c"}}"#.to_owned()),
        Just(r#"{"range": [70000, -1]}"#.to_owned()),
        Just(r#"{"set": [1, "x", null]}"#.to_owned()),
        Just(r#"{"accept": null}"#.to_owned()),
        Just("]".to_owned()),
        Just("}".to_owned()),
        Just(",".to_owned()),
        "[a-z0-9\"{}:,\\[\\]]{1,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_parser_never_panics(s in "\\PC*") {
        if let Ok(rs) = parse_ruleset_text(&s, "/fuzz") {
            analyse(&rs);
        }
    }

    #[test]
    fn text_parser_never_panics_on_nftish(parts in prop::collection::vec(nft_fragment(), 0..60)) {
        let s = parts.join(" ");
        if let Ok(rs) = parse_ruleset_text(&s, "/fuzz") {
            analyse(&rs);
        }
    }

    #[test]
    fn json_parser_never_panics(s in "\\PC*") {
        if let Ok(rs) = parse_ruleset_json(&s) {
            analyse(&rs);
        }
    }

    #[test]
    fn json_parser_never_panics_on_jsonish(parts in prop::collection::vec(json_fragment(), 0..40)) {
        let s = parts.join("");
        if let Ok(rs) = parse_ruleset_json(&s) {
            analyse(&rs);
        }
    }

    #[test]
    fn json_parser_never_panics_on_valid_json(v in arb_json()) {
        let s = serde_json::json!({"nftables": [v]}).to_string();
        if let Ok(rs) = parse_ruleset_json(&s) {
            analyse(&rs);
        }
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        prop_oneof![
            Just("inet".to_owned()),
            Just("t".to_owned()),
            Just("c".to_owned()),
            Just("input".to_owned()),
            Just("drop".to_owned()),
            Just("@s".to_owned()),
            Just("1-2".to_owned()),
            "[a-z]{0,4}"
        ]
        .prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("table".to_owned()),
                        Just("chain".to_owned()),
                        Just("rule".to_owned()),
                        Just("set".to_owned()),
                        Just("family".to_owned()),
                        Just("name".to_owned()),
                        Just("table".to_owned()),
                        Just("chain".to_owned()),
                        Just("hook".to_owned()),
                        Just("expr".to_owned()),
                        Just("match".to_owned()),
                        Just("left".to_owned()),
                        Just("right".to_owned()),
                        Just("payload".to_owned()),
                        Just("protocol".to_owned()),
                        Just("field".to_owned()),
                        Just("vmap".to_owned()),
                        Just("key".to_owned()),
                        Just("data".to_owned()),
                        Just("jump".to_owned()),
                        Just("target".to_owned()),
                        Just("elem".to_owned()),
                        Just("meter".to_owned()),
                        Just("stmt".to_owned()),
                        Just("concat".to_owned()),
                        Just("op".to_owned()),
                        "[a-z]{1,5}"
                    ],
                    inner
                ),
                0..5,
            )
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}
