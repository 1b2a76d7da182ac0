// Vega-Lite → Vega → static SVG, synchronously and headless in Node (no canvas, no DOM, no network).
// Why pre-rendered SVG instead of shipping the Vega runtime in the page: the runtime compiles
// expressions with `new Function`, which would force `script-src 'unsafe-eval'` into the report's CSP;
// static SVG needs no script at all (CSP `script-src 'none'`), renders where scripts are stripped
// (mail clients, wikis, previews), prints as vectors, and costs tens of KB instead of ~0.9 MB.
import { compile, type TopLevelSpec } from 'vega-lite';
import * as vega from 'vega';
import { textWidth, type TextItem } from './text-width.ts';

export interface CompileWarning {
  level: 'warn' | 'info' | 'debug';
  message: string;
}

/** Vega-Lite → Vega, collecting the compiler's warnings instead of printing them. */
export function compileToVega(spec: TopLevelSpec, warnings: CompileWarning[] = []) {
  const messages =
    (level: CompileWarning['level']) =>
    (...args: readonly unknown[]) => {
      warnings.push({ level, message: args.map(String).join(' ') });
      return logger;
    };
  let current = 0;
  const logger = {
    level(l?: number) {
      if (l === undefined) return current;
      current = l;
      return logger;
    },
    error(...args: readonly unknown[]): never {
      throw new Error(`vega-lite: ${args.map(String).join(' ')}`);
    },
    warn: messages('warn'),
    info: messages('info'),
    debug: messages('debug'),
  };
  return compile(spec, {
    logger: logger as unknown as NonNullable<NonNullable<Parameters<typeof compile>[1]>['logger']>,
  }).spec;
}

// The private fields read here are what vega-view's own headless renderer (render-size.js) uses;
// test/report/render-svg.test.ts checks the result is byte-identical to the async `view.toSVG()`.
interface SvgStringRenderer {
  initialize(
    el: null,
    width: number,
    height: number,
    origin: [number, number],
    scaleFactor: number,
  ): { background(color: unknown): unknown };
  render(scene: unknown): unknown;
  svg(): string | null;
}
// vega re-exports vega-scenegraph's SVGStringRenderer, but its type definitions omit it.
const { SVGStringRenderer } = vega as unknown as { SVGStringRenderer: new (loader: unknown) => SvgStringRenderer };

const { textMetrics } = vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } };

interface ViewInternals {
  _viewWidth: number;
  _viewHeight: number;
  _origin: [number, number];
  _scenegraph: { root: unknown };
}

/** Renders a Vega-Lite spec with inline data to an SVG string, synchronously. */
export function renderSvg(spec: TopLevelSpec, warnings: CompileWarning[] = []): string {
  const estimate = textMetrics.width;
  textMetrics.width = textWidth;
  const view = new vega.View(vega.parse(compileToVega(spec, warnings)), { renderer: 'none' });
  try {
    // Inline data has nothing to await: run() evaluates the whole dataflow before returning.
    view.run();
    const v = view as unknown as ViewInternals;
    const pad = view.padding() as { top: number; bottom: number; left: number; right: number };
    const width = Math.max(0, v._viewWidth + pad.left + pad.right);
    const height = Math.max(0, v._viewHeight + pad.top + pad.bottom);
    const r = new SVGStringRenderer(view.loader());
    r.initialize(null, width, height, [pad.left + v._origin[0], pad.top + v._origin[1]], 1).background(
      view.background(),
    );
    r.render(v._scenegraph.root);
    const svg = r.svg();
    if (svg === null) throw new Error('vega rendered no SVG');
    return svg;
  } finally {
    view.finalize();
    textMetrics.width = estimate;
  }
}

/**
 * Gives every mark item that carries an aria-label (the spec's `description`) a <title> child with the
 * same text, which browsers show as a tooltip without any script. The label is already attribute-escaped
 * by Vega, which is also safe as element text.
 */
export function addSvgTooltips(svg: string): string {
  return svg.replace(/<(path|rect|line|text)((?:\s[\w:-]+="[^"]*")*?)\s*\/>/g, (whole, tag: string, attrs: string) => {
    const label = /\saria-label="([^"]*)"/.exec(attrs)?.[1];
    if (label === undefined || !/\srole="graphics-symbol"/.test(attrs)) return whole;
    return `<${tag}${attrs}><title>${label}</title></${tag}>`;
  });
}

/** Rounds coordinates in geometry attributes to 2 decimals (Vega writes up to 15): a third of the bytes, same picture. */
export function compactSvg(svg: string): string {
  return svg.replace(
    /\s(transform|d|x|y|x1|x2|y1|y2|width|height|viewBox)="([^"]*)"/g,
    (_, name: string, value: string) =>
      ` ${name}="${value.replace(/\d+\.\d{3,}/g, (n) => String(Math.round(Number(n) * 100) / 100))}"`,
  );
}
