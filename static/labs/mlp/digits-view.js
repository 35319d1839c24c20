// Digits view (3Blue1Brown's network on handwritten digits): the input digit as a grid of lit pixels, the ten
// outputs as bars with the prediction and its confidence, every first-layer neuron's weights as an image ("what
// this neuron looks for", blue +, red −, changing as it trains), the test digits it currently gets wrong (click
// one to make it the probe) and the confusion matrix.
//
// Reads frame.input, inputShape, activations, weights, probeTarget, probeLabel, outputActivation, probe and
// frame.evaluation (docs/protocol.md, "evaluation": confusion and misclassified.*). Computes no training maths.

import { colors, fontSize, colorLut } from '../../core/theme.js';
import { sizeCanvas } from '../../core/canvas.js';
import { argmax, el } from '../../core/dom.js';
import { paintDiverging, blockMaxAbs } from '../../core/grid-paint.js';

const WEIGHTS_INTERVAL_MS = 100;
const GALLERY_INTERVAL_MS = 1000;
const INK = colorLut([[0, '#10141c'], [1, '#ffffff']]); // an unlit pixel is not black: the grid stays visible
const GALLERY_INK = colorLut([[0, '#000000'], [1, '#ffffff']]);

/** Set a node's text only when it changes: an unchanged text costs the page no layout. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** The input digit as 3Blue1Brown draws it: one square per pixel, lit by its value in [0, 1]. */
export class PixelGrid {
  constructor(canvas) {
    this.canvas = canvas;
    this.key = '';
    new ResizeObserver(() => { this.key = ''; if (this.last) this.draw(...this.last); }).observe(canvas);
  }

  draw(values, h, w) {
    this.last = [values, h, w];
    const dpr = window.devicePixelRatio || 1;
    const side = Math.max(40, Math.floor(Math.min(this.canvas.clientWidth, this.canvas.clientHeight || Infinity) * dpr));
    const key = `${side}|${h}x${w}`;
    if (key === this.key && this.shown && this.shown.every((v, i) => v === values[i])) return; // the same picture
    this.key = key;
    this.shown = Float32Array.from(values);
    if (this.canvas.width !== side) {
      this.canvas.width = side;
      this.canvas.height = side;
    }
    const ctx = this.canvas.getContext('2d');
    ctx.fillStyle = colors.background;
    ctx.fillRect(0, 0, side, side);
    const cell = side / Math.max(h, w);
    const gap = Math.max(1, cell * 0.1);
    for (let r = 0; r < h; r += 1) {
      for (let c = 0; c < w; c += 1) {
        const k = Math.max(0, Math.min(255, Math.round(values[r * w + c] * 255))) * 4;
        ctx.fillStyle = `rgb(${INK[k]},${INK[k + 1]},${INK[k + 2]})`;
        ctx.fillRect(c * cell + gap / 2, r * cell + gap / 2, cell - gap, cell - gap);
      }
    }
  }
}

/** The ten outputs as bars: the brightest is the network's answer. */
export class OutputBars {
  constructor(root) {
    this.root = root;
    this.headline = el('div', 'digits-headline');
    this.answer = el('b', 'answer');
    this.confidence = el('span', 'confidence');
    this.headline.append(el('span', 'muted', 'prediction '), this.answer, this.confidence);
    this.list = el('div', 'output-bars');
    root.append(this.headline, this.list);
    this.rows = [];
  }

  ensureRows(count) {
    if (this.rows.length === count) return;
    this.list.replaceChildren();
    this.rows = Array.from({ length: count }, (_, i) => {
      const row = el('div', 'out-row');
      const digit = el('span', 'digit', String(i));
      const bar = el('span', 'bar');
      const fill = el('span', 'fill');
      bar.append(fill);
      const value = el('span', 'value');
      row.append(digit, bar, value);
      this.list.append(row);
      return { row, fill, value, shown: -1 };
    });
  }

