# corefeed — the two commands: `make run` (the service) and `make test` (all tests).
SHELL := /bin/bash
CARGO ?= cargo
CONFIG ?= config.toml
SIM_ADDR ?= 127.0.0.1:9300

.PHONY: run demo test bench build services fmt clippy clean

build:
	$(CARGO) build --release --bins

services:
	./deploy/ensure-services.sh

## The main job: release build, make sure RabbitMQ and Redis answer, run against the live exchanges.
run: build services
	./target/release/corefeed run --config $(CONFIG)

## Offline: the simulator + corefeed + a live summary of what arrives in Redis and RabbitMQ.
demo: build services
	./deploy/demo.sh

## All tests (unit, decoder tables, corpus, end-to-end through real RabbitMQ and Redis).
test: services
	$(CARGO) build --bins
	$(CARGO) test --workspace --no-fail-fast 2>&1 | tee target/test.log; exit $${PIPESTATUS[0]}

## Benchmarks against the simulator and the local broker; numbers go to bench/results/.
bench: build services
	./bench/run.sh

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets

clean:
	$(CARGO) clean

## Fuzzing (never part of `make test`): every cargo-fuzz target for FUZZ_SECONDS each, one after
## the other at nice 19, on stable Rust (RUSTC_BOOTSTRAP=1). Needs `cargo install cargo-fuzz`.
## See fuzz/README.md.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/run.sh

## The replaced Node.js stack (npm `binance` + `amqplib`) on corefeed's ingest workload, against
## the simulator; writes bench/results/peers.json and the peer section of latest.md. Not part of
## `make test` nor `make bench`.
.PHONY: bench-peers
bench-peers: services
	$(CARGO) build --release --bins -p corefeed -p corefeed-bench
	cd bench/peers && npm ci --no-audit --no-fund
	./target/release/corefeed-bench --root . --peers
