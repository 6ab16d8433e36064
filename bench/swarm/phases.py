#!/usr/bin/env python3
"""Where the time of one scale-up on the cluster went, from the engines' own events.

    phases.py T0 T1 APP NODES    (T0, T1: Unix seconds of the PATCH and of the last
                                  dyno `up`; NODES: how many nodes the cluster has)

Reads `docker events` of every node between T0 and T1 (each node's own dockerd, through
its socket under /run/paas-swarm) and prints, as medians over the app's dynos started
then: T0 → service created (paasd's supervisor), service created → task container
created on its node (Swarm's scheduling, and an image pull where the node lacked it),
container created → started (the node's engine), and the last start → T1 (paasd's
readiness probes and pass). Image pulls in the window are listed with their node.
"""
import json
import statistics
import subprocess
import sys

t0, t1, app, nodes = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])


def events(n):
    out = subprocess.run(
        ["docker", "-H", f"unix:///run/paas-swarm/n{n}/docker.sock", "events",
         "--since", f"{t0 - 1:.3f}", "--until", f"{t1 + 1:.3f}", "--format", "{{json .}}"],
        capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


created, container_created, started, pulls = {}, {}, {}, []
for n in range(1, nodes + 1):
    for e in events(n):
        at = e["timeNano"] / 1e9
        attrs = e.get("Actor", {}).get("Attributes", {})
        if e["Type"] == "service" and e["Action"] == "create" and attrs.get("name", "").startswith(app + "-"):
            created[attrs["name"]] = at
        elif e["Type"] == "container" and attrs.get("com.docker.swarm.service.name", "").startswith(app + "-"):
            name = attrs["com.docker.swarm.service.name"]
            if e["Action"] == "create":
                container_created.setdefault(name, (at, n))
            elif e["Action"] == "start":
                started.setdefault(name, at)
        elif e["Type"] == "image" and e["Action"] == "pull" and f"/paas/{app}" in e.get("id", ""):
            pulls.append((n, at - t0))

dynos = [s for s in created if s in container_created and s in started]
if not dynos:
    print("  (no service of the run found in the engines' events)")
    sys.exit(0)
med = lambda xs: statistics.median(xs)
print(f"  phases (median over {len(dynos)} dynos): "
      f"paasd creates the service {med([created[s] - t0 for s in dynos]):.2f}s after the PATCH, "
      f"Swarm schedules it onto a node (+pull) {med([container_created[s][0] - created[s] for s in dynos]):.2f}s, "
      f"the node starts it {med([started[s] - container_created[s][0] for s in dynos]):.2f}s; "
      f"last start → all up {t1 - max(started[s] for s in dynos):.2f}s")
per_node = {}
for s in dynos:
    per_node[container_created[s][1]] = per_node.get(container_created[s][1], 0) + 1
print("  dynos per node: " + ", ".join(f"n{n}: {c}" for n, c in sorted(per_node.items()))
      + ("; image pulls: " + ", ".join(f"n{n} done at +{t:.2f}s" for n, t in pulls) if pulls else "; no image pull"))
