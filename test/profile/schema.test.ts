// profiles/profile.schema.json must describe exactly the keys the loader accepts (KEY_TREE), so the
// editor completion and the validator cannot drift apart.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONCURRENCY_KEYS, KEY_TREE, MESSAGE_KEYS, type KeySpec } from '../../src/profile/keys.ts';

type SchemaNode = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  oneOf?: SchemaNode[];
  items?: SchemaNode;
  description?: string;
};

const schema = JSON.parse(readFileSync('profiles/profile.schema.json', 'utf8')) as SchemaNode & {
  definitions: Record<string, SchemaNode>;
};

function resolve(node: SchemaNode): SchemaNode {
  if (node.$ref) return resolve(schema.definitions[node.$ref.replace('#/definitions/', '')] as SchemaNode);
  return node;
}

/** The object variant of a node (directly, or among its oneOf alternatives). */
function objectOf(node: SchemaNode): SchemaNode | undefined {
  const n = resolve(node);
  if (n.properties) return n;
  return n.oneOf?.map(resolve).find((v) => v.properties);
}

function compare(spec: KeySpec, node: SchemaNode, path: string): void {
  const obj = objectOf(node);
  expect(obj, `${path}: schema has no object with properties`).toBeDefined();
  expect(Object.keys(obj!.properties!).sort(), `${path}: keys`).toEqual(Object.keys(spec).sort());
  expect(obj!.additionalProperties, `${path}: additionalProperties`).toBe(false);
  for (const [key, sub] of Object.entries(spec)) {
    const child = obj!.properties![key] as SchemaNode;
    const p = path ? `${path}.${key}` : key;
    expect(child.description ?? resolve(child).description, `${p}: description`).toBeTruthy();
    if (typeof sub === 'object') compare(sub, child, p);
    else if (sub === 'map') expect(resolve(child).additionalProperties, `${p}: free-form mapping`).not.toBe(false);
  }
}

describe('profile.schema.json', () => {
  it('covers exactly the keys the loader accepts, each with a description', () => {
    compare(KEY_TREE, schema, '');
  });

  it('ramp.concurrency object form and message items match too', () => {
    compare(CONCURRENCY_KEYS, schema.properties!['ramp']!.properties!['concurrency']!, 'ramp.concurrency');
    const items = schema.properties!['request']!.properties!['messages']!.items!;
    expect(Object.keys(resolve(items).properties!).sort()).toEqual([...MESSAGE_KEYS].sort());
  });
});
