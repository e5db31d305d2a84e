# The package manager's commands, by lockfile: npm (bundled with Node.js),
# yarn 1, yarn 2+ or pnpm through corepack. Sourced by bin/compile, which sets
# build_dir, cache_dir, work_dir and npm_version. setup_package_manager NAME SPEC defines
# pm_install, pm_run SCRIPT, pm_prune, and pm_label, pm_lockfile.

setup_package_manager() {
  pm_name=$1
  pm_spec=$2
  case $pm_name in
  npm)
    pm_lockfile=''
    [ ! -f npm-shrinkwrap.json ] || pm_lockfile=npm-shrinkwrap.json
    [ ! -f package-lock.json ] || pm_lockfile=package-lock.json
    pm_label="npm $npm_version (bundled with Node.js)"
    ;;
  yarn | pnpm)
    pm_lockfile=yarn.lock
    [ "$pm_name" = yarn ] || pm_lockfile=pnpm-lock.yaml
    [ -f "$pm_lockfile" ] || pm_lockfile=''
    # Download caches live in the build cache.
    export YARN_CACHE_FOLDER=$cache_dir/yarn YARN_GLOBAL_FOLDER=$cache_dir/yarn-berry YARN_ENABLE_TELEMETRY=0
    # pnpm's store too; `copy` keeps the slug's files from being hard links into it.
    pnpm_options=(--config.confirm-modules-purge=false --config.package-import-method=copy --config.store-dir="$cache_dir/pnpm-store")
    export COREPACK_HOME=$cache_dir/corepack
    export COREPACK_ENABLE_DOWNLOAD_PROMPT=0 COREPACK_ENABLE_AUTO_PIN=0 COREPACK_ENABLE_STRICT=0
    export COREPACK_NPM_REGISTRY=${COREPACK_NPM_REGISTRY:-${npm_config_registry:-https://registry.npmjs.org}}
    # Registry mirrors carry no npm signatures; corepack still checks the tarball's integrity hash.
    export COREPACK_INTEGRITY_KEYS=${COREPACK_INTEGRITY_KEYS-0}
    # `yarn` / `pnpm` inside the app's scripts run the same version.
    mkdir -p "$work_dir/bin"
    printf '#!/bin/sh\nexec corepack %s "$@"\n' "$pm_spec" >"$work_dir/bin/$pm_name"
    chmod +x "$work_dir/bin/$pm_name"
    export PATH="$work_dir/bin:$PATH"
    local version
    version=$("$pm_name" --version 2>&1) || fail "corepack could not get $pm_spec from $COREPACK_NPM_REGISTRY:" "$version"
    pm_label="$pm_name $version (through corepack, $pm_spec)"
    [ "$pm_name" = pnpm ] || [[ $version == 1.* ]] || pm_name=yarn-berry
    ;;
  esac
  [ -n "$pm_lockfile" ] || warn "No lockfile: dependencies are resolved afresh on every build, and not cached. Commit your lockfile."
}

production_only() {
  [ "${NPM_CONFIG_PRODUCTION:-${npm_config_production:-}}" = "true" ] || [ "${YARN_PRODUCTION:-}" = "true" ]
}

# NODE_ENV=production would make every package manager leave devDependencies
# out; the build needs them (they are pruned afterwards), unless
# NPM_CONFIG_PRODUCTION=true / YARN_PRODUCTION=true says otherwise, as on Heroku.
pm_install() {
  case $pm_name in
  npm)
    local dev=(--include=dev)
    ! production_only || dev=()
    if [ -n "$pm_lockfile" ]; then npm ci "${dev[@]}"; else npm install "${dev[@]}"; fi
    ;;
  yarn)
    local args=(install --non-interactive --production=false)
    ! production_only || args=(install --non-interactive --production=true)
    [ -z "$pm_lockfile" ] || args+=(--frozen-lockfile)
    yarn "${args[@]}"
    ;;
  yarn-berry)
    local immutable=(--immutable)
    [ -n "$pm_lockfile" ] || immutable=()
    yarn install "${immutable[@]}"
    ;;
  pnpm)
    local frozen=(--frozen-lockfile)
    [ -n "$pm_lockfile" ] || frozen=()
    local prod=(--prod=false)
    ! production_only || prod=(--prod)
    pnpm install "${frozen[@]}" "${prod[@]}" "${pnpm_options[@]}"
    ;;
  esac
}

pm_run() {
  case $pm_name in
  npm) npm run "$1" ;;
  yarn | yarn-berry) yarn run "$1" ;;
  pnpm) pnpm run "$1" ;;
  esac
}

pm_prune() {
  case $pm_name in
  npm) npm prune --omit=dev ;;
  yarn) yarn install --frozen-lockfile --production=true --ignore-scripts --prefer-offline --non-interactive ;;
  yarn-berry)
    if yarn workspaces focus --help >/dev/null 2>&1; then
      yarn workspaces focus --all --production
    else
      echo "this yarn cannot prune (yarn workspaces focus is yarn 4's, or a plugin's): devDependencies are kept"
    fi
    ;;
  pnpm) pnpm prune --prod "${pnpm_options[@]}" ;;
  esac
}
