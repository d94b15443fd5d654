//! Policy values: the plain data a policy file holds for one check.

use std::fmt;

use serde::Serialize;

/// A value from a policy file. Policies stay plain data (scalars and lists) so that pure Nix can
/// read the same files with `builtins.fromTOML`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
}

impl Value {
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The items of a list value as strings (ints are rendered), for algorithm and port lists.
    pub fn as_strings(&self) -> Vec<String> {
        match self {
            Value::List(items) => items.iter().map(|v| v.to_string()).collect(),
            other => vec![other.to_string()],
        }
    }
}

/// Parses a policy duration (`"90s"`, `"10m"`, `"1h 30m"`, `"2d"`); `None` unless positive.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let d: jiff::SignedDuration = s.parse().ok().or_else(|| {
        // jiff's friendly format has no `d` unit for durations; days are 24 hours here.
        let days: i64 = s.strip_suffix('d')?.trim().parse().ok()?;
        Some(jiff::SignedDuration::from_hours(days.checked_mul(24)?))
    })?;
    d.is_positive().then(|| d.unsigned_abs())
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => f.write_str(s),
            Value::List(items) => {
                let parts: Vec<String> = items.iter().map(|v| v.to_string()).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// The type a check expects its policy value to have; validation rejects anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// `true` selects the check, `false` leaves it out (a site can turn a control off explicitly).
    Enable,
    /// A yes/no setting whose `false` is a real expected value (e.g. `PasswordAuthentication`).
    Bool,
    Int,
    Str,
    /// An integer or a string (sysctl values such as `kernel.core_pattern`).
    IntOrStr,
    /// A list of strings (algorithm lists).
    StrList,
    /// A list of port numbers 1–65535.
    PortList,
    /// A kernel parameter: `true` for a bare flag, a string or integer for `name=value`, `false` to
    /// leave it out.
    Param,
    /// A positive duration such as `"10m"`, `"1h 30m"` or `"2d"`.
    Duration,
    /// A list of IP networks (`"10.0.0.0/8"`, `"::1"`).
    NetList,
    /// A list of absolute paths, each may be a glob pattern (`"/etc"`, `"/usr/lib/**/__pycache__"`).
    PathList,
    /// A list of strings, each one of these words.
    WordList(&'static [&'static str]),
}

impl ValueType {
    pub fn describe(self) -> &'static str {
        match self {
            ValueType::Enable | ValueType::Bool => "a boolean",
            ValueType::Int => "an integer",
            ValueType::Str => "a string",
            ValueType::IntOrStr => "an integer or a string",
            ValueType::StrList => "an array of strings",
            ValueType::PortList => "an array of port numbers (1-65535)",
            ValueType::Param => "true, false, a string or an integer",
            ValueType::Duration => "a duration such as \"10m\", \"1h\" or \"2d\"",
            ValueType::NetList => "an array of IP networks such as \"10.0.0.0/8\" or \"::1\"",
            ValueType::PathList => {
                "an array of absolute paths or glob patterns such as \"/etc\" or \"/usr/lib/**/*.pyc\""
            }
            ValueType::WordList(_) => "an array of words from a fixed set",
        }
    }

    /// Whether `value` has this type.
    pub fn admits(self, value: &Value) -> bool {
        match (self, value) {
            (ValueType::Enable | ValueType::Bool, Value::Bool(_)) => true,
            (ValueType::Int, Value::Int(_)) => true,
            (ValueType::Str, Value::Str(_)) => true,
            (ValueType::IntOrStr, Value::Int(_) | Value::Str(_)) => true,
            (ValueType::StrList, Value::List(items)) => {
                items.iter().all(|v| matches!(v, Value::Str(_)))
            }
            (ValueType::PortList, Value::List(items)) => items
                .iter()
                .all(|v| matches!(v, Value::Int(p) if (1..=65535).contains(p))),
            (ValueType::Param, Value::Bool(_) | Value::Int(_) | Value::Str(_)) => true,
            (ValueType::Duration, Value::Str(s)) => parse_duration(s).is_some(),
            (ValueType::NetList, Value::List(items)) => items
                .iter()
                .all(|v| matches!(v, Value::Str(s) if crate::net::Network::parse(s).is_some())),
            (ValueType::PathList, Value::List(items)) => items.iter().all(|v| {
                matches!(v, Value::Str(s) if s.starts_with('/') && !s.contains('\0') && glob::Pattern::new(s).is_ok())
            }),
            (ValueType::WordList(words), Value::List(items)) => items
                .iter()
                .all(|v| matches!(v, Value::Str(s) if words.contains(&s.as_str()))),
            _ => false,
        }
    }

    /// Whether `value` selects the check (an `Enable` or `Param` set to `false` does not).
    pub fn selects(self, value: &Value) -> bool {
        !matches!(
            (self, value),
            (ValueType::Enable | ValueType::Param, Value::Bool(false))
        )
    }
}
