#!/usr/bin/env bash
# A throwaway Docker Swarm on this machine, for the Swarm runtime's tests and benchmark:
# a manager and workers, each its own containerd + dockerd (own data root, exec root and
# socket) inside a network namespace of its own, linked by veth pairs to a private
# bridge. The host's own dockerd is never touched and never joins the swarm.
#
#   scripts/swarm-cluster.sh up [WORKERS]   # default 2 workers; idempotent
#   scripts/swarm-cluster.sh down           # stops every process it started, removes all
#   scripts/swarm-cluster.sh env            # prints the variables a test needs (and paasd)
#   scripts/swarm-cluster.sh stop-node N    # stops node N's dockerd (a lost worker)
#   scripts/swarm-cluster.sh start-node N   # starts it again
#
# Addresses: bridge $PAAS_SWARM_BRIDGE (default pswbr0) holds 10.213.0.1/24 on the host;
# node N is 10.213.0.(10+N) in netns $PAAS_SWARM_NS-nN (default psw-nN; node 1 is the
# manager), linked by veth $PAAS_SWARM_NS-vN. Two clusters on one machine need their own
# PAAS_SWARM_BRIDGE, PAAS_SWARM_NET, PAAS_SWARM_RUN, PAAS_SWARM_DATA and PAAS_SWARM_NS. The registry
# (Debian's docker-registry) runs in the manager's namespace on 10.213.0.11:5601, plain
# HTTP, which each node's dockerd is told is an insecure registry. Only these node
# addresses are ever reached from the host; overlay addresses never are (the host has
# no route to them).
#
# Node engines load the stack image from the host engine (`docker save | docker load`),
# into the manager only: workers get app images from the registry, by digest. The
# engines share the host's file system: $PAAS_SWARM_RUN/nodes/<node hostname> links node
# N's socket directory, for tasks that mount their own node's socket (`env` prints the
# PAAS_SWARM_NODE_SOCKET template).
set -euo pipefail

BRIDGE="${PAAS_SWARM_BRIDGE:-pswbr0}"
NET="${PAAS_SWARM_NET:-10.213.0}"
RUN="${PAAS_SWARM_RUN:-/run/paas-swarm}"
DATA="${PAAS_SWARM_DATA:-/var/lib/paas-swarm}"
NS="${PAAS_SWARM_NS:-psw}"
STACK_IMAGE="${PAAS_STACK_IMAGE:-paas/stack:bookworm}"
REGISTRY_PORT=5601
MANAGER_ADDR="$NET.11"
REGISTRY="$MANAGER_ADDR:$REGISTRY_PORT"

step() { printf -- '-----> %s\n' "$*" >&2; }
fail() { printf -- ' !     %s\n' "$*" >&2; exit 1; }

ns() { echo "$NS-n$1"; }
addr() { echo "$NET.$((10 + $1))"; }
sock() { echo "$RUN/n$1/docker.sock"; }
dk() { local n="$1"; shift; docker -H "unix://$(sock "$n")" "$@"; }

ensure_tools() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v containerd >/dev/null 2>&1 || missing+=(containerd)
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  [ "${#missing[@]}" -eq 0 ] && return 0
  step "Installing ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package starts its own registry on :5000 (paasd's API port): not wanted here.
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
}

bridge_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.1/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  # With br_netfilter, frames between two ports of this bridge pass the host's FORWARD
  # chain, whose policy the host engine sets to DROP: let node-to-node traffic through
  # (that bridge only; removed by `down`).
  if ! iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment paas-swarm -j ACCEPT 2>/dev/null; then
    iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment paas-swarm -j ACCEPT
  fi
}

netns_up() {
  local n="$1" name veth
  name="$(ns "$n")"
  veth="$NS-v$n"
  if ! ip netns list | grep -qw "$name"; then
    ip netns add "$name"
  fi
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip link add "$veth" type veth peer name eth0 netns "$name"
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$name" addr add "$(addr "$n")/24" dev eth0
  fi
  ip -n "$name" link set lo up
  ip -n "$name" link set eth0 up
}

# dockerd in a netns: its iptables rules, bridges and sysctls are that namespace's own.
engine_up() {
  local n="$1" dir="$RUN/n$1" data="$DATA/n$1" name
  name="$(ns "$n")"
  mkdir -p "$dir" "$data"
  if dk "$n" info >/dev/null 2>&1; then return 0; fi
  if ! [ -S "$dir/containerd.sock" ] || ! pid_alive "$dir/containerd.pid"; then
    cat >"$dir/containerd.toml" <<EOF
version = 2
root = "$data/containerd"
state = "$dir/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
    nsenter --net="/run/netns/$name" setsid containerd --config "$dir/containerd.toml" \
      >>"$data/containerd.log" 2>&1 </dev/null &
    echo $! >"$dir/containerd.pid"
    wait_for "containerd of node $n" test -S "$dir/containerd.sock"
  fi
  # Own UTS namespace too, so each node has its own hostname (Swarm's node name).
  nsenter --net="/run/netns/$name" setsid unshare --uts sh -c 'hostname "$0"; exec "$@"' "$name" dockerd \
    --data-root "$data/docker" \
    --exec-root "$dir/exec" \
    -H "unix://$(sock "$n")" \
    --pidfile "$dir/docker.pid" \
    --containerd "$dir/containerd.sock" \
    --cgroup-parent "/paas-swarm-$NS-n$n" \
    --userland-proxy=false \
    --insecure-registry "$REGISTRY" \
    --bip 172.31.255.1/24 \
    --default-address-pool base=172.30.0.0/16,size=24 \
    --log-level warn \
    >>"$data/dockerd.log" 2>&1 </dev/null &
  wait_for "dockerd of node $n" dk "$n" info
}

