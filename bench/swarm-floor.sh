#!/bin/bash
# The floor of a deployment on Swarm (bench/swarm-overhead.ts): what a shell
# script does with the docker CLI for the same app and image, no platform:
# the hook as a replicated job (waited for until complete), then the web
# service updated (a new task of the same image) until the new task answers.
# usage: swarm-floor.sh IMAGE WEB_SERVICE PORT LABEL
set -euo pipefail
image=$1 web=$2 port=$3 label=$4
job="$web-hook-$label"
docker service create -d -q --name "$job" --mode replicated-job --restart-condition none \
  --init --user 65001:65001 --workdir /app "$image" /bin/sh -c true >/dev/null
until docker service ps --format '{{.CurrentState}}' "$job" | grep -q '^Complete'; do sleep 0.05; done
docker service rm "$job" >/dev/null
docker service update -d -q --env-add "LABEL=$label" "$web" >/dev/null
until [ "$(curl -s "127.0.0.1:$port" || true)" = "$label" ]; do sleep 0.05; done
