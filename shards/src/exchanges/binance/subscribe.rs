//! binance subscribe.