  /** outputs: Float32Array (C,); target: index of the true class or null; softmax: outputs are probabilities. */
  draw(outputs, target, softmax) {
    this.ensureRows(outputs.length);
    const best = argmax(outputs);
    outputs.forEach((v, i) => {
      const r = this.rows[i];
      const length = Math.round(Math.max(0, Math.min(1, v)) * 500) / 500;
      if (length !== r.shown) { // a transform: the bar moves without a new layout
        r.shown = length;
        r.fill.style.transform = `scaleX(${length})`;
      }
      setText(r.value, v.toFixed(2));
      r.row.classList.toggle('predicted', i === best);
      r.row.classList.toggle('target', i === target);
    });
    const confidence = softmax ? `probability ${(outputs[best] * 100).toFixed(0)}%` : `activation ${outputs[best].toFixed(2)}`;
    const verdict = target === null ? '' : best === target ? ' ✓' : ` ✗ (label ${target})`;
    setText(this.answer, String(best));
    setText(this.confidence, ` ${confidence}${verdict}`);
  }
}

/** Every first-layer neuron's incoming weights as an image, framed by how strongly it fires for the probe. */
export class WeightImages {
  constructor(root) {
    this.root = root;
    this.tiles = [];
    this.painted = null; // the weight array last painted onto the tiles
    new ResizeObserver(() => this.fit()).observe(root);
  }

  /** The largest tiles (up to 150 px) that fit every neuron in the element: 16 of them, or 32. */
  fit() {
    const n = this.tiles.length;
    const width = this.root.clientWidth - 8; // less the padding that keeps the edge tiles' outlines in view
    const height = this.root.clientHeight - 8;
    if (!n || width <= 0 || height <= 0) return;
    const gap = 8;
    const caption = 30; // the caption under a tile, its gap and the lit outline
    let best = { size: 0, columns: n };
    for (let columns = 1; columns <= n; columns += 1) {
      const rows = Math.ceil(n / columns);
      const size = Math.min((width - gap * (columns - 1)) / columns, (height - gap * (rows - 1)) / rows - caption, 150);
      if (size > best.size) best = { size, columns };
    }
    this.root.style.gridTemplateColumns = `repeat(${best.columns}, ${Math.max(24, Math.floor(best.size))}px)`;
  }

  draw(weight, shape, activation) {
    const [h, w] = shape;
    const n = weight.shape[0];
    const size = h * w;
    if (this.tiles.length !== n || this.tileSize !== h) {
      this.root.replaceChildren();
      this.tileSize = h;
      this.tiles = Array.from({ length: n }, (_, j) => {
        const tile = el('figure', 'weight-tile');
        const canvas = el('canvas');
        const caption = el('figcaption');
        tile.append(canvas, caption);
        this.root.append(tile);
        const entry = { tile, canvas, caption, lit: null, about: '' };
        tile.addEventListener('mouseenter', () => { tile.title = entry.about; }); // written when read
        return entry;
      });
      this.fit();
      this.painted = null;
    }
    // The weights arrive as a new array only when they changed: repainting sixteen tiles otherwise is wasted work.
    const fresh = weight !== this.painted;
    this.painted = weight;
    let strongest = 1e-9;
    for (let j = 0; j < n; j += 1) strongest = Math.max(strongest, Math.abs(activation?.[j] ?? 0));
    for (let j = 0; j < n; j += 1) {
      const { tile, canvas, caption } = this.tiles[j];
      const scale = Math.max(1e-6, blockMaxAbs(weight, j * size, size)); // each neuron on its own scale: its pattern
      if (fresh) paintDiverging(canvas, weight, j * size, h, scale, { flip: false });
      const a = activation ? activation[j] : 0;
      const lit = Math.round(Math.max(0, Math.min(1, Math.abs(a) / Math.max(1, strongest))) * 20) / 20;
      if (this.tiles[j].lit !== lit) {
        this.tiles[j].lit = lit;
        tile.style.setProperty('--lit', String(lit));
      }
      setText(caption, `${j}  a=${a.toFixed(2)}`);
      this.tiles[j].about = `hidden neuron ${j}: its weights from each pixel (blue +, red −, largest |w| ` +
        `${scale.toFixed(3)}); its activation for this input ${a.toFixed(3)}`;
    }
  }
}

