// Where the network view puts things: neuron positions for a network shape and a canvas size, which links are
// drawn (all, or each neuron's strongest from an input image), and what is under the pointer.
// Neurons are circles, or (2-D datasets with neuron maps on) rounded squares that show the neuron's map, as TF
// Playground draws them; `radius` is then the square's half-side and links attach to the squares' sides.

const MAX_LINKS_PER_LAYER = 640; // above this (image inputs) only each neuron's strongest links are drawn
const IMAGE_LINKS_PER_NEURON = 6; // from an input image: each first-layer neuron's strongest pixels
export const WEIGHT_SCALE_FLOOR = 1.0; // |w| drawn at full width; a floor, so links visibly swell as they train
const HIT_DISTANCE = 6; // px from a link that still counts as on it
export function maxAbs(array) {
  let m = 0;
  for (let i = 0; i < array.length; i += 1) m = Math.max(m, Math.abs(array[i]));
  return m;
}

/** Which links of one (out, in) weight matrix to draw: all (null), or each output neuron's `perNeuron` strongest. */
function chooseLinks(weight, nOut, nIn, perNeuron) {
  if (!perNeuron && nOut * nIn <= MAX_LINKS_PER_LAYER) return null;
  const k = Math.min(nIn, perNeuron || Math.max(4, Math.floor(MAX_LINKS_PER_LAYER / nOut)));
  const chosen = new Int32Array(nOut * k);
  const top = new Int32Array(k); // indices of the row's k largest |w| so far, largest first
  for (let j = 0; j < nOut; j += 1) {
    const row = weight.subarray(j * nIn, (j + 1) * nIn);
    let filled = 0;
    for (let i = 0; i < nIn; i += 1) {
      const size = Math.abs(row[i]);
      if (filled === k && size <= Math.abs(row[top[k - 1]])) continue;
      let at = Math.min(filled, k - 1);
      while (at > 0 && Math.abs(row[top[at - 1]]) < size) {
        top[at] = top[at - 1];
        at -= 1;
      }
      top[at] = i;
      filled = Math.min(k, filled + 1);
    }
    for (let m = 0; m < k; m += 1) chosen[j * k + m] = j * nIn + top[m];
  }
  return chosen;
}

/**
 * Where every neuron sits, in CSS pixels, for one network shape and one canvas size.
 * `maps`: neurons are squares showing their maps (2-D inputs only), a little larger than circles.
 */
export function layOut(sizes, inputShape, width, height, labelWidths, { maps = false } = {}) {
  const layers = sizes.length;
  const isImage = Array.isArray(inputShape) && inputShape.length === 2;
  const squares = maps && !isImage;
  // Room for the names beside the first and last layers (a square's half-side can reach 27 px).
  const left = isImage ? 16 : (squares ? 46 : 40) + labelWidths.input;
  const right = width - (squares ? 46 : 36) - labelWidths.output;
  const top = 14;
  const bottom = height - 14;
  const gap = (right - left) / Math.max(1, layers - 1);
  const circles = sizes.map((n, l) => (l === 0 && isImage ? 1 : n));
  const spacing = Math.min(64, (bottom - top) / Math.max(...circles));
  // A square's half-side: large enough to read its map, leaving a gap between squares and room for links.
  const radius = squares ? Math.max(4, Math.min(27, spacing * 0.4, gap * 0.2))
    : Math.max(3, Math.min(23, spacing * 0.36, gap * 0.16));
  let imageBox = null;
  const nodes = sizes.map((n, l) => {
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    if (l === 0 && isImage) {
      const [h, w] = inputShape;
      const side = Math.min(gap * 0.7, (bottom - top) * 0.8);
      const x0 = left + 4;
      const y0 = (top + bottom) / 2 - side / 2;
      imageBox = { x0, y0, side, h, w };
      for (let i = 0; i < n; i += 1) {
        x[i] = x0 + ((i % w) + 0.5) * (side / w);
        y[i] = y0 + (Math.floor(i / w) + 0.5) * (side / h);
      }
      return { x, y };
    }
    for (let i = 0; i < n; i += 1) {
      x[i] = left + l * gap;
      y[i] = (top + bottom) / 2 + (i - (n - 1) / 2) * spacing;
    }
    return { x, y };
  });
  if (isImage) {
    // The image's right edge is where its links start; hidden layers share the remaining width.
    const start = imageBox.x0 + imageBox.side + gap * 0.35;
    const step = (right - start) / Math.max(1, layers - 2);
    for (let l = 1; l < layers; l += 1) nodes[l].x.fill(start + (l - 1) * step);
  }
  return { sizes, isImage, squares, nodes, radius, imageBox, width, height, layerX: nodes.map((n) => n.x[0] ?? 0),
    port: squares ? radius : 0 }; // links leave a square's right side and enter the next one's left side
}

