// Source intake: turning what a user sends into a directory to build.

export { DEFAULT_LIMITS, type ExtractLimits } from './check-entry.ts';
export { checkTarball, type ExtractStats, extractTarball } from './extract-tarball.ts';
export { unwrapSingleTopDir } from './unwrap-single-top-dir.ts';
