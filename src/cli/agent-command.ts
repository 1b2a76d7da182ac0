// `find-capacity agent [--listen HOST:PORT] [--once]`: serve stage shares to a controller until Ctrl-C.
import { ToolError } from '../errors.ts';
import { startAgentServer } from '../load/agent-host.ts';
import { AGENT_TOKEN_ENV, DEFAULT_AGENT_PORT } from '../load/agent-protocol.ts';
import { TOOL_VERSION } from '../version.ts';

/** `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `HOST`; the host defaults to 127.0.0.1 (nothing beyond this machine). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d+))?$/.exec(text.trim());
  const port = m?.[3] === undefined ? DEFAULT_AGENT_PORT : Number(m[3]);
  if (!m || !Number.isInteger(port) || port > 65535)
    throw new ToolError('invalid_arguments', `--listen must be HOST:PORT, got "${text}"`, 'e.g. --listen 0.0.0.0:7070');
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export async function agentCommand(
  o: { listen: string; once: boolean },
  io: { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv },
): Promise<void> {
  const token = io.env[AGENT_TOKEN_ENV];
  if (!token)
    throw new ToolError(
      'invalid_arguments',
      `${AGENT_TOKEN_ENV} is not set: an agent only serves a controller that presents this token`,
      `export ${AGENT_TOKEN_ENV}=<a long random string> here and on the controller`,
    );
  const { host, port } = parseListen(o.listen);
  const server = await startAgentServer({
    host,
    port,
    token,
    toolVersion: TOOL_VERSION,
    once: o.once,
    log: (line) => io.err(`agent: ${line}`),
  });
  io.out(`agent listening on ${server.url}`);
  const stop = (sig: string) => {
    io.err(`agent: ${sig}: stopping (a running stage ends gracefully and its records are sent)`);
    void server.close();
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    await server.closed;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
