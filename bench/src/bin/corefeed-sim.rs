//! corefeed-sim: the exchange simulator binary. Flags: see `--help` or bench/README.md.

use std::io::Write;

use corefeed_bench::sim::{spawn, SimConfig};
use tracing_subscriber::EnvFilter;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let cfg = match SimConfig::from_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let handle = spawn(cfg.clone()).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "corefeed-sim listening on http://{}", handle.addr)?;
        out.flush()?;
    }
    tracing::info!(
        addr = %handle.addr,
        symbols = cfg.symbols,
        firehose = cfg.firehose,
        stamp = cfg.stamp,
        "simulator started"
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("interrupt received, shutting down");
            handle.shutdown().await;
        }
    }
    Ok(())
}
