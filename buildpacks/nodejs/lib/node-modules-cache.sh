# node_modules kept in the build cache between builds, keyed by what an
# install's result depends on (lockfile, package.json's dependency fields,
# .npmrc & co, Node.js version and ABI, platform, package manager version):
# when the key matches, the install is skipped entirely. One entry is kept
# (the last install's), so the cache never holds more than one node_modules;
# download caches of npm / yarn / pnpm are emptied when they grow past
# DOWNLOAD_CACHE_MAX_MB. Sourced by bin/compile (build_dir, cache_root,
# cache_dir, work_dir).
#
# The entry lives in CACHE_DIR/kept/build-dir/node_modules, with its key and
# prune recording beside build-dir/. A runner may offer build-dir as a
# read-only, copy-on-write layer of BUILD_DIR (Slipway does:
# docs/buildpacks.md, "Layers kept from the last build"); it then says so in
# SLIPWAY_BUILD_LAYER (the names it put in BUILD_DIR) and the restore copies
# nothing. An offered entry is never written during the build (Slipway keeps
# it outside the cache and shows it read-only at kept/): a new one goes to
# kept.next/, which the runner moves over kept/ once the build is done.

DOWNLOAD_CACHE_MAX_MB=${DOWNLOAD_CACHE_MAX_MB:-512}
kept=$cache_root/kept
# Layouts of earlier versions of this buildpack: an install replaces them.
rm -rf "$cache_dir/node_modules" "$cache_dir/node_modules.key.json" "$cache_dir/node_modules.prune"
offered=false
case " ${SLIPWAY_BUILD_LAYER:-} " in
*" node_modules "*) [ ! -d "$build_dir/node_modules" ] || offered=true ;;
esac
if [ "$offered" = false ] && [ -d "$kept.next" ]; then
  # A runner that offered the entry did not get to move the new one in: done here, nothing mounts it now.
  rm -rf "$kept" && mv "$kept.next" "$kept"
fi
rm -rf "$kept.next" # left by a build that failed after saving
# Where the entry, its key and its prune recording are (save_node_modules moves them to what it saved).
entry_paths() {
  cache_entry=$1/build-dir/node_modules
  cache_key_file=$1/node_modules.key.json
  cache_prune=$1/node_modules.prune
}
entry_paths "$kept"
# restored: node_modules came from the cache entry; pruned: so did they, already pruned;
# saved: they are what it holds; else none.
cache_state=none

prune_replay() { env -u NODE_EXTRA_CA_CERTS node "$bp_dir/lib/prune-replay.mjs" "$@"; }
# Whether the entry is stored as pruning leaves it, its devDependencies beside it (prune-replay.mjs split).
entry_split() { grep -qF '"split":true' "$cache_prune/removed.json" 2>/dev/null; }

# Copies the cached node_modules into the build when its key matches; else sets cache_miss_reason.
# With `pruned` (no script of the build needs devDependencies), only what pruning keeps is copied.
restore_node_modules() {
  local differs
  differs=$(app_info cache-key "$build_dir" "$pm_lockfile" "$pm_spec" "$work_dir/key.json" "$cache_key_file") ||
    differs="its key could not be computed"
  if [ "${NODE_MODULES_CACHE:-true}" = "false" ]; then
    cache_miss_reason="NODE_MODULES_CACHE=false: the cache is not used"
  elif [ -z "$pm_lockfile" ]; then
    cache_miss_reason="No lockfile: nothing to cache node_modules by"
  elif [ "$node_modules_in_source" = true ]; then
    cache_miss_reason="node_modules is checked in with the source: the cache is not used"
  elif [ ! -f "$cache_key_file" ] || [ ! -d "$cache_entry" ]; then
    cache_miss_reason="No cached node_modules yet"
  elif [ -n "$differs" ]; then
    cache_miss_reason="Cached node_modules not used: $differs"
  elif [ "$offered" = true ] && { ! entry_split || [ "${1:-}" = pruned ] ||
    prune_replay unprune "$build_dir/node_modules" "$cache_prune"; }; then
    # Already in BUILD_DIR: the runner's copy-on-write view of the entry (split: as pruning leaves it).
    cache_state=restored
    if entry_split && [ "${1:-}" = pruned ]; then
      cache_state=pruned
      sed -n 's/.*"mb_before":\([0-9]*\),"mb_after":\([0-9]*\).*/node_modules: \1 MB with devDependencies, \2 MB without/p' \
        "$cache_prune/removed.json" >"$work_dir/sizes"
    fi
    restore_note=": a copy-on-write view of the cached entry, nothing copied"
    return 0
  elif [ "${1:-}" = pruned ] && [ -f "$cache_prune/removed.json" ] &&
    prune_replay restore "$cache_entry" "$build_dir/node_modules" "$cache_prune" >"$work_dir/sizes"; then
    cache_state=pruned
    return 0
  elif [ "$offered" = false ] && rm -rf "$build_dir/node_modules" &&
    prune_replay copy "$cache_entry" "$build_dir/node_modules" &&
    { ! entry_split || prune_replay unprune "$build_dir/node_modules" "$cache_prune"; }; then
    cache_state=restored
    return 0
  else
    rm -rf "$build_dir/node_modules"
    cache_miss_reason="The cached node_modules could not be copied"
  fi
  # The runner's view of an entry that is not used: out of the build (its whiteouts, never the entry itself).
  if [ "$offered" = true ]; then rm -rf "$build_dir/node_modules"; fi
  return 1
}