/**
 * The links to draw, with their end points and |w| relative to the scale they are drawn at (t in [0, 1]);
 * and the largest |∂C/∂w| (arrows are sized against it).
 */
export function collectLinks(frame, g) {
  const sizes = frame.layerSizes;
  let scale = WEIGHT_SCALE_FLOOR;
  frame.weights.forEach((w, l) => { if (!(l === 0 && g.isImage)) scale = Math.max(scale, maxAbs(w)); });
  let gradScale = 1e-12;
  frame.weightGrads.forEach((gw) => { gradScale = Math.max(gradScale, maxAbs(gw)); });
  const links = [];
  for (let l = 0; l < sizes.length - 1; l += 1) {
    const nIn = sizes[l];
    const nOut = sizes[l + 1];
    const weight = frame.weights[l];
    const fromImage = l === 0 && g.isImage;
    const chosen = chooseLinks(weight, nOut, nIn, fromImage ? IMAGE_LINKS_PER_NEURON : 0);
    // Dense layers get fainter, thinner links, so that the strong ones still stand out.
    const density = Math.min(1, 10 / Math.sqrt(nIn * nOut)) ** 0.5;
    const layerScale = l === 0 && g.isImage ? Math.max(1e-6, maxAbs(weight)) : scale;
    const count = chosen ? chosen.length : nOut * nIn;
    for (let k = 0; k < count; k += 1) {
      const flat = chosen ? chosen[k] : k;
      const j = Math.floor(flat / nIn);
      const i = flat % nIn;
      const t = Math.min(1, Math.abs(weight[flat]) / layerScale);
      links.push({ layer: l, row: j, col: i, flat, t, density, x0: g.nodes[l].x[i] + g.port, y0: g.nodes[l].y[i],
        x1: g.nodes[l + 1].x[j] - g.port, y1: g.nodes[l + 1].y[j] });
    }
  }
  return { links, gradScale };
}

/** What is under a point in CSS pixels of the canvas: a neuron, a bias, or the nearest link (within HIT_DISTANCE). */
export function hitTest(g, links, px, py) {
  const r = g.radius;
  for (let l = g.isImage ? 1 : 0; l < g.sizes.length; l += 1) {
    for (let i = 0; i < g.sizes[l]; i += 1) {
      const x = g.nodes[l].x[i];
      const y = g.nodes[l].y[i];
      const inside = g.squares ? Math.max(Math.abs(px - x), Math.abs(py - y)) <= r + 2 : Math.hypot(px - x, py - y) <= r + 2;
      // The bias square overlaps the neuron's lower left: it wins there, so it stays clickable.
      const b = l > 0 ? biasBox(g, x, y) : null;
      if (b && px >= b.x - 2 && px <= b.x + b.side + 2 && py >= b.y - 2 && py <= b.y + b.side + 2) {
        return { kind: 'bias', layer: l - 1, row: i, col: null };
      }
      if (inside) return { kind: 'neuron', layer: l, index: i };
    }
  }
  let best = null;
  let bestDistance = HIT_DISTANCE;
  for (const link of links) {
    const d = segmentDistance(px, py, link);
    if (d < bestDistance) {
      bestDistance = d;
      best = { kind: 'weight', layer: link.layer, row: link.row, col: link.col };
    }
  }
  return best;
}

/**
 * A neuron's bias square (top-left corner and side), astride the lower left of the neuron centred at (x, y); on a
 * map square mostly outside it, so it hides little of the map and leaves room for the activation's badge.
 */
export function biasBox(g, x, y) {
  const side = Math.max(4, g.radius * 0.55);
  return { x: x - g.radius - side * (g.squares ? 0.75 : 0.55), y: y + g.radius * 0.45, side };
}

function segmentDistance(px, py, { x0, y0, x1, y1 }) {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const t = Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy || 1)));
  return Math.hypot(px - (x0 + t * dx), py - (y0 + t * dy));
}
