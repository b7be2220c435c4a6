//! okx keepalive.
