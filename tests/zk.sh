#!/usr/bin/env bash
# Runs one standalone ZooKeeper server from Debian 12's packages (zookeeper, zookeeperd: 3.8) on
# loopback, for the tests and for trying a ZooKeeper cluster file on one machine
# (docs/cluster.md, "Cluster state in ZooKeeper"). Never the init script, never systemd: the
# server is this script's background JVM with its own configuration and data under DIR.
#
#   usage: bash tests/zk.sh start DIR PORT [OWNER_PID]
#          bash tests/zk.sh stop DIR
#          bash tests/zk.sh status DIR
#
# start  writes DIR/zoo.cfg (clientPortAddress=127.0.0.1, clientPort=PORT, dataDir=DIR/data,
#        admin server off, four-letter words ruok/srvr/stat/mntr only, tickTime 500 ms so that
#        sessions may last 1 s to 60 s), starts the server in the background (its pid in
#        DIR/zk.pid, its log in DIR/zookeeper.log) and waits up to 30 s until it answers "imok"
#        to ruok. DIR/data is kept: a server started again on the same DIR has the same znodes
#        (sessions that expired while it was down are gone). With OWNER_PID, a watcher stops the
#        server once that process has gone (a test that crashes leaves no JVM behind).
# stop   sends SIGTERM, waits up to 10 s for the exit (then SIGKILL), removes DIR/zk.pid.
# status says "running PID PORT" (exit 0) or "stopped" (exit 1).
#
# Exit status: 0 done, 1 failed (said on stderr), 2 usage or ZooKeeper not installed.
set -euo pipefail

usage() {
  sed -n '7,9p' "$0" | sed 's/^#  *//' >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
pidf=$dir/zk.pid

# The server's classpath, as Debian's packaging sets it (/etc/zookeeper/conf/environment):
# zookeeper.jar names its dependencies in its manifest's Class-Path. slf4j-simple (a dependency of
# libzookeeper-java's slf4j) makes its log readable; without it the log is silent.
classpath() {
  local cp=/usr/share/java/zookeeper.jar
  [ -r "$cp" ] || {
    echo "zk.sh: $cp not found: install zookeeper (Debian: apt-get install zookeeperd)" >&2
    exit 2
  }
  [ -r /usr/share/java/slf4j-simple.jar ] && cp=$cp:/usr/share/java/slf4j-simple.jar
  echo "$cp"
}

running_pid() {
  [ -r "$pidf" ] || return 1
  local p
  p=$(cat "$pidf")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
  # a pid used again by another program is not ours
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q ZooKeeperServerMain || return 1
  echo "$p"
}

# ruok over bash's /dev/tcp: 0 when the server answers imok
ruok() {
  local port=$1 ans
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'ruok' >&3
  ans=$(timeout 2 cat <&3 2>/dev/null || true)
  exec 3<&- 3>&-
  [ "$ans" = imok ]
}

stop() {
  local p
  if ! p=$(running_pid); then
    rm -f "$pidf"
    return 0
  fi
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$p" 2>/dev/null; then
    echo "zk.sh: server $p did not stop within 10 s: SIGKILL" >&2
    kill -KILL "$p" 2>/dev/null || true
    while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
  fi
  rm -f "$pidf"
}

case $cmd in
start)
  [ $# -ge 3 ] || usage
  port=$3
  owner=${4:-}
  case $port in '' | *[!0-9]*) usage ;; esac
  cp=$(classpath)
  command -v java >/dev/null || {
    echo "zk.sh: no java: install zookeeperd (it depends on default-jre)" >&2
    exit 2
  }
  if p=$(running_pid); then
    echo "zk.sh: a server already runs for $dir (pid $p)" >&2
    exit 1
  fi
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  pidf=$dir/zk.pid
  cat >"$dir/zoo.cfg" <<EOF
# written by tests/zk.sh: one standalone server on loopback
tickTime=500
minSessionTimeout=1000
maxSessionTimeout=60000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=200
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr
autopurge.purgeInterval=0
EOF
  # a small heap and the serial collector: the tests share two cores with their clusters
  setsid java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dzookeeper.admin.enableServer=false -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -Dorg.slf4j.simpleLogger.showDateTime=true -Dzookeeper.jmx.log4j.disable=true \
    -cp "$cp" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" \
    </dev/null >>"$dir/zookeeper.log" 2>&1 &
  p=$!
  echo "$p" >"$pidf"
  for _ in $(seq 300); do
    if ruok "$port"; then
      if [ -n "$owner" ]; then
        # stops the server when the owner has gone (its pid file naming this server still)
        (
          exec </dev/null >/dev/null 2>&1
          while kill -0 "$owner" 2>/dev/null && kill -0 "$p" 2>/dev/null; do sleep 1; done
          if [ "$(cat "$pidf" 2>/dev/null)" = "$p" ]; then kill -TERM "$p" 2>/dev/null; fi
        ) &
        disown
      fi
      echo "zk.sh: ZooKeeper pid $p on 127.0.0.1:$port, data $dir/data"
      exit 0
    fi
    if ! kill -0 "$p" 2>/dev/null; then
      echo "zk.sh: the server exited at start; the end of $dir/zookeeper.log:" >&2
      tail -n 20 "$dir/zookeeper.log" >&2
      rm -f "$pidf"
      exit 1
    fi
    sleep 0.1
  done
  echo "zk.sh: the server (pid $p) did not answer on 127.0.0.1:$port within 30 s; stopped" >&2
  stop
  exit 1
  ;;
stop)
  stop
  ;;
status)
  if p=$(running_pid); then
    echo "running $p $(sed -n 's/^clientPort=//p' "$dir/zoo.cfg")"
  else
    echo stopped
    exit 1
  fi
  ;;
*)
  usage
  ;;
esac
