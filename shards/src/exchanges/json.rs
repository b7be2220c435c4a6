//! Field readers over a simd-json tape, shared by the venue decoders: required fields, exact
//! decimals, symbols, integers sent as numbers or digit strings. Pure: imports crate::{error, types}.

use std::cell::Cell;

use simd_json::prelude::*;
use simd_json::tape::{Node, Tape, Value};

use crate::error::DecodeError;
use crate::types::{is_plain_decimal, Decimal, Symbol, TooLong};

pub(crate) fn bad(field: &'static str, why: &'static str) -> DecodeError {
    DecodeError::BadField { field, why }
}

#[inline]
pub(crate) fn req<'t, 'i>(
    obj: Value<'t, 'i>,
    key: &str,
    field: &'static str,
) -> Result<Value<'t, 'i>, DecodeError> {
    obj.get(key).ok_or(DecodeError::MissingField(field))
}

#[inline]
pub(crate) fn str_of<'i>(v: Value<'_, 'i>, field: &'static str) -> Result<&'i str, DecodeError> {
    v.into_string().ok_or(bad(field, "expected a string"))
}

pub(crate) fn symbol_of(v: Value<'_, '_>, field: &'static str) -> Result<Symbol, DecodeError> {
    let s = str_of(v, field)?;
    if s.is_empty() {
        return Err(bad(field, "empty symbol"));
    }
    Ok(Symbol::new(s)?)
}

/// Exact decimal text: validated by [`Decimal::parse`]; overlong plain digits → `TooLong`.
pub(crate) fn decimal(v: Value<'_, '_>, field: &'static str) -> Result<Decimal, DecodeError> {
    let s = v
        .into_string()
        .ok_or(bad(field, "expected a decimal string"))?;
    decimal_text(s, field)
}

fn decimal_text(s: &str, field: &'static str) -> Result<Decimal, DecodeError> {
    Decimal::parse(s).map_err(|_| {
        if s.len() > Decimal::CAPACITY && is_plain_decimal(s) {
            DecodeError::TooLong(TooLong {
                what: field,
                len: s.len(),
                cap: Decimal::CAPACITY,
            })
        } else {
            DecodeError::BadDecimal(field)
        }
    })
}

/// An optional decimal: absent, `null` or `""` → [`Decimal::EMPTY`].
pub(crate) fn decimal_opt(
    v: Option<Value<'_, '_>>,
    field: &'static str,
) -> Result<Decimal, DecodeError> {
    match v {
        None => Ok(Decimal::EMPTY),
        Some(v) if v.is_null() => Ok(Decimal::EMPTY),
        Some(v) => match v.into_string() {
            Some("") => Ok(Decimal::EMPTY),
            Some(s) => decimal_text(s, field),
            None => Err(bad(field, "expected a decimal string")),
        },
    }
}

/// A non-negative integer sent as a JSON number or as a string of digits.
pub(crate) fn u64_of(v: Value<'_, '_>, field: &'static str) -> Result<u64, DecodeError> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    match v.into_string() {
        Some(s) => parse_digits(s).ok_or(bad(field, "expected an unsigned integer")),
        None => Err(bad(field, "expected an unsigned integer")),
    }
}

/// `[0-9]{1,20}` that fits a u64, without allocation.
pub(crate) fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s.as_bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

thread_local! {
    /// The simd-json tape, kept per thread (corefeed is thread-per-core) so that its node vector
    /// is reused from frame to frame instead of being allocated by every parse.
    static TAPE: Cell<Vec<Node<'static>>> = const { Cell::new(Vec::new()) };
}

/// Parses `frame` in place into the thread's reused tape and hands the root value to `f`.
pub(crate) fn with_tape<R>(
    frame: &mut [u8],
    buffers: &mut simd_json::Buffers,
    f: impl FnOnce(Value<'_, '_>) -> Result<R, DecodeError>,
) -> Result<R, DecodeError> {
    let mut tape: Tape<'_> = Tape(TAPE.take()).reset();
    let out = match simd_json::fill_tape(frame, buffers, &mut tape) {
        Ok(()) if tape.0.is_empty() => Err(DecodeError::Json("empty document".into())),
        Ok(()) => f(tape.as_value()),
        Err(e) => Err(DecodeError::Json(e.to_string())),
    };
    TAPE.set(tape.reset::<'static>().0);
    out
}
