// What one container of Slipway is on Swarm: a service of its own (named after
// the home and the container's id, labelled like the docker driver's
// containers). A process type's container is a replicated service of one
// task, which Swarm restarts when it fails (`on-failure`), on whichever node
// it picks. A one-off run, the release phase or the postdeploy hook is a
// `replicated-job` of one completion, one task at a time, never restarted
// (condition `none`): a task that started is never started again, even when
// its node is lost (docs/scale-out.md, "The hook runs at most once").

import type { ContainerLimits } from '../../core/container-size.ts';

/** The containers that run once: a one-off run, the release phase, the postdeploy hook. */
export function runsOnce(containerName: string): boolean {
  return /^(one-off|postdeploy|release)-/.test(containerName);
}

export interface ServiceSpecInput {
  readonly name: string;
  readonly image: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly user: { readonly uid: number; readonly gid: number };
  readonly hostname: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly limits: ContainerLimits;
  /** Published on the task's node at the same number (host mode: no routing mesh). */
  readonly port: number | undefined;
  readonly once: boolean;
  /** How long Swarm waits after SIGTERM before SIGKILL when it stops a task itself. */
  readonly stopGraceMs: number;
}

const NS_PER_MS = 1_000_000;
/** Between a failed task and its replacement: time enough for a stop to scale it to zero first. */
const RESTART_DELAY_MS = 1000;

export function serviceSpec(input: ServiceSpecInput) {
  return {
    Name: input.name,
    Labels: input.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: input.image,
        Command: input.argv,
        Env: Object.entries(input.env).map(([k, v]) => `${k}=${v}`),
        Dir: '/app',
        User: `${input.user.uid}:${input.user.gid}`,
        Hostname: input.hostname,
        Labels: input.labels,
        Init: true, // docker-init (tini) as pid 1: signals reach the command, orphans are reaped
        StopGracePeriod: input.stopGraceMs * NS_PER_MS,
        CapabilityDrop: ['ALL'],
      },
      // Swarm has no CPU weight (only reservations, which would bound how many tasks fit a node).
      Resources: { Limits: { MemoryBytes: input.limits.memoryBytes, Pids: input.limits.pids } },
      RestartPolicy: input.once
        ? { Condition: 'none', MaxAttempts: 0 }
        : { Condition: 'on-failure', Delay: RESTART_DELAY_MS * NS_PER_MS, MaxAttempts: 0 },
      LogDriver: { Name: 'json-file', Options: { 'max-size': '10m', 'max-file': '2' } },
    },
    Mode: input.once ? { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } } : { Replicated: { Replicas: 1 } },
    EndpointSpec: {
      // No routing mesh (it needs IPVS): no virtual IP, and the port published on the task's own node.
      Mode: 'dnsrr',
      Ports:
        input.port === undefined
          ? []
          : [{ Protocol: 'tcp', TargetPort: input.port, PublishedPort: input.port, PublishMode: 'host' }],
    },
  };
}
