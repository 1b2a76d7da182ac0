// Text width without a canvas, for Vega's layout and for placing chart labels.
// Without a canvas Vega guesses a text's width as 0.8 em per character, about 1.6 × too wide for
// Helvetica/Arial: the layout then reserves empty margins (around rotated axis titles) and spreads
// legends apart. Helvetica's advance widths (1/1000 em, ASCII 32–126) give widths within a few percent.
const HELVETICA = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
  556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
  722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556,
  556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334,
  260, 334, 584,
];

export interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
}

/** Text width in px for a Helvetica-like font, 5 % generous so labels never collide when a wider fallback font is used. */
export function textWidth(item: TextItem, text: unknown): number {
  const t = text == null ? '' : String(text).trim();
  const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
  const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
  let units = 0;
  for (const ch of t) units += HELVETICA[(ch.codePointAt(0) ?? 0) - 32] ?? 556;
  return (units / 1000) * size * (bold ? 1.08 : 1) * 1.05;
}
