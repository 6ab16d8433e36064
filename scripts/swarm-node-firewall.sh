#!/usr/bin/env bash
# Keeps apps apart on a Swarm node's published ports (docs/ARCHITECTURE.md, "Isolation").
# Under PAAS_RUNTIME=swarm each web dyno publishes its port in host mode on its node, and
# the router on the manager (a process of the host, not a container) reaches it there.
# Nothing else may: this puts a rule first in Docker's DOCKER-USER chain that refuses
# every connection a container on this node opens to a published port (the node's
# ephemeral port range) of any address in NODES, whether that is another node or this
# one (after Docker's hairpin NAT, matched on the connection's original destination).
# The overlays keep apart everything else.
#
#   scripts/swarm-node-firewall.sh NODES...          # e.g. 10.0.0.0/24: every node's address
#   scripts/swarm-node-firewall.sh --check NODES...  # exit 1 unless the rules are in place
#
# Run it on every node (the manager too) once its dockerd has started, since dockerd
# makes DOCKER-USER; it is idempotent, and dockerd keeps the chain's rules across its own
# restarts. iptables rules do not survive a reboot: run it from dockerd's unit, e.g.
# `ExecStartPost=/usr/local/bin/paas-swarm-node-firewall 10.0.0.0/24` in
# /etc/systemd/system/docker.service.d/paas.conf.
set -euo pipefail

CHAIN=PAAS-ISOLATION
FROM=PAAS-ISOLATION-CONT
BRIDGES=(docker_gwbridge docker0)
check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
[ "$#" -gt 0 ] || { echo "usage: $0 [--check] NODES_CIDR..." >&2; exit 2; }
# Docker picks host-mode published ports from the ephemeral range.
read -r low high </proc/sys/net/ipv4/ip_local_port_range

# Each rule as "CHAIN ARGS...": only connections containers open are looked at, so the
# router's own connections (arriving on the node's interface) and replies pass.
rules() {
  local bridge cidr
  echo "DOCKER-USER -j $CHAIN"
  for bridge in "${BRIDGES[@]}"; do echo "$CHAIN -i $bridge -g $FROM"; done
  for cidr in "$@"; do
    echo "$FROM -p tcp -m conntrack --ctstate NEW --ctorigdst $cidr --ctorigdstport $low:$high -j REJECT --reject-with tcp-reset"
  done
}

if [ "$check" = 1 ]; then
  while read -r chain rule; do
    # shellcheck disable=SC2086
    iptables -C "$chain" $rule 2>/dev/null || { echo "missing: iptables -A $chain $rule" >&2; exit 1; }
  done < <(rules "$@")
  exit 0
fi

iptables -nL DOCKER-USER >/dev/null 2>&1 || { echo "no DOCKER-USER chain: start dockerd first" >&2; exit 1; }
for chain in "$CHAIN" "$FROM"; do
  iptables -N "$chain" 2>/dev/null || iptables -F "$chain"
done
while read -r chain rule; do
  if [ "$chain" = DOCKER-USER ]; then
    # shellcheck disable=SC2086
    iptables -C DOCKER-USER $rule 2>/dev/null || iptables -I DOCKER-USER $rule
  else
    # shellcheck disable=SC2086
    iptables -A "$chain" $rule
  fi
done < <(rules "$@")