/** The test digits the network currently gets wrong: label → prediction; a click makes one the probe. */
export class MisclassifiedGallery {
  constructor(root, countEl, onProbe) {
    this.root = root;
    this.countEl = countEl;
    this.onProbe = onProbe;
    this.version = null;
    this.built = -Infinity;
  }

  /** Rebuilt for a new evaluation bundle, at most once a second while training (`running`). */
  draw(evaluation, probe, running) {
    const version = evaluation?.meta?.version ?? null;
    const now = performance.now();
    if (version !== this.version && (!running || now - this.built >= GALLERY_INTERVAL_MS)) {
      this.version = version;
      this.built = now;
      this.build(evaluation);
    }
    const current = probe && probe.split === 'test' ? probe.index : null;
    for (const tile of this.root.children) tile.classList.toggle('active', Number(tile.dataset.index) === current);
  }

  build(evaluation) {
    this.root.replaceChildren();
    const a = evaluation?.arrays ?? {};
    const images = a['misclassified.image'];
    const confusion = a.confusion;
    let wrong = 0;
    let total = 0;
    if (confusion) {
      const k = confusion.shape[0];
      for (let i = 0; i < k * k; i += 1) {
        total += confusion[i];
        if (Math.floor(i / k) !== i % k) wrong += confusion[i];
      }
    }
    const shown = images ? images.shape[0] : 0;
    this.countEl.textContent = confusion ? `${wrong} of ${total} wrong${wrong > shown ? `, first ${shown} shown` : ''}` : '';
    if (!shown) {
      if (confusion) this.root.append(el('p', 'muted', 'None: every test digit is right.'));
      return;
    }
    const [, h, w] = images.shape;
    for (let n = 0; n < shown; n += 1) {
      const index = a['misclassified.index'][n];
      const tile = el('button', 'wrong-tile');
      tile.type = 'button';
      tile.dataset.index = String(index);
      const canvas = el('canvas');
      paintGrey(canvas, images, n * h * w, h, w);
      const label = a['misclassified.label'][n];
      const predicted = a['misclassified.predicted'][n];
      const caption = el('span', 'caption');
      caption.append(el('span', 'label', String(label)), el('span', 'arrow', '→'), el('span', 'guess', String(predicted)));
      tile.append(canvas, caption);
      tile.title = `test digit ${index}: a ${label}, read as ${predicted}. Click to look inside.`;
      tile.addEventListener('click', () => this.onProbe?.({ split: 'test', index }));
      this.root.append(tile);
    }
  }
}

function paintGrey(canvas, values, offset, h, w) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i += 1) {
    const k = Math.max(0, Math.min(255, Math.round(values[offset + i] * 255))) * 4;
    image.data.set(GALLERY_INK.subarray(k, k + 4), i * 4);
  }
  ctx.putImageData(image, 0, 0);
}

// Right answers blue, mistakes red, each brighter the larger its share of the true digit's row.
const RIGHT_INK = colorLut([[0, '#17303a'], [1, colors.positive]]);
const WRONG_INK = colorLut([[0, '#3a1c1a'], [0.3, '#9c3a33'], [1, colors.negative]]);
const FONT = 'Inter, "DejaVu Sans", Arial, sans-serif';

/**
 * Test-set confusion matrix: rows the true digit, columns the prediction; right answers blue, mistakes red, the
 * count in each cell. Drawn on a canvas: a Plotly heatmap of the same took 25-56 ms of JavaScript a redraw in
 * software rendering, the canvas well under one.
 */
export class ConfusionMatrix {
  constructor(root) {
    this.root = root;
    this.canvas = el('canvas', 'confusion-canvas');
    this.canvas.setAttribute('role', 'img');
    root.append(this.canvas);
    this.version = null;
    this.confusion = null;
    this.cells = null; // {left, top, cell, k}: where the last drawing put the cells (hover)
    new ResizeObserver(() => { if (this.confusion) this.paint(); }).observe(root);
    this.canvas.addEventListener('mousemove', (event) => this.hover(event));
  }

