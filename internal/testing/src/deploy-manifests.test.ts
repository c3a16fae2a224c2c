import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * Repo-level hygiene: the Kubernetes manifests in deploy/k8s must keep every
 * service deployable the way the brain expects (health paths, non-root,
 * limits, migrations by the Job, sticky /ws routing). Parses the YAML; needs
 * no cluster.
 */

const K8S_DIR = fileURLToPath(new URL('../../../deploy/k8s/', import.meta.url));
const SERVICES = ['gateway', 'ingest', 'api', 'workers', 'scheduler-bridge'] as const;
const HTTP_PORT = 7700;
/** Files kustomization.yaml deliberately leaves out, with the reason in each file. */
const NOT_IN_KUSTOMIZATION = ['kustomization.yaml', 'secret.example.yaml', 'servicemonitor.yaml'];

interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: unknown };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  securityContext?: SecurityContext;
  enableServiceLinks?: boolean;
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  volumes?: { name: string; emptyDir?: object }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: PodSpec;
}
interface DeploymentSpec {
  replicas?: number;
  selector: { matchLabels: Record<string, string> };
  strategy?: { rollingUpdate?: { maxUnavailable?: number | string } };
  template: PodTemplate;
}
interface ServiceSpec {
  selector: Record<string, string>;
  ports: { name?: string; port: number; targetPort: string | number }[];
}
interface IngressBackend {
  service: { name: string; port: { name?: string; number?: number } };
}
interface IngressSpec {
  ingressClassName?: string;
  rules: { host?: string; http: { paths: { path: string; pathType: string; backend: IngressBackend }[] } }[];
}

interface Loaded {
  file: string;
  doc: Manifest;
}

function loadManifests(): { files: string[]; docs: Loaded[] } {
  const files = readdirSync(K8S_DIR)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort();
  const docs: Loaded[] = [];
  for (const file of files) {
    const text = readFileSync(join(K8S_DIR, file), 'utf8');
    const documents = parseAllDocuments(text);
    for (const document of documents) if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
    for (const doc of documents.map((document) => document.toJS() as unknown)) {
      if (doc !== null && doc !== undefined) docs.push({ file, doc: doc as Manifest });
    }
  }
  return { files, docs };
}

const { files, docs } = loadManifests();

function find(kind: string, name: string): Manifest {
  const match = docs.filter(({ doc }) => doc.kind === kind && doc.metadata.name === name);
  expect(match, `exactly one ${kind} ${name}`).toHaveLength(1);
  return match[0]!.doc;
}

function all(kind: string): Manifest[] {
  return docs.filter(({ doc }) => doc.kind === kind).map(({ doc }) => doc);
}

function labelsOf(service: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'z4j', 'app.kubernetes.io/component': service };
}

/** The value a container sees for `name`: explicit env wins over envFrom ConfigMaps. */
function effectiveEnv(container: Container, name: string): string | undefined {
  const explicit = container.env?.find((entry) => entry.name === name);
  if (explicit) return explicit.value;
  for (const source of container.envFrom ?? []) {
    if (!source.configMapRef) continue;
    const value = find('ConfigMap', source.configMapRef.name).data?.[name];
    if (value !== undefined) return value;
  }
  return undefined;
}

function probePort(container: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  if (typeof port === 'number') return port;
  return container.ports?.find((entry) => entry.name === port)?.containerPort;
}

/** A pod must run non-root, read-only, with nothing extra, and write only to mounted volumes. */
function expectLockedDown(pod: PodSpec, container: Container): void {
  const runAsNonRoot = container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
  const runAsUser = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
  expect(runAsNonRoot, `${container.name}: runAsNonRoot`).toBe(true);
  expect(runAsUser, `${container.name}: numeric non-root runAsUser`).toBeGreaterThan(0);
  expect(container.securityContext?.readOnlyRootFilesystem, `${container.name}: readOnlyRootFilesystem`).toBe(true);
  expect(container.securityContext?.allowPrivilegeEscalation, `${container.name}: allowPrivilegeEscalation`).toBe(false);
  expect(container.securityContext?.capabilities?.drop, `${container.name}: drops ALL capabilities`).toContain('ALL');
  // Service links would inject Z4J_<SERVICE>_PORT and friends into the brain's config namespace.
  expect(pod.enableServiceLinks, `${container.name}: enableServiceLinks`).toBe(false);

  const home = effectiveEnv(container, 'Z4J_HOME');
  expect(home, `${container.name}: Z4J_HOME`).toBeDefined();
  const mount = container.volumeMounts?.find((entry) => home!.startsWith(entry.mountPath));
  expect(mount, `${container.name}: Z4J_HOME (${home}) lies on a mounted volume`).toBeDefined();
  expect(
    pod.volumes?.find((volume) => volume.name === mount!.name)?.emptyDir,
    `${container.name}: ${mount!.name} is an emptyDir`,
  ).toBeDefined();

  for (const kind of ['requests', 'limits'] as const) {
    for (const resource of ['cpu', 'memory']) {
      expect(container.resources?.[kind]?.[resource], `${container.name}: resources.${kind}.${resource}`).toBeTruthy();
    }
  }

  const sources = (container.envFrom ?? []).map((source) => source.configMapRef?.name ?? source.secretRef?.name);
  expect(sources, `${container.name}: envFrom`).toEqual(expect.arrayContaining(['z4j-config', 'z4j-secrets']));
}

