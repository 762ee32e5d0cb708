//! VPP's own text formatting rules (vppinfra/format.c), so our reports line
//! up with VPP's: `%.Ne` floats, centred / justified fields and the trace
//! timestamp. Helpers append to a `String` to spare per-field allocations.

use std::fmt::Write as _;

/// `%.Ne` the way VPP prints it (`4.76e3`, `3.7331e-2`, `0.0000e0`).
pub fn fmt_e(x: f64, digits: usize) -> String {
    let mut s = String::with_capacity(16);
    push_e(&mut s, x, digits);
    s
}

/// Appends `%.Ne` in VPP's style: a port of vppinfra's `format_float` of the
/// seed's era (digit by digit, only the last printed digit rounded, exponent
/// with no sign padding or leading zeros). C's `%e` would give `4.76e+03`.
pub fn push_e(out: &mut String, x: f64, n_fraction_digits: usize) {
    let nfd = n_fraction_digits as i64;
    let mut n_fraction_done: i64 = 0;
    let mut decimal_point: i64 = 0;
    let mut added_decimal_point = false;
    let mut expon: i64 = 0;

    if x != 0.0 {
        if x.is_nan() {
            out.push_str(if x.is_sign_negative() { "-NaN" } else { "+NaN" });
            return;
        }
        if x.is_infinite() {
            out.push_str(if x < 0.0 { "-infinity" } else { "+infinity" });
            return;
        }
        if x < 0.0 {
            out.push('-');
        }
        let (mut x, e, mut prec) = normalize(x.abs());
        expon = e;
        decimal_point = 1;
        loop {
            // Smaller than the precision left: the rest is zeros.
            if x < prec {
                break;
            }
            let mut digit = x as u64;
            x -= digit as f64;
            if x + prec >= 1.0 {
                digit += 1;
                x -= 1.0;
            }
            if decimal_point <= 0 && n_fraction_done + 1 == nfd && digit < 9 && x >= 0.5 {
                digit += 1;
            }
            // VPP could emit ':' on a carry past 9; keep a digit instead.
            out.push(char::from(b'0' + digit.min(9) as u8));
            decimal_point -= 1;
            if decimal_point < 0 {
                n_fraction_done += 1;
            }
            if decimal_point <= 0 && n_fraction_done >= nfd {
                break;
            }
            if decimal_point == 0 && x != 0.0 {
                out.push('.');
                added_decimal_point = true;
            }
            x *= 10.0;
            prec *= 10.0;
        }
    } else {
        out.push('0');
    }

    for _ in 0..decimal_point.max(0) {
        out.push('0');
    }
    if n_fraction_done < nfd {
        if !added_decimal_point {
            out.push('.');
        }
        for _ in n_fraction_done..nfd {
            out.push('0');
        }
    }
    let _ = write!(out, "e{expon}");
}

