# Sourced by bench/scale.sh and bench/lb.sh: `serve` instances on ports 18090+i, each in its own
# cgroup (v1 `cpu` controller, named GROUP-i) capped at INSTANCE_CPU cores, as a container or VM
# would cap it; without a writable cgroup they run uncapped (`capped` says which).
# Needs GROUP and INSTANCE_CPU; defines BIN, WORK, capped, start, stop_all, stored_by_instances
# and cleanup_instances (call it from the script's EXIT trap).
CG=/sys/fs/cgroup/cpu
cargo build --release -q --bin cx-survey
BIN=target/release/cx-survey
WORK=$(mktemp -d)
capped=0
if mkdir "$CG/$GROUP-probe" 2>/dev/null; then rmdir "$CG/$GROUP-probe"; capped=1; fi
quota=$(python3 -c "print(int($INSTANCE_CPU * 100000))")

cleanup_instances() {
  set +e   # errexit would stop the cleanup at its first failure
  kill $(jobs -p) 2>/dev/null; wait 2>/dev/null
  for g in "$CG/$GROUP"-*; do [ -d "$g" ] && rmdir "$g" 2>/dev/null; done
  rm -rf "$WORK"
}

start() { # index -> starts instance i on port 18090+i and waits until it is ready
  local i=$1 port=$((18090 + $1))
  if [ $capped = 1 ]; then
    mkdir -p "$CG/$GROUP-$i"; echo 100000 > "$CG/$GROUP-$i/cpu.cfs_period_us"; echo "$quota" > "$CG/$GROUP-$i/cpu.cfs_quota_us"
    sh -c "echo \$\$ > $CG/$GROUP-$i/cgroup.procs; exec $BIN serve --bind 127.0.0.1:$port" 2>"$WORK/serve-$i.log" &
  else
    $BIN serve --bind 127.0.0.1:$port 2>"$WORK/serve-$i.log" &
  fi
  echo $! > "$WORK/pid-$i"
  for _ in $(seq 1 100); do
    kill -0 "$(cat "$WORK/pid-$i")" 2>/dev/null || break   # died: not some leftover on the port
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && return 0; sleep 0.1
  done
  echo "instance $i did not start"; cat "$WORK/serve-$i.log"; exit 1
}

stop_all() {
  for f in "$WORK"/pid-*; do
    [ -f "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true; wait "$(cat "$f")" 2>/dev/null || true; rm -f "$f"
  done
}

stored_by_instances() { # n -> the sum of instances 1..n's own count of stored responses
  local n=$1 i c counted=0
  for i in $(seq 1 "$n"); do
    c=$(curl -fsS "http://127.0.0.1:$((18090 + i))/metrics" | awk '/^cx_responses_total\{outcome="stored"\}/ {print $2}')
    counted=$((counted + ${c:-0}))
  done
  echo "$counted"
}
