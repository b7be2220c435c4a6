//! binance endpoints.
