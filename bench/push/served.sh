#!/usr/bin/env bash
# One-line code change to served (issue 12): the procfile-shell fixture at web=1, then
# RUNS times (default 5): change the line it serves, commit, and time from `git push`
# starting until a client polling the router (every 20 ms, loopback) has seen the new
# line on 20 requests in a row; the figure is the time of the first of those 20. Prints
# every run and the median.
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-5}"
source bench/lib.sh
app="${prefix}served"
repo="$work/repo"
push_fixture "$repo" "$app"
wait_web_up "$app" 1 "$(latest_version "$app")"
times=()
for i in $(seq 1 "$RUNS"); do
  line="served run $i $$"
  sed -i "s/^mkdir -p \/tmp\/www && echo .*/mkdir -p \/tmp\/www \&\& echo \"$line\" > \/tmp\/www\/index.html/" "$repo/server.sh"
  git -C "$repo" -c user.name=b -c user.email=b@b commit -qam "run $i"
  t0=$(now)
  git -C "$repo" push -q "http://git:$token@127.0.0.1:$port/$app.git" main 2>/dev/null &
  push=$!
  t=$(python3 - "$router_port" "$app.localhost" "$line" <<'PY'
import http.client, sys, time
port, host, want = int(sys.argv[1]), sys.argv[2], sys.argv[3]
deadline, streak, first = time.time() + 120, 0, None
while time.time() < deadline:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/", headers={"Host": host})
        body = c.getresponse().read().decode()
        c.close()
    except OSError:
        body = ""
    if want in body:
        first = first or time.time()
        streak += 1
        if streak == 20:
            print(f"{first:.3f}")
            sys.exit(0)
    else:
        streak, first = 0, None
    time.sleep(0.02)
sys.exit("timed out")
PY
)
  wait $push
  took=$(elapsed "$t0" "$t")
  times+=("$took")
  echo "run $i: push to served ${took}s"
done
echo "median of $RUNS: one-line change, git push to served by the router ${times[*]:+$(printf '%s\n' "${times[@]}" | median)}s"
