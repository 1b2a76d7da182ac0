// Reading a response's body into the record fold: the whole text of a non-streaming response, or a streamed body
// through the SSE scanner, from the wire sender's body (fast path: a plain callback per read), a Node stream (the
// SDK over node:http) or a web stream (the SDK's fetch); all give the fold the same timestamped events.
import type { Readable } from 'node:stream';
import type { BodySink, WireBody } from './wire.ts';
import type { Clock } from '../util/clock.ts';
import type { RecordFold } from './record-fold.ts';
import { ChunkShape, SseScanner, interpretPayload, parseObject } from './sse.ts';

/** A response as the transport reads it: its body from the wire sender, as a Node stream, or as a web stream. */
export interface Reply {
  status: number;
  wire: WireBody | null;
  node: Readable | null;
  web: ReadableStream<Uint8Array> | null;
}

/** Stops trying to learn a stream's chunk shape after this many content chunks that could not be learned. */
const SHAPE_TRIES = 8;
/** After [DONE], how long the rest of the response (its end) may take before the connection is dropped. */
const LINGER_MS = 2000;

/** Turns one stream's `data:` payloads into fold events, at the time of the read that completed them. */
class StreamEvents {
  /** One clock reading per read of the body, shared by every event completed by that read. */
  t = 0;
  /** [DONE] was read. */
  done = false;
  private shapeTries = 0;
  readonly scanner = new SseScanner((text, from, to) => this.onData(text, from, to));

  /** The shapes of answer and reasoning chunks (most streams need one): made when a chunk of their kind comes. */
  private answerShape: ChunkShape | null = null;
  private reasoningShape: ChunkShape | null = null;

  constructor(
    readonly fold: RecordFold,
    /** Most token chunks skip JSON.parse once their shape is learned (fast path only). */
    private readonly useShapes: boolean,
  ) {}

  private shapeOf(reasoning: boolean): ChunkShape {
    return reasoning ? (this.reasoningShape ??= new ChunkShape()) : (this.answerShape ??= new ChunkShape());
  }

  /** Whether a learned shape knows the payload (answers' first): then it is folded, with no parse. */
  private matchShapes(text: string, from: number, to: number): boolean {
    return this.foldMatch(this.answerShape, text, from, to) || this.foldMatch(this.reasoningShape, text, from, to);
  }

  private foldMatch(shape: ChunkShape | null, text: string, from: number, to: number): boolean {
    const m = shape === null ? -1 : shape.match(text, from, to);
    if (m < 0) return false;
    if (m === 1) {
      if (shape!.reasoning) this.fold.reasoning(this.t);
      else this.fold.content(this.t);
    }
    return true;
  }

  /** The payload `text[from, to)`; true to stop reading: [DONE], a malformed event or an error event. */
  private onData(text: string, from: number, to: number): boolean {
    if (this.matchShapes(text, from, to)) return false;
    const data = text.slice(from, to);
    if (data === '[DONE]') {
      this.done = true;
      this.fold.done();
      return true;
    }
    // Parsed once: a chunk that teaches a shape hands its object to learn().
    const obj = parseObject(data);
    const ev = interpretPayload(data, obj);
    if (ev.kind === 'malformed') {
      this.fold.malformed();
      return true;
    }
    if (ev.kind === 'error') {
      this.fold.errorEvent(ev.message);
      return true;
    }
    if (ev.answer) this.fold.content(this.t, ev.text, ev.reasoning);
    else if (ev.reasoning) this.fold.reasoning(this.t);
    // A few tries per stream: a shape can change (e.g. with the `created` second) or not be learnable.
    if (
      (ev.answer || ev.reasoning) &&
      this.useShapes &&
      ev.finishReason === null &&
      ev.usage === null &&
      this.shapeTries < SHAPE_TRIES &&
      !this.shapeOf(ev.reasoning).learn(data, obj!)
    )
      this.shapeTries++;
    if (ev.finishReason) this.fold.finishReason(ev.finishReason);
    if (ev.usage) this.fold.usage(ev.usage);
    return false;
  }
}

