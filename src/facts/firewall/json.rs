//! Parser A: the JSON that `nft -j list ruleset` prints (libnftables-json(5)).
//!
//! Works on [`serde_json::Value`] rather than typed structs so that unknown objects, keys and
//! expression shapes from other nft versions degrade to opaque items instead of failing.
//! Only the outer shape must hold: an object with an `nftables` array.

use serde_json::Value;

use super::FirewallError;
use super::model::{
    BaseChain, Chain, NamedSet, Opaque, PortMatch, PortRange, Rule, Ruleset, Table, ValueMatch,
    Verdict, VerdictMap, VmapEntry, port_range_value, priority_value,
};

/// L4 protocols whose payload selectors (`tcp dport`, `icmp type`) imply a protocol match.
pub(crate) const L4_PROTOCOLS: &[&str] = &[
    "tcp", "udp", "udplite", "sctp", "dccp", "icmp", "icmpv6", "ah", "esp", "comp", "igmp",
];

/// Parses the output of `nft -j list ruleset`.
pub fn parse_ruleset_json(text: &str) -> Result<Ruleset, FirewallError> {
    let root: Value = serde_json::from_str(text).map_err(|e| FirewallError::Json {
        message: e.to_string(),
    })?;
    let items = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| FirewallError::Json {
            message: "no \"nftables\" array at the top level".to_owned(),
        })?;
    let mut rs = Ruleset::default();
    for item in items {
        let Some(obj) = item.as_object() else {
            continue;
        };
        for (kind, body) in obj {
            match kind.as_str() {
                "table" => {
                    let (Some(family), Some(name)) = (str_of(body, "family"), str_of(body, "name"))
                    else {
                        continue;
                    };
                    // Newer nft prints `"dormant"` or an array of names. nft 1.0.6 prints the
                    // table's *name* here instead of its flags, so dormancy cannot be seen in
                    // its JSON; [`super::live_ruleset`] takes it from the text listing then.
                    let is_dormant = |x: &Value| x.as_str() == Some("dormant");
                    let dormant = match body.get("flags") {
                        Some(Value::Array(f)) => f.iter().any(is_dormant),
                        Some(f) => is_dormant(f),
                        None => false,
                    };
                    if rs.table(family, name).is_none() {
                        rs.tables.push(Table {
                            family: family.to_owned(),
                            name: name.to_owned(),
                            chains: Vec::new(),
                            sets: Vec::new(),
                            dormant: false,
                            location: None,
                        });
                    }
                    if let Some(t) = rs.table_mut(family, name) {
                        t.dormant |= dormant;
                    }
                }
                "chain" => {
                    let Some(table) = owning_table(&mut rs, body) else {
                        continue;
                    };
                    let Some(name) = str_of(body, "name") else {
                        continue;
                    };
                    let base = str_of(body, "hook").map(|hook| {
                        let prio = body.get("prio");
                        let priority_text = prio.map(scalar_text).unwrap_or_default();
                        BaseChain {
                            chain_type: str_of(body, "type").unwrap_or("filter").to_owned(),
                            hook: hook.to_owned(),
                            priority: prio
                                .and_then(Value::as_i64)
                                .or_else(|| priority_value(&priority_text)),
                            priority_text,
                            policy: str_of(body, "policy").map(str::to_owned),
                        }
                    });
                    if table.chain(name).is_none() {
                        table.chains.push(Chain {
                            name: name.to_owned(),
                            base,
                            rules: Vec::new(),
                            location: None,
                        });
                    }
                }
                "set" | "map" => {
                    let Some(table) = owning_table(&mut rs, body) else {
                        continue;
                    };
                    let Some(name) = str_of(body, "name") else {
                        continue;
                    };
                    let set_type = match body.get("type") {
                        Some(Value::Array(parts)) => parts
                            .iter()
                            .map(scalar_text)
                            .collect::<Vec<_>>()
                            .join(" . "),
                        Some(v) => scalar_text(v),
                        None => String::new(),
                    };
                    let flags = match body.get("flags") {
                        Some(Value::Array(f)) => f.iter().map(scalar_text).collect(),
                        Some(v) => vec![scalar_text(v)],
                        None => Vec::new(),
                    };
                    let elements = match body.get("elem") {
                        Some(Value::Array(e)) => e.iter().map(element_key_text).collect(),
                        _ => Vec::new(),
                    };
                    table.sets.push(NamedSet {
                        name: name.to_owned(),
                        is_map: kind == "map",
                        set_type,
                        flags,
                        elements,
                        location: None,
                    });
                }
                "rule" => {
                    let Some(chain_name) = str_of(body, "chain").map(str::to_owned) else {
                        continue;
                    };
                    let Some(table) = owning_table(&mut rs, body) else {
                        continue;
                    };
                    let exprs: &[Value] = body
                        .get("expr")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or(&[]);
                    let rule = rule_from_exprs(exprs);
                    if table.chain(&chain_name).is_none() {
                        table.chains.push(Chain {
                            name: chain_name.clone(),
                            base: None,
                            rules: Vec::new(),
                            location: None,
                        });
                    }
                    if let Some(c) = table.chains.iter_mut().find(|c| c.name == chain_name) {
                        c.rules.push(rule);
                    }
                }
                // metainfo, flowtable, counter, quota, ct helper, ...: nothing the audit needs.
                _ => {}
            }
        }
    }
    Ok(rs)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The table a chain/set/rule object belongs to, created on demand (objects may come in any order).
