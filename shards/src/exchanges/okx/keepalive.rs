//! OKX keepalive: the client sends the literal text `ping` when nothing arrived for a while and
//! expects `pong`; the server closes a connection idle for 30 s. Pure: imports crate::{types, session}.

use crate::session::Keepalive;
use crate::types::Provider;
use std::time::Duration;

pub fn policy(_provider: Provider) -> Keepalive {
    Keepalive {
        client_ping_after: Some(Duration::from_secs(20)),
        ping_text: "ping",
        // A ping at 20 s unanswered by 30 s: the connection is gone.
        dead_after: Duration::from_secs(30),
        // No documented lifetime; re-dial daily anyway so no connection ages forever.
        max_lifetime: Duration::from_secs(24 * 3600),
    }
}
