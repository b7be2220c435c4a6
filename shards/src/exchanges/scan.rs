//! A tape-free, pull-style JSON scanner over a frame's immutable bytes, for the fast decode path.
//! Pure: imports crate::{types, exchanges::json}.
//!
//! The venue decoders walk an object key by key (in any key order) with [`Scanner::object`],
//! read the values they need with [`Scanner::value`] and skip everything else with
//! [`Scanner::skip`]. Nothing is copied and nothing is allocated: strings come back borrowed from
//! the frame.
//!
//! Contract: every method answers `None` ("not recognized") for anything the scanner is not sure
//! simd-json reads the same way: truncation, bad grammar, trailing bytes, leading zeros, integers
//! beyond 64 bits, any fraction or exponent (simd-json's float rules are its own), control bytes
//! in strings, surrogate `\u` escapes, nesting deeper than [`MAX_DEPTH`]. The caller then hands
//! the frame to the simd-json decoder, which decides (and reports its own errors). Nothing here
//! panics. Strings with escapes are validated and skipped but their text is not available
//! ([`Val::Escaped`]): a decoder that needs such a value gives up.

use crate::exchanges::json::parse_digits;
use crate::types::{Decimal, Symbol};

/// Deeper nesting is given up on: it bounds the recursion of [`Scanner::skip`].
pub(crate) const MAX_DEPTH: u32 = 64;

/// One JSON value as the fast decoders see it: scalars with their text, composites skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Val<'a> {
    /// A string without any escape, borrowed from the frame.
    Str(&'a str),
    /// A valid string with at least one escape (its unescaped text is not computed).
    Escaped,
    /// A non-negative integer, as its digits (at most 20, no leading zero): most integers of a
    /// frame are never read, so their value is only computed on use ([`Val::u64`]).
    UInt(&'a [u8]),
    /// A negative integer that fits an i64 (no fast decoder needs its value).
    NegInt,
    Bool(bool),
    Null,
    /// A (valid, skipped) object.
    Object,
    /// A (valid, skipped) array.
    Array,
}

impl<'a> Val<'a> {
    #[inline]
    pub(crate) fn str(self) -> Option<&'a str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn bool(self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// What `json::u64_of` accepts: a non-negative JSON integer or a string of digits.
    #[inline]
    pub(crate) fn u64(self) -> Option<u64> {
        match self {
            Val::UInt(digits) => digits_value(digits),
            Val::Str(s) => parse_digits(s),
            _ => None,
        }
    }

    /// What `json::decimal` accepts: a string [`Decimal::parse`] takes.
    #[inline]
    pub(crate) fn decimal(self) -> Option<Decimal> {
        Decimal::parse(self.str()?).ok()
    }

    /// What `json::symbol_of` accepts: a non-empty string that fits a [`Symbol`].
    #[inline]
    pub(crate) fn symbol(self) -> Option<Symbol> {
        let s = self.str()?;
        if s.is_empty() {
            return None;
        }
        Symbol::new(s).ok()
    }
}

/// What `json::decimal_opt` accepts: absent, `null` or `""` → empty, else a decimal string.
#[inline]
pub(crate) fn decimal_opt(v: Option<Val<'_>>) -> Option<Decimal> {
    match v {
        None | Some(Val::Null) | Some(Val::Str("")) => Some(Decimal::EMPTY),
        Some(v) => v.decimal(),
    }
}

/// The value of 1 to 20 ASCII digits, `None` beyond u64 (as simd-json refuses such numbers).
#[inline]
fn digits_value(digits: &[u8]) -> Option<u64> {
    if digits.len() > 19 {
        // 20 digits may overflow: the checked parser decides.
        return std::str::from_utf8(digits).ok().and_then(parse_digits);
    }
    // Up to 19 digits always fit a u64: plain arithmetic is exact.
    let mut n = 0u64;
    let mut chunks = digits.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        n = n * 100_000_000 + eight_digits(u64::from_le_bytes(w));
    }
    for &d in chunks.remainder() {
        n = n * 10 + u64::from(d - b'0');
    }
    Some(n)
}

