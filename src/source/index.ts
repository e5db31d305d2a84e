// Source intake: turning what a user sends into a directory to build.

export { anyDestination, publicOnly } from './check-destination.ts';
export { DEFAULT_LIMITS, type ExtractLimits } from './check-entry.ts';
export { checkTarball, type ExtractStats, extractTarball } from './extract-tarball.ts';
export { gitBuildpackFetcher } from './fetch-buildpack-repo.ts';
export { DEFAULT_FETCH_TIMEOUTS } from './fetch-url.ts';
export { unwrapSingleTopDir } from './unwrap-single-top-dir.ts';
