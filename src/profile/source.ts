// YAML text → plain value plus a map from YAML path to source position, so every problem the
// validator finds can be reported as file:line:col. Built on js-yaml 5's parser events.
import {
  CORE_SCHEMA,
  COLLECTION_STYLE,
  EVENT_ID,
  SCALAR_STYLE,
  constructFromEvents,
  getScalarValue,
  mergeTag,
  parseEvents,
} from 'js-yaml';
import type { Event } from 'js-yaml';
import { MAX_EXPANDED_NODES, MAX_YAML_DEPTH } from './keys.ts';

const SCHEMA = CORE_SCHEMA.withTags(mergeTag);

export interface LineCol {
  line: number;
  col: number;
}

interface NodePosition {
  /** Offset of the mapping key that holds this node, when it has one. */
  keyOffset: number | null;
  valueOffset: number;
  /** Block collections start on the line after their key: point at the key instead. */
  blockCollection: boolean;
}

/** A YAML path segment: a mapping key or a sequence index. */
export type PathSegment = string | number;

export function joinPath(parent: string, segment: PathSegment): string {
  if (typeof segment === 'number') return `${parent}[${segment}]`;
  return parent === '' ? segment : `${parent}.${segment}`;
}

export class SourceMap {
  private readonly lineStarts: number[];
  private readonly nodes = new Map<string, NodePosition>();

  constructor(readonly text: string) {
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  /** 0-based offset → 1-based line and column. */
  lineCol(offset: number): LineCol {
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - (starts[lo] as number) + 1 };
  }

  record(path: string, pos: NodePosition): void {
    if (!this.nodes.has(path)) this.nodes.set(path, pos);
  }

  /**
   * Where to point for `path`: its value (or its key, for `at: 'key'` and block collections); a path with
   * no position (a default, or reached through an alias or merge) falls back to its nearest recorded ancestor.
   */
  locate(path: string, at: 'key' | 'value' = 'value'): LineCol {
    let p = path;
    for (;;) {
      const node = this.nodes.get(p);
      if (node) {
        const useKey = node.keyOffset !== null && (at === 'key' || node.blockCollection || p !== path);
        return this.lineCol(useKey ? (node.keyOffset as number) : node.valueOffset);
      }
      if (p === '') return { line: 1, col: 1 };
      p = parentPath(p);
    }
  }
}

function parentPath(path: string): string {
  const m = /^(.*?)(?:\.[^.[\]]*|\[\d+\])$/.exec(path);
  return m ? (m[1] as string) : '';
}

export class YamlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(message);
  }
}

interface YamlExceptionLike {
  reason?: string;
  mark?: { line: number; column: number };
  message: string;
}

function toSyntaxError(err: unknown): YamlSyntaxError {
  const e = err as YamlExceptionLike;
  if (e && typeof e === 'object' && e.mark && typeof e.mark.line === 'number') {
    return new YamlSyntaxError(`YAML syntax error: ${e.reason ?? e.message}`, e.mark.line + 1, e.mark.column + 1);
  }
  return new YamlSyntaxError(`YAML syntax error: ${e?.message ?? String(err)}`, 1, 1);
}

/**
 * Walks the events once: records positions by path, and counts nodes with aliases expanded so that
 * a document that would explode in size ("billion laughs") is rejected before construction.
 */
function indexEvents(events: Event[], source: SourceMap): void {
  const indexer = new EventIndexer(events, source);
  let i = 0;
  while (i < events.length) {
    const ev = events[i] as Event;
    if (ev.type === EVENT_ID.DOCUMENT) {
      i = indexer.walk(i + 1, '', null, 0);
      // Skip the document's POP.
      i++;
    } else {
      i++;
    }
  }
}

/** Where a scalar's value starts; quoted scalars point at the opening quote, where the user sees it start. */
function scalarOffset(ev: Extract<Event, { type: typeof EVENT_ID.SCALAR }>, fallback: number): number {
  const quoted = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED;
  return ev.valueStart >= 0 ? ev.valueStart - (quoted ? 1 : 0) : fallback;
}

class EventIndexer {
  /** Anchor name → the number of nodes an alias to it expands to. */
  private readonly anchorSizes = new Map<string, number>();
  private expanded = 0;
  private readonly text: string;

  constructor(
    private readonly events: Event[],
    private readonly source: SourceMap,
  ) {
    this.text = source.text;
  }

