//! RabbitMQ commands (`contract.md` §2.1): the `candlesRequests` queue on the `gainium` direct
//! exchange. Every message is acked after it is handled, also when it is invalid (logged and
//! counted); a `reply_to` gets `{"response": null}` with the same correlation id, as the seed.
//! Imports crate::{config, control::{prices, ControlState}, publisher::config}.

use super::ControlState;
use crate::config::Config;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::uri::{AMQPAuthority, AMQPUri, AMQPUserInfo};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use serde::Deserialize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// `{"payload":{"symbol":"BTCUSDT","exchange":"binance","interval":"1m"}}`
#[derive(Deserialize)]
struct Envelope {
    payload: CandleRequest,
}

#[derive(Deserialize)]
struct CandleRequest {
    symbol: String,
    exchange: String,
    interval: String,
}

/// Handles one `candlesRequests` body. Returns `Err` with a message for logs when invalid.
pub fn handle_candle_request(state: &ControlState, body: &[u8]) -> Result<bool, String> {
    let req: Envelope = serde_json::from_slice(body).map_err(|e| {
        format!("not a candle request ({e}); expected {{\"payload\":{{\"symbol\",\"exchange\",\"interval\"}}}}")
    })?;
    let r = req.payload;
    let mut reg = state.prices.lock().unwrap_or_else(|p| p.into_inner());
    let topic = reg
        .resolve_candle(&r.exchange, &r.symbol, &r.interval)
        .map_err(|e| e.to_string())?;
    Ok(reg.add_candle(topic))
}

fn uri(cfg: &Config) -> AMQPUri {
    let a = &cfg.publisher.amqp;
    AMQPUri {
        authority: AMQPAuthority {
            userinfo: AMQPUserInfo {
                username: a.user.clone(),
                password: a.password.expose().to_owned(),
            },
            host: a.host.clone(),
            port: a.port,
        },
        vhost: a.vhost.clone(),
        ..AMQPUri::default()
    }
}

/// Which command queue a consumer serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Candles,
    Users,
}

/// Handles one `usersStreamAction` body.
pub fn handle_room_command(
    state: &ControlState,
    body: &[u8],
) -> Result<super::rooms::Outcome, super::rooms::RoomError> {
    let cmd = super::rooms::RoomCommand::parse(body)?;
    state
        .rooms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .command(cmd)
}

/// Consumes `candlesRequests` until the process stops, reconnecting with backoff.
pub async fn run_candle_consumer(cfg: Arc<Config>, state: Arc<ControlState>) {
    run_consumer(cfg, state, Queue::Candles).await
}

/// Consumes `usersStreamAction` until the process stops, reconnecting with backoff.
pub async fn run_user_consumer(cfg: Arc<Config>, state: Arc<ControlState>) {
    run_consumer(cfg, state, Queue::Users).await
}

async fn run_consumer(cfg: Arc<Config>, state: Arc<ControlState>, queue: Queue) {
    let mut delay = Duration::from_millis(500);
    loop {
        match consume_once(&cfg, &state, queue).await {
            Ok(()) => {
                warn!("RabbitMQ command consumer ended; reconnecting.");
                delay = Duration::from_millis(500);
            }
            Err(error) => {
                state.metrics.command_consumer_errors.fetch_add(1, Relaxed);
                warn!(host = %cfg.publisher.amqp.host, %error, retry_in_ms = delay.as_millis() as u64,
                    "RabbitMQ command consumer failed; retrying.");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

async fn consume_once(
    cfg: &Config,
    state: &ControlState,
    queue: Queue,
) -> Result<(), lapin::Error> {
    let c = &cfg.core.commands;
    let (qname, prefetch, tag) = match queue {
        Queue::Candles => (
            c.candles_queue.as_str(),
            c.candles_prefetch,
            "corefeed-candles",
        ),
        Queue::Users => (
            cfg.core.users.queue.as_str(),
            cfg.core.users.prefetch,
            "corefeed-users",
        ),
    };
    let conn = Connection::connect_uri(uri(cfg), ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.exchange_declare(
        c.exchange.as_str().into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(
        qname.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        qname.into(),
        c.exchange.as_str().into(),
        qname.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            qname.into(),
            tag.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    info!(queue = %qname, exchange = %c.exchange, "Consuming commands.");
    state.metrics.command_consumer_up.store(1, Relaxed);
    while let Some(delivery) = consumer.next().await {
        let delivery = match delivery {
            Ok(d) => d,
            Err(e) => {
                state.metrics.command_consumer_up.store(0, Relaxed);
                return Err(e);
            }
        };
        match queue {
            Queue::Candles => match handle_candle_request(state, &delivery.data) {
                Ok(true) => state.metrics.candle_requests_added.fetch_add(1, Relaxed),
                Ok(false) => state
                    .metrics
                    .candle_requests_duplicate
                    .fetch_add(1, Relaxed),
                Err(error) => {
                    let n = state.metrics.candle_requests_invalid.fetch_add(1, Relaxed);
                    // Invalid requests are logged, but at most the first 100 and then every 1000th.
                    if n < 100 || n % 1000 == 0 {
                        warn!(%error, invalid_so_far = n + 1, "Candle request refused; acked and skipped.");
                    }
                    0
                }
            },
            Queue::Users => {
                let rooms = &state.rooms_metrics;
                match handle_room_command(state, &delivery.data) {
                    Ok(outcome) => {
                        tracing::debug!(?outcome, "Room command handled.");
                        rooms.commands_ok.fetch_add(1, Relaxed)
                    }
                    Err(error) => {
                        let n = rooms.commands_invalid.fetch_add(1, Relaxed);
                        if n < 100 || n % 1000 == 0 {
                            warn!(%error, invalid_so_far = n + 1, "Room command refused; acked and skipped.");
                        }
                        0
                    }
                }
            }
        };
        if let Some(reply_to) = delivery.properties.reply_to() {
            let mut props = BasicProperties::default();
            if let Some(cid) = delivery.properties.correlation_id() {
                props = props.with_correlation_id(cid.clone());
            }
            let _ = ch
                .basic_publish(
                    "".into(),
                    reply_to.as_str().into(),
                    BasicPublishOptions::default(),
                    br#"{"response":null}"#,
                    props,
                )
                .await;
        }
        delivery.ack(BasicAckOptions::default()).await?;
    }
    state.metrics.command_consumer_up.store(0, Relaxed);
    Ok(())
}
