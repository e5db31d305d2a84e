// The one process a build is: a fixed shell script that runs the buildpacks
// (Heroku buildpack API v2) in the build's sandbox, as Heroku runs them in one
// build container. It trims the app's cache to its cap (oldest buildpack
// caches out; the cache's size is one statfs when it is a file system of its
// own, its image, and a `du` walk only when that says it may be over), copies each buildpack into a private writable folder (so it can
// write its `export` file), detects (`bin/detect BUILD_DIR`), compiles
// (`bin/compile BUILD_DIR CACHE_DIR ENV_DIR`, with every earlier buildpack's
// `export` sourced first) and asks for the release (`bin/release BUILD_DIR`).
// It tells the host what happened through lines that start with a random
// nonce (never shown in the log); everything else is build output.

/**
 * Arguments: nonce, build dir, cache root, env dir, cache cap (KiB), mode (auto|listed), the cache
 * key of the buildpack whose kept layer is in the build dir (or ''), the names that layer put there,
 * then pairs of (buildpack folder, cache key). That buildpack is the first pair; it is told in
 * SLIPWAY_BUILD_LAYER, and its cache is never evicted meanwhile (the layer is mounted from it); when
 * another buildpack detects the app, the layer's names are removed from the build dir first.
 */
export const DRIVER_SCRIPT = `
_sw_nonce=$1 _sw_build=$2 _sw_cache=$3 _sw_env=$4 _sw_cap=$5 _sw_mode=$6 _sw_offer=$7 _sw_names=$8
shift 8
_sw_mark() { printf '%s %s\\n' "$_sw_nonce" "$*"; }
_sw_size() { du -sk "$_sw_cache" 2>/dev/null | cut -f1; }
_sw_used() {
  if mountpoint -q "$_sw_cache" 2>/dev/null; then
    stat -f -c '%b %f %S' "$_sw_cache" | { read -r _b _f _s && echo $(((_b - _f) * _s / 1024)); }
  else
    _sw_size
  fi
}
_sw_unoffer() {
  [ -n "$_sw_offer" ] || return 0
  for _sw_n in $_sw_names; do rm -rf "\${_sw_build:?}/$_sw_n" || exit 74; done
  _sw_offer=
}
_sw_work=$(mktemp -d) || exit 70
trap 'rm -rf "$_sw_work"' EXIT
mkdir -p "$_sw_cache/buildpacks" || exit 71
_sw_kib=$(_sw_used)
[ "\${_sw_kib:-0}" -le "$_sw_cap" ] || _sw_kib=$(_sw_size)
while [ "$_sw_kib" -gt "$_sw_cap" ]; do
  _sw_oldest=$(ls -1tr "$_sw_cache/buildpacks" | grep -vxF -e "\${_sw_offer:-/}" | head -n 1)
  [ -n "$_sw_oldest" ] || break
  rm -rf "$_sw_cache/buildpacks/$_sw_oldest"
  _sw_mark evicted "$_sw_oldest"
  _sw_kib=$(_sw_size)
done
_sw_mark cache "$_sw_kib" "$(ls -1 "$_sw_cache/buildpacks" | wc -l)"
_sw_name=
if [ "$_sw_mode" = auto ]; then
  _sw_found= _sw_c=0
  while [ $# -gt 0 ]; do
    if [ -x "$1/bin/detect" ] && _sw_name=$("$1/bin/detect" "$_sw_build" </dev/null); then
      _sw_found=1
      _sw_mark detected "$_sw_c"
      [ "$_sw_c" -eq 0 ] || _sw_unoffer
      set -- "$1" "$2"
      break
    fi
    _sw_c=$((_sw_c + 1))
    shift 2
  done
  if [ -z "$_sw_found" ]; then _sw_mark none; exit 0; fi
fi
_sw_i=0
while [ $# -gt 0 ]; do
  _sw_bp="$_sw_work/$_sw_i"
  _sw_bpcache="$_sw_cache/buildpacks/$2"
  cp -R "$1" "$_sw_bp" || exit 72
  shift 2
  if [ "$_sw_mode" != auto ]; then
    _sw_name=
    if [ -x "$_sw_bp/bin/detect" ]; then _sw_name=$("$_sw_bp/bin/detect" "$_sw_build" </dev/null) || :; fi
  fi
  _sw_mark compile "$_sw_i" "$(printf '%s' "$_sw_name" | head -n 1)"
  if [ ! -x "$_sw_bp/bin/compile" ]; then _sw_mark failed "$_sw_i" compile missing; exit 0; fi
  mkdir -p "$_sw_bpcache" && touch "$_sw_bpcache" || exit 73
  (
    _sw_j=0
    while [ "$_sw_j" -lt "$_sw_i" ]; do
      if [ -f "$_sw_work/$_sw_j/export" ]; then . "$_sw_work/$_sw_j/export"; fi
      _sw_j=$((_sw_j + 1))
    done
    if [ "$_sw_i" -eq 0 ] && [ -n "$_sw_offer" ]; then export SLIPWAY_BUILD_LAYER="$_sw_names"; fi
    exec "$_sw_bp/bin/compile" "$_sw_build" "$_sw_bpcache" "$_sw_env"
  ) </dev/null
  _sw_code=$?
  if [ "$_sw_code" -ne 0 ]; then _sw_mark failed "$_sw_i" compile "$_sw_code"; exit 0; fi
  if [ -x "$_sw_bp/bin/release" ]; then
    _sw_out=$("$_sw_bp/bin/release" "$_sw_build" </dev/null)
    _sw_code=$?
    if [ "$_sw_code" -ne 0 ]; then _sw_mark failed "$_sw_i" release "$_sw_code"; exit 0; fi
    _sw_mark release "$_sw_i" "$(printf '%s' "$_sw_out" | base64 | tr -d '\\n')"
  fi
  _sw_i=$((_sw_i + 1))
done
_sw_mark done
`;

