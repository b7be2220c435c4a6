//! The `corefeed` command: `run` (the service), `decode` (what corefeed makes of raw frames),
//! `check-config`. Imports the corefeed library.

use anyhow::Context;
use corefeed::config::Config;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

const USAGE: &str = "usage:
  corefeed [run] [--config config.toml]        run the service (SIGINT/SIGTERM drain and stop)
  corefeed check-config [--config FILE]        validate a configuration and exit
  corefeed decode --provider P [--room R] [--user U] [FILE|-]
                                               print every message corefeed would publish for
                                               raw exchange frames (one per line)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match real_main(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("corefeed: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let level = std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into());
    // Dependencies that log requests at debug/trace (ureq writes headers such as X-MBX-APIKEY
    // and URLs with listen keys; the WebSocket and AMQP stacks dump frames) are capped at info
    // whatever the level: secrets never reach a log line. RUST_LOG overrides for debugging a
    // dependency on a machine without real credentials.
    const QUIET: &str = ",ureq=warn,rustls=info,tungstenite=info,async_tungstenite=info,lapin=info,amq_protocol=info,hyper=info,axum=info,h2=info";
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{level}{QUIET}")));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json");
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

fn flag(args: &[String], name: &str) -> anyhow::Result<Option<String>> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .cloned()
            .map(Some)
            .with_context(|| format!("{name} needs a value\n{USAGE}")),
        None => Ok(None),
    }
}

fn real_main(args: &[String]) -> anyhow::Result<()> {
    let cmd = args.first().map(String::as_str).unwrap_or("run");
    let rest = if args.first().is_some_and(|a| !a.starts_with('-')) {
        &args[1..]
    } else {
        args
    };
    match cmd {
        "run" | "--config" => {
            let path =
                PathBuf::from(flag(rest, "--config")?.unwrap_or_else(|| "config.toml".into()));
            let cfg = Config::load(&path).context("configuration rejected")?;
            init_tracing();
            corefeed::runtime::run(cfg)
        }
        "check-config" => {
            let path =
                PathBuf::from(flag(rest, "--config")?.unwrap_or_else(|| "config.toml".into()));
            let cfg = Config::load(&path).context("configuration rejected")?;
            println!(
                "{}: ok ({} shards, providers {:?})",
                path.display(),
                cfg.shard_count(),
                cfg.core.prices.providers
            );
            Ok(())
        }
        "decode" => {
            let provider = flag(rest, "--provider")?
                .with_context(|| format!("decode needs --provider\n{USAGE}"))?;
            let provider = provider
                .parse()
                .map_err(|e: corefeed_shards::types::UnknownProvider| anyhow::anyhow!("{e}"))?;
            let room = flag(rest, "--room")?;
            let user = flag(rest, "--user")?;
            let mut skip = false;
            let mut file = None;
            for a in rest {
                if skip {
                    skip = false;
                } else if matches!(a.as_str(), "--provider" | "--room" | "--user") {
                    skip = true;
                } else {
                    file = Some(a.clone());
                }
            }
            let input: Box<dyn BufRead> = match file.as_deref() {
                None | Some("-") => Box::new(BufReader::new(std::io::stdin())),
                Some(f) => Box::new(BufReader::new(
                    std::fs::File::open(f).with_context(|| format!("cannot open {f}"))?,
                )),
            };
            corefeed::decode_cmd::run(
                provider,
                room,
                user,
                input,
                std::io::stdout().lock(),
                std::io::stderr().lock(),
            )?;
            Ok(())
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => anyhow::bail!("unknown command {other:?}\n{USAGE}"),
    }
}