fn owning_table<'a>(rs: &'a mut Ruleset, body: &Value) -> Option<&'a mut Table> {
    let family = str_of(body, "family")?;
    let name = str_of(body, "table")?;
    if rs.table(family, name).is_none() {
        rs.tables.push(Table {
            family: family.to_owned(),
            name: name.to_owned(),
            chains: Vec::new(),
            sets: Vec::new(),
            dormant: false,
            location: None,
        });
    }
    rs.table_mut(family, name)
}

/// Text of a scalar or simple expression value (numbers, strings, ranges, prefixes, sets).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        Value::Object(_) => expr_text(v),
    }
}

/// Text of a set element key (maps are `[key, value]` pairs; `elem` wrappers carry timeouts).
fn element_key_text(v: &Value) -> String {
    match v {
        Value::Array(pair) if pair.len() == 2 => element_key_text(&pair[0]),
        Value::Object(o) if o.contains_key("elem") => o
            .get("elem")
            .and_then(|e| e.get("val"))
            .map_or_else(String::new, element_key_text),
        _ => scalar_text(v),
    }
}

/// Flattens a right-hand side into element texts (`{"set": [...]}`, arrays, single values).
fn values_of(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(element_key_text).collect(),
        Value::Object(o) if o.contains_key("set") => match o.get("set") {
            Some(Value::Array(a)) => a.iter().map(element_key_text).collect(),
            Some(other) => vec![scalar_text(other)],
            None => Vec::new(),
        },
        _ => vec![scalar_text(v)],
    }
}

