// Painting a grid of values onto a canvas through a colour lookup table: how the decision boundary and every
// neuron's small map are drawn (a Plotly heatmap per neuron would cost a trace and a redraw each).

import { colorLut, divergingScale, classColors, hexToRgb, colors } from './theme.js';

const DIVERGING = colorLut(divergingScale);
const BACKGROUND = hexToRgb(colors.background);
const CLASS_RGB = classColors.map(hexToRgb);

/**
 * Paint one (r, r) block of `values` (starting at `offset`) onto `canvas`, values in [-scale, scale] mapped onto
 * the red–blue diverging scale. Grid row 0 is the bottom of the plane (x2 = −6); canvas row 0 is its top.
 * `discretize` paints only the sign; `strength` < 1 mutes the colours (so data points drawn over them stand out).
 * `flip` false keeps grid row 0 as the canvas's top row.
 */
export function paintDiverging(canvas, values, offset, r, scale, { discretize = false, flip = true, strength = 1 } = {}) {
  const image = prepare(canvas, r);
  const px = image.data;
  const s = (scale > 0 ? scale : 1) / strength;
  for (let row = 0; row < r; row += 1) {
    const target = flip ? r - 1 - row : row;
    for (let col = 0; col < r; col += 1) {
      let v = values[offset + row * r + col] / s;
      if (discretize) v = v > 0 ? strength : -strength;
      putDiverging(px, (target * r + col) * 4, v);
    }
  }
  canvas.getContext('2d').putImageData(image, 0, 0);
}

/**
 * Paint class probabilities (C, r, r): each pixel in its most likely class's colour, stronger the surer the
 * network is (every class at 1/C is background). `discretize` paints the winning class at full strength.
 */
export function paintClasses(canvas, values, classes, r, { discretize = false, flip = true } = {}) {
  const image = prepare(canvas, r);
  const px = image.data;
  const plane = r * r;
  for (let row = 0; row < r; row += 1) {
    const target = flip ? r - 1 - row : row;
    for (let col = 0; col < r; col += 1) {
      const cell = row * r + col;
      let best = 0;
      let total = 0;
      for (let c = 0; c < classes; c += 1) {
        const v = values[c * plane + cell];
        total += Math.max(0, v);
        if (v > values[best * plane + cell]) best = c;
      }
      const share = total > 0 ? values[best * plane + cell] / total : 0;
      const strength = discretize ? 0.85 : Math.max(0, Math.min(1, (share - 1 / classes) / (1 - 1 / classes))) * 0.9;
      const rgb = CLASS_RGB[best % CLASS_RGB.length];
      const p = (target * r + col) * 4;
      for (let ch = 0; ch < 3; ch += 1) px[p + ch] = BACKGROUND[ch] + strength * (rgb[ch] - BACKGROUND[ch]);
      px[p + 3] = 255;
    }
  }
  canvas.getContext('2d').putImageData(image, 0, 0);
}

/** Write the red–blue diverging colour of `v` in [-1, 1] (clamped) into the RGBA pixel at byte `p` of `px`. */
export function putDiverging(px, p, v) {
  const k = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5))) * 4;
  px[p] = DIVERGING[k];
  px[p + 1] = DIVERGING[k + 1];
  px[p + 2] = DIVERGING[k + 2];
  px[p + 3] = 255;
}

function prepare(canvas, r) {
  if (canvas.width !== r || canvas.height !== r) {
    canvas.width = r;
    canvas.height = r;
  }
  return canvas.getContext('2d').createImageData(r, r);
}

/** Largest |v| in values[offset, offset + n). */
export function blockMaxAbs(values, offset, n) {
  let m = 0;
  for (let i = offset; i < offset + n; i += 1) {
    const v = Math.abs(values[i]);
    if (v > m) m = v;
  }
  return m;
}