# Replaces the cache's entry with this install's node_modules (before the build scripts write into it).
save_node_modules() {
  [ "${NODE_MODULES_CACHE:-true}" != "false" ] && [ -n "$pm_lockfile" ] && [ "$node_modules_in_source" = false ] &&
    [ -d "$build_dir/node_modules" ] || return 0
  # Never over an offered entry: the runner mounts it until the build is done.
  local into=$kept
  [ "$offered" = false ] || into=$kept.next
  rm -rf "$into"
  entry_paths "$into"
  if mkdir -p "$into/build-dir" && cp -a --reflink=auto "$build_dir/node_modules" "$into/node_modules.tmp" &&
    mv "$into/node_modules.tmp" "$cache_entry" && cp "$work_dir/key.json" "$cache_key_file"; then
    cache_state=saved
    info "node_modules cached for the next build ($(du -sm "$cache_entry" | cut -f1) MB)"
  else
    rm -rf "$into"
    warn "node_modules could not be cached (is the cache full?): the next build installs again"
  fi
  local dir size
  for dir in npm yarn yarn-berry pnpm-store; do
    [ -d "$cache_dir/$dir" ] || continue
    size=$(du -sm "$cache_dir/$dir" | cut -f1)
    if [ "$size" -gt "$DOWNLOAD_CACHE_MAX_MB" ]; then
      rm -rf "${cache_dir:?}/$dir"
      info "The $dir download cache had grown to $size MB (over $DOWNLOAD_CACHE_MAX_MB MB): emptied"
    fi
  done
}

# On node_modules restored from the cache: what the first prune of this entry did, again.
replay_prune() {
  [ "$cache_state" = restored ] && [ -f "$cache_prune/removed.json" ] &&
    prune_replay replay "$build_dir/node_modules" "$cache_prune" >"$work_dir/sizes"
}

# The package manager's prune, recorded for the next builds when node_modules are the cache entry's.
prune_and_record() {
  [ "$cache_state" = none ] || prune_replay snapshot "$build_dir/node_modules" "$work_dir/before-prune.json" ||
    cache_state=none
  run_indented pm_prune
  [ "$cache_state" != none ] || return 0
  if prune_replay record "$work_dir/before-prune.json" "$build_dir/node_modules" "$cache_prune.tmp" >"$work_dir/sizes"; then
    rm -rf "$cache_prune"
    mv "$cache_prune.tmp" "$cache_prune"
    # Just saved, by this build: stored pruned from now on, so the next build restores (or is shown) that.
    # The key is away while the entry is split, so an entry half split (a build killed meanwhile) is never used.
    if [ "$cache_state" = saved ]; then
      rm -f "$cache_key_file"
      if prune_replay split "$cache_entry" "$cache_prune"; then
        cp "$work_dir/key.json" "$cache_key_file"
      else
        warn "the cached node_modules could not be stored pruned: the next build installs again"
      fi
    fi
  else
    rm -rf "$cache_prune.tmp"
  fi
}