  /** Redraws only for a new evaluation bundle. */
  draw(evaluation) {
    const confusion = evaluation?.arrays?.confusion;
    const version = evaluation?.meta?.version ?? null;
    if (!confusion || version === this.version) return;
    this.version = version;
    this.confusion = confusion;
    this.paint();
  }

  paint() {
    const { canvas, confusion } = this;
    const width = this.root.clientWidth;
    const height = this.root.clientHeight;
    if (!width || !height) return;
    const ctx = sizeCanvas(canvas, width, height);
    ctx.fillStyle = colors.background;
    ctx.fillRect(0, 0, width, height);
    const k = confusion.shape[0];
    const tick = fontSize(13);
    const title = fontSize(13);
    // Room for the axis titles and the digits beside the square of cells, which is centred in what is left.
    const marginLeft = title + tick + 14;
    const marginBottom = title + tick + 14;
    const cell = Math.max(4, Math.floor(Math.min(width - marginLeft - 8, height - marginBottom - 6) / k));
    const side = cell * k;
    const left = marginLeft + Math.max(0, Math.floor((width - marginLeft - 8 - side) / 2));
    const top = 6;
    this.cells = { left, top, cell, k };
    const gap = 2;
    const countSize = Math.max(8, Math.min(fontSize(k > 10 ? 10 : 13), Math.floor(cell * 0.45)));
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    let wrong = 0;
    let total = 0;
    for (let r = 0; r < k; r += 1) {
      let rowTotal = 0;
      for (let c = 0; c < k; c += 1) rowTotal += confusion[r * k + c];
      for (let c = 0; c < k; c += 1) {
        const count = confusion[r * k + c];
        total += count;
        if (r !== c) wrong += count;
        if (r !== c && count === 0) continue; // no mistake: an empty cell, so the mistakes stand out
        const share = rowTotal > 0 ? count / rowTotal : 0;
        const ink = r === c ? RIGHT_INK : WRONG_INK;
        const i = Math.round(share * 255) * 4;
        const x = left + c * cell;
        const y = top + r * cell;
        ctx.fillStyle = `rgb(${ink[i]},${ink[i + 1]},${ink[i + 2]})`;
        ctx.fillRect(x + gap / 2, y + gap / 2, cell - gap, cell - gap);
        if (count > 0) {
          // Dark digits on a bright cell, light ones on a dark cell: legible either way.
          const light = 0.299 * ink[i] + 0.587 * ink[i + 1] + 0.114 * ink[i + 2] > 140;
          ctx.fillStyle = light ? colors.background : colors.text;
          ctx.font = `${countSize}px ${FONT}`;
          ctx.fillText(String(count), x + cell / 2, y + cell / 2 + 0.5);
        }
      }
    }
    // The digits along both axes, then the axis titles.
    ctx.fillStyle = colors.muted;
    ctx.font = `${tick}px ${FONT}`;
    for (let i = 0; i < k; i += 1) {
      ctx.textAlign = 'right';
      ctx.fillText(String(i), left - 6, top + (i + 0.5) * cell);
      ctx.textAlign = 'center';
      ctx.fillText(String(i), left + (i + 0.5) * cell, top + side + 4 + tick / 2);
    }
    ctx.font = `${title}px ${FONT}`;
    ctx.fillText('predicted', left + side / 2, top + side + 10 + tick + title / 2);
    ctx.save();
    ctx.translate(left - 12 - tick - title / 2, top + side / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText('true', 0, 0);
    ctx.restore();
    this.canvas.setAttribute('aria-label', `confusion matrix of the test set: ${wrong} of ${total} wrong`);
  }

  /** The cell under the pointer as a tooltip: "a 4 read as 9: 12". */
  hover(event) {
    if (!this.cells || !this.confusion) return;
    const { left, top, cell, k } = this.cells;
    const rect = this.canvas.getBoundingClientRect();
    const c = Math.floor((event.clientX - rect.left - left) / cell);
    const r = Math.floor((event.clientY - rect.top - top) / cell);
    const text = r >= 0 && r < k && c >= 0 && c < k ? `a ${r} read as ${c}: ${this.confusion[r * k + c]}` : '';
    if (this.canvas.title !== text) this.canvas.title = text;
  }
}

/**
 * The digits panels. `parts` names where each is built (any may be left out): {input, outputs, weights, wrong,
 * confusion}, each an element that gets a titled section. hooks.onProbe({split, index}) makes a test digit the
 * probe. update(frame) paints the canvases and bars of the newest frame (cheap: every frame); drawConfusion() is
 * the confusion matrix, for the page's chart scheduler. Both do nothing for a dataset that is not made of images.
 */
export class DigitsView {
  constructor(parts, hooks = {}) {
    this.weightsDrawn = -Infinity;
    this.weightsProbe = null;
    const section = (root, className, title) => {
      const s = el('section', `digits-part ${className}`);
      const h = el('h3', null, title);
      s.append(h);
      root.append(s);
      return { s, h };
    };
    if (parts.input) {
      const input = section(parts.input, 'digits-input', 'What the network sees');
      this.inputCaption = el('span', 'muted');
      input.h.append(' ', this.inputCaption);
      const canvas = el('canvas', 'pixel-grid');
      input.s.append(canvas);
      this.pixels = new PixelGrid(canvas);
    }
    if (parts.outputs) {
      this.outputs = new OutputBars(section(parts.outputs, 'digits-outputs', 'Output layer').s);
    }
    if (parts.weights) {
      const weights = section(parts.weights, 'digits-weights', 'What each first-layer neuron looks for');
      weights.h.append(' ', el('span', 'muted legend', 'its weights: blue +, red −; lit as it fires'));
      const tiles = el('div', 'weight-tiles');
      weights.s.append(tiles);
      this.weightImages = new WeightImages(tiles);
    }
    if (parts.wrong) {
      const wrong = section(parts.wrong, 'digits-wrong', 'Test digits it gets wrong');
      const count = el('span', 'muted');
      wrong.h.append(' ', count);
      const gallery = el('div', 'wrong-gallery');
      wrong.s.append(gallery);
      this.gallery = new MisclassifiedGallery(gallery, count, hooks.onProbe);
    }
    if (parts.confusion) {
      const confusion = section(parts.confusion, 'digits-confusion', 'Confusion matrix (test set)');
      const plot = el('div', 'confusion-plot');
      confusion.s.append(plot);
      this.confusion = new ConfusionMatrix(plot);
    }
  }