/// `x = y * 10^expon` with `1 <= y < 10`, plus the precision left in `y`
/// (VPP's `normalize`).
fn normalize(x: f64) -> (f64, i64, f64) {
    let expon2 = ((x.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    // C converts to `word` by truncation toward zero; `as` does the same.
    let mut expon10 = (0.5 + expon2 as f64 * std::f64::consts::LOG10_2) as i64;
    let mut prec = f64_precision(expon2);
    let mut x = times_power_of_ten(x, -expon10);
    prec = times_power_of_ten(prec, -expon10);
    while x < 1.0 {
        x *= 10.0;
        prec *= 10.0;
        expon10 -= 1;
    }
    while x > 10.0 {
        x *= 0.1;
        prec *= 0.1;
        expon10 += 1;
    }
    if x + prec >= 10.0 {
        x = 1.0;
        expon10 += 1;
    }
    (x, expon10, prec)
}

/// 2^(expon2 - 53), with VPP's clamp of the biased exponent to 0..=1023.
fn f64_precision(expon2: i64) -> f64 {
    let biased = (expon2 - 53 + 1023).clamp(0, 1023) as u64;
    f64::from_bits(biased << 52)
}

fn times_power_of_ten(mut x: f64, mut n: i64) -> f64 {
    const UP: [f64; 8] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];
    const DOWN: [f64; 8] = [1e-0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7];
    if n >= 0 {
        while n >= 8 {
            x *= 1e8;
            n -= 8;
        }
        x * UP[n as usize]
    } else {
        while n <= -8 {
            x *= 1e-8;
            n += 8;
        }
        x * DOWN[(-n) as usize]
    }
}

/// VPP's `%=Ns`: centred in `width` columns, an odd pad space on the left;
/// text longer than `width` is cut to it.
pub fn push_center(out: &mut String, s: &str, width: usize) {
    let n = s.chars().count();
    if width == 0 {
        out.push_str(s);
    } else if n >= width {
        out.extend(s.chars().take(width));
    } else {
        let pad = width - n;
        let left = pad / 2 + pad % 2;
        push_spaces(out, left);
        out.push_str(s);
        push_spaces(out, pad - left);
    }
}

/// `%=Ns` as a new string.
pub fn center(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(width.max(s.len()));
    push_center(&mut out, s, width);
    out
}

/// VPP's `%-Ns`: left-justified, cut when longer than `width`.
pub fn push_left(out: &mut String, s: &str, width: usize) {
    let n = s.chars().count();
    if width == 0 {
        out.push_str(s);
    } else if n >= width {
        out.extend(s.chars().take(width));
    } else {
        out.push_str(s);
        push_spaces(out, width - n);
    }
}

/// `%Ns` for numbers: right-justified. Unlike VPP, never cut (a cut number
/// would lie).
pub fn push_right(out: &mut String, s: &str, width: usize) {
    push_spaces(out, width.saturating_sub(s.chars().count()));
    out.push_str(s);
}

pub fn push_spaces(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// The trace timestamp `HH:MM:SS:UUUUUU` (`%02d:%02d:%02d:%06d`) of a time in
/// seconds. Rounded to the microsecond so that float noise does not turn
/// .520688 into .520687; hours keep counting past a day (VPP drops days).
pub fn fmt_time(seconds: f64) -> String {
    let mut s = String::with_capacity(15);
    push_time(&mut s, seconds);
    s
}

/// Appends [`fmt_time`].
pub fn push_time(out: &mut String, seconds: f64) {
    let us = if seconds.is_finite() && seconds > 0.0 {
        // `as` saturates, so absurd values cannot wrap.
        (seconds * 1e6).round() as u64
    } else {
        0
    };
    let (h, rest) = (us / 3_600_000_000, us % 3_600_000_000);
    let (m, rest) = (rest / 60_000_000, rest % 60_000_000);
    let (s, u) = (rest / 1_000_000, rest % 1_000_000);
    let _ = write!(out, "{h:02}:{m:02}:{s:02}:{u:06}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_matches_seed() {
        assert_eq!(fmt_e(4760.0, 2), "4.76e3");
        assert_eq!(fmt_e(55800.0, 2), "5.58e4");
        assert_eq!(fmt_e(2.14e7, 2), "2.14e7");
        assert_eq!(fmt_e(13500.0, 2), "1.35e4");
        assert_eq!(fmt_e(0.037331, 4), "3.7331e-2");
        assert_eq!(fmt_e(5.0 / 133.937, 4), "3.7331e-2");
        assert_eq!(fmt_e(5.0 / 133.94, 4), "3.7330e-2");
        assert_eq!(fmt_e(0.0, 4), "0.0000e0");
        assert_eq!(fmt_e(0.0, 2), "0.00e0");
    }

    #[test]
    fn e_other_values() {
        assert_eq!(fmt_e(1.0, 2), "1.00e0");
        assert_eq!(fmt_e(5.0, 4), "5.0000e0");
        assert_eq!(fmt_e(123456.0, 2), "1.23e5");
        // Last digit rounded, as VPP does.
        assert_eq!(fmt_e(4768.0, 2), "4.77e3");
        assert_eq!(fmt_e(9.999, 2), "9.99e0");
        assert_eq!(fmt_e(0.5, 2), "5.00e-1");
        assert_eq!(fmt_e(-2500.0, 2), "-2.50e3");
        assert_eq!(fmt_e(1e-300, 2), "1.00e-300");
        assert_eq!(fmt_e(1e300, 2), "1.00e300");
        assert_eq!(fmt_e(f64::INFINITY, 2), "+infinity");
        assert_eq!(fmt_e(f64::NAN, 2), "+NaN");
        assert_eq!(fmt_e(f64::MIN_POSITIVE / 4.0, 2).chars().next(), Some('5'));
    }

    #[test]
    fn center_puts_odd_pad_left_and_cuts() {
        assert_eq!(center("Count", 10), "   Count  ");
        assert_eq!(center("Reason", 6), "Reason");
        assert_eq!(center("ab", 5), "  ab ");
        assert_eq!(center("abcdef", 4), "abcd");
        assert_eq!(center("x", 0), "x");
        let mut s = String::new();
        push_left(&mut s, "handoffdemo-1", 16);
        push_right(&mut s, "5", 4);
        assert_eq!(s, "handoffdemo-1      5");
        let mut s = String::new();
        push_left(&mut s, "abcdef", 3);
        push_right(&mut s, "12345", 2);
        assert_eq!(s, "abc12345");
    }

    #[test]
    fn time_format() {
        assert_eq!(fmt_time(410.520688), "00:06:50:520688");
        assert_eq!(fmt_time(0.0), "00:00:00:000000");
        assert_eq!(fmt_time(-3.0), "00:00:00:000000");
        assert_eq!(fmt_time(f64::NAN), "00:00:00:000000");
        assert_eq!(fmt_time(3600.0 * 25.0 + 61.000001), "25:01:01:000001");
        assert_eq!(fmt_time(59.9999996), "00:01:00:000000");
    }
}
