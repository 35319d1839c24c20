// The 3Blue1Brown palette and the Plotly defaults every view shares.
// Colours live here only, so a view never invents its own blue.

export const colors = {
  background: '#0e1117',
  panel: '#151a23',
  grid: '#262d3a',
  text: '#f2f2f2',
  muted: '#9aa4b2',
  positive: '#58C4DD', // 3B1B blue
  negative: '#FC6255', // 3B1B red
  accent: '#FFFF00', // 3B1B yellow
  accentSoft: '#F4D345',
  green: '#83C167',
  neutral: '#1b2230',
};

// Diverging scale for values in [-1, 1]: red for negative, near-black at zero, blue for positive.
// Plotly wants stops in [0, 1] over the colour axis.
export const divergingScale = [
  [0.0, colors.negative],
  [0.25, '#9c3a33'],
  [0.5, '#1b2230'],
  [0.75, '#35798a'],
  [1.0, colors.positive],
];

// Neurons lit by their activation in [-1, 1]: red glow when negative, dark when silent, white-hot when
// strongly positive (3Blue1Brown draws neurons this way).
export const glowScale = [
  [0.0, '#FC6255'], [0.25, '#6b2a25'], [0.5, '#151a23'], [0.7, '#2c5a6a'], [0.85, '#8fd9ea'], [1.0, '#ffffff'],
];

// One colour per class for multi-class data (first two match the binary palette).
export const classColors = [
  colors.negative, colors.positive, colors.accentSoft, colors.green,
  '#C55F73', '#9A72AC', '#FF862F', '#A6CF8C', '#D4A5C6', '#E8E8E8',
];

// Type scale: readable from the back of a classroom. Presenter mode multiplies it (see presenterScale).
let typeScale = 1;

/** Set the factor every font size is multiplied by (1 normally, larger in presenter mode). */
export function setTypeScale(factor) {
  typeScale = factor;
}

export function fontSize(base) {
  return Math.round(base * typeScale);
}

/** The Plotly layout every view starts from: dark, no chrome, large type. */
export function baseLayout(extra = {}) {
  return {
    paper_bgcolor: colors.background,
    plot_bgcolor: colors.background,
    font: { color: colors.text, size: fontSize(15), family: 'Inter, "DejaVu Sans", "Helvetica Neue", Arial, sans-serif' },
    margin: { l: 56, r: 16, t: 36, b: 44 },
    showlegend: false,
    hoverlabel: { bgcolor: colors.panel, bordercolor: colors.accentSoft, font: { size: fontSize(16), color: colors.text } },
    uirevision: 'keep', // keep the user's zoom across Plotly.react calls
    ...extra,
  };
}

export function axis(extra = {}) {
  return {
    color: colors.muted,
    gridcolor: colors.grid,
    zerolinecolor: colors.grid,
    linecolor: colors.grid,
    tickfont: { size: fontSize(13) },
    ...extra,
  };
}

export const plotConfig = {
  displayModeBar: false,
  responsive: true,
  doubleClick: 'reset',
  scrollZoom: false,
};

// Live charts redraw several times a second: without hover and zoom machinery a redraw costs about half
// (measured in headless Chromium: 7 ms against 14 ms for a small line chart).
export const chartConfig = { ...plotConfig, staticPlot: true };

/** Map a value in [-1, 1] to an rgba() colour on the diverging palette, alpha in [0, 1]. */
export function signColor(value, alpha = 1) {
  const rgb = value >= 0 ? [0x58, 0xc4, 0xdd] : [0xfc, 0x62, 0x55];
  return `rgba(${rgb[0]},${rgb[1]},${rgb[2]},${alpha.toFixed(3)})`;
}

/** Hex colour '#rrggbb' to [r, g, b]. */
export function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * A 256-entry RGBA lookup table for a Plotly-style colour scale, for views that paint pixels
 * straight onto a canvas (neuron thumbnails). Returns Uint8ClampedArray(256 * 4).
 */
export function colorLut(scale) {
  const lut = new Uint8ClampedArray(256 * 4);
  const stops = scale.map(([t, c]) => [t, hexToRgb(c)]);
  for (let i = 0; i < 256; i += 1) {
    const t = i / 255;
    let k = 0;
    while (k < stops.length - 2 && t > stops[k + 1][0]) k += 1;
    const [t0, c0] = stops[k];
    const [t1, c1] = stops[k + 1];
    const f = t1 > t0 ? Math.min(1, Math.max(0, (t - t0) / (t1 - t0))) : 0;
    for (let ch = 0; ch < 3; ch += 1) lut[i * 4 + ch] = c0[ch] + f * (c1[ch] - c0[ch]);
    lut[i * 4 + 3] = 255;
  }
  return lut;
}
