// Pieces shared by report.html and compare.html: escaping and a chart pre-rendered to SVG in a <figure>.
import type { TopLevelSpec } from 'vega-lite';
import { addSvgTooltips, compactSvg, renderSvg } from './render-svg.ts';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escapes text for element content and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export interface FigureChart {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

/** A chart as static SVG (no script), with a tooltip on every mark that has a description. */
export function chartFigure(c: FigureChart): string {
  let svg: string;
  try {
    svg = compactSvg(addSvgTooltips(renderSvg(c.spec)));
  } catch (e) {
    svg = `<p class="callout warn">This chart could not be rendered: ${esc(e instanceof Error ? e.message : String(e))}</p>`;
  }
  return `<figure class="chart" id="chart-${c.id}" data-chart="${c.id}"><h3>${esc(c.title)}</h3><div class="svg">${svg}</div><figcaption>${esc(c.caption)}</figcaption></figure>`;
}

/** default-src 'none' blocks every fetch (scripts, styles, fonts, frames, connections); images only as data: URLs. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'none'; base-uri 'none'; form-action 'none'";

/** The start of every page, up to its body: the CSP that forbids scripts, the viewport, the generator, the title. */
export function pageHead(title: string, toolVersion: string, css: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(CONTENT_SECURITY_POLICY)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="find-capacity ${esc(toolVersion)}">
<title>${esc(title)}</title>
<style>${css}</style>
</head>`;
}