describe('deploy/k8s manifests', () => {
  it('parse, and every object is named and lives in the z4j namespace', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const { file, doc } of docs) {
      expect(doc.apiVersion, `${file}: apiVersion`).toBeTruthy();
      expect(doc.kind, `${file}: kind`).toBeTruthy();
      if (doc.kind === 'Kustomization') continue;
      expect(doc.metadata?.name, `${file}: metadata.name`).toBeTruthy();
      expect(doc.metadata.labels?.['app.kubernetes.io/name'], `${file}: ${doc.kind} ${doc.metadata.name} label`).toBe('z4j');
      if (doc.kind !== 'Namespace') expect(doc.metadata.namespace, `${file}: ${doc.kind} ${doc.metadata.name} namespace`).toBe('z4j');
    }
  });

  it('kustomization.yaml lists every manifest except the documented opt-outs', () => {
    const kustomization = docs.find(({ doc }) => doc.kind === 'Kustomization')?.doc;
    expect(kustomization).toBeDefined();
    expect(kustomization!.resources?.slice().sort()).toEqual(files.filter((file) => !NOT_IN_KUSTOMIZATION.includes(file)));
    expect(kustomization!.images?.map((image) => image.name)).toContain('z4j');
  });

  describe.each(SERVICES)('%s', (service) => {
    const deployment = find('Deployment', `z4j-${service}`);
    const spec = deployment.spec as DeploymentSpec;
    const pod = spec.template.spec;
    const container = pod.containers[0]!;

    it('has a Deployment whose selector matches its pods and labels', () => {
      expect(deployment.metadata.labels).toMatchObject(labelsOf(service));
      expect(spec.selector.matchLabels).toEqual(labelsOf(service));
      expect(spec.template.metadata.labels).toMatchObject(labelsOf(service));
      expect(pod.containers).toHaveLength(1);
      expect(container.image).toBe('z4j');
      expect([...(container.command ?? []), ...(container.args ?? [])]).toEqual(['node', `services/${service}/dist/main.js`]);
      expect(spec.strategy?.rollingUpdate?.maxUnavailable, 'old pods keep serving until new ones are ready').toBe(0);
    });

    it('has a Service on port 7700 selecting the Deployment', () => {
      const svc = find('Service', `z4j-${service}`).spec as ServiceSpec;
      expect(svc.selector).toEqual(labelsOf(service));
      const http = svc.ports.find((port) => port.name === 'http');
      expect(http?.port).toBe(HTTP_PORT);
      expect(
        container.ports?.find((port) => port.name === http?.targetPort || port.containerPort === http?.targetPort)?.containerPort,
      ).toBe(HTTP_PORT);
    });

    it('probes liveness on /api/v1/health and readiness on /api/v1/health/ready at 7700', () => {
      expect(container.livenessProbe?.httpGet?.path).toBe('/api/v1/health');
      expect(probePort(container, container.livenessProbe)).toBe(HTTP_PORT);
      expect(container.readinessProbe?.httpGet?.path).toBe('/api/v1/health/ready');
      expect(probePort(container, container.readinessProbe)).toBe(HTTP_PORT);
      expect(container.startupProbe?.httpGet?.path).toBe('/api/v1/health');
      expect(probePort(container, container.startupProbe)).toBe(HTTP_PORT);
    });

    it('runs non-root, read-only, with requests and limits', () => {
      expectLockedDown(pod, container);
    });

    it('leaves migrations to the Job (Z4J_AUTO_MIGRATE=false)', () => {
      expect(effectiveEnv(container, 'Z4J_AUTO_MIGRATE')).toBe('false');
    });

    it('drains on SIGTERM behind a preStop pause, within the grace period', () => {
      expect(container.lifecycle?.preStop).toBeDefined();
      // The brain's own drain gives up after 30 s.
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(service === 'gateway' ? 60 : 40);
    });

    it('has a PodDisruptionBudget', () => {
      const pdb = find('PodDisruptionBudget', `z4j-${service}`).spec as { selector: { matchLabels: Record<string, string> } };
      expect(pdb.selector.matchLabels).toEqual(labelsOf(service));
    });
  });

  it('joins gateway to ingest over the gRPC port, and only gateway pods may reach it', () => {
    const gateway = (find('Deployment', 'z4j-gateway').spec as DeploymentSpec).template.spec.containers[0]!;
    expect(effectiveEnv(gateway, 'Z4J_INGEST_GRPC_URL')).toBe('z4j-ingest:7702');
    const service = find('Service', 'z4j-ingest').spec as { ports: { name: string; port: number }[] };
    expect(service.ports).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'grpc', port: 7702 })]));
    const policy = find('NetworkPolicy', 'z4j-ingest-grpc').spec as {
      podSelector: { matchLabels: Record<string, string> };
      ingress: { from?: { podSelector: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[];
    };
    expect(policy.podSelector.matchLabels).toEqual(labelsOf('ingest'));
    const grpcRule = policy.ingress.find((rule) => rule.ports.some((port) => port.port === 7702));
    expect(grpcRule?.from).toEqual([{ podSelector: { matchLabels: labelsOf('gateway') } }]);
  });

  it('autoscales ingest and api, whose Deployments leave replicas to the HPA', () => {
    for (const service of ['ingest', 'api']) {
      const hpa = find('HorizontalPodAutoscaler', `z4j-${service}`).spec as {
        scaleTargetRef: { kind: string; name: string };
        minReplicas: number;
        maxReplicas: number;
      };
      expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: `z4j-${service}` });
      expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.maxReplicas).toBeGreaterThan(hpa.minReplicas);
      expect((find('Deployment', `z4j-${service}`).spec as DeploymentSpec).replicas).toBeUndefined();
    }
  });

  it('routes /ws to the gateway with sticky cookies and long timeouts, and / to the api', () => {
    const routes = all('Ingress').flatMap((ingress) =>
      (ingress.spec as IngressSpec).rules.flatMap((rule) =>
        rule.http.paths.map((path) => ({ ingress, path: path.path, pathType: path.pathType, backend: path.backend.service })),
      ),
    );
    const ws = routes.find((route) => route.path === '/ws');
    expect(ws?.pathType).toBe('Prefix');
    expect(ws?.backend.name).toBe('z4j-gateway');
    const annotations = ws!.ingress.metadata.annotations ?? {};
    expect(annotations['nginx.ingress.kubernetes.io/affinity']).toBe('cookie');
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);

    const root = routes.find((route) => route.path === '/');
    expect(root?.pathType).toBe('Prefix');
    expect(root?.backend.name).toBe('z4j-api');

    for (const route of routes) {
      const svc = find('Service', route.backend.name).spec as ServiceSpec;
      const port = svc.ports.find((entry) => entry.name === route.backend.port.name || entry.port === route.backend.port.number);
      expect(port?.port, `${route.path} -> ${route.backend.name}`).toBe(HTTP_PORT);
    }
  });

  it('runs `migrate up` in a Job with the services’ image, config and lock-down', () => {
    const job = find('Job', 'z4j-migrate');
    const pod = (job.spec as { template: PodTemplate }).template.spec;
    const container = pod.containers[0]!;
    expect([...(container.command ?? []), ...(container.args ?? [])]).toEqual(['node', 'cli/bin/z4j.js', 'migrate', 'up']);
    expect(container.image).toBe('z4j');
    expect(pod.restartPolicy).toMatch(/^(Never|OnFailure)$/);
    expectLockedDown(pod, container);
  });

  it('keeps required settings and the metrics token where the manifests expect them', () => {
    const config = find('ConfigMap', 'z4j-config').data ?? {};
    const secret = find('Secret', 'z4j-secrets').stringData ?? {};
    expect(config.Z4J_PUBLIC_URL).toMatch(/^https:\/\//);
    for (const name of ['Z4J_ALLOWED_HOSTS', 'Z4J_TRUSTED_PROXIES', 'Z4J_LOG_JSON']) expect(config[name], name).toBeTruthy();
    for (const name of ['Z4J_DATABASE_URL', 'Z4J_SECRET', 'Z4J_SESSION_SECRET', 'Z4J_METRICS_AUTH_TOKEN']) {
      expect(secret[name], name).toBeTruthy();
      expect(config[name], `${name} belongs in the Secret, not the ConfigMap`).toBeUndefined();
    }

    const monitor = find('ServiceMonitor', 'z4j').spec as {
      selector: { matchLabels: Record<string, string> };
      endpoints: { port: string; path: string; authorization?: { credentials?: { name: string; key: string } } }[];
    };
    expect(monitor.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'z4j' });
    expect(monitor.endpoints[0]).toMatchObject({
      port: 'http',
      path: '/metrics',
      authorization: { credentials: { name: 'z4j-secrets', key: 'Z4J_METRICS_AUTH_TOKEN' } },
    });
  });
});
