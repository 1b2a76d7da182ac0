// `agents:` (and `--agents`): the remote load agents of a run, as ws:// or wss:// URLs (docs/distributed.md).

export const MAX_AGENTS = 256;

/** The URL as the controller will use it, or a message saying what is wrong with it. */
export function checkAgentUrl(raw: unknown): { url: string } | { problem: string } {
  if (typeof raw !== 'string' || raw.trim() === '')
    return { problem: 'must be a ws:// URL such as ws://10.0.0.5:7070' };
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return { problem: `must be a ws:// URL such as ws://10.0.0.5:7070, got "${raw}"` };
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
    return { problem: `must use ws or wss, got ${u.protocol.replace(/:$/, '')}` };
  if (u.username || u.password || u.search || u.hash)
    return { problem: 'must be a plain address: the token comes from FIND_CAPACITY_AGENT_TOKEN, never the URL' };
  return { url: u.toString().replace(/\/$/, '') };
}

/** A list of agent URLs: each checked, no duplicates. Problems are [index, message] pairs. */
export function checkAgentList(list: readonly unknown[]): { urls: string[]; problems: [number, string][] } {
  const urls: string[] = [];
  const problems: [number, string][] = [];
  list.forEach((raw, k) => {
    const r = checkAgentUrl(raw);
    if ('problem' in r) problems.push([k, r.problem]);
    else if (urls.includes(r.url)) problems.push([k, `lists ${r.url} twice: each agent runs one part of every stage`]);
    else urls.push(r.url);
  });
  if (list.length > MAX_AGENTS) problems.push([MAX_AGENTS, `at most ${MAX_AGENTS} agents`]);
  return { urls, problems };
}
