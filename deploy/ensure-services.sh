#!/usr/bin/env bash
# Makes sure the RabbitMQ and Redis that corefeed is configured for answer. When they point at
# this machine and do not answer, starts them (installing them with apt-get if missing).
# Remote services are only checked, never touched.
# Env: REDIS_HOST REDIS_PORT RABBIT_HOST RABBIT_PORT (the seed's variables), defaults local.
set -euo pipefail

REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
RABBIT_HOST=${RABBIT_HOST:-127.0.0.1}
RABBIT_PORT=${RABBIT_PORT:-5672}

is_local() { [[ "$1" == "127.0.0.1" || "$1" == "localhost" || "$1" == "::1" ]]; }
answers() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
apt_updated=0
install() {
  if [[ $apt_updated == 0 ]]; then
    echo "ensure-services: apt-get update"; DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1
  fi
  echo "ensure-services: installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
wait_for() { # host port name seconds
  for _ in $(seq 1 "$4"); do answers "$1" "$2" && return 0; sleep 1; done
  echo "ensure-services: $3 on $1:$2 did not come up within $4 s; see its log" >&2; return 1
}

if answers "$REDIS_HOST" "$REDIS_PORT"; then
  echo "ensure-services: Redis answers on $REDIS_HOST:$REDIS_PORT"
elif is_local "$REDIS_HOST"; then
  command -v redis-server >/dev/null || install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/corefeed.log
  wait_for "$REDIS_HOST" "$REDIS_PORT" Redis 20
  echo "ensure-services: started Redis on $REDIS_HOST:$REDIS_PORT"
else
  echo "ensure-services: Redis at $REDIS_HOST:$REDIS_PORT does not answer (remote: not touched)" >&2; exit 1
fi

if answers "$RABBIT_HOST" "$RABBIT_PORT"; then
  echo "ensure-services: RabbitMQ answers on $RABBIT_HOST:$RABBIT_PORT"
elif is_local "$RABBIT_HOST"; then
  command -v rabbitmq-server >/dev/null || install rabbitmq-server
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for "$RABBIT_HOST" "$RABBIT_PORT" RabbitMQ 90
  # The AMQP port opens a moment before the broker accepts logins.
  timeout 60 rabbitmqctl await_startup >/dev/null 2>&1 || true
  echo "ensure-services: started RabbitMQ on $RABBIT_HOST:$RABBIT_PORT"
else
  echo "ensure-services: RabbitMQ at $RABBIT_HOST:$RABBIT_PORT does not answer (remote: not touched)" >&2; exit 1
fi
