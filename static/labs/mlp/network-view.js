// Network view: neurons lit by their activation for the probe input, links coloured by sign with width and
// opacity by |w|, every bias as a small square, and an arrow on each link for the way gradient descent is
// pushing that weight. Hover shows a weight and its gradient; clicking a link or a bias opens the editor
// (network-pointer.js).
// For 2-D datasets each neuron (inputs and outputs too) is drawn as its own map over the input plane, as TF
// Playground draws them (network-maps.js; the "neuron maps" toggle), ringed and badged by its activation.
//
// Drawn on a canvas, not with Plotly: measured in headless Chromium, a Plotly restyle of the 2-8-8-8-8-1 network
// cost ~32 ms a frame (every trace is recalculated), the same drawing on a canvas < 1 ms (docs/page.md).
//
// Reads frame.layerSizes, weights, biases, weightGrads, biasGrads, activations, preActivations, inputShape,
// inputNames, outputNames, and for the maps outputGrid, neuronGrids, dataset.arrays.feature_grid (docs/page.md).

import { sizeCanvas } from '../../core/canvas.js';
import { colors, colorLut, divergingScale, fontSize, glowScale, signColor } from '../../core/theme.js';
import { WEIGHT_SCALE_FLOOR, biasBox, collectLinks, layOut, maxAbs } from './network-layout.js';
import { NeuronMaps } from './network-maps.js';
import { NetworkPointer } from './network-pointer.js';

const NAME_FONT = () => `${fontSize(15)}px "DejaVu Sans", sans-serif`;

const GLOW = colorLut(glowScale);
const DIVERGING = colorLut(divergingScale);
/** The colour of v in [-1, 1] on a lookup table from colorLut. */
const lutColor = (lut, v) => {
  const k = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5))) * 4;
  return `rgb(${lut[k]},${lut[k + 1]},${lut[k + 2]})`;
};

const badgeWidth = (ctx, text) => ctx.measureText(text).width + 6;

/** The activation's number on a small pill lit like a neuron, its right end at (right, y). */
function drawBadge(ctx, right, y, text, v, fontPx) {
  const w = badgeWidth(ctx, text);
  const h = fontPx + 4;
  const x = right - w / 2;
  ctx.fillStyle = lutColor(GLOW, v);
  ctx.beginPath();
  ctx.roundRect(x - w / 2, y - h / 2, w, h, h / 2);
  ctx.fill();
  ctx.lineWidth = 1;
  ctx.strokeStyle = 'rgba(14,17,23,0.8)';
  ctx.stroke();
  ctx.fillStyle = Math.abs(v) > 0.55 ? colors.background : colors.text;
  ctx.fillText(text, x, y + 1);
}

export class NetworkView {
  /**
   * @param {HTMLElement} el the view's element (#network-view); a canvas is put inside it
   * @param {{onEdit, onHoverNeuron, onNeuronDelta, onMaps, onResize, buttons: HTMLElement}} hooks
   */
  constructor(el, hooks) {
    this.el = el;
    this.hooks = hooks;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'network-canvas';
    this.pointer = new NetworkPointer(this, hooks);
    el.append(this.canvas, this.pointer.tooltip);
    this.showArrows = true;
    this.showMaps = true; // on by default; only 2-D datasets have maps
    this.maps = new NeuronMaps();
    this.mapsDrawn = 0; // neuron maps drawn by the last update (for scripts and tests)
    this.mapsToggle = this.createMapsToggle();
    this.geometry = null;
    this.frame = null;
    this.links = null; // per drawn link: layer, out, in, and its end points (for hit-testing)
    new ResizeObserver(() => {
      this.geometry = null;
      hooks.onResize?.();
    }).observe(el);
  }

  setArrows(on) {
    this.showArrows = on;
  }

  setMaps(on) {
    this.showMaps = on;
    if (this.mapsBox) this.mapsBox.checked = on;
    this.geometry = null; // squares and circles are laid out differently
  }

  /** "neuron maps" beside the header's "gradient arrows" toggle (or at the header's end). */
  createMapsToggle() {
    const caption = this.el.closest('figure')?.querySelector('figcaption');
    if (!caption) return null;
    const label = document.createElement('label');
    label.className = 'toggle';
    label.title = "Draw each neuron as its output over the input plane (2-D datasets)";
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.id = 'show-maps';
    box.checked = this.showMaps;
    box.addEventListener('change', () => {
      this.setMaps(box.checked);
      this.hooks.onMaps?.(box.checked); // the page keeps it in the URL
      this.hooks.onResize?.(); // redraw the newest frame
    });
    this.mapsBox = box;
    label.append(box, ' neuron maps');
    const arrows = caption.querySelector('#show-arrows')?.closest('label');
    if (arrows) arrows.after(label);
    else caption.append(label);
    return label;
  }

