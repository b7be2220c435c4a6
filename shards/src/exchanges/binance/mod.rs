//! binance adapter: endpoints, subscribe, keepalive, decode. Imports crate::{event, types, error, exchanges}.

pub mod auth;
pub mod decode;
pub mod endpoints;
pub mod keepalive;
pub mod subscribe;
pub mod user;