  update(frame) {
    if (!frame.inputShape) return;
    const [h, w] = frame.inputShape;
    const L = frame.layerSizes.length - 1;
    if (this.pixels) {
      this.pixels.draw(frame.input, h, w);
      const probe = frame.probe;
      const drawn = !!(probe && (probe.drawing || probe.image));
      this.inputCaption.textContent = drawn ? 'your drawing, centred'
        : probe && 'split' in probe ? `${probe.split} digit #${probe.index}` : '';
    }
    if (this.outputs) {
      const label = frame.probeLabel;
      this.outputs.draw(frame.activations[L], typeof label === 'number' ? label : null,
        frame.outputActivation === 'softmax');
    }
    // The weight images change slowly while training: ten times a second is plenty, and frees the page for the
    // network view (sixteen upscaled canvases cost a frame a lot of painting in software rendering).
    const now = performance.now();
    const probe = JSON.stringify(frame.probe ?? null);
    if (this.weightImages && (now - this.weightsDrawn >= WEIGHTS_INTERVAL_MS || probe !== this.weightsProbe
        || frame.status !== 'running')) {
      this.weightsDrawn = now;
      this.weightsProbe = probe;
      this.weightImages.draw(frame.weights[0], frame.inputShape, frame.activations[1]);
    }
    this.gallery?.draw(frame.evaluation, frame.probe, frame.status === 'running');
    this.evaluation = frame.evaluation;
  }

  drawConfusion() {
    if (this.evaluation) this.confusion?.draw(this.evaluation);
  }
}