  update(frame) {
    this.frame = frame;
    const available = NeuronMaps.available(frame);
    if (this.mapsToggle) this.mapsToggle.hidden = !available;
    if (available && this.showMaps) this.maps.refresh(frame);
    const g = this.ensureGeometry(frame);
    const ctx = sizeCanvas(this.canvas, g.width, g.height);
    ctx.clearRect(0, 0, g.width, g.height);
    this.drawLinks(ctx, frame, g);
    if (g.isImage) this.drawImage(ctx, frame, g); // over its links' ends: they come out of the pixels
    this.drawNeurons(ctx, frame, g);
    this.drawNames(ctx, frame, g);
    this.placeNeuronButtons(frame, g);
    this.pointer.show();
  }

  ensureGeometry(frame) {
    const maps = this.showMaps && NeuronMaps.available(frame);
    const key = `${frame.layerSizes.join('-')}|${frame.inputShape ?? ''}|${frame.inputNames}|${frame.outputNames}|${maps}`;
    const width = this.el.clientWidth;
    const height = this.el.clientHeight;
    const g = this.geometry;
    if (!g || g.key !== key || g.width !== width || g.height !== height) {
      const ctx = sizeCanvas(this.canvas, width, height);
      this.canvas.style.width = `${width}px`; // absolutely placed: without these it would keep its pixel size
      this.canvas.style.height = `${height}px`;
      ctx.font = NAME_FONT();
      const widest = (names) => Math.max(0, ...(names ?? []).map((name) => ctx.measureText(name).width));
      const labelWidths = { input: widest(frame.inputNames), output: widest(frame.outputNames) };
      this.geometry = layOut(frame.layerSizes, frame.inputShape, width, height, labelWidths, { maps });
      this.geometry.key = key;
    }
    return this.geometry;
  }

