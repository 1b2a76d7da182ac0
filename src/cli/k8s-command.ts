// `find-capacity k8s <profile> --agents N`: print (or write) the manifests of a distributed run.
import { readFile, writeFile } from 'node:fs/promises';
import { ProfileError, ToolError } from '../errors.ts';
import { DEFAULT_IMAGE, DEFAULT_SECRET, k8sManifests } from '../controller/k8s.ts';
import { validateProfileText } from '../profile/load.ts';

export async function k8sCommand(
  file: string,
  o: { agents: number; image?: string; namespace?: string; secret?: string; out?: string },
  io: { out: (s: string) => void; err: (s: string) => void },
): Promise<void> {
  if (!Number.isInteger(o.agents) || o.agents < 1 || o.agents > 256)
    throw new ToolError('invalid_arguments', `--agents must be a whole number from 1 to 256, got ${o.agents}`);
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new ToolError('invalid_arguments', `cannot read ${file}: ${err.message}`);
  });
  // The API key lives in the cluster's Secret, not here: any variable the profile names counts as set.
  const anyEnv = new Proxy({}, { get: () => 'set-in-the-cluster' }) as NodeJS.ProcessEnv;
  const { profile, problems } = await validateProfileText(text, file, anyEnv);
  if (!profile) throw new ProfileError(problems);
  const { yaml, warnings } = k8sManifests(profile, text, {
    agents: o.agents,
    image: o.image ?? DEFAULT_IMAGE,
    namespace: o.namespace ?? null,
    secret: o.secret ?? DEFAULT_SECRET,
  });
  for (const w of warnings) io.err(`warning: ${w}`);
  if (o.out) {
    await writeFile(o.out, yaml);
    io.err(`wrote ${o.out}`);
  } else io.out(yaml.replace(/\n$/, ''));
}
