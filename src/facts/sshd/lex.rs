//! Tokenisers and number parsers with the exact semantics of the OpenSSH helpers they mirror
//! (`strdelim`, `argv_split`, `strtonum`, `convtime`, `scan_scaled`, `sscanf("%d")`).
//!
//! sshd's grammar is defined by these C helpers rather than by a written grammar, so agreeing with
//! `sshd -T` means reproducing their corner cases (one `=` allowed after the keyword, `#` only
//! starting a comment at the beginning of a token, trailing garbage accepted by `sscanf`, ...).
//! Everything here works on bytes and never panics.

/// `WHITESPACE` in servconf.c.
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// C `isspace` in the C locale.
fn c_isspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strdelim()` (with `split_equals`): returns the next token and the remainder (`None` when the
/// string ended). Returns `Err(())` for an unterminated quote, where the C function returns NULL.
///
/// The C code mutates the buffer; here the token is copied and the rest is returned as a slice.
pub(crate) fn strdelim(s: &str) -> Result<(String, Option<&str>), ()> {
    let b = s.as_bytes();
    let Some(pos) = b.iter().position(|&c| is_ws(c) || c == b'"' || c == b'=') else {
        return Ok((s.to_owned(), None));
    };
    if b[pos] == b'"' {
        // The quote is removed and the token runs to the next quote.
        let after = &b[pos + 1..];
        let Some(q) = after.iter().position(|&c| c == b'"') else {
            return Err(());
        };
        let mut tok = Vec::with_capacity(pos + q);
        tok.extend_from_slice(&b[..pos]);
        tok.extend_from_slice(&after[..q]);
        let mut rest = pos + 1 + q + 1;
        while rest < b.len() && is_ws(b[rest]) {
            rest += 1;
        }
        return Ok((lossy(&tok), Some(sub(s, rest))));
    }
    let was_equals = b[pos] == b'=';
    let tok = lossy(&b[..pos]);
    let mut rest = pos + 1;
    while rest < b.len() && is_ws(b[rest]) {
        rest += 1;
    }
    // Only one '=' may be skipped: "Key = value" and "Key=value" but not "Key == value".
    if !was_equals && rest < b.len() && b[rest] == b'=' {
        rest += 1;
        while rest < b.len() && is_ws(b[rest]) {
            rest += 1;
        }
    }
    Ok((tok, Some(sub(s, rest))))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `&s[from..]` that cannot panic: split points are always at ASCII bytes, but be defensive.
fn sub(s: &str, from: usize) -> &str {
    s.get(from..).unwrap_or("")
}

/// `argv_split(s, terminate_on_comment = 1)`: shell-like splitting with `"`/`'` quotes and
/// backslash escapes; `#` starts a comment only at the beginning of a token.
/// `Err(())` for an unterminated quote ("invalid quotes").
pub(crate) fn argv_split(s: &str) -> Result<Vec<String>, ()> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' || b[i] == b'\t' {
            i += 1;
            continue;
        }
        if b[i] == b'#' {
            break;
        }
        let mut quote = 0u8;
        let mut arg = Vec::new();
        while i < b.len() {
            let c = b[i];
            if c == b'\\' {
                let next = b.get(i + 1).copied().unwrap_or(0);
                if next == b'\'' || next == b'"' || next == b'\\' || (quote == 0 && next == b' ') {
                    i += 1;
                    arg.push(next);
                } else {
                    arg.push(c);
                }
            } else if quote == 0 && (c == b' ' || c == b'\t') {
                break;
            } else if quote == 0 && (c == b'"' || c == b'\'') {
                quote = c;
            } else if quote != 0 && c == quote {
                quote = 0;
            } else {
                arg.push(c);
            }
            i += 1;
        }
        out.push(lossy(&arg));
        if i >= b.len() {
            if quote != 0 {
                return Err(());
            }
            break;
        }
    }
    Ok(out)
}