/** What the driver reported, in the order it did. */
export type DriverEvent =
  | { readonly kind: 'evicted'; readonly key: string }
  /** The cache's size before the build, and how many buildpack caches it holds. */
  | { readonly kind: 'cache'; readonly kib: number; readonly buildpacks: number }
  | { readonly kind: 'none' }
  /** Auto mode: the candidate (by its place in the arguments) that detected the app; it runs as number 0. */
  | { readonly kind: 'detected'; readonly index: number }
  | { readonly kind: 'compile'; readonly index: number; readonly name: string }
  | {
      readonly kind: 'failed';
      readonly index: number;
      readonly phase: 'compile' | 'release';
      /** The exit code, or null when the script is missing. */
      readonly code: number | null;
    }
  | { readonly kind: 'release'; readonly index: number; readonly yaml: string }
  | { readonly kind: 'done' };

/** The event a line of the driver's stdout carries, or null for a line of build output. */
export function parseDriverLine(nonce: string, line: string): DriverEvent | null {
  if (!line.startsWith(`${nonce} `)) return null;
  const [verb = '', ...rest] = line.slice(nonce.length + 1).split(' ');
  const index = Number(rest[0]);
  switch (verb) {
    case 'evicted':
      return { kind: 'evicted', key: rest.join(' ') };
    case 'cache':
      return { kind: 'cache', kib: Number(rest[0]) || 0, buildpacks: Number(rest[1]) || 0 };
    case 'none':
      return { kind: 'none' };
    case 'done':
      return { kind: 'done' };
    case 'detected':
      return { kind: 'detected', index };
    case 'compile':
      return { kind: 'compile', index, name: rest.slice(1).join(' ').trim() };
    case 'failed':
      return {
        kind: 'failed',
        index,
        phase: rest[1] === 'release' ? 'release' : 'compile',
        code: rest[2] === 'missing' ? null : Number(rest[2]),
      };
    case 'release':
      return { kind: 'release', index, yaml: Buffer.from(rest[1] ?? '', 'base64').toString('utf8') };
    default:
      return null;
  }
}
