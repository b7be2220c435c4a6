//! binance decode.
