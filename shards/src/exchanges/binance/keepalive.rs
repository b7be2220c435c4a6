//! Binance keepalive: the server sends WebSocket ping control frames (spot every 20 s, drop
//! after 60 s without a pong; futures every 3 min, drop after 10 min) and the WebSocket layer
//! answers them. Connections live at most 24 h. Pure: imports crate::{types, session}.

use crate::session::Keepalive;
use crate::types::Provider;
use std::time::Duration;

pub fn policy(provider: Provider) -> Keepalive {
    // Without any frame (data or server ping) for three ping periods, the socket is dead.
    let dead_after = if provider.real() == Provider::Binance {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(600)
    };
    Keepalive {
        client_ping_after: None,
        ping_text: "",
        dead_after,
        // Re-dial 5 minutes before the 24 h hard limit, on our schedule rather than the venue's.
        max_lifetime: Duration::from_secs(24 * 3600 - 300),
    }
}