/// The value of eight ASCII digits loaded little-endian (the first digit in the lowest byte),
/// by merging neighbours: bytes into 2-digit, then 4-digit, then the 8-digit number, each step
/// one multiply over all lanes (no lane can carry into the next: 9·10+9, 99·100+99 and
/// 9999·10⁴+9999 all fit their lane).
#[inline(always)]
fn eight_digits(w: u64) -> u64 {
    let d = w - ONES * u64::from(b'0');
    let pairs = (d * 10 + (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
    (quads * 10_000 + (quads >> 32)) & 0xffff_ffff
}

/// Marks (high bit of the byte) every byte of eight that is not an ASCII digit; the lowest mark
/// is exact (borrows only run upwards).
#[inline(always)]
fn non_digits(w: u64) -> u64 {
    // A digit minus '0' is 0..=9: neither that nor it plus 0x76 (≤ 0x7f) sets the high bit; a
    // byte below '0' borrows into its high bit, one above '9' reaches 0x80 with the 0x76 added.
    let d = w.wrapping_sub(ONES * u64::from(b'0'));
    (d | d.wrapping_add(ONES * 0x76)) & HIGHS
}

/// Fills a field slot once. A key seen twice gives up: simd-json's lookups take the first
/// occurrence and the decoders' key loops the last, so only the slow path can tell.
#[inline]
pub(crate) fn set<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(v);
    Some(())
}

/// Marks `bit` as seen in `seen`; a key seen twice gives up (see [`set`]).
#[inline(always)]
pub(crate) fn once(seen: &mut u32, bit: u32) -> Option<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// A string's content: borrowed when it has no escape.
enum Text<'a> {
    Plain(&'a str),
    Escaped,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Marks (high bit of the byte) every `"`, `\`, control byte (< 0x20) and non-ASCII byte of
/// eight string bytes. The lowest mark is always exact (borrows only run upwards), which is all
/// the string loop uses.
#[inline(always)]
fn special_bytes(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let is_quote = quote.wrapping_sub(ONES) & !quote;
    let is_backslash = backslash.wrapping_sub(ONES) & !backslash;
    let is_control = w.wrapping_sub(ONES * 0x20) & !w;
    (is_quote | is_backslash | is_control | w) & HIGHS
}

/// A cursor over one frame.
///
/// The common cases (ASCII strings without escapes, integers, literals) are inlined into the
/// decoders' key loops; escapes, non-ASCII text and nested values take out-of-line paths.
pub(crate) struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u32,
    /// The whole frame has been checked to be UTF-8 (once, at the first non-ASCII byte): simd-json
    /// validates every byte, so a frame with a bad sequence anywhere must go to it.
    utf8: bool,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Scanner {
            buf,
            pos: 0,
            depth: 0,
            utf8: false,
        }
    }

    /// A second cursor over the same frame at `pos` (a value start taken from
    /// [`Self::value_start`]), to read a value whose meaning was only known after it was skipped.
    pub(crate) fn fork(&self, pos: usize) -> Self {
        Scanner {
            buf: self.buf,
            pos,
            depth: 1,
            utf8: self.utf8,
        }
    }

    /// Where the next value starts (after whitespace), or `None` at the end of the frame.
    pub(crate) fn value_start(&mut self) -> Option<usize> {
        self.peek()?;
        Some(self.pos)
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.buf.get(self.pos) {
            if c > b' ' || !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    /// The next byte that is not JSON whitespace (not consumed).
    #[inline(always)]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.buf.get(self.pos).copied()
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? != c {
            return None;
        }
        self.pos += 1;
        Some(())
    }

    /// Only whitespace is left: the frame was one complete JSON value.
    pub(crate) fn finish(&mut self) -> Option<()> {
        self.ws();
        (self.pos == self.buf.len()).then_some(())
    }

    /// Walks an object: `f` gets each key (raw bytes; keys with escapes give up, since they may
    /// spell a key a decoder looks for) and must consume exactly its value.
    #[inline(always)]
    pub(crate) fn object(
        &mut self,
        mut f: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        if self.peek()? == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            // Most keys of the hot frames are one letter: `"x":` is recognized from one load,
            // so the next position does not wait for a string scan.
            let key = match self.buf.get(self.pos..self.pos + 4) {
                Some(&[b'"', k, b'"', b':'])
                    if k != b'\\' && k != b'"' && (b' '..0x80).contains(&k) =>
                {
                    self.pos += 4;
                    self.buf.get(self.pos - 3..self.pos - 2)?
                }
                _ => {
                    let Text::Plain(key) = self.string()? else {
                        return None;
                    };
                    self.eat(b':')?;
                    key.as_bytes()
                }
            };
            f(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Walks an array: `f` must consume exactly one element per call.
    #[inline(always)]
    pub(crate) fn array(&mut self, mut f: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        if self.peek()? == b']' {
            self.pos += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            f(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Reads one value (objects and arrays are validated and skipped).
    #[inline(always)]
    pub(crate) fn value(&mut self) -> Option<Val<'a>> {
        match self.peek()? {
            b'"' => Some(match self.string()? {
                Text::Plain(s) => Val::Str(s),
                Text::Escaped => Val::Escaped,
            }),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true", Val::Bool(true)),
            b'f' => self.literal(b"false", Val::Bool(false)),
            b'n' => self.literal(b"null", Val::Null),
            b'{' | b'[' => self.composite(),
            _ => None,
        }
    }

    /// Skips one value of any kind.
    #[inline(always)]
    pub(crate) fn skip(&mut self) -> Option<()> {
        self.value().map(drop)
    }

    /// An object or an array, skipped (out of line: it recurses through [`Self::skip`]).
    #[inline(never)]
    fn composite(&mut self) -> Option<Val<'a>> {
        if self.peek()? == b'{' {
            self.object(|s, _| s.skip())?;
            Some(Val::Object)
        } else {
            self.array(|s| s.skip())?;
            Some(Val::Array)
        }
    }

    #[inline(always)]
    fn literal(&mut self, word: &[u8], v: Val<'a>) -> Option<Val<'a>> {
        if self.buf.get(self.pos..self.pos + word.len())? != word {
            return None;
        }
        self.pos += word.len();
        Some(v)
    }

    /// `-?(0|[1-9][0-9]*)` within 64 bits; a fraction or an exponent gives up. The digits are
    /// only scanned here; [`Val::u64`] computes a value when a decoder needs it.
    #[inline(always)]
    fn number(&mut self) -> Option<Val<'a>> {
        let neg = self.buf.get(self.pos) == Some(&b'-');
        if neg {
            self.pos += 1;
        }
        let start = self.pos;
        let mut i = start;
        // Eight bytes at a time: the first non-digit ends the number.
        while let Some(chunk) = self.buf.get(i..i + 8) {
            let marks = non_digits(u64::from_le_bytes(chunk.try_into().ok()?));
            if marks != 0 {
                i += (marks.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        while self.buf.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = self.buf.get(start..i)?;
        self.pos = i;
        match digits {
            [] => return None,
            [b'0', _, ..] => return None,
            _ => {}
        }
        if matches!(self.buf.get(i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        if neg {
            // simd-json reads down to i64::MIN and refuses below.
            if digits.len() >= 19 && digits_value(digits).is_none_or(|n| n > 1 << 63) {
                return None;
            }
            return Some(Val::NegInt);
        }
        // Beyond u64 simd-json refuses the frame.
        if digits.len() == 20 {
            digits_value(digits)?;
        }
        if digits.len() > 20 {
            return None;
        }
        Some(Val::UInt(digits))
    }

    /// At an opening quote: reads the string up to its closing quote. ASCII text without
    /// escapes (all the hot frames hold) stays on this inlined path.
    #[inline(always)]
    fn string(&mut self) -> Option<Text<'a>> {
        let start = self.pos + 1;
        let mut i = start;
        loop {
            // Eight ordinary bytes at a time; stop at the first special one.
            if let Some(chunk) = self.buf.get(i..i + 8) {
                let w = u64::from_le_bytes(chunk.try_into().ok()?);
                let marks = special_bytes(w);
                if marks == 0 {
                    i += 8;
                    continue;
                }
                i += (marks.trailing_zeros() / 8) as usize;
            }
            let c = *self.buf.get(i)?;
            if c == b'"' {
                let text = self.buf.get(start..i)?;
                self.pos = i + 1;
                debug_assert!(text.is_ascii());
                // SAFETY: every byte from `start` to `i` was checked to be below 0x80 (the
                // marks include non-ASCII bytes, and the byte loop below stops at them), and
                // ASCII is valid UTF-8.
                return Some(Text::Plain(unsafe { std::str::from_utf8_unchecked(text) }));
            }
            if (b' '..0x80).contains(&c) && c != b'\\' {
                // An ordinary byte in the last (< 8) bytes of the frame.
                i += 1;
                continue;
            }
            return self.string_rest(start, i);
        }
    }

    /// The rest of a string from its first escape, control or non-ASCII byte at `i`: validates
    /// it to the closing quote; the text is returned only when it has no escape.
    #[cold]
    #[inline(never)]
    fn string_rest(&mut self, start: usize, mut i: usize) -> Option<Text<'a>> {
        let mut escaped = false;
        loop {
            match *self.buf.get(i)? {
                b'"' => {
                    let text = self.buf.get(start..i)?;
                    self.pos = i + 1;
                    if escaped {
                        return Some(Text::Escaped);
                    }
                    // The frame is UTF-8 (checked below) and the slice is cut at ASCII quotes.
                    return std::str::from_utf8(text).ok().map(Text::Plain);
                }
                b'\\' => {
                    escaped = true;
                    match *self.buf.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'u' => {
                            let mut cp = 0u32;
                            for &h in self.buf.get(i + 2..i + 6)? {
                                cp = cp * 16 + char::from(h).to_digit(16)?;
                            }
                            // Surrogate pairs follow simd-json's own rules: let it decide.
                            if (0xd800..0xe000).contains(&cp) {
                                return None;
                            }
                            i += 6;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                0x80..=0xff => {
                    // simd-json validates every byte of the frame: so does this, once.
                    if !self.utf8 {
                        std::str::from_utf8(self.buf).ok()?;
                        self.utf8 = true;
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a whole document as one value, then requires the end of the input.
    fn whole(input: &[u8]) -> Option<Val<'_>> {
        let mut sc = Scanner::new(input);
        let v = sc.value()?;
        sc.finish()?;
        Some(v)
    }

    #[test]
    fn values() {
        struct TestCase {
            input: &'static [u8],
            expected: Option<Val<'static>>,
        }
        let cases = [
            TestCase {
                input: br#""abc""#,
                expected: Some(Val::Str("abc")),
            },
            TestCase {
                input: br#""""#,
                expected: Some(Val::Str("")),
            },
            TestCase {
                input: br#""0123456789abcdefghij""#,
                expected: Some(Val::Str("0123456789abcdefghij")),
            },
            TestCase {
                input: "\"caf\u{e9} \u{1f600}\"".as_bytes(),
                expected: Some(Val::Str("caf\u{e9} \u{1f600}")),
            },
            TestCase {
                input: br#""a\"b""#,
                expected: Some(Val::Escaped),
            },
            TestCase {
                input: br#""a\\""#,
                expected: Some(Val::Escaped),
            },
            TestCase {
                input: br#""\u0041\n\/\b\f\r\t""#,
                expected: Some(Val::Escaped),
            },
            TestCase {
                input: br#""long string before the escape \u00e9 and after""#,
                expected: Some(Val::Escaped),
            },
            TestCase {
                input: br#""\ud83d\ude00""#,
                expected: None,
            },
            TestCase {
                input: br#""\x""#,
                expected: None,
            },
            TestCase {
                input: br#""\u12g4""#,
                expected: None,
            },
            TestCase {
                input: br#""\u12""#,
                expected: None,
            },
            TestCase {
                input: b"\"a\tb\"",
                expected: None,
            },
            TestCase {
                input: b"\"a\x00b\"",
                expected: None,
            },
            TestCase {
                input: b"\"\xff\"",
                expected: None,
            },
            TestCase {
                input: b"\"\xc3\"",
                expected: None,
            },
            TestCase {
                input: br#""abc"#,
                expected: None,
            },
            TestCase {
                input: b"0",
                expected: Some(Val::UInt(b"0")),
            },
            TestCase {
                input: b"1700000030123",
                expected: Some(Val::UInt(b"1700000030123")),
            },
            TestCase {
                input: b"18446744073709551615",
                expected: Some(Val::UInt(b"18446744073709551615")),
            },
            TestCase {
                input: b"18446744073709551616",
                expected: None,
            },
            TestCase {
                input: b"-1",
                expected: Some(Val::NegInt),
            },
            TestCase {
                input: b"-9223372036854775808",
                expected: Some(Val::NegInt),
            },
            TestCase {
                input: b"-9223372036854775809",
                expected: None,
            },
            TestCase {
                input: b"01",
                expected: None,
            },
            TestCase {
                input: b"-",
                expected: None,
            },
            TestCase {
                input: b"1.5",
                expected: None,
            },
            TestCase {
                input: b"1e3",
                expected: None,
            },
            TestCase {
                input: b"1x",
                expected: None,
            },
            TestCase {
                input: b"+1",
                expected: None,
            },
            TestCase {
                input: b"true",
                expected: Some(Val::Bool(true)),
            },
            TestCase {
                input: b"false",
                expected: Some(Val::Bool(false)),
            },
            TestCase {
                input: b"null",
                expected: Some(Val::Null),
            },
            TestCase {
                input: b"nul",
                expected: None,
            },
            TestCase {
                input: b"truex",
                expected: None,
            },
            TestCase {
                input: b" \t\r\n[ 1 , { \"a\" : [ ] } , \"x\" ] \n",
                expected: Some(Val::Array),
            },
            TestCase {
                input: br#"{"a":{"b":[1,{"c":"\"}"}]},"d":null}"#,
                expected: Some(Val::Object),
            },
            TestCase {
                input: br#"{"a":1,}"#,
                expected: None,
            },
            TestCase {
                input: br#"[1,]"#,
                expected: None,
            },
            TestCase {
                input: br#"{"a" 1}"#,
                expected: None,
            },
            TestCase {
                input: br#"{"a":1 "b":2}"#,
                expected: None,
            },
            TestCase {
                input: br#"{"a":1}]"#,
                expected: None,
            },
            TestCase {
                input: br#"{"a":1} x"#,
                expected: None,
            },
            TestCase {
                input: br#"{"a\u0041":1}"#,
                expected: None,
            },
            TestCase {
                input: br#"{"""":1}"#,
                expected: None,
            },
            TestCase {
                input: br#"{"\"":1}"#,
                expected: None,
            },
            TestCase {
                input: br#"{"\":1}"#,
                expected: None,
            },
            TestCase {
                input: br#"{"a":1,"b" :2,"cd":{"e":3}}"#,
                expected: Some(Val::Object),
            },
            TestCase {
                input: br#"{"a":1}{}"#,
                expected: None,
            },
            TestCase {
                input: br#"[}"#,
                expected: None,
            },
            TestCase {
                input: b"",
                expected: None,
            },
            TestCase {
                input: b"   ",
                expected: None,
            },
        ];
        for c in cases {
            assert_eq!(
                whole(c.input),
                c.expected,
                "{}",
                String::from_utf8_lossy(c.input)
            );
        }
    }

    #[test]
    fn integer_values() {
        let mut cases = vec![
            0u64,
            7,
            10,
            12_345_678,
            99_999_999,
            100_000_000,
            1_700_000_030_123,
            1_700_000_030_124_000_000,
            9_999_999_999_999_999_999,
            10_000_000_000_000_000_000,
            u64::MAX,
        ];
        // Every length from 1 to 20 digits, with every digit value in every position.
        let mut n = 0u64;
        for len in 1..=20u32 {
            n = n.wrapping_mul(10).wrapping_add(u64::from(len % 10));
            cases.push(n);
            cases.push(10u64.saturating_pow(len - 1));
            cases.push(10u64.checked_pow(len).map_or(u64::MAX, |p| p - 1));
        }
        for n in cases {
            let text = n.to_string();
            assert_eq!(digits_value(text.as_bytes()), Some(n), "{text}");
            assert_eq!(Val::UInt(text.as_bytes()).u64(), Some(n), "{text}");
            assert_eq!(whole(text.as_bytes()).and_then(Val::u64), Some(n), "{text}");
        }
        assert_eq!(digits_value(b"18446744073709551616"), None);
        assert_eq!(digits_value(b"99999999999999999999"), None);
        assert_eq!(Val::Str("0042").u64(), Some(42));
        assert_eq!(Val::NegInt.u64(), None);
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(whole(ok.as_bytes()), Some(Val::Array));
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(whole(deep.as_bytes()), None);
        let huge = "[".repeat(100_000);
        assert_eq!(whole(huge.as_bytes()), None);
    }

    #[test]
    fn objects_walk_every_key_in_order_and_skip_unknown_values() {
        let frame =
            br#" { "x" : { "deep" : [ [ "\"" ] , { } ] } , "b" : "2" , "a" : 1 , "z" : [ ] } "#;
        let mut sc = Scanner::new(frame);
        let mut seen = Vec::new();
        sc.object(|sc, key| {
            match key {
                b"a" | b"b" => seen.push((key.to_vec(), sc.value()?)),
                _ => sc.skip()?,
            }
            Some(())
        })
        .unwrap();
        sc.finish().unwrap();
        assert_eq!(
            seen,
            vec![
                (b"b".to_vec(), Val::Str("2")),
                (b"a".to_vec(), Val::UInt(b"1")),
            ]
        );
    }

    #[test]
    fn a_closure_that_leaves_its_value_unread_fails_the_walk() {
        let mut sc = Scanner::new(br#"{"a":1}"#);
        assert_eq!(sc.object(|_, _| Some(())), None);
    }

    #[test]
    fn every_prefix_is_refused_without_panic() {
        let frame = br#"{"a":[1,-2,true,false,null,"s\"",{"b":"c"}],"d":"\u00e9x","e":{}}"#;
        assert_eq!(whole(frame), Some(Val::Object));
        for cut in 0..frame.len() {
            assert_eq!(whole(&frame[..cut]), None, "{cut}");
        }
    }

    #[test]
    fn non_digits_marks_the_first_non_digit_exactly() {
        for pos in 0..8 {
            for c in 0..=255u8 {
                let mut w = *b"01234567";
                w[pos] = c;
                // Bytes above `pos` may be anything: make them non-digits that borrow.
                for b in w.iter_mut().skip(pos + 1) {
                    *b = 0x00;
                }
                let marks = non_digits(u64::from_le_bytes(w));
                let first = if c.is_ascii_digit() { pos + 1 } else { pos };
                assert_eq!(
                    (marks.trailing_zeros() / 8) as usize,
                    first.min(8),
                    "{c:#x} at {pos}"
                );
            }
        }
        assert_eq!(non_digits(u64::from_le_bytes(*b"98765432")), 0);
    }

    #[test]
    fn special_bytes_marks_the_first_special_byte_exactly() {
        for pos in 0..8 {
            for special in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xff] {
                // Everything before `pos` ordinary, after it a mix that could trigger borrows.
                let mut w = [b'a'; 8];
                w[pos] = special;
                for b in w.iter_mut().skip(pos + 1) {
                    *b = 0x00;
                }
                let marks = special_bytes(u64::from_le_bytes(w));
                assert_eq!(
                    (marks.trailing_zeros() / 8) as usize,
                    pos,
                    "{special:#x} at {pos}"
                );
            }
        }
        for ordinary in [b' ', b'!', b'#', b'[', b']', b'~', 0x7f, b'0', b'z'] {
            assert_eq!(
                special_bytes(u64::from_le_bytes([ordinary; 8])),
                0,
                "{ordinary:#x}"
            );
        }
    }
}
