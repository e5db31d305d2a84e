// The start of a command line that runs a fixed shell script as root in a
// private mount namespace: mounts it makes never show on the host and go
// with the namespace's last process. The script's data are its arguments
// ($1, ...), never interpolated; it usually ends by exec'ing the rest.

export function inPrivateMounts(script: string, name: string, unshare = 'unshare'): string[] {
  return [unshare, '--mount', '--propagation', 'private', '/bin/sh', '-c', script, name];
}