/// Parses the longest prefix accepted by C `strtoll(s, &end, 10)`: returns the value (saturated
/// like strtoll on overflow, with an overflow flag) and the number of bytes consumed (0 = none).
fn strtoll_prefix(s: &[u8]) -> (i128, usize, bool) {
    let mut i = 0;
    while i < s.len() && c_isspace(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    let mut overflow = false;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v * 10 + i128::from(s[i] - b'0');
        if v > i128::from(i64::MAX) + 1 {
            overflow = true;
            v = i128::from(i64::MAX) + 1;
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    let mut v = if neg { -v } else { v };
    if v > i128::from(i64::MAX) {
        overflow = true;
        v = i128::from(i64::MAX);
    }
    (v, i, overflow)
}

/// OpenBSD `strtonum(s, min, max)`: the whole string must be a decimal number in range.
pub(crate) fn strtonum(s: &str, min: i64, max: i64) -> Result<i64, &'static str> {
    let b = s.as_bytes();
    let (v, used, overflow) = strtoll_prefix(b);
    if used == 0 || used != b.len() {
        return Err("invalid");
    }
    if overflow || v < i128::from(min) {
        return Err(if v < i128::from(min) {
            "too small"
        } else {
            "too large"
        });
    }
    if v > i128::from(max) {
        return Err("too large");
    }
    i64::try_from(v).map_err(|_| "too large")
}

/// `atoi_err()`: a non-negative int; the error string is what sshd puts in its message.
pub(crate) fn atoi_err(s: Option<&str>) -> Result<i64, &'static str> {
    match s {
        None | Some("") => Err("missing"),
        Some(s) => strtonum(s, 0, i64::from(i32::MAX)),
    }
}

/// `convtime()`: `1h30m` → 5400. `None` where sshd returns -1.
pub(crate) fn convtime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let int_max = i64::from(i32::MAX);
    let mut total: i64 = 0;
    let mut p = 0;
    while p < b.len() {
        let (secs, used, _) = strtoll_prefix(&b[p..]);
        if used == 0 || secs < 0 {
            return None;
        }
        let mut end = p + used;
        let mult: i64 = match b.get(end) {
            None => 1,
            Some(c) => {
                end += 1;
                match c {
                    b's' | b'S' => 1,
                    b'm' | b'M' => 60,
                    b'h' | b'H' => 3600,
                    b'd' | b'D' => 86400,
                    b'w' | b'W' => 604_800,
                    _ => return None,
                }
            }
        };
        let secs = i64::try_from(secs).ok()?;
        if secs > int_max / mult {
            return None;
        }
        let secs = secs * mult;
        if total > int_max - secs {
            return None;
        }
        total += secs;
        p = end;
    }
    Some(total)
}

/// `scan_scaled()` from fmt_scaled.c: `1.5K` → 1536. `None` on error.
pub(crate) fn scan_scaled(s: &str) -> Option<i64> {
    const MAX_DIGITS: u32 = 20;
    let b = s.as_bytes();
    let mut p = 0;
    while p < b.len() && c_isspace(b[p]) {
        p += 1;
    }
    let mut sign: i64 = 0;
    while p < b.len() && (b[p] == b'-' || b[p] == b'+') {
        if sign != 0 {
            return None;
        }
        sign = if b[p] == b'-' { -1 } else { 1 };
        p += 1;
    }
    let (mut ndigits, mut fract_digits) = (0u32, 0u32);
    let (mut whole, mut fpart): (i64, i64) = (0, 0);
    while p < b.len() && (b[p].is_ascii_digit() || b[p] == b'.') {
        if b[p] == b'.' {
            if fract_digits > 0 {
                return None;
            }
            fract_digits = 1;
            p += 1;
            continue;
        }
        let d = i64::from(b[p] - b'0');
        if fract_digits > 0 {
            if fract_digits < MAX_DIGITS - 1 {
                fract_digits += 1;
                fpart = fpart.checked_mul(10)?.checked_add(d)?;
            }
        } else {
            ndigits += 1;
            if ndigits >= MAX_DIGITS {
                return None;
            }
            whole = whole.checked_mul(10)?.checked_add(d)?;
        }
        p += 1;
    }
    if sign != 0 {
        whole *= sign;
    }
    if p >= b.len() {
        return Some(whole);
    }
    const SCALE: &[u8] = b"BKMGTPE";
    let c = b[p];
    let idx = SCALE
        .iter()
        .position(|&u| c == u || c == u.to_ascii_lowercase())?;
    if b.get(p + 1).is_some_and(|n| n.is_ascii_alphanumeric()) {
        return None;
    }
    let fact: i64 = 1i64 << (10 * idx);
    whole = whole.checked_mul(fact)?;
    while fpart >= i64::MAX / fact || fpart <= i64::MIN / fact {
        fpart /= 10;
        fract_digits = fract_digits.saturating_sub(1);
    }
    fpart *= fact;
    if fract_digits > 0 {
        for _ in 0..fract_digits - 1 {
            fpart /= 10;
        }
    }
    Some(if sign == -1 {
        whole.checked_sub(fpart)?
    } else {
        whole.checked_add(fpart)?
    })
}

