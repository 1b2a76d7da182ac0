// `find-capacity k8s`: the manifests of a distributed run on Kubernetes. A ConfigMap holds the profile, an Indexed Job
// runs N agents (stable names through a headless Service), a Job runs the controller against them; the API key and the
// agent token come from a Secret the user creates, never from the manifests (docs/distributed.md).
import { dump } from 'js-yaml';
import { ToolError } from '../errors.ts';
import { AGENT_TOKEN_ENV, DEFAULT_AGENT_PORT } from '../load/agent-protocol.ts';
import type { Profile } from '../profile/types.ts';
import { isSecretHeader } from '../util/secrets.ts';
import { TOOL_VERSION } from '../version.ts';

export interface K8sOptions {
  agents: number;
  image: string;
  namespace: string | null;
  /** The Secret holding `agent-token` (and `api-key` when the profile names target.api_key_env). */
  secret: string;
}

export const DEFAULT_IMAGE = `find-capacity:${TOOL_VERSION}`;
export const DEFAULT_SECRET = 'find-capacity';
const PROFILE_DIR = '/etc/find-capacity';
const REPORTS_DIR = '/reports';
/** Time for scheduling and image pulls on top of the run's own limit. */
const DEADLINE_MARGIN_S = 900;

type Manifest = Record<string, unknown>;

/** A DNS-1123 label from the profile name: lower case, digits and '-', short enough for pod names with an index. */
export function resourceBase(profileName: string): string {
  const clean = profileName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return `fc-${clean || 'run'}`;
}

/** The addresses the controller reaches the agents at: pod hostname `<job>-<index>` under the headless Service. */
export function agentUrls(base: string, n: number): string[] {
  return Array.from({ length: n }, (_, k) => `ws://${base}-agent-${k}.${base}-agents:${DEFAULT_AGENT_PORT}`);
}

function labels(base: string, component: 'agent' | 'controller') {
  return {
    'app.kubernetes.io/name': 'find-capacity',
    'app.kubernetes.io/instance': base,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/version': TOOL_VERSION,
  };
}

function metadata(name: string, o: K8sOptions, extra: Record<string, unknown> = {}) {
  return { name, ...(o.namespace ? { namespace: o.namespace } : {}), ...extra };
}

const fromSecret = (name: string, secret: string, key: string) => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key } },
});

const SECURITY = {
  runAsNonRoot: true,
  runAsUser: 1000,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

function agentJob(base: string, o: K8sOptions, deadlineS: number): Manifest {
  const podLabels = labels(base, 'agent');
  const selector = { 'app.kubernetes.io/instance': base, 'app.kubernetes.io/component': 'agent' };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadata(`${base}-agent`, o, { labels: podLabels }),
    spec: {
      completionMode: 'Indexed',
      completions: o.agents,
      parallelism: o.agents,
      backoffLimit: 0,
      activeDeadlineSeconds: deadlineS,
      template: {
        metadata: { labels: podLabels },
        spec: {
          subdomain: `${base}-agents`,
          restartPolicy: 'Never',
          // One agent per node where the cluster allows: the point is more machines.
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } },
                },
              ],
            },
          },
          containers: [
            {
              name: 'agent',
              image: o.image,
              args: ['agent', '--listen', `0.0.0.0:${DEFAULT_AGENT_PORT}`, '--once'],
              ports: [{ name: 'agent', containerPort: DEFAULT_AGENT_PORT }],
              env: [fromSecret(AGENT_TOKEN_ENV, o.secret, 'agent-token')],
              readinessProbe: { tcpSocket: { port: DEFAULT_AGENT_PORT }, periodSeconds: 2 },
              resources: { requests: { cpu: '1', memory: '512Mi' } },
              securityContext: SECURITY,
            },
          ],
        },
      },
    },
  };
}

function agentService(base: string, o: K8sOptions): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(`${base}-agents`, o, { labels: labels(base, 'agent') }),
    spec: {
      clusterIP: 'None',
      // Names resolve before the agents are ready: the controller retries until they listen.
      publishNotReadyAddresses: true,
      selector: { 'app.kubernetes.io/instance': base, 'app.kubernetes.io/component': 'agent' },
      ports: [{ name: 'agent', port: DEFAULT_AGENT_PORT, targetPort: DEFAULT_AGENT_PORT }],
    },
  };
}

function controllerJob(base: string, profile: Profile, o: K8sOptions, deadlineS: number): Manifest {
  const env = [fromSecret(AGENT_TOKEN_ENV, o.secret, 'agent-token')];
  if (profile.target.apiKeyEnv) env.push(fromSecret(profile.target.apiKeyEnv, o.secret, 'api-key'));
  const args = [`${PROFILE_DIR}/profile.yaml`, '--agents', agentUrls(base, o.agents).join(',')];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadata(`${base}-controller`, o, { labels: labels(base, 'controller') }),
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: deadlineS,
      template: {
        metadata: { labels: labels(base, 'controller') },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'controller',
              image: o.image,
              args: [...args, '--agents-wait', String(DEADLINE_MARGIN_S), '--out', REPORTS_DIR],
              env,
              volumeMounts: [
                { name: 'profile', mountPath: PROFILE_DIR, readOnly: true },
                { name: 'reports', mountPath: REPORTS_DIR },
              ],
              resources: { requests: { cpu: '1', memory: '1Gi' } },
              securityContext: SECURITY,
            },
          ],
          // Replace with a PersistentVolumeClaim to keep the run directory after the pod ends.
          volumes: [
            { name: 'profile', configMap: { name: `${base}-profile` } },
            { name: 'reports', emptyDir: {} },
          ],
        },
      },
    },
  };
}

/** The manifests as one multi-document YAML text, and warnings about what will not work in a cluster. */
export function k8sManifests(
  profile: Profile,
  profileText: string,
  o: K8sOptions,
): { yaml: string; manifests: Manifest[]; warnings: string[] } {
  const secretHeaders = Object.keys(profile.target.headers).filter(isSecretHeader);
  if (secretHeaders.length > 0)
    throw new ToolError(
      'invalid_arguments',
      `the profile carries credentials in target.headers (${secretHeaders.join(', ')}): they would land in a ConfigMap`,
      'name the key variable in target.api_key_env; the manifests read it from a Secret',
    );
  const base = resourceBase(profile.name);
  const deadlineS = Math.ceil(profile.limits.maxDurationMs / 1000) + DEADLINE_MARGIN_S;
  const manifests: Manifest[] = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: metadata(`${base}-profile`, o, { labels: labels(base, 'controller') }),
      data: { 'profile.yaml': profileText },
    },
    agentService(base, o),
    agentJob(base, o, deadlineS),
    controllerJob(base, profile, o, deadlineS),
  ];
  const warnings = k8sWarnings(profile);
  const yaml = manifests.map((m) => dump(m, { lineWidth: -1, noRefs: true })).join('---\n');
  return { yaml, manifests, warnings };
}

function k8sWarnings(profile: Profile): string[] {
  const warnings: string[] = [];
  if (profile.target.simulator)
    warnings.push(
      'the target is the built-in simulator, which listens on the controller pod’s 127.0.0.1: agents in other pods ' +
        'cannot reach it; set target.base_url to a service in the cluster',
    );
  if (profile.request.source !== 'inline')
    warnings.push(
      `request.prompts_file (${profile.request.source}) is not in the ConfigMap: mount it and adjust the path`,
    );
  return warnings;
}
