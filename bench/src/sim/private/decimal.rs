//! Exact decimal arithmetic on the texts the control API receives (`"0.5"`, `"100.25"`): a
//! signed 128-bit mantissa with a decimal scale. No float ever touches a quantity, a price or a
//! balance, so cumulative quantities and quote totals are exact sums.

use std::cmp::Ordering;
use std::fmt;

/// Largest scale accepted from input (more digits than any venue prints).
const MAX_INPUT_SCALE: u32 = 18;

#[derive(Clone, Copy, Debug, Default)]
pub struct Dec {
    /// value = m / 10^s
    m: i128,
    s: u32,
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Dec {
    pub const ZERO: Dec = Dec { m: 0, s: 0 };

    pub fn from_int(v: i64) -> Dec {
        Dec { m: v as i128, s: 0 }
    }

    /// Parses `-?digits[.digits]` (no exponent, no `+`, no spaces). `None` for anything else.
    pub fn parse(text: &str) -> Option<Dec> {
        let (neg, body) = match text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, text),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if body.contains('.') && (int.is_empty() || frac.is_empty()) {
            return None;
        }
        let s = frac.len() as u32;
        if s > MAX_INPUT_SCALE || int.len() + frac.len() > 36 {
            return None;
        }
        let mut m: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            m = m.checked_mul(10)?.checked_add((b - b'0') as i128)?;
        }
        Some(Dec {
            m: if neg { -m } else { m },
            s,
        })
    }

    pub fn scale(&self) -> u32 {
        self.s
    }
    pub fn is_zero(&self) -> bool {
        self.m == 0
    }
    pub fn is_negative(&self) -> bool {
        self.m < 0
    }
    pub fn is_positive(&self) -> bool {
        self.m > 0
    }
    pub fn negated(self) -> Dec {
        Dec {
            m: -self.m,
            s: self.s,
        }
    }
    pub fn abs(self) -> Dec {
        Dec {
            m: self.m.abs(),
            s: self.s,
        }
    }

    fn rescale(self, s: u32) -> Option<Dec> {
        if s >= self.s {
            Some(Dec {
                m: self.m.checked_mul(pow10(s - self.s)?)?,
                s,
            })
        } else {
            None
        }
    }

    fn align(a: Dec, b: Dec) -> Option<(i128, i128, u32)> {
        let s = a.s.max(b.s);
        Some((a.rescale(s)?.m, b.rescale(s)?.m, s))
    }

    pub fn checked_add(self, o: Dec) -> Option<Dec> {
        let (a, b, s) = Dec::align(self, o)?;
        Some(Dec {
            m: a.checked_add(b)?,
            s,
        })
    }
    pub fn checked_sub(self, o: Dec) -> Option<Dec> {
        self.checked_add(o.negated())
    }
    pub fn checked_mul(self, o: Dec) -> Option<Dec> {
        Some(
            Dec {
                m: self.m.checked_mul(o.m)?,
                s: self.s + o.s,
            }
            .shrink(),
        )
    }
    /// `self / o` truncated toward zero to `scale` decimals. `None` on division by zero or
    /// overflow.
    pub fn checked_div(self, o: Dec, scale: u32) -> Option<Dec> {
        if o.m == 0 {
            return None;
        }
        // self.m/10^a / (o.m/10^b) = self.m * 10^(b + scale - a) / o.m / 10^scale
        let exp = o.s as i64 + scale as i64 - self.s as i64;
        let (num, den) = if exp >= 0 {
            (self.m.checked_mul(pow10(exp as u32)?)?, o.m)
        } else {
            (self.m, o.m.checked_mul(pow10((-exp) as u32)?)?)
        };
        Some(Dec {
            m: num / den,
            s: scale,
        })
    }

    /// Drops trailing fractional zeros beyond the larger operand scale (keeps products short:
    /// `0.40000000 × 0.10264410` stays at 16 decimals only if the digits need them).
    fn shrink(self) -> Dec {
        let mut d = self;
        while d.s > 18 && d.m % 10 == 0 {
            d.m /= 10;
            d.s -= 1;
        }
        d
    }

    /// Without trailing fractional zeros (`"2.500"` → `"2.5"`, `"3.0"` → `"3"`).
    pub fn trimmed(self) -> Dec {
        self.trimmed_to(0)
    }

    /// Trailing fractional zeros removed but at least `min` decimals kept.
    pub fn trimmed_to(self, min: u32) -> Dec {
        let mut d = self;
        while d.s > min && d.m % 10 == 0 {
            d.m /= 10;
            d.s -= 1;
        }
        if d.s < min {
            d = d.rescale(min).unwrap_or(d);
        }
        d
    }

    /// Text with at least `min` decimals (zero-padded) and more only when digits need them —
    /// never rounded (Binance spot style: `"0.50000000"`).
    pub fn fmt_min(self, min: u32) -> String {
        self.trimmed_to(min).to_string()
    }
}

impl PartialEq for Dec {
    fn eq(&self, o: &Dec) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Dec {}
impl PartialOrd for Dec {
    fn partial_cmp(&self, o: &Dec) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Dec {
    fn cmp(&self, o: &Dec) -> Ordering {
        match Dec::align(*self, *o) {
            Some((a, b, _)) => a.cmp(&b),
            // Overflow while aligning: compare signs, then by the coarser value.
            None => (self.m.signum(), self.m / pow10(self.s).unwrap_or(1))
                .cmp(&(o.m.signum(), o.m / pow10(o.s).unwrap_or(1))),
        }
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.m < 0;
        let digits = self.m.unsigned_abs().to_string();
        let s = self.s as usize;
        let (int, frac) = if digits.len() > s {
            (
                digits[..digits.len() - s].to_string(),
                digits[digits.len() - s..].to_string(),
            )
        } else {
            (
                "0".to_string(),
                format!("{}{digits}", "0".repeat(s - digits.len())),
            )
        };
        if neg {
            f.write_str("-")?;
        }
        f.write_str(&int)?;
        if s > 0 {
            f.write_str(".")?;
            f.write_str(&frac)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints() {
        for s in [
            "0",
            "1",
            "0.5",
            "-0.001",
            "123456789.12345678",
            "0.00000001",
        ] {
            assert_eq!(d(s).to_string(), s);
        }
        for bad in [
            "", "-", ".5", "5.", "1e5", "+1", "1.2.3", " 1", "0x10", "NaN",
        ] {
            assert!(Dec::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn exact_arithmetic() {
        assert_eq!(d("0.1").checked_add(d("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(
            d("0.4").checked_mul(d("0.10264410")).unwrap().to_string(),
            "0.041057640"
        );
        assert_eq!(d("1").checked_sub(d("1.5")).unwrap().to_string(), "-0.5");
        assert_eq!(
            d("10").checked_div(d("3"), 8).unwrap().to_string(),
            "3.33333333"
        );
        assert_eq!(
            d("3.0").checked_div(d("1.5"), 2).unwrap().to_string(),
            "2.00"
        );
        assert_eq!(d("0.5").fmt_min(8), "0.50000000");
        assert_eq!(d("0.123456789").fmt_min(8), "0.123456789");
        assert_eq!(d("2.500").trimmed().to_string(), "2.5");
        assert_eq!(d("3.000").trimmed().to_string(), "3");
        assert_eq!(d("7100.50000").trimmed_to(2).to_string(), "7100.50");
        assert!(d("1.0") == d("1"));
        assert!(d("-1") < d("0.0001"));
        assert!(d("0").checked_div(d("0"), 2).is_none());
    }
}
