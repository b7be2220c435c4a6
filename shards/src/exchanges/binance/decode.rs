//! binance decode (stub until the decoder lands). Pure: imports crate::{event, types, error, exchanges}.

use crate::error::DecodeError;
use crate::exchanges::{DecodeCtx, Decoded, EventSink, Scratch};

pub fn decode(
    _ctx: &DecodeCtx,
    _frame: &mut [u8],
    _scratch: &mut Scratch,
    _sink: &mut impl EventSink,
) -> Result<Decoded, DecodeError> {
    Err(DecodeError::Unknown)
}
