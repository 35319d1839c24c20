// Gradient view: 3Blue1Brown's −∇C column — each weight's nudge, largest first, blue when gradient descent
// raises the weight and red when it lowers it. (The loss landscape beside it is landscape-view.js.)
//
// Reads frame.weightGrads, biasGrads, layerSizes (docs/page.md).
//
// Drawn on a canvas: 20 bars and their labels take well under a millisecond there, where a Plotly redraw of the
// same (a category axis whose labels change every frame) took ~30 ms of JavaScript and ~10 ms of paint.

import { sizeCanvas } from '../../core/canvas.js';
import { colors, fontSize } from '../../core/theme.js';

const COLUMN_LENGTH = 20; // bars in the −∇C column: the largest nudges, readable from the back row

// The names every view uses (and the server's landscape labels): w[layer][neuron,input] and b[layer][neuron].
export const parameterName = ({ kind, layer, row, col }) => (kind === 'bias' ? `b[${layer}][${row}]` : `w[${layer}][${row},${col}]`);

/** The −∇C entries with the largest size: [{name, nudge}] sorted by |nudge| descending; and how many there are. */
function largestNudges(frame, count) {
  // One pass keeping the `count` largest (sorted, largest first): 60,000 parameters cost well under a millisecond.
  const best = [];
  let total = 0;
  const consider = (g, parameter) => {
    total += g.length;
    for (let i = 0; i < g.length; i += 1) {
      const size = Math.abs(g[i]);
      if (best.length === count && size <= best[count - 1].size) continue;
      let at = best.length;
      while (at > 0 && best[at - 1].size < size) at -= 1;
      best.splice(at, 0, { size, nudge: -g[i], i, parameter });
      if (best.length > count) best.pop();
    }
  };
  frame.weightGrads.forEach((g, layer) => consider(g, { kind: 'weight', layer }));
  frame.biasGrads.forEach((g, layer) => consider(g, { kind: 'bias', layer }));
  const nudges = best.map(({ nudge, i, parameter }) => {
    const nIn = frame.layerSizes[parameter.layer];
    const where = parameter.kind === 'bias' ? { row: i } : { row: Math.floor(i / nIn), col: i % nIn };
    return { name: parameterName({ ...parameter, ...where }), nudge };
  });
  return { nudges, total };
}

export class GradientView {
  constructor(columnEl) {
    this.columnEl = columnEl;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'column-canvas';
    this.canvas.setAttribute('role', 'img');
    columnEl.append(this.canvas);
    this.frame = null;
    new ResizeObserver(() => this.drawColumn()).observe(columnEl);
  }

  /** Every frame: remember it (drawing is the scheduler's call). */
  take(frame) {
    this.frame = frame;
  }

  drawColumn() {
    const { frame, canvas } = this;
    const width = this.columnEl.clientWidth;
    const height = this.columnEl.clientHeight;
    if (!frame || !width || !height) return;
    canvas.style.width = `${width}px`; // an absolutely placed canvas keeps its pixel size unless told its CSS size
    canvas.style.height = `${height}px`;
    const ctx = sizeCanvas(canvas, width, height);
    ctx.fillStyle = colors.background;
    ctx.fillRect(0, 0, width, height);
    const { nudges, total } = largestNudges(frame, COLUMN_LENGTH);
    const values = nudges.map((n) => n.nudge);
    const scale = Math.max(1e-12, ...values.map(Math.abs));
    const titleSize = fontSize(14);
    ctx.textBaseline = 'middle';
    ctx.font = `${titleSize}px Inter, "DejaVu Sans", Arial, sans-serif`;
    ctx.fillStyle = colors.muted;
    ctx.textAlign = 'left';
    ctx.fillText(`the ${nudges.length} largest of ${total}`, 8, titleSize);
    canvas.setAttribute('aria-label', `the ${nudges.length} largest entries of −∇C`);
    const top = titleSize * 2 + 4;
    if (scale <= 1e-12) {
      ctx.font = `${fontSize(16)}px Inter, "DejaVu Sans", Arial, sans-serif`;
      ctx.textAlign = 'center';
      ctx.fillText('no gradient yet: press step or play', width / 2, (top + height) / 2);
      return;
    }
    // 3Blue1Brown's column of numbers beside each name: ▲ the weight goes up, ▼ it goes down; then the bar.
    const row = (height - top - 8) / COLUMN_LENGTH;
    const size = Math.max(9, Math.min(fontSize(12), Math.floor(row * 0.8)));
    ctx.font = `${size}px "DejaVu Sans Mono", monospace`;
    const labels = nudges.map((n, i) => `${n.name} ${values[i] >= 0 ? '▲' : '▼'}${formatNudge(values[i]).padStart(7, '\u2007')}`);
    const labelWidth = Math.max(...labels.map((t) => ctx.measureText(t).width)) + 16;
    const left = Math.min(labelWidth, width * 0.6);
    const half = (width - left - 12) / 2;
    const zero = left + half;
    ctx.strokeStyle = colors.muted;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(zero + 0.5, top);
    ctx.lineTo(zero + 0.5, top + row * nudges.length);
    ctx.stroke();
    nudges.forEach((n, i) => {
      const y = top + row * i;
      const color = values[i] >= 0 ? colors.positive : colors.negative;
      const length = (values[i] / scale) * half * 0.96;
      ctx.fillStyle = color;
      ctx.fillRect(Math.min(zero, zero + length), y + row * 0.125, Math.abs(length), row * 0.75);
      ctx.textAlign = 'left';
      ctx.fillStyle = colors.text;
      ctx.fillText(n.name, 6, y + row / 2);
      ctx.fillStyle = color;
      ctx.fillText(labels[i].slice(n.name.length), 6 + ctx.measureText(n.name).width, y + row / 2);
    });
  }
}

/** |v| in at most 7 characters: 0.233, 0.0068, 12.5, 3.1e-5. */
function formatNudge(v) {
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1) return String(Number(a.toPrecision(2)));
  if (a >= 1 && a < 1e4) return a.toFixed(a < 100 ? 2 : 0);
  return a.toExponential(1);
}