/// `sscanf(s, "%d:%d:%d")` (or fewer fields): the values read, stopping at the first mismatch.
/// Values are truncated to 32 bits like glibc does for out-of-range `%d`.
pub(crate) fn sscanf_ints(s: &str, max_fields: usize) -> Vec<i64> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut p = 0;
    loop {
        let (v, used, _) = strtoll_prefix(&b[p..]);
        if used == 0 {
            break;
        }
        // glibc stores the low 32 bits of the converted long.
        let v = i64::from(v as i64 as i32);
        out.push(v);
        p += used;
        if out.len() == max_fields || b.get(p) != Some(&b':') {
            break;
        }
        p += 1;
    }
    out
}

/// C `strtol(s, &end, base)` for the StreamLocalBindMask (base 8) and IPQoS (base 0) parsers:
/// returns the value and whether the whole string was consumed; `None` when no digits.
pub(crate) fn strtol_base(s: &str, base: u32) -> Option<(i128, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_isspace(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut base = base;
    if (base == 0 || base == 16)
        && b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if b.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut v: i128 = 0;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(base) else {
            break;
        };
        v = (v * i128::from(base) + i128::from(d)).min(i128::from(i64::MAX) + 1);
        i += 1;
    }
    if i == start {
        return None;
    }
    Some((if neg { -v } else { v }, i == b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strdelim_equals_and_quotes() {
        assert_eq!(strdelim("Port=22").ok(), Some(("Port".into(), Some("22"))));
        assert_eq!(
            strdelim("Port = 22").ok(),
            Some(("Port".into(), Some("22")))
        );
        assert_eq!(
            strdelim("Port == 22").ok(),
            Some(("Port".into(), Some("= 22")))
        );
        assert_eq!(
            strdelim("\"Port\" 22").ok(),
            Some(("Port".into(), Some("22")))
        );
        assert!(strdelim("\"Port 22").is_err());
        assert_eq!(strdelim("Port").ok(), Some(("Port".into(), None)));
    }

    #[test]
    fn argv_split_rules() {
        assert_eq!(
            argv_split("a \"b c\" 'd' # x").ok(),
            Some(vec!["a".into(), "b c".into(), "d".into()])
        );
        assert_eq!(argv_split("a#b").ok(), Some(vec!["a#b".into()]));
        assert_eq!(argv_split("a\\ b").ok(), Some(vec!["a b".into()]));
        assert!(argv_split("\"abc").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(convtime("1m30s"), Some(90));
        assert_eq!(convtime("90"), Some(90));
        assert_eq!(convtime("1h30m"), Some(5400));
        assert_eq!(convtime("2x"), None);
        assert_eq!(convtime(""), None);
        assert_eq!(convtime("-1"), None);
        assert_eq!(convtime("99999999999"), None);
    }

    #[test]
    fn scaled() {
        assert_eq!(scan_scaled("1.5K"), Some(1536));
        assert_eq!(scan_scaled("1G"), Some(1 << 30));
        assert_eq!(scan_scaled("12"), Some(12));
        assert_eq!(scan_scaled("1X"), None);
        assert_eq!(scan_scaled("1Kb"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(strtonum("10", 0, 100), Ok(10));
        assert_eq!(strtonum(" +10", 0, 100), Ok(10));
        assert!(strtonum("10x", 0, 100).is_err());
        assert!(strtonum("101", 0, 100).is_err());
        assert_eq!(sscanf_ints("10:30:100", 3), vec![10, 30, 100]);
        assert_eq!(sscanf_ints("10:x", 3), vec![10]);
        assert_eq!(strtol_base("0177", 8), Some((0o177, true)));
        assert_eq!(strtol_base("0x10", 0), Some((16, true)));
    }
}
