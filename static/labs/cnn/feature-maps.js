// #feature-maps: the probe image through every layer, one card a layer, as ConvNetJS draws it — a conv layer's
// kernels (one small image per output and input channel, blue +, red −, one scale for the layer) and its feature
// maps; each activation's and pooling's maps; the dense layers as a strip of cells; the output probabilities as
// bars. Maps with negative values are drawn red–blue around zero; maps that are never negative (after ReLU) are
// lit from black to white. Click a map's pixel: `inspect {layer, channel, y, x}` (the detail views show the
// convolution or the pooling there). Reads frame.input, layerOutputs, kernels, outputs (labs/cnn/frame.js) and
// the state's summary (one row per layer). Computes no training maths.

import { colorLut, colors, divergingScale, fontSize } from '../../core/theme.js';
import { sizeCanvas } from '../../core/canvas.js';
import { argmax, el } from '../../core/dom.js';

const DIVERGING = colorLut(divergingScale);
const GAP = 1; // pixels between two maps in a card's offscreen image
const MAX_CELL = 6; // CSS pixels per map pixel at most (small maps are not blown up into blocks)

/** Paint `count` maps of h×w (values[c*h*w + ...]) into an ImageData of `cols` columns, each map on its own scale. */
export function paintMaps(values, count, h, w, cols, { shared = false } = {}) {
  const rows = Math.ceil(count / cols);
  const width = cols * (w + GAP) - GAP;
  const height = rows * (h + GAP) - GAP;
  const image = new ImageData(Math.max(1, width), Math.max(1, height));
  const px = image.data;
  let sharedScale = 0;
  if (shared) for (let i = 0; i < count * h * w; i += 1) sharedScale = Math.max(sharedScale, Math.abs(values[i]));
  for (let c = 0; c < count; c += 1) {
    const offset = c * h * w;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < h * w; i += 1) {
      const v = values[offset + i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const signed = shared || lo < -1e-9;
    const scale = shared ? sharedScale : Math.max(Math.abs(lo), Math.abs(hi));
    const x0 = (c % cols) * (w + GAP);
    const y0 = Math.floor(c / cols) * (h + GAP);
    for (let y = 0; y < h; y += 1) {
      for (let x = 0; x < w; x += 1) {
        const v = values[offset + y * w + x];
        const p = ((y0 + y) * width + x0 + x) * 4;
        if (signed) {
          const k = Math.max(0, Math.min(255, Math.round(((scale > 0 ? v / scale : 0) + 1) * 127.5))) * 4;
          px[p] = DIVERGING[k]; px[p + 1] = DIVERGING[k + 1]; px[p + 2] = DIVERGING[k + 2];
        } else {
          const g = hi > 0 ? Math.round((255 * v) / hi) : 0;
          px[p] = g; px[p + 1] = g; px[p + 2] = g;
        }
        px[p + 3] = 255;
      }
    }
  }
  return image;
}

/** An RGB (3, H, W) or grey (1, H, W) image in [0, 1] as an ImageData. */
function paintImage(values, c, h, w) {
  const image = new ImageData(w, h);
  for (let i = 0; i < h * w; i += 1) {
    for (let ch = 0; ch < 3; ch += 1) image.data[i * 4 + ch] = Math.round(255 * values[(c === 3 ? ch : 0) * h * w + i]);
    image.data[i * 4 + 3] = 255;
  }
  return image;
}

/** Draw `image` onto `canvas` at an integer number of CSS pixels per image pixel, fitting `maxWidth`. */
export function blit(canvas, image, maxWidth, maxCell = MAX_CELL) {
  const cell = Math.max(1, Math.min(maxCell, Math.floor(maxWidth / image.width)));
  const ctx = sizeCanvas(canvas, image.width * cell, image.height * cell);
  const cssWidth = `${image.width * cell}px`;
  const cssHeight = `${image.height * cell}px`;
  if (canvas.style.width !== cssWidth) canvas.style.width = cssWidth; // unchanged most frames: no style work
  if (canvas.style.height !== cssHeight) canvas.style.height = cssHeight;
  const off = blit.off ?? (blit.off = document.createElement('canvas'));
  if (off.width !== image.width || off.height !== image.height) { // resizing reallocates (putImageData fills it all)
    off.width = image.width;
    off.height = image.height;
  }
  off.getContext('2d').putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, image.width * cell, image.height * cell);
  ctx.drawImage(off, 0, 0, image.width * cell, image.height * cell);
  return cell;
}

