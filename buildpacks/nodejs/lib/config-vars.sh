# Exports the app's config vars (ENV_DIR: one file a variable, its content the
# value) into the build, as Heroku's Node.js buildpack does, so that build
# tools see them (VITE_*, NEXT_PUBLIC_*, NODE_ENV, NPM_CONFIG_*...). Names that
# would change how the build itself runs rather than what it builds are
# skipped: Heroku's list (PATH, GIT_DIR, CPATH, CPPATH, LD_PRELOAD,
# LIBRARY_PATH, LANG, BUILD_DIR), the other buildpack API directories
# (CACHE_DIR, ENV_DIR), the runner's SLIPWAY_BUILD_LAYER, and HOME, LD_LIBRARY_PATH, and the variables that
# change the shell running this script (IFS, BASH_ENV, ENV, SHELLOPTS,
# BASHOPTS, CDPATH, GLOBIGNORE, PS4, BASH_*, UID, EUID, PPID), and names that
# are not shell identifiers.

__cv_skipped='^(PATH|GIT_DIR|CPATH|CPPATH|LD_PRELOAD|LIBRARY_PATH|LANG|BUILD_DIR|CACHE_DIR|ENV_DIR|SLIPWAY_BUILD_LAYER|HOME|LD_LIBRARY_PATH|IFS|BASH_ENV|ENV|SHELLOPTS|BASHOPTS|CDPATH|GLOBIGNORE|PS4|BASH_.*|UID|EUID|PPID)$'

# export_config_vars ENV_DIR: sets __cv_exported and __cv_ignored (names, space-separated).
# Its own variables have names no config var is expected to have, since a
# local of the same name would swallow the export.
export_config_vars() {
  local __cv_dir=$1 __cv_file __cv_name
  __cv_exported=''
  __cv_ignored=''
  [ -n "$__cv_dir" ] && [ -d "$__cv_dir" ] || return 0
  for __cv_file in "$__cv_dir"/*; do
    [ -f "$__cv_file" ] || continue
    __cv_name=${__cv_file##*/}
    if ! [[ $__cv_name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [[ $__cv_name =~ $__cv_skipped ]] ||
      [[ $__cv_name == __cv_* ]]; then
      __cv_ignored="$__cv_ignored $__cv_name"
      continue
    fi
    # The value is data: assigned, never evaluated. $(<file) drops trailing newlines, as Heroku's does.
    export "$__cv_name=$(<"$__cv_file")"
    __cv_exported="$__cv_exported $__cv_name"
  done
}
