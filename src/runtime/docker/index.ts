export { createDockerDriver, type DockerDriverOptions } from './docker-driver.ts';
export { type DockerNetwork, dockerNetworkNames, openDockerNetwork } from './docker-network.ts';
export { createEngine, DEFAULT_DOCKER_SOCKET, type Engine, probeEngine } from './engine.ts';
export { type OpenDockerOptions, openDocker } from './open-docker.ts';
export { buildStackImage, DEFAULT_STACK_IMAGE, type StackBuildOptions } from './stack-image.ts';
