//! okx subscribe.