/** The whole body as text. */
export async function readText(reply: Reply): Promise<string> {
  if (reply.web !== null) return new Response(reply.web).text();
  const wire = reply.wire;
  if (wire !== null)
    return new Promise((resolve, reject) => {
      let text = '';
      wire.read({ data: (s) => ((text += s), false), end: () => resolve(text), error: reject });
    });
  const node = reply.node;
  if (node === null) return '';
  return new Promise((resolve, reject) => {
    let text = '';
    node.setEncoding('utf8');
    node.on('data', (s: string) => (text += s));
    node.on('end', () => resolve(text));
    node.on('error', reject);
    node.on('close', () => reject(Object.assign(new Error('terminated: other side closed'), { code: 'ECONNRESET' })));
  });
}

/**
 * Reads the body of `reply` into `fold` and ends it there; rejects with the error that cut the body short.
 * `shapes`: match token chunks by their shape (ChunkShape) before parsing them; never while the fold keeps the answer.
 */
export function readBody(
  reply: Reply,
  fold: RecordFold,
  clock: Clock,
  stream: boolean,
  shapes: boolean,
): Promise<void> {
  if (!stream) return readText(reply).then((text) => fold.completion(clock.now(), text));
  // The reply itself is not kept while the stream lasts: what lives as long as a stream is promoted by the GC.
  const { wire, node, web } = reply;
  if (wire === null && node === null && web === null) {
    fold.noBody(clock.now());
    return Promise.resolve();
  }
  const useShapes = shapes && fold.answer === null;
  const events = new StreamEvents(fold, useShapes);
  const reading =
    wire !== null
      ? readWireBody(wire, events, clock)
      : node !== null
        ? readNodeStream(node, events, clock)
        : readWebStream(web!, events, clock);
  return reading.then(() => fold.endOfBody(clock.now()));
}

function readWireBody(body: WireBody, events: StreamEvents, clock: Clock): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sink: BodySink = {
      data(text) {
        const t = (events.t = clock.now());
        events.fold.activity(t);
        if (!events.scanner.push(text)) return false;
        // After [DONE] the rest of the response is read, so that the connection goes back to the pool.
        if (events.done) body.release();
        else body.destroy();
        resolve();
        return true;
      },
      end() {
        events.t = clock.now();
        events.scanner.flush();
        resolve();
      },
      error: reject,
    };
    body.read(sink);
  });
}

function readNodeStream(node: Readable, events: StreamEvents, clock: Clock): Promise<void> {
  let stop = false;
  return new Promise<void>((resolve, reject) => {
    node.setEncoding('utf8');
    node.on('data', (text: string) => {
      if (stop) return;
      const t = (events.t = clock.now());
      events.fold.activity(t);
      if (!events.scanner.push(text)) return;
      stop = true;
      if (events.done) {
        // After [DONE] the server ends the response: let it, so that the connection goes back to the pool.
        const linger = clock.setTimeout(() => node.destroy(), LINGER_MS);
        linger.unref();
        node.once('close', () => clock.clear(linger));
      } else node.destroy();
      resolve();
    });
    node.on('end', () => {
      if (!stop) {
        events.t = clock.now();
        stop = events.scanner.flush();
      }
      resolve();
    });
    node.on('error', (err) => (stop ? resolve() : reject(err)));
    node.on('close', () => resolve());
  });
}

async function readWebStream(web: ReadableStream<Uint8Array>, events: StreamEvents, clock: Clock): Promise<void> {
  const reader = web.getReader();
  const decoder = new TextDecoder();
  let stop = false;
  for (;;) {
    const { value, done } = await reader.read();
    const t = (events.t = clock.now());
    if (done) {
      stop = events.scanner.flush();
      break;
    }
    events.fold.activity(t);
    if ((stop = events.scanner.push(decoder.decode(value, { stream: true })))) break;
  }
  if (stop) reader.cancel().catch(() => {});
}
