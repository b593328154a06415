#!/usr/bin/env bash
# Starts the local services the tests talk to, each only if its port does
# not answer: PostgreSQL 5432, Mosquitto 1883, NATS 4222, Redis 6379,
# RabbitMQ 5672. Services that are not installed are reported and skipped;
# the tests that need them fail with a message naming the service.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # name port seconds
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    port_open "$2" && { echo "services: $1 is up on $2"; return 0; }
    sleep 0.2
  done
  echo "services: $1 did not come up on port $2" >&2
  return 1
}

start() { # name port command...
  local name=$1 port=$2
  shift 2
  if port_open "$port"; then
    echo "services: $name already up on $port"
    return 0
  fi
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "services: $name is not installed ($1 missing); skipping" >&2
    return 0
  fi
  echo "services: starting $name"
  "$@" >/dev/null 2>&1 || true
  wait_port "$name" "$port" 30
}

start_postgres() {
  if port_open 5432; then
    echo "services: PostgreSQL already up on 5432"
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "services: PostgreSQL is not installed; skipping" >&2
    return 0
  fi
  echo "services: starting PostgreSQL"
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port PostgreSQL 5432 60
}

status=0
start_postgres || status=1
start Mosquitto 1883 mosquitto -d -c /etc/mosquitto/mosquitto.conf || status=1
start NATS 4222 start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
  -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || status=1
start Redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
  --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || status=1
start RabbitMQ 5672 rabbitmq-server -detached || status=1
exit $status