  private count(n: number, offset: number): void {
    this.expanded += n;
    if (this.expanded > MAX_EXPANDED_NODES) {
      const { line, col } = this.source.lineCol(offset);
      throw new YamlSyntaxError(
        `the document expands to more than ${MAX_EXPANDED_NODES} nodes through aliases (an alias bomb?); a profile needs far fewer`,
        line,
        col,
      );
    }
  }

  /** Indexes the node starting at event i under `path`; returns the index of the event after it. */
  walk(i: number, path: string, keyOffset: number | null, fallbackOffset: number): number {
    const ev = this.events[i];
    if (!ev) throw new YamlSyntaxError('YAML syntax error: unexpected end of events', 1, 1);
    const before = this.expanded;
    let next: number;
    switch (ev.type) {
      case EVENT_ID.SCALAR: {
        const offset = scalarOffset(ev, keyOffset ?? fallbackOffset);
        this.source.record(path, { keyOffset, valueOffset: offset, blockCollection: false });
        this.count(1, offset);
        next = i + 1;
        break;
      }
      case EVENT_ID.ALIAS: {
        const offset = Math.max(0, ev.anchorStart - 1);
        this.source.record(path, { keyOffset, valueOffset: offset, blockCollection: false });
        this.count(this.anchorSizes.get(this.text.slice(ev.anchorStart, ev.anchorEnd)) ?? 1, offset);
        return i + 1;
      }
      case EVENT_ID.SEQUENCE:
      case EVENT_ID.MAPPING: {
        const offset = ev.start >= 0 ? ev.start : (keyOffset ?? fallbackOffset);
        const blockCollection = ev.style === COLLECTION_STYLE.BLOCK;
        this.source.record(path, { keyOffset, valueOffset: offset, blockCollection });
        this.count(1, offset);
        next = this.walkChildren(i + 1, path, ev.type === EVENT_ID.SEQUENCE, offset) + 1;
        break;
      }
      default:
        return i + 1;
    }
    if (ev.anchorStart >= 0)
      this.anchorSizes.set(this.text.slice(ev.anchorStart, ev.anchorEnd), this.expanded - before);
    return next;
  }

  /** Indexes a collection's entries from event j up to its POP; returns the POP's index. */
  private walkChildren(j: number, path: string, sequence: boolean, offset: number): number {
    let index = 0;
    while (this.events[j] && this.events[j]?.type !== EVENT_ID.POP) {
      if (sequence) {
        j = this.walk(j, joinPath(path, index++), null, offset);
        continue;
      }
      const keyEv = this.events[j] as Event;
      let key = `?${index++}`;
      let kOffset = offset;
      if (keyEv.type === EVENT_ID.SCALAR) {
        key = getScalarValue(this.text, keyEv);
        kOffset = scalarOffset(keyEv, offset);
      }
      // Complex keys are walked under a synthetic path so their nodes are still counted.
      j = this.walk(j, joinPath(path, `?key:${key}`), null, offset);
      j = this.walk(j, joinPath(path, key), kOffset, kOffset);
    }
    return j;
  }
}

export interface ParsedYaml {
  /** The document's value; undefined for an empty document. */
  value: unknown;
  source: SourceMap;
}

/** Parses a single-document profile. Throws YamlSyntaxError (with a 1-based position) on any problem. */
export function parseYaml(text: string, filename: string): ParsedYaml {
  const source = new SourceMap(text);
  let events: Event[];
  try {
    events = parseEvents(text, { filename, maxDepth: MAX_YAML_DEPTH });
  } catch (err) {
    throw toSyntaxError(err);
  }
  const docStarts = events.flatMap((ev, i) => (ev.type === EVENT_ID.DOCUMENT ? [i] : []));
  if (docStarts.length > 1) {
    const second = events[(docStarts[1] as number) + 1];
    const offset =
      second && 'start' in second
        ? second.start
        : second && 'valueStart' in second
          ? Math.max(0, second.valueStart)
          : 0;
    const { line, col } = source.lineCol(offset);
    throw new YamlSyntaxError(
      'a profile is a single YAML document, found a second one (remove the "---" separator)',
      line,
      col,
    );
  }
  indexEvents(events, source);
  let docs: unknown[];
  try {
    docs = constructFromEvents(events, { source: text, filename, schema: SCHEMA });
  } catch (err) {
    throw toSyntaxError(err);
  }
  return { value: docs[0], source };
}
