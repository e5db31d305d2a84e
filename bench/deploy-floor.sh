#!/usr/bin/env bash
# The physical floor of a deployment: the essential work with nothing else.
# Unpack the archive, start the web process, wait until it accepts TCP on its
# port, run the postdeploy hook, stop the previous process.
# Usage: deploy-floor.sh <archive.tar.gz> <workdir> <port> <old-pid|0>; prints the new pid.
set -euo pipefail
archive=$1 dir=$2 port=$3 old=$4
mkdir -p "$dir"
tar -xzf "$archive" -C "$dir"
cd "$dir"
PORT=$port setsid node server.js >/dev/null 2>&1 &
pid=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.005; done
sh -c true
if [[ $old != 0 ]]; then kill "$old" 2>/dev/null || true; fi
echo "$pid"