/// Renders an expression or statement roughly as nft would print it, for evidence.
fn expr_text(v: &Value) -> String {
    let Some(obj) = v.as_object() else {
        return scalar_text(v);
    };
    let Some((k, b)) = obj.iter().next() else {
        return String::new();
    };
    match k.as_str() {
        "match" => {
            let op = match str_of(b, "op") {
                Some("==") | Some("in") | None => String::new(),
                Some(op) => format!("{op} "),
            };
            format!(
                "{} {op}{}",
                b.get("left").map(expr_text).unwrap_or_default(),
                b.get("right").map(expr_text).unwrap_or_default()
            )
        }
        "concat" => b
            .as_array()
            .map(|a| a.iter().map(expr_text).collect::<Vec<_>>().join(" . "))
            .unwrap_or_default(),
        "payload" => format!(
            "{} {}",
            str_of(b, "protocol").unwrap_or("?"),
            str_of(b, "field").unwrap_or("?")
        ),
        "meta" => match str_of(b, "key") {
            Some(key @ ("iifname" | "oifname" | "iif" | "oif")) => key.to_owned(),
            Some(key) => format!("meta {key}"),
            None => "meta".to_owned(),
        },
        "ct" => format!("ct {}", str_of(b, "key").unwrap_or("?")),
        "set" if b.is_array() => format!("{{ {} }}", values_of(v).join(", ")),
        "range" => match b.as_array() {
            Some(r) if r.len() == 2 => format!("{}-{}", scalar_text(&r[0]), scalar_text(&r[1])),
            _ => scalar_text(b),
        },
        "prefix" => format!(
            "{}/{}",
            b.get("addr").map(scalar_text).unwrap_or_default(),
            b.get("len").map(scalar_text).unwrap_or_default()
        ),
        "accept" | "drop" | "return" | "continue" | "queue" => k.clone(),
        "reject" => match (str_of(b, "type"), b.get("expr")) {
            (Some(t), Some(e)) => format!("reject with {t} {}", scalar_text(e)),
            (Some(t), None) => format!("reject with {t}"),
            _ => "reject".to_owned(),
        },
        "jump" | "goto" => format!("{k} {}", str_of(b, "target").unwrap_or("?")),
        "counter" => "counter".to_owned(),
        "log" => match str_of(b, "prefix") {
            Some(p) => format!("log prefix \"{p}\""),
            None => "log".to_owned(),
        },
        "limit" => format!(
            "limit rate {}{}/{}",
            if b.get("inv").and_then(Value::as_bool) == Some(true) {
                "over "
            } else {
                ""
            },
            b.get("rate").map(scalar_text).unwrap_or_default(),
            str_of(b, "per").unwrap_or("second")
        ),
        "ct count" => format!(
            "ct count {}{}",
            if b.get("inv").and_then(Value::as_bool) == Some(true) {
                "over "
            } else {
                ""
            },
            b.get("val").map(scalar_text).unwrap_or_default()
        ),
        "meter" => format!(
            "meter {} {{ {} {} }}",
            str_of(b, "name").unwrap_or("?"),
            b.get("key").map(expr_text).unwrap_or_default(),
            stmt_list(b.get("stmt"))
                .iter()
                .map(expr_text)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "set" => {
            let inner = std::iter::once(b.get("elem").map(expr_text).unwrap_or_default())
                .chain(stmt_list(b.get("stmt")).iter().map(expr_text))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                "{} {} {{ {inner} }}",
                str_of(b, "op").unwrap_or("add"),
                str_of(b, "set").unwrap_or("?"),
            )
        }
        "vmap" => {
            let data = match b.get("data") {
                Some(Value::String(s)) => s.clone(),
                Some(d) => {
                    let entries: Vec<String> = d
                        .get("set")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .map(|e| match e.as_array() {
                                    Some(p) if p.len() == 2 => {
                                        format!("{} : {}", expr_text(&p[0]), expr_text(&p[1]))
                                    }
                                    _ => expr_text(e),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    format!("{{ {} }}", entries.join(", "))
                }
                None => String::new(),
            };
            format!(
                "{} vmap {data}",
                b.get("key").map(expr_text).unwrap_or_default()
            )
        }
        _ => {
            if b.is_null() {
                k.clone()
            } else {
                format!("{k} {b}")
            }
        }
    }
}

/// A statement list that may be a single object or an array.
fn stmt_list(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.clone(),
        Some(v @ Value::Object(_)) => vec![v.clone()],
        _ => Vec::new(),
    }
}

fn verdict_of(v: &Value) -> Option<Verdict> {
    let obj = v.as_object()?;
    let (k, b) = obj.iter().next()?;
    match k.as_str() {
        "jump" | "goto" => Verdict::from_words(k, str_of(b, "target")),
        _ => Verdict::from_words(k, None),
    }
}

fn has_rate_stmt(stmts: &[Value]) -> bool {
    stmts
        .iter()
        .any(|s| s.get("limit").is_some() || s.get("ct count").is_some())
}

/// Reduces the expression list of one rule.
fn rule_from_exprs(exprs: &[Value]) -> Rule {
    let text = exprs.iter().map(expr_text).collect::<Vec<_>>().join(" ");
    let mut rule = Rule::new(text, None);
    for e in exprs {
        let Some((k, b)) = e.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        match k.as_str() {
            "match" => add_match(&mut rule, b, e),
            "counter" => rule.counter = true,
            "log" => rule.log = true,
            "limit" => rule.limit = true,
            "ct count" => rule.ct_count = true,
            "meter" => {
                rule.meter = true;
                rule.meter_limit |= has_rate_stmt(&stmt_list(b.get("stmt")));
            }
            "set" if b.is_object() && b.get("op").is_some() => {
                rule.meter = true;
                rule.meter_limit |= has_rate_stmt(&stmt_list(b.get("stmt")));
            }
            "vmap" => {
                let key = b.get("key").map(expr_text).unwrap_or_default();
                add_key_protocol(&mut rule, b.get("key"));
                let mut vm = VerdictMap {
                    key,
                    entries: Vec::new(),
                    map_ref: None,
                };
                match b.get("data") {
                    Some(Value::String(s)) => {
                        vm.map_ref = Some(s.trim_start_matches('@').to_owned());
                    }
                    Some(d) => {
                        for entry in d.get("set").and_then(Value::as_array).into_iter().flatten() {
                            if let Some([key, verdict]) = entry.as_array().map(Vec::as_slice)
                                && let Some(verdict) = verdict_of(verdict)
                            {
                                for key in values_of(key) {
                                    vm.entries.push(VmapEntry {
                                        key,
                                        verdict: verdict.clone(),
                                    });
                                }
                            }
                        }
                    }
                    None => {}
                }
                rule.vmap = Some(vm);
            }
            _ => {
                if let Some(v) = verdict_of(e) {
                    rule.verdict = Some(v);
                } else {
                    rule.opaque.push(Opaque {
                        text: expr_text(e),
                        statement: true,
                    });
                }
            }
        }
    }
    rule
}

/// `tcp dport vmap {...}` implies the protocol, like `tcp dport 22` does.
fn add_key_protocol(rule: &mut Rule, key: Option<&Value>) {
    if let Some(p) = key
        .and_then(|k| k.get("payload"))
        .and_then(|p| str_of(p, "protocol"))
        && L4_PROTOCOLS.contains(&p)
        && !rule.protocols.iter().any(|x| x == p)
    {
        rule.protocols.push(p.to_owned());
    }
}

fn add_match(rule: &mut Rule, b: &Value, whole: &Value) {
    let negated = str_of(b, "op") == Some("!=");
    let left = b.get("left").unwrap_or(&Value::Null);
    let right = b.get("right").unwrap_or(&Value::Null);
    let opaque = |rule: &mut Rule| {
        rule.opaque.push(Opaque {
            text: expr_text(whole),
            statement: false,
        });
    };
    if let Some(p) = left.get("payload") {
        let proto = str_of(p, "protocol").unwrap_or("");
        let field = str_of(p, "field").unwrap_or("");
        match (proto, field) {
            (_, "dport") if proto == "th" || L4_PROTOCOLS.contains(&proto) => {
                if proto != "th" && !rule.protocols.iter().any(|x| x == proto) {
                    rule.protocols.push(proto.to_owned());
                }
                rule.dports.push(port_match(
                    (proto != "th").then(|| proto.to_owned()),
                    negated,
                    &values_of(right),
                ));
            }
            ("ip" | "ip6", "saddr") => rule.saddr.push(ValueMatch {
                key: format!("{proto} saddr"),
                negated,
                values: values_of(right),
            }),
            ("ip", "protocol") | ("ip6", "nexthdr") => add_protocols(rule, negated, right),
            _ => {
                push_protocol(rule, proto);
                opaque(rule);
            }
        }
    } else if let Some(m) = left.get("meta") {
        match str_of(m, "key") {
            Some("l4proto") => add_protocols(rule, negated, right),
            Some(key @ ("iifname" | "iif")) => rule.iif.push(ValueMatch {
                key: key.to_owned(),
                negated,
                values: values_of(right),
            }),
            _ => opaque(rule),
        }
    } else if left.get("ct").and_then(|c| str_of(c, "key")) == Some("state") {
        rule.ct_state.push(ValueMatch {
            key: "ct state".to_owned(),
            negated,
            values: values_of(right)
                .iter()
                .flat_map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .collect::<Vec<_>>()
                })
                .collect(),
        });
    } else {
        // `tcp flags & (...) == syn`, `udp sport . udp dport { ... }`: the protocols of the
        // payload selectors inside still restrict the rule, as in the text form.
        let mut protos = Vec::new();
        payload_protocols(left, &mut protos, 0);
        for p in protos {
            push_protocol(rule, &p);
        }
        opaque(rule);
    }
}