  /** The input image, one canvas pixel per input pixel, scaled up without smoothing (the pixels stay visible). */
  drawImage(ctx, frame, g) {
    const { x0, y0, side, h, w } = g.imageBox;
    const input = frame.activations[0];
    this.pixels ??= document.createElement('canvas');
    if (this.pixels.width !== w || this.pixels.height !== h) Object.assign(this.pixels, { width: w, height: h });
    const small = this.pixels.getContext('2d');
    const image = small.createImageData(w, h);
    for (let i = 0; i < w * h; i += 1) {
      const shade = Math.round(Math.max(0, Math.min(1, input[i])) * 255);
      image.data.fill(shade, 4 * i, 4 * i + 3);
      image.data[4 * i + 3] = 255;
    }
    small.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.pixels, x0, y0, side, side);
    ctx.imageSmoothingEnabled = true;
    ctx.strokeStyle = colors.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(x0 - 0.5, y0 - 0.5, side + 1, side + 1);
  }

  drawLinks(ctx, frame, g) {
    const { links, gradScale } = collectLinks(frame, g);
    this.links = links;
    // Weak links first, so the strong ones are drawn on top.
    const order = links.map((_, k) => k).sort((a, b) => links[a].t - links[b].t);
    const widthScale = Math.min(1, g.radius / 16 + 0.25);
    ctx.lineCap = 'round';
    for (const k of order) {
      const link = links[k];
      const w = frame.weights[link.layer][link.flat];
      ctx.strokeStyle = signColor(w, (0.08 + 0.92 * link.t) * link.density);
      ctx.lineWidth = (0.5 + 7 * link.t) * widthScale * link.density;
      ctx.beginPath();
      ctx.moveTo(link.x0, link.y0);
      ctx.lineTo(link.x1, link.y1);
      ctx.stroke();
    }
    const hovered = this.pointer.hovered;
    if (hovered?.kind === 'weight') {
      const link = links.find((x) => x.layer === hovered.layer && x.row === hovered.row && x.col === hovered.col);
      if (link) {
        ctx.strokeStyle = colors.accent;
        ctx.lineWidth = 3;
        ctx.beginPath();
        ctx.moveTo(link.x0, link.y0);
        ctx.lineTo(link.x1, link.y1);
        ctx.stroke();
      }
    }
    if (this.showArrows) this.drawArrows(ctx, frame, links, gradScale, g);
  }

  /** −∇C on each link: a triangle pointing forward when the update makes the weight grow, back when it shrinks. */
  drawArrows(ctx, frame, links, gradScale, g) {
    const big = Math.max(7, Math.min(13, g.radius * 0.65));
    for (const link of links) {
      const nudge = -frame.weightGrads[link.layer][link.flat];
      const size = big * Math.sqrt(Math.abs(nudge) / gradScale);
      if (size < 1.5) continue;
      const mx = link.x0 + 0.6 * (link.x1 - link.x0);
      const my = link.y0 + 0.6 * (link.y1 - link.y0);
      const length = Math.hypot(link.x1 - link.x0, link.y1 - link.y0) || 1;
      const sign = nudge >= 0 ? 1 : -1;
      const ux = ((link.x1 - link.x0) / length) * sign;
      const uy = ((link.y1 - link.y0) / length) * sign;
      ctx.fillStyle = nudge >= 0 ? colors.positive : colors.negative;
      ctx.beginPath();
      ctx.moveTo(mx + ux * size, my + uy * size);
      ctx.lineTo(mx - ux * size * 0.7 - uy * size * 0.7, my - uy * size * 0.7 + ux * size * 0.7);
      ctx.lineTo(mx - ux * size * 0.7 + uy * size * 0.7, my - uy * size * 0.7 - ux * size * 0.7);
      ctx.closePath();
      ctx.fill();
    }
  }

  drawNeurons(ctx, frame, g) {
    const sizes = frame.layerSizes;
    const r = g.radius;
    const biasScale = Math.max(WEIGHT_SCALE_FLOOR, ...frame.biases.map(maxAbs));
    const fontPx = g.squares ? Math.max(10, Math.min(14, Math.round(r * 0.5))) : Math.max(10, Math.round(r * 0.62));
    ctx.font = `600 ${fontPx}px "DejaVu Sans", sans-serif`;
    // On a map, the number's badge must fit beside the bias square, or the ring alone shows the activation.
    const numbers = g.squares ? badgeWidth(ctx, '-0.00') <= 2 * r - 4 - (biasBox(g, 0, 0).x + biasBox(g, 0, 0).side + r)
      : r >= 15;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    let mapsDrawn = 0;
    for (let l = g.isImage ? 1 : 0; l < sizes.length; l += 1) {
      const act = frame.activations[l];
      const actScale = Math.max(1, maxAbs(act));
      for (let i = 0; i < sizes[l]; i += 1) {
        const x = g.nodes[l].x[i];
        const y = g.nodes[l].y[i];
        const v = act[i] / actScale;
        const hovered = this.pointer.is('neuron', l, i);
        if (g.squares) {
          if (this.drawSquare(ctx, x, y, r, v, this.maps.get(l, i), hovered)) mapsDrawn += 1;
          // At the lower right: the bias square has the lower left.
          if (numbers) drawBadge(ctx, x + r - 2, y + r - fontPx * 0.5 - 3, act[i].toFixed(2), v, fontPx);
        } else {
          ctx.fillStyle = lutColor(GLOW, v);
          ctx.beginPath();
          ctx.arc(x, y, r, 0, 2 * Math.PI);
          ctx.fill();
          ctx.lineWidth = hovered ? 3 : 1.5;
          ctx.strokeStyle = hovered ? colors.accent : '#8893a3';
          ctx.stroke();
          if (numbers) {
            ctx.fillStyle = Math.abs(v) > 0.55 ? colors.background : colors.text;
            ctx.fillText(act[i].toFixed(2), x, y + 1);
          }
        }
        // The bias: a small square at the neuron's lower left, coloured by sign and size (over a square's corner,
        // as TF Playground has it).
        if (l > 0) this.drawBias(ctx, biasBox(g, x, y), frame.biases[l - 1][i] / biasScale, this.pointer.is('bias', l - 1, i));
      }
    }
    this.mapsDrawn = mapsDrawn;
    this.drawDead(ctx, frame, g);
  }

  /** Dead units (frame.dead): a grey ring and a cross — no gradient gets through them on any training example. */
  drawDead(ctx, frame, g) {
    let marked = 0;
    ctx.save();
    ctx.strokeStyle = colors.muted;
    ctx.lineWidth = 2.5;
    ctx.setLineDash([5, 4]);
    (frame.dead ?? []).forEach((dead, k) => {
      const l = k + 1;
      if (!dead || !g.nodes[l]) return;
      for (let i = 0; i < dead.length; i += 1) {
        if (!dead[i]) continue;
        const x = g.nodes[l].x[i];
        const y = g.nodes[l].y[i];
        const r = g.radius + 5;
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.moveTo(x - r * 0.7, y - r * 0.7);
        ctx.lineTo(x + r * 0.7, y + r * 0.7);
        ctx.moveTo(x + r * 0.7, y - r * 0.7);
        ctx.lineTo(x - r * 0.7, y + r * 0.7);
        ctx.stroke();
        marked += 1;
      }
    });
    ctx.restore();
    this.deadMarked = marked; // for tests
  }

  /**
   * A neuron as its map: a rounded square showing the painted grid, ringed by its activation for the probe (white
   * when strongly positive, red when negative, no ring when silent). Returns whether a map was drawn.
   */
  drawSquare(ctx, x, y, r, v, map, hovered) {
    const corner = Math.max(2, r * 0.18);
    const glow = Math.abs(v);
    if (glow > 0.05) {
      ctx.strokeStyle = lutColor(GLOW, v);
      ctx.lineWidth = 2 + 2.5 * glow;
      ctx.beginPath();
      ctx.roundRect(x - r - 2.5, y - r - 2.5, 2 * r + 5, 2 * r + 5, corner + 2.5);
      ctx.stroke();
    }
    ctx.beginPath();
    ctx.roundRect(x - r, y - r, 2 * r, 2 * r, corner);
    if (map) {
      ctx.save();
      ctx.clip();
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(map, x - r, y - r, 2 * r, 2 * r);
      ctx.restore();
    } else {
      ctx.fillStyle = colors.neutral;
      ctx.fill();
    }
    ctx.lineWidth = hovered ? 3 : 1;
    ctx.strokeStyle = hovered ? colors.accent : 'rgba(136,147,163,0.7)';
    ctx.stroke();
    return Boolean(map);
  }

  drawBias(ctx, box, relative, hovered) {
    ctx.fillStyle = lutColor(DIVERGING, Math.max(-1, Math.min(1, relative)));
    ctx.fillRect(box.x, box.y, box.side, box.side);
    ctx.strokeStyle = hovered ? colors.accent : colors.muted;
    ctx.lineWidth = 1;
    ctx.strokeRect(box.x, box.y, box.side, box.side);
  }

  drawNames(ctx, frame, g) {
    ctx.font = NAME_FONT();
    ctx.fillStyle = colors.muted;
    ctx.textBaseline = 'middle';
    const last = frame.layerSizes.length - 1;
    if (!g.isImage && frame.inputNames) {
      ctx.textAlign = 'right';
      frame.inputNames.forEach((name, i) => ctx.fillText(name, g.nodes[0].x[i] - g.radius - (g.squares ? 12 : 8), g.nodes[0].y[i]));
    }
    if (frame.outputNames) {
      ctx.textAlign = 'left';
      const out = frame.activations[last];
      let best = 0;
      out.forEach((v, i) => { if (v > out[best]) best = i; });
      frame.outputNames.forEach((name, i) => {
        ctx.fillStyle = out.length > 1 && i === best ? colors.accent : colors.muted;
        ctx.fillText(name, g.nodes[last].x[i] + g.radius + (g.squares ? 12 : 8), g.nodes[last].y[i]);
      });
    }
  }

  // ---------------- points for scripts and tests ----------------

  /** Client-pixel point 60% along a drawn link (where its arrow sits), for scripts and tests. */
  linkPoint(layer, row, col) {
    const link = this.links?.find((x) => x.layer === layer && x.row === row && x.col === col);
    if (!link) return null;
    const box = this.canvas.getBoundingClientRect();
    return { x: box.left + link.x0 + 0.6 * (link.x1 - link.x0), y: box.top + link.y0 + 0.6 * (link.y1 - link.y0) };
  }

  /** Client-pixel centre of a neuron (layer 0 is the inputs), for scripts and tests. */
  neuronPoint(layer, index) {
    const g = this.geometry;
    if (!g || !g.nodes[layer] || index >= g.sizes[layer]) return null;
    const box = this.canvas.getBoundingClientRect();
    return { x: box.left + g.nodes[layer].x[index], y: box.top + g.nodes[layer].y[index] };
  }

  /** +/− neuron buttons above each hidden layer, as TF Playground has them. */
  placeNeuronButtons(frame, g) {
    const holder = this.hooks.buttons;
    if (!holder) return;
    const key = `${g.key}|${g.width}`;
    if (holder.dataset.key === key) return;
    holder.dataset.key = key;
    holder.replaceChildren();
    for (let l = 1; l < frame.layerSizes.length - 1; l += 1) {
      const pair = document.createElement('div');
      pair.className = 'pair';
      pair.style.left = `${g.layerX[l]}px`;
      const button = (text, delta, title) => {
        const b = document.createElement('button');
        b.textContent = text;
        b.title = title;
        b.className = delta > 0 ? 'add-neuron' : 'remove-neuron';
        b.dataset.layer = String(l - 1);
        b.addEventListener('click', () => this.hooks.onNeuronDelta(l - 1, delta));
        return b;
      };
      const count = document.createElement('span');
      count.className = 'count';
      count.textContent = String(frame.layerSizes[l]);
      pair.append(button('−', -1, `Remove a neuron from hidden layer ${l}`), count,
        button('+', +1, `Add a neuron to hidden layer ${l}`));
      holder.append(pair);
    }
  }
}
