// docs/k8s/experiment-job.yaml checked against the Kubernetes API's own schemas (kubernetes-models'
// validate(), JSON schemas generated from the OpenAPI spec), and against the grid its command names:
// one completion per cell, one GPU per pod, a ReadWriteMany volume for data and output.
import { readFileSync } from 'node:fs';
import { Job } from 'kubernetes-models/batch/v1';
import { PersistentVolumeClaim } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const MANIFEST = 'docs/k8s/experiment-job.yaml';
const documents = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
const ofKind = (kind: string) => documents.find((d) => d.kind === kind)!;

/** The value of `--flag` in a shell command line. */
function flag(command: string, name: string): string {
  const m = new RegExp(`--${name} (\\S+)`).exec(command);
  if (!m) throw new Error(`${MANIFEST}: no --${name} in the command`);
  return m[1]!;
}

describe(MANIFEST, () => {
  it('is a valid PersistentVolumeClaim and a valid Job by the Kubernetes schemas', () => {
    expect(documents.map((d) => d.kind)).toEqual(['PersistentVolumeClaim', 'Job']);
    expect(() => new PersistentVolumeClaim(ofKind('PersistentVolumeClaim')).validate()).not.toThrow();
    expect(() => new Job(ofKind('Job')).validate()).not.toThrow();
  });

  it('is checked for real: the validator refuses a broken Job', () => {
    const job = structuredClone(ofKind('Job')) as { spec: Record<string, unknown> };
    job.spec.completions = 'thirty';
    expect(() => new Job(job).validate()).toThrow(/completions/);
  });

  it('runs one pod per cell of its grid, each on one GPU, on a shared ReadWriteMany volume', () => {
    const job = new Job(ofKind('Job'));
    const spec = job.spec!;
    const pod = spec.template.spec!;
    const container = pod.containers[0]!;
    const command = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
    const cells = ['shots', 'variants', 'split-seeds'].map((name) => flag(command, name).split(',').length).reduce((a, b) => a * b, 1);
    expect(spec.completionMode).toBe('Indexed');
    expect(spec.completions).toBe(cells);
    expect(command).toMatch(/--cell "\$JOB_COMPLETION_INDEX"/);
    expect(pod.restartPolicy).toBe('Never'); // required by backoffLimitPerIndex
    expect(container.resources?.limits?.['nvidia.com/gpu']).toBe(1);
    const pvc = new PersistentVolumeClaim(ofKind('PersistentVolumeClaim'));
    expect(pvc.spec?.accessModes).toEqual(['ReadWriteMany']);
    const volume = pod.volumes?.find((v) => v.persistentVolumeClaim?.claimName === pvc.metadata?.name);
    expect(volume, 'the Job mounts the claim').toBeDefined();
    const mount = container.volumeMounts?.find((m) => m.name === volume!.name);
    expect(flag(command, 'data').startsWith(`${mount!.mountPath}/`)).toBe(true);
    expect(flag(command, 'out').startsWith(`${mount!.mountPath}/`)).toBe(true);
  });
});