# $RUN/nodes/<node hostname> → $RUN/nN: every engine here shares the host's file system,
# so a task that mounts $RUN/nodes/{{.Node.Hostname}}/docker.sock (a Swarm template,
# expanded on the node) gets its own node's socket (PAAS_SWARM_NODE_SOCKET, in `env`).
node_link() {
  mkdir -p "$RUN/nodes"
  ln -sfn "$RUN/n$1" "$RUN/nodes/$(ns "$1")"
}

# Apps apart on published ports, as an operator sets it up on each node (README).
node_firewall() {
  ip netns exec "$(ns "$1")" "$(dirname "$0")/swarm-node-firewall.sh" "$NET.0/24"
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {
  local what="$1" i
  shift
  for i in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  fail "$what did not come up within 30 s (logs under $DATA)"
}

registry_up() {
  local dir="$RUN/registry" data="$DATA/registry"
  mkdir -p "$dir" "$data"
  if pid_alive "$dir/registry.pid"; then return 0; fi
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $data
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
  nsenter --net="/run/netns/$(ns 1)" setsid docker-registry serve "$dir/config.yml" \
    >>"$data.log" 2>&1 </dev/null &
  echo $! >"$dir/registry.pid"
  wait_for "the registry" ip netns exec "$(ns 1)" bash -c "exec 3<>/dev/tcp/$MANAGER_ADDR/$REGISTRY_PORT"
}

swarm_up() {
  local workers="$1" n state token
  state="$(dk 1 info --format '{{.Swarm.LocalNodeState}}')"
  if [ "$state" != active ]; then
    step "swarm init on node 1 ($MANAGER_ADDR)"
    dk 1 swarm init --advertise-addr "$MANAGER_ADDR" --listen-addr "$MANAGER_ADDR:2377" \
      --default-addr-pool 10.214.0.0/16 --default-addr-pool-mask-length 24 >/dev/null
  fi
  token="$(dk 1 swarm join-token -q worker)"
  for n in $(seq 2 $((workers + 1))); do
    state="$(dk "$n" info --format '{{.Swarm.LocalNodeState}}')"
    if [ "$state" != active ]; then
      step "node $n ($(addr "$n")) joins"
      dk "$n" swarm join --advertise-addr "$(addr "$n")" --listen-addr "$(addr "$n"):2377" \
        --token "$token" "$MANAGER_ADDR:2377" >/dev/null
    fi
  done
}

stack_up() {
  if dk 1 image inspect "$STACK_IMAGE" >/dev/null 2>&1; then return 0; fi
  docker image inspect "$STACK_IMAGE" >/dev/null 2>&1 ||
    fail "the host engine has no $STACK_IMAGE (scripts/lib.sh ensure_stack_image makes it)"
  step "loading $STACK_IMAGE into the manager"
  docker save "$STACK_IMAGE" | dk 1 load -q >/dev/null
}

nodes_count() {
  ls -d "$RUN"/n[0-9]* 2>/dev/null | wc -l
}

cmd_up() {
  local workers="${1:-2}" n
  ensure_tools
  bridge_up
  for n in $(seq 1 $((workers + 1))); do
    netns_up "$n"
    engine_up "$n"
    node_link "$n"
    node_firewall "$n"
  done
  registry_up
  swarm_up "$workers"
  stack_up
  cmd_env
}

cmd_env() {
  echo "PAAS_SWARM_MANAGER=unix://$(sock 1)"
  echo "PAAS_REGISTRY=$REGISTRY"
  echo "PAAS_SWARM_NODES=$(nodes_count)"
  echo "PAAS_SWARM_NODE_SOCKET=$RUN/nodes/{{.Node.Hostname}}/docker.sock"
}

stop_engine() {
  local n="$1" dir="$RUN/n$1"
  if pid_alive "$dir/docker.pid"; then
    local pid
    pid="$(cat "$dir/docker.pid")"
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

cmd_down() {
  local dir n pid
  # Leave the swarm first so no engine keeps state about the others.
  for dir in "$RUN"/n[0-9]*; do
    [ -d "$dir" ] || continue
    n="${dir##*/n}"
    if dk "$n" info >/dev/null 2>&1; then
      dk "$n" service ls -q 2>/dev/null | xargs -r dk "$n" service rm >/dev/null 2>&1 || true
      dk "$n" swarm leave --force >/dev/null 2>&1 || true
      dk "$n" ps -aq | xargs -r dk "$n" rm -f >/dev/null 2>&1 || true
    fi
    stop_engine "$n"
    if pid_alive "$dir/containerd.pid"; then
      pid="$(cat "$dir/containerd.pid")"
      kill "$pid"
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    # Mounts the engine left (overlay layers, netns files) before the data goes.
    grep -E " ($DATA/n$n|$RUN/n$n)/" /proc/mounts | awk '{print $2}' | sort -r |
      xargs -r -n1 umount -l 2>/dev/null || true
    ip netns del "$(ns "$n")" 2>/dev/null || true
    ip link del "$NS-v$n" 2>/dev/null || true
  done
  if pid_alive "$RUN/registry/registry.pid"; then
    kill "$(cat "$RUN/registry/registry.pid")" || true
  fi
  ip link del "$BRIDGE" 2>/dev/null || true
  while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment paas-swarm -j ACCEPT 2>/dev/null; do :; done
  rm -rf "$RUN" "$DATA"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  env) cmd_env ;;
  stop-node) stop_engine "$2" ;;
  start-node) netns_up "$2"; engine_up "$2"; node_link "$2"; node_firewall "$2" ;;
  *) echo "usage: $0 up [WORKERS] | down | env | stop-node N | start-node N" >&2; exit 2 ;;
esac