fn push_protocol(rule: &mut Rule, p: &str) {
    if L4_PROTOCOLS.contains(&p) && !rule.protocols.iter().any(|x| x == p) {
        rule.protocols.push(p.to_owned());
    }
}

/// L4 protocols of payload selectors nested in an expression (bounded depth).
fn payload_protocols(v: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 16 {
        return;
    }
    match v {
        Value::Object(o) => {
            if let Some(p) = o.get("payload").and_then(|p| str_of(p, "protocol")) {
                out.push(p.to_owned());
                return;
            }
            for x in o.values() {
                payload_protocols(x, out, depth + 1);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| payload_protocols(x, out, depth + 1)),
        _ => {}
    }
}

fn add_protocols(rule: &mut Rule, negated: bool, right: &Value) {
    for p in values_of(right) {
        let p = match p.as_str() {
            "6" => "tcp".to_owned(),
            "17" => "udp".to_owned(),
            _ => p,
        };
        let list = if negated {
            &mut rule.protocols_negated
        } else {
            &mut rule.protocols
        };
        if !list.contains(&p) {
            list.push(p);
        }
    }
}

/// Builds a port match from value texts (`22`, `1000-2000`, `@ports`, `ssh`).
pub(crate) fn port_match(protocol: Option<String>, negated: bool, values: &[String]) -> PortMatch {
    let mut m = PortMatch {
        protocol,
        negated,
        ports: Vec::new(),
        set_refs: Vec::new(),
        unparsed: Vec::new(),
    };
    for v in values {
        let v = v.trim().trim_matches('"');
        if let Some(name) = v.strip_prefix('@') {
            m.set_refs.push(name.to_owned());
        } else if let Some(r) = port_range_value(v) {
            m.ports.push(r);
        } else if !v.is_empty() {
            m.unparsed.push(v.to_owned());
        }
    }
    m
}

/// Parses set element texts into port ranges, ignoring what is not a port.
/// For concatenations (`tcp . 8080`) the last component is used.
pub(crate) fn ports_of_elements(elements: &[String]) -> Vec<PortRange> {
    elements
        .iter()
        .filter_map(|e| port_range_value(e.rsplit(" . ").next().unwrap_or(e).trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "filter", "handle": 1}},
 {"set": {"family": "inet", "name": "ports", "table": "filter", "type": "inet_service", "handle": 4, "flags": ["interval"], "elem": [{"range": [1000, 2000]}, 8080]}},
 {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 8, "expr": [{"vmap": {"key": {"ct": {"key": "state"}}, "data": {"set": [["invalid", {"drop": null}], ["established", {"accept": null}], ["new", {"jump": {"target": "allow"}}]]}}}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 11, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}}, {"limit": {"rate": 5, "burst": 10, "per": "minute"}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 13, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, {"range": [1000, 2000]}, "@ports"]}}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 16, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 2222}}, {"set": {"op": "add", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@meterx", "stmt": [{"limit": {"rate": 10, "burst": 5, "per": "minute", "inv": true}}]}}, {"drop": null}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 19, "expr": [{"frobnicate": {"x": 1}}, {"match": {"op": "==", "left": {"weird": 1}, "right": 2}}, {"log": {"prefix": "drop: "}}, {"counter": null}, {"reject": {"type": "tcp reset"}}]}},
 {"chain": {"family": "inet", "table": "filter", "name": "allow", "handle": 2}}
]}"#;

    #[test]
    fn parses_sample() {
        let rs = parse_ruleset_json(SAMPLE).unwrap();
        let t = rs.table("inet", "filter").unwrap();
        assert_eq!(t.sets[0].elements, vec!["1000-2000", "8080"]);
        let input = t.chain("input").unwrap();
        let b = input.base.as_ref().unwrap();
        assert_eq!(b.hook, "input");
        assert!(b.policy_is_drop());
        assert_eq!(b.priority, Some(0));
        let r = &input.rules;
        assert_eq!(r.len(), 6);
        assert_eq!(r[0].iif[0].values, vec!["lo"]);
        let vm = r[1].vmap.as_ref().unwrap();
        assert_eq!(vm.key, "ct state");
        assert_eq!(vm.entries[2].verdict, Verdict::Jump("allow".into()));
        assert!(r[2].limit);
        assert_eq!(r[2].ct_state[0].values, vec!["new"]);
        assert_eq!(
            r[2].text,
            "tcp dport 22 ct state new limit rate 5/minute accept"
        );
        assert_eq!(r[3].dports[0].ports.len(), 2);
        assert_eq!(r[3].dports[0].set_refs, vec!["ports"]);
        assert!(r[4].meter && r[4].meter_limit);
        assert_eq!(r[4].verdict, Some(Verdict::Drop));
        assert!(r[5].log && r[5].counter);
        assert_eq!(r[5].opaque.len(), 2);
        assert_eq!(r[5].verdict, Some(Verdict::Reject));
        assert!(t.chain("allow").unwrap().base.is_none());
    }

    #[test]
    fn rejects_non_ruleset() {
        assert!(parse_ruleset_json("garbage").is_err());
        assert!(parse_ruleset_json("{}").is_err());
        assert!(
            parse_ruleset_json(r#"{"nftables": [1, null, {"rule": 5}, {"chain": {}}]}"#).is_ok()
        );
    }
}
