//! Output helpers: aligned tables, times, safe printing of untrusted bytes, time arguments.

use std::fmt::Write as _;

/// A plain aligned table (no colours, no borders), one header row.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                out.push_str(c);
            } else {
                let pad = widths[i] - c.chars().count();
                out.push_str(c);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    };
    line(headers.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SSZ` (UTC).
pub fn ts(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Unix milliseconds, like [`ts`].
pub fn ts_ms(unix_ms: i64) -> String {
    ts(unix_ms.div_euclid(1000))
}

/// A short age: `42s`, `5m`, `3h`, `2d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

pub fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

/// Text from the outside world made safe for a terminal: control characters (escape sequences
/// included) are shown escaped; newlines and tabs are kept when `multiline`.
pub fn safe_text(s: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\n' | '\t' if multiline => out.push(ch),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// One table cell: single line, escaped, shortened to `max` characters.
pub fn cell(s: &str, max: usize) -> String {
    let s = safe_text(s, false);
    if s.chars().count() > max {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// How a body is shown: pretty JSON, UTF-8 text, or a hex dump for binary.
pub fn render_body(body: &[u8]) -> (&'static str, String) {
    match std::str::from_utf8(body) {
        Ok(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if !text.trim().is_empty() => {
                ("json", safe_text(&serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_string()), true))
            }
            _ => ("text", safe_text(text, true)),
        },
        Err(_) => ("binary", hexdump(body)),
    }
}

/// `offset  hex bytes  |ascii|`, 16 bytes a line.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
            if j == 7 {
                out.push(' ');
            }
        }
        out.push_str(" |");
        for b in chunk {
            out.push(if b.is_ascii_graphic() || *b == b' ' { *b as char } else { '.' });
        }
        out.push_str("|\n");
    }
    out
}

/// A time argument: a plain integer is an absolute Unix time (seconds); a duration such as
/// `90s`, `15m`, `12h`, `30d`, `2w` or `1h30m` means that long before `now_s`.
pub fn parse_time(arg: &str, now_s: i64) -> Result<i64, String> {
    let a = arg.trim();
    if a.is_empty() {
        return Err("empty time".into());
    }
    if a.chars().all(|c| c.is_ascii_digit()) {
        return a.parse::<i64>().map_err(|e| format!("{a:?}: {e}"));
    }
    Ok(now_s - parse_duration(a)?)
}

/// `90s`, `15m`, `12h`, `30d`, `2w`, `1h30m` → seconds.
pub fn parse_duration(a: &str) -> Result<i64, String> {
    let bad = || format!("{a:?} is neither a Unix time nor a duration like 30d, 12h, 15m, 90s or 1h30m");
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut any = false;
    for c in a.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|x| total.checked_add(x)).ok_or_else(bad)?;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(ts(0), "1970-01-01 00:00:00Z");
        assert_eq!(ts(1_700_000_000), "2023-11-14 22:13:20Z");
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_time("30d", 100 * 86_400).unwrap(), 70 * 86_400);
        assert_eq!(parse_time("1700000000", 5).unwrap(), 1_700_000_000);
        assert!(parse_time("yesterday", 5).is_err());
        assert!(parse_time("10", 5).is_ok());
        assert!(parse_duration("10").is_err());
    }

    #[test]
    fn bodies_render_safely() {
        assert_eq!(render_body(br#"{"a":1}"#).0, "json");
        assert_eq!(render_body(b"hello\x1b[31m").1, "hello\\u{1b}[31m");
        assert_eq!(render_body(&[0xff, 0x00, 0x41]).0, "binary");
        assert!(hexdump(&[0x41; 20]).starts_with("00000000  41 41"));
    }
}
