#!/usr/bin/env bash
# Local single-node Apache Kafka broker in KRaft mode, for development, tests and the demo.
#
#   deploy/kafka/broker.sh start    resolve the jars (cached), format a fresh data dir, start, wait until ready
#   deploy/kafka/broker.sh stop     stop it and delete its data dir
#   deploy/kafka/broker.sh halt     stop it and keep its data (topics, offsets, changelogs)
#   deploy/kafka/broker.sh resume   start it again on the data a halt kept, wait until ready
#   deploy/kafka/broker.sh restart  halt, then resume: a broker restart as production sees one
#   deploy/kafka/broker.sh status   exit 0 if it answers on its port
#
# If WATCHKEEPER_BOOTSTRAP_SERVERS is set, everything uses that cluster instead and
# this script does nothing (start/stop are no-ops, status checks that cluster's first address).
#
# Settings (environment):
#   WATCHKEEPER_KAFKA_PORT      client port                    (default 19092; the KRaft controller
#                               listens on the next port up, 19093, which must be free too)
#   WATCHKEEPER_KAFKA_VERSION   Apache Kafka version to fetch  (default: kafka.version in pom.xml)
#   WATCHKEEPER_KAFKA_HOME      disposable data + log dir      (default /tmp/watchkeeper-kafka-$PORT)
#   WATCHKEEPER_CACHE           where the jars are cached      (default ${XDG_CACHE_HOME:-~/.cache}/watchkeeper)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${WATCHKEEPER_KAFKA_PORT:-19092}
controller_port=$((port + 1))
version=${WATCHKEEPER_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")}
cache=${WATCHKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/watchkeeper}
libs="$cache/kafka-$version/libs"
home=${WATCHKEEPER_KAFKA_HOME:-/tmp/watchkeeper-kafka-$port}
pidfile="$home/broker.pid"

log() { printf 'broker: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

fetch_jars() {
  if [ -f "$libs/.complete" ]; then return; fi
  command -v java >/dev/null || { log "java not found: install a JDK 17+"; exit 1; }
  command -v mvn >/dev/null || { log "mvn not found: install Maven"; exit 1; }
  log "resolving Apache Kafka $version from Maven Central into $libs (first run only, about 45 MB)"
  rm -rf "$libs"
  mkdir -p "$cache"
  # Resolver threads fetch the jars in parallel; the loop says how far it has got every 5 s.
  mvn -q -B -f "$here/pom.xml" -Dkafka.version="$version" -Daether.dependencyCollector.impl=bf \
      -Dmaven.artifact.threads=8 dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$libs" >"$cache/mvn.log" 2>&1 &
  local mvn_pid=$! started=$SECONDS
  while kill -0 "$mvn_pid" 2>/dev/null; do
    sleep 5
    kill -0 "$mvn_pid" 2>/dev/null && log "… still resolving ($((SECONDS - started)) s; $(du -sm "${MAVEN_REPO:-$HOME/.m2/repository}" 2>/dev/null | cut -f1) MB in the Maven repository)"
  done
  if ! wait "$mvn_pid"; then
    log "Maven could not resolve Apache Kafka $version:"; cat "$cache/mvn.log" >&2; exit 1
  fi
  log "resolved in $((SECONDS - started)) s"
  touch "$libs/.complete"
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_config() {
  mkdir -p "$home/data" "$home/logs"
  cat >"$home/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$home/data
# Watchkeeper creates its own topics with explicit settings; a typo must fail, not create a topic.
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# single node: start consumer groups at once instead of waiting for more members
group.initial.rebalance.delay.ms=0
PROPS
  cat >"$home/log4j2.properties" <<PROPS
rootLogger.level=WARN
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=$home/logs/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
PROPS
}

java_cmd() {
  exec_or_run=${JAVA_EXEC:-}
  $exec_or_run java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$home/log4j2.properties" -Dkafka.logs.dir="$home/logs" \
    -cp "$libs/*" "$@"
}

start() {
  if [ -n "${WATCHKEEPER_BOOTSTRAP_SERVERS:-}" ]; then
    log "WATCHKEEPER_BOOTSTRAP_SERVERS=$WATCHKEEPER_BOOTSTRAP_SERVERS: using that cluster, not starting a local broker"
    return
  fi
  if pid=$(running_pid); then log "already running (pid $pid) on 127.0.0.1:$port"; return; fi
  if port_open 127.0.0.1 "$port"; then log "port $port is taken by another process"; exit 1; fi
  if port_open 127.0.0.1 "$controller_port"; then
    log "port $controller_port (the controller's: WATCHKEEPER_KAFKA_PORT + 1) is taken by another process"; exit 1
  fi
  fetch_jars
  rm -rf "$home"
  write_config
  java_cmd kafka.tools.StorageTool format --ignore-formatted \
    -t "$(java_cmd kafka.tools.StorageTool random-uuid)" -c "$home/server.properties" >"$home/logs/format.log" 2>&1 \
    || { log "formatting failed:"; cat "$home/logs/format.log" >&2; exit 1; }
  launch
}

resume() {
  if [ -n "${WATCHKEEPER_BOOTSTRAP_SERVERS:-}" ]; then return; fi
  if pid=$(running_pid); then log "already running (pid $pid) on 127.0.0.1:$port"; return; fi
  [ -f "$home/server.properties" ] || { log "no kept data in $home: use start"; exit 1; }
  for _ in $(seq 1 60); do port_open 127.0.0.1 "$port" || break; sleep 0.5; done
  if port_open 127.0.0.1 "$port"; then log "port $port is taken by another process"; exit 1; fi
  : >"$home/logs/server.log"
  launch
}

launch() {
  (JAVA_EXEC=exec java_cmd kafka.Kafka "$home/server.properties" </dev/null >"$home/logs/stdout.log" 2>&1 &
   echo $! >"$pidfile")
  for _ in $(seq 1 120); do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "broker exited during start-up; last log lines:"
      for file in "$home/logs/server.log" "$home/logs/stdout.log"; do
        [ -s "$file" ] && { printf '==> %s <==\n' "$file"; tail -n 30 "$file"; } >&2
      done
      exit 1
    fi
    if grep -q "Kafka Server started" "$home/logs/server.log" 2>/dev/null && port_open 127.0.0.1 "$port"; then
      log "Apache Kafka $version (KRaft) ready on 127.0.0.1:$port (data in $home)"; return
    fi
    sleep 0.5
  done
  log "broker did not become ready in 60 s; see $home/logs"; exit 1
}

halt() {
  if [ -n "${WATCHKEEPER_BOOTSTRAP_SERVERS:-}" ]; then return; fi
  if pid=$(running_pid); then
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped (pid $pid)"
  fi
}

stop() {
  halt
  if [ -z "${WATCHKEEPER_BOOTSTRAP_SERVERS:-}" ]; then rm -rf "$home"; fi
}

status() {
  local addr=${WATCHKEEPER_BOOTSTRAP_SERVERS:-127.0.0.1:$port}
  addr=${addr%%,*}
  port_open "${addr%:*}" "${addr##*:}"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  halt) halt ;;
  resume) resume ;;
  restart) halt; resume ;;
  status) if status; then echo up; else echo down; exit 1; fi ;;
  *) echo "usage: $0 start|stop|halt|resume|restart|status" >&2; exit 2 ;;
esac
