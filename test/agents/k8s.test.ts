// `find-capacity k8s`: the manifests validate against the Kubernetes API schema (kubernetes-models), the agents are an
// Indexed Job whose pods the controller reaches by stable names, and secrets come only from Secret references.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { describe, expect, it } from 'vitest';
import { k8sManifests } from '../../src/controller/k8s.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { ROOT, runCli, tempDir, writeProfile } from '../helpers.ts';

type Doc = { kind: string; metadata: { name: string }; [k: string]: unknown };

/** Validates one manifest against the API schema; throws with the schema's complaint. */
function validate(doc: Doc): void {
  const model = { ConfigMap, Service, Job }[doc.kind as 'ConfigMap' | 'Service' | 'Job'];
  if (!model) throw new Error(`unexpected kind ${doc.kind}`);
  new model(doc as never).validate();
}

// Loose views of the parts the assertions read.
interface PodSpec {
  subdomain?: string;
  restartPolicy: string;
  containers: {
    args: string[];
    env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  }[];
  volumes?: { name: string; configMap?: { name: string } }[];
}
interface JobDoc extends Doc {
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

describe('find-capacity k8s', () => {
  it('profiles/demo.yaml --agents 4: schema-valid YAML, an Indexed Job of 4 agents the controller can name', async () => {
    const r = await runCli(['k8s', 'profiles/demo.yaml', '--agents', '4', '--namespace', 'load-test']);
    expect(r.code).toBe(0);
    const docs = loadAll(r.stdout) as Doc[];
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      'ConfigMap/fc-demo-profile',
      'Service/fc-demo-agents',
      'Job/fc-demo-agent',
      'Job/fc-demo-controller',
    ]);
    for (const d of docs) expect(() => validate(d), d.kind).not.toThrow();
    const [config, service, agents, controller] = docs as [Doc, Doc, JobDoc, JobDoc];
    expect(r.stdout).toContain('completionMode: Indexed');
    expect(agents.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4 });
    // The profile travels whole; the agents' names resolve through the headless Service that selects them.
    expect((config as unknown as { data: Record<string, string> }).data['profile.yaml']).toBe(
      readFileSync(join(ROOT, 'profiles/demo.yaml'), 'utf8'),
    );
    const svc = service as unknown as { spec: { clusterIP: string; selector: Record<string, string> } };
    expect(svc.spec.clusterIP).toBe('None');
    expect(agents.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    expect(agents.spec.template.spec.subdomain).toBe('fc-demo-agents');
    const agentArgs = agents.spec.template.spec.containers[0]!.args;
    expect(agentArgs).toEqual(['agent', '--listen', '0.0.0.0:7070', '--once']);
    const args = controller.spec.template.spec.containers[0]!.args;
    const urls = args[args.indexOf('--agents') + 1]!.split(',');
    expect(urls).toEqual([0, 1, 2, 3].map((k) => `ws://fc-demo-agent-${k}.fc-demo-agents:7070`));
    expect(controller.spec.template.spec.volumes?.[0]?.configMap?.name).toBe('fc-demo-profile');
    for (const d of docs) expect((d.metadata as { namespace?: string }).namespace).toBe('load-test');
    // The demo's target is the built-in simulator: it is said that agents in other pods cannot reach it.
    expect(r.stderr).toMatch(/warning: the target is the built-in simulator/);
  });

  it('the API key and the agent token come from Secret references, never inline', async () => {
    const dir = tempDir();
    const text = `name: Prod Endpoint
target: {base_url: "http://llm.internal:8000/v1", model: m, api_key_env: LLM_KEY}
request: {messages: [{role: user, content: hi}]}
ramp: {concurrency: [8, 16]}
slo: ["p99(ttft) < 1s"]
`;
    const { profile } = await loadProfile(writeProfile(dir, 'p.yaml', text), { env: { LLM_KEY: 'sk-not-used' } });
    const { manifests, yaml, warnings } = k8sManifests(profile, text, {
      agents: 2,
      image: 'registry.example/find-capacity:0.1.0',
      namespace: null,
      secret: 'llm-load',
    });
    expect(warnings).toEqual([]);
    for (const d of manifests) expect(() => validate(d as Doc)).not.toThrow();
    const jobs = manifests.filter((m) => m.kind === 'Job') as unknown as JobDoc[];
    const envOf = (j: JobDoc) => j.spec.template.spec.containers[0]!.env;
    expect(envOf(jobs[0]!)).toEqual([
      { name: 'FIND_CAPACITY_AGENT_TOKEN', valueFrom: { secretKeyRef: { name: 'llm-load', key: 'agent-token' } } },
    ]);
    expect(envOf(jobs[1]!)).toEqual([
      { name: 'FIND_CAPACITY_AGENT_TOKEN', valueFrom: { secretKeyRef: { name: 'llm-load', key: 'agent-token' } } },
      { name: 'LLM_KEY', valueFrom: { secretKeyRef: { name: 'llm-load', key: 'api-key' } } },
    ]);
    expect(yaml).not.toMatch(/sk-not-used|\bvalue:/);
    expect(jobs[0]!.metadata.name).toBe('fc-prod-endpoint-agent');
  });

  it('refuses a profile whose headers carry credentials (they would land in the ConfigMap)', async () => {
    const dir = tempDir();
    const text = `target: {base_url: "http://llm.internal:8000/v1", model: m, headers: {Authorization: "Bearer abc123456"}}
request: {messages: [{role: user, content: hi}]}
ramp: {concurrency: [8]}
`;
    const file = writeProfile(dir, 'p.yaml', text);
    const r = await runCli(['k8s', file, '--agents', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/credentials in target.headers \(Authorization\): they would land in a ConfigMap/);
    expect(r.stdout + r.stderr).not.toContain('abc123456');
  });

  it('the schema check is real: a broken Job is rejected', () => {
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'x' }, spec: { completionMode: 'Sometimes' } };
    expect(() => validate(job as unknown as Doc)).toThrow(/completionMode/);
  });
});
