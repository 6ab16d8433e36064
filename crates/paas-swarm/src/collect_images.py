# The image collector: one task of a Swarm global job on each node, with that node's
# Docker socket at /var/run/docker.sock (paas-swarm/src/collect.rs starts it).
#
#   python3 -c "<this file>" <registry>/paas/<app>
#
# Removes the node's references (repo:tag, repo@digest) whose repository is exactly the
# argument, one reference at a time and never forced: Docker deletes an image only once
# no reference is left, so an image another app or anything else also names stays (less
# this app's names), and refuses (409) to remove the last name of an image a container
# uses. Containers of Swarm tasks (the deleted app's dynos, still being removed) are
# waited for, a bounded while; any other container keeps its image. Prints what it did;
# exits 1 only when the engine could not be asked.
import http.client
import json
import socket
import sys
import time
import urllib.parse

SOCKET = "/var/run/docker.sock"
WAIT_FOR_TASKS_SECS = 60


class Engine(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=30)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(SOCKET)


def call(method, path):
    engine = Engine()
    try:
        engine.request(method, path)
        response = engine.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if body else None)
    finally:
        engine.close()


def repository(reference):
    """`host:port/paas/app` of `host:port/paas/app:tag` or `...@sha256:...`."""
    if "@" in reference:
        return reference.split("@", 1)[0]
    name, _, tag = reference.rpartition(":")
    return name if name and "/" not in tag else reference


def ours(image, repo):
    names = (image.get("RepoTags") or []) + (image.get("RepoDigests") or [])
    return [n for n in names if repository(n) == repo]


def main(repo):
    deadline = time.monotonic() + WAIT_FOR_TASKS_SECS
    removed, kept = [], []
    while True:
        status, images = call("GET", "/images/json")
        if status != 200:
            print("listing images: HTTP %d" % status)
            return 1
        status, containers = call("GET", "/containers/json?all=1")
        if status != 200:
            print("listing containers: HTTP %d" % status)
            return 1
        users = {}
        for c in containers:
            task = "com.docker.swarm.task.id" in (c.get("Labels") or {})
            users.setdefault(c.get("ImageID"), []).append(task)
        waiting = False
        kept = []
        for image in images:
            used_by = users.get(image.get("Id"), [])
            for reference in ours(image, repo):
                path = "/images/%s?noprune=false" % urllib.parse.quote(reference, safe="/:@")
                status, _ = call("DELETE", path)
                if status == 200 or status == 404:
                    removed.append(reference)
                elif status == 409 and used_by and all(used_by) and time.monotonic() < deadline:
                    # The last name of an image that task containers use: Swarm is
                    # removing them (the deleted app's dynos); ask again.
                    waiting = True
                else:
                    # 409: the last name of an image some other container uses.
                    kept.append(reference)
        if not waiting:
            break
        time.sleep(2)
    for reference in removed:
        print("removed %s" % reference)
    for reference in kept:
        print("kept %s (in use)" % reference)
    print("%s: %d removed, %d kept" % (repo, len(removed), len(kept)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or "/" not in sys.argv[1]:
        print("usage: collect_images.py <registry>/paas/<app>")
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
