export { type OpenSwarmOptions, openSwarm, swarmMissing } from './open-swarm.ts';
export {
  createReleaseImages,
  type ReleaseImages,
  type ReleaseImagesOptions,
  releaseImageName,
} from './release-image.ts';
export { createSwarmDriver, type SwarmDriverOptions } from './swarm-driver.ts';