export class FeatureMaps {
  /** @param {HTMLElement} root #feature-maps  @param {{onInspect(layer, channel, y, x)}} hooks */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.key = '';
    this.cards = [];
    this.inspected = null;
    this.drawn = 0; // frames drawn (tests)
  }

  /** One card per shown layer, rebuilt when the architecture or the data's classes change. */
  setStructure(state) {
    const rows = state.summary.rows;
    const key = JSON.stringify([rows.map((r) => [r.type, r.output_shape]), state.shown_layers, state.classes,
      state.image_shape]);
    this.inspected = state.inspected;
    this.classes = state.classes;
    if (key === this.key) return;
    this.key = key;
    this.root.replaceChildren();
    this.cards = [];
    const [c, h, w] = state.image_shape;
    this.addCard({ kind: 'input', title: `Input (N, ${c}, ${h}, ${w})`, shape: [c, h, w] });
    for (const k of state.shown_layers) {
      const row = rows[k];
      const conv = row.type === 'Conv2d';
      const maps = row.output_shape.length === 3;
      this.addCard({ kind: maps ? 'maps' : 'dense', layer: k, type: row.type, shape: row.output_shape,
        title: `${k} ${row.type} ${row.shape_text}`, note: conv ? 'kernels · maps before the activation' : '',
        kernels: conv });
    }
    this.addCard({ kind: 'output', title: 'Output probabilities (softmax)', shape: [state.classes.length] });
  }

  addCard(spec) {
    const card = el('div', `fm-card fm-${spec.kind}`);
    const head = el('div', 'fm-title', spec.title);
    if (spec.note) head.append(el('span', 'muted', ` ${spec.note}`));
    card.append(head);
    const body = el('div', 'fm-body');
    if (spec.kernels) {
      spec.kernelCanvas = el('canvas', 'fm-kernels');
      spec.kernelCanvas.title = 'Kernels: one column per output channel, one row per input channel (blue +, red −)';
      body.append(spec.kernelCanvas);
    }
    if (spec.kind === 'output') {
      spec.bars = el('div', 'fm-bars');
      body.append(spec.bars);
    } else {
      spec.canvas = el('canvas', 'fm-canvas');
      body.append(spec.canvas);
    }
    if (spec.kind === 'maps') {
      spec.canvas.addEventListener('click', (event) => this.click(spec, event));
      spec.canvas.title = 'Click a pixel: how it was computed';
      spec.canvas.dataset.layer = String(spec.layer);
    }
    card.append(body);
    this.root.append(card);
    this.cards.push(spec);
  }

  click(spec, event) {
    if (!spec.cell) return;
    const box = spec.canvas.getBoundingClientRect();
    const px = Math.floor((event.clientX - box.left) / spec.cell);
    const py = Math.floor((event.clientY - box.top) / spec.cell);
    const [, h, w] = spec.shape;
    const col = Math.floor(px / (w + GAP));
    const row = Math.floor(py / (h + GAP));
    const x = px - col * (w + GAP);
    const y = py - row * (h + GAP);
    const channel = row * spec.cols + col;
    if (x >= w || y >= h || channel >= spec.shape[0]) return;
    this.hooks.onInspect(spec.layer, channel, y, x);
  }

  update(frame) {
    if (!frame.layerOutputs || !this.cards.length) return;
    const width = Math.max(120, this.root.clientWidth - 24);
    for (const spec of this.cards) {
      if (spec.kind === 'input' && frame.input) {
        const [c, h, w] = spec.shape;
        blit(spec.canvas, paintImage(frame.input, c, h, w), Math.min(width, 160), 8);
      } else if (spec.kind === 'maps') {
        const values = frame.layerOutputs[spec.layer];
        if (!values) continue;
        const [c, h, w] = spec.shape;
        spec.cols = Math.max(1, Math.min(c, Math.floor((width + GAP) / (w + GAP))));
        let kernelWidth = 0;
        if (spec.kernels && frame.kernels[spec.layer]) {
          const kernels = frame.kernels[spec.layer];
          const [cOut, cIn, kh, kw] = kernels.shape;
          // Column j is kernel j (above map j's place): its cIn slices down the column, one scale for the layer.
          const size = kh * kw;
          const byColumn = new Float32Array(kernels.length);
          for (let o = 0; o < cOut; o += 1) {
            for (let i = 0; i < cIn; i += 1) byColumn.set(kernels.subarray((o * cIn + i) * size, (o * cIn + i + 1) * size), (i * cOut + o) * size);
          }
          const image = paintMaps(byColumn, cOut * cIn, kh, kw, cOut, { shared: true });
          const cell = blit(spec.kernelCanvas, image, Math.min(width * 0.35, 220), 5);
          kernelWidth = image.width * cell + 10;
        }
        spec.cols = Math.max(1, Math.min(c, Math.floor((width - kernelWidth + GAP) / (w + GAP))));
        spec.cell = blit(spec.canvas, paintMaps(values, c, h, w, spec.cols), width - kernelWidth);
        this.markInspected(spec);
      } else if (spec.kind === 'dense') {
        const values = frame.layerOutputs[spec.layer];
        if (!values) continue;
        const n = values.length;
        const cols = Math.max(1, Math.min(n, Math.floor(width / 6)));
        const rows = Math.ceil(n / cols);
        const cells = new Float32Array(rows * cols); // the last row padded with zeros
        cells.set(values);
        spec.cell = blit(spec.canvas, paintMaps(cells, 1, rows, cols, 1, { shared: true }), width, 14);
      } else if (spec.kind === 'output' && frame.outputs) {
        this.drawBars(spec, frame);
      }
    }
    this.drawn += 1;
  }

  markInspected(spec) {
    const at = this.inspected;
    if (!at || at.layer !== spec.layer || !spec.cell) return;
    const [, h, w] = spec.shape;
    const x = ((at.channel % spec.cols) * (w + GAP) + at.x) * spec.cell;
    const y = (Math.floor(at.channel / spec.cols) * (h + GAP) + at.y) * spec.cell;
    const ctx = spec.canvas.getContext('2d');
    ctx.strokeStyle = colors.accent;
    ctx.lineWidth = 2;
    ctx.strokeRect(x - 1, y - 1, spec.cell + 2, spec.cell + 2);
  }

  drawBars(spec, frame) {
    const p = frame.outputs;
    if (spec.bars.children.length !== p.length) {
      spec.bars.replaceChildren(...Array.from(p, (_, i) => {
        const bar = el('div', 'fm-bar');
        bar.append(el('span', 'fm-bar-label', this.classes?.[i] ?? String(i)), el('span', 'fm-bar-fill'),
          el('span', 'fm-bar-value'));
        return bar;
      }));
    }
    const best = argmax(p);
    Array.from(spec.bars.children).forEach((bar, i) => {
      bar.children[1].style.width = `${(100 * p[i]).toFixed(1)}%`;
      bar.children[2].textContent = `${(100 * p[i]).toFixed(0)}%`;
      bar.classList.toggle('best', i === best);
      bar.classList.toggle('truth', frame.probeLabel === i);
      bar.style.fontSize = `${fontSize(13)}px`;
    });
  }
}
