# Heroku-style build output: "-----> " headers, 7-space indented details,
# " !     " warnings. Sourced by bin/compile.

header() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo " !     $*"; }

# Fails the build with a message (one argument a line) and exit code 1.
fail() {
  local line
  for line in "$@"; do echo " !     $line"; done
  exit 1
}

# Runs a command with its output (stdout and stderr) indented; its exit code is kept (pipefail).
# npm 11 warns about npm_config_build_from_source, which is not its own setting
# but the one prebuild-install and node-pre-gyp read: that line is left out.
run_indented() {
  "$@" 2>&1 | sed -u -e '/^npm warn Unknown env config "build-from-source"/d' -e 's/^/       /'
}
