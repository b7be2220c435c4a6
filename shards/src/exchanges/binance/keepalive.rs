//! binance keepalive.
