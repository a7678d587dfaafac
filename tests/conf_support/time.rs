//! Civil-time arithmetic and the subset of splunkd's strptime() that the app's eval expressions
//! use.

/// Seconds since the epoch of a UTC civil time (proleptic Gregorian), with milliseconds.
pub fn utc(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
) -> f64 {
    // One division of an exact integer: the nearest double, as a literal like 1714566896.789 is.
    utc_millis(year, month, day, hour, minute, second, millis) as f64 / 1000.0
}

fn utc_millis(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
) -> i64 {
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + hour * 3_600 + minute * 60 + second) * 1000 + millis
}

/// strptime() for the directives `%Y %m %d %H %M %S %3N %z` (`%z`: `+hhmm` or `-hhmm`, as
/// splunkd documents it) and literal characters. Like splunkd's eval strptime() it returns None
/// when the text does not fit the format; unlike the C library it insists that the whole text is
/// consumed, which is stricter, never more lenient, than splunkd.
pub fn strptime(text: &str, format: &str) -> Option<f64> {
    let mut rest = text.as_bytes();
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) =
        (None, None, None, 0, 0, 0);
    let (mut millis, mut offset) = (0, None);
    let mut fmt = format.as_bytes();
    fn digits(rest: &mut &[u8], n: usize) -> Option<i64> {
        if rest.len() < n || !rest[..n].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = std::str::from_utf8(&rest[..n]).ok()?.parse().ok()?;
        *rest = &rest[n..];
        Some(value)
    }
    while let Some((&c, tail)) = fmt.split_first() {
        if c != b'%' {
            let (&got, after) = rest.split_first()?;
            if got != c {
                return None;
            }
            rest = after;
            fmt = tail;
            continue;
        }
        let directive: &[u8] = if tail.starts_with(b"3N") {
            b"3N"
        } else {
            &tail[..1]
        };
        fmt = &tail[directive.len()..];
        match directive {
            b"Y" => year = Some(digits(&mut rest, 4)?),
            b"m" => month = Some(digits(&mut rest, 2)?).filter(|m| (1..=12).contains(m)),
            b"d" => day = Some(digits(&mut rest, 2)?).filter(|d| (1..=31).contains(d)),
            b"H" => hour = digits(&mut rest, 2).filter(|h| *h < 24)?,
            b"M" => minute = digits(&mut rest, 2).filter(|m| *m < 60)?,
            b"S" => second = digits(&mut rest, 2).filter(|s| *s < 61)?,
            b"3N" => millis = digits(&mut rest, 3)?,
            b"z" => {
                let (&sign, after) = rest.split_first()?;
                let sign = match sign {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                rest = after;
                let hh = digits(&mut rest, 2)?;
                let mm = digits(&mut rest, 2)?;
                offset = Some(sign * (hh * 3_600 + mm * 60));
            }
            other => panic!(
                "strptime directive %{} is not modelled",
                String::from_utf8_lossy(other)
            ),
        }
    }
    if !rest.is_empty() {
        return None;
    }
    let offset = offset.expect("formats without %z depend on splunkd's time zone: not modelled");
    Some(
        (utc_millis(year?, month?, day?, hour, minute, second, millis) - offset * 1000) as f64
            / 1000.0,
    )
}
