// Gradient view: 3Blue1Brown's −∇C column — each weight's nudge, largest first, blue when gradient descent
// raises the weight and red when it lowers it. (The loss landscape beside it is landscape-view.js.)
//
// Reads frame.weightGrads, biasGrads, layerSizes (docs/page.md).
//
// Drawn on a canvas: 20 bars and their labels take well under a millisecond there, where a Plotly redraw of the
// same (a category axis whose labels change every frame) took ~30 ms of JavaScript and ~10 ms of paint.

import { sizeCanvas } from '../../core/canvas.js';
import { colors, fontSize } from '../../core/theme.js';

const COLUMN_LENGTH = 20; // bars in the −∇C column at most: the largest nudges, readable from the back row
const MIN_LABEL_PX = 13; // base size of a row's label (× the type scale: ≥ 16 px in presenter mode); fewer rows fit

/**
 * The one name every view uses for a parameter (and the server's landscape labels): PyTorch's state_dict entry and
 * its index, `2.weight[0, 5]` or `2.bias[0]`. `names` is state.parameter_names ([weight name, bias name] per layer,
 * frame.parameterNames); the 3Blue1Brown form w⁽ˡ⁾ⱼₖ appears only where the calculus is (backprop-view.js).
 */
export function parameterName({ kind, layer, row, col }, names) {
  const entry = names?.[layer]?.[kind === 'bias' ? 1 : 0] ?? `${2 * layer}.${kind === 'bias' ? 'bias' : 'weight'}`;
  return kind === 'bias' ? `${entry}[${row}]` : `${entry}[${row}, ${col}]`;
}

/** The −∇C entries with the largest size: [{name, nudge}] sorted by |nudge| descending; and how many there are. */
function largestNudges(frame, count) {
  // One pass keeping the `count` largest (sorted, largest first): 60,000 parameters cost well under a millisecond.
  const best = [];
  let total = 0;
  const consider = (g, parameter) => {
    total += g.length;
    for (let i = 0; i < g.length; i += 1) {
      const size = Math.abs(g[i]);
      if (!Number.isFinite(size)) continue; // a diverged step's NaN/inf: not a nudge (the view says diverged)
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
    return { name: parameterName({ ...parameter, ...where }, frame.parameterNames), nudge };
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
    const titleSize = fontSize(14);
    const top = titleSize * 2 + 4;
    const rows = Math.max(3, Math.min(COLUMN_LENGTH, Math.floor((height - top - 8) / (fontSize(MIN_LABEL_PX) * 1.25))));
    const { nudges, total } = largestNudges(frame, rows);
    const values = nudges.map((n) => n.nudge);
    const scale = Math.max(1e-12, ...values.map(Math.abs));
    // 3Blue1Brown's column of numbers beside each name: ▲ the weight goes up, ▼ it goes down; then the bar.
    let row = (height - top - 8) / rows;
    const size = Math.max(fontSize(MIN_LABEL_PX), Math.min(fontSize(16), Math.floor(row * 0.8)));
    const labelFont = `${size}px "DejaVu Sans Mono", monospace`;
    ctx.font = labelFont;
    let labels = nudges.map((n, i) => `${n.name} ${values[i] >= 0 ? '▲' : '▼'}${formatNudge(values[i]).padStart(7, '\u2007')}`);
    const labelWidth = Math.max(...labels.map((t) => ctx.measureText(t).width)) + 16;
    // Beside the bars when the labels fit in 60 % of the width; else (large presenter type in a narrow column)
    // each label on its own line with its bar under it, the whole width: fewer rows, nothing drawn over a label.
    const stacked = labelWidth > width * 0.6;
    const barHeight = stacked ? Math.max(6, Math.round(size * 0.55)) : 0;
    if (stacked) {
      row = size * 1.2 + barHeight + 4;
      const fit = Math.max(1, Math.floor((height - top - 8) / row));
      nudges.splice(fit);
      values.splice(fit);
      labels = labels.slice(0, fit);
    }
    ctx.textBaseline = 'middle';
    ctx.font = `${titleSize}px Inter, "DejaVu Sans", Arial, sans-serif`;
    ctx.fillStyle = colors.muted;
    ctx.textAlign = 'left';
    ctx.fillText(frame.diverged ? 'diverged: the last finite step' : `the ${nudges.length} largest of ${total}`, 8,
      titleSize);
    canvas.setAttribute('aria-label', `${frame.diverged ? 'diverged: ' : ''}the ${nudges.length} largest entries of −∇C`);
    if (scale <= 1e-12) {
      ctx.font = `${fontSize(16)}px Inter, "DejaVu Sans", Arial, sans-serif`;
      ctx.textAlign = 'center';
      ctx.fillText(frame.diverged ? 'no finite gradient to show' : 'no gradient yet: press step or play', width / 2,
        (top + height) / 2);
      return;
    }
    ctx.font = labelFont;
    const left = stacked ? 6 : labelWidth;
    const half = (width - left - 12) / 2;
    const zero = left + half;
    ctx.strokeStyle = colors.muted;
    ctx.lineWidth = 1;
    ctx.beginPath();
    if (stacked) { // the zero line only across the bars' strips, never through a label
      nudges.forEach((_, i) => {
        const y = top + row * i + size * 1.2;
        ctx.moveTo(zero + 0.5, y - 2);
        ctx.lineTo(zero + 0.5, y + barHeight + 2);
      });
    } else {
      ctx.moveTo(zero + 0.5, top);
      ctx.lineTo(zero + 0.5, top + row * nudges.length);
    }
    ctx.stroke();
    const boxes = { labels: [], bars: [], stacked };
    nudges.forEach((n, i) => {
      const y = top + row * i;
      const color = values[i] >= 0 ? colors.positive : colors.negative;
      const length = (values[i] / scale) * half * 0.96;
      const textY = stacked ? y + size * 0.6 : y + row / 2;
      const bar = stacked ? [Math.min(zero, zero + length), y + size * 1.2, Math.abs(length), barHeight]
        : [Math.min(zero, zero + length), y + row * 0.125, Math.abs(length), row * 0.75];
      ctx.fillStyle = color;
      ctx.fillRect(...bar);
      ctx.textAlign = 'left';
      ctx.fillStyle = colors.text;
      ctx.fillText(n.name, 6, textY);
      ctx.fillStyle = color;
      ctx.fillText(labels[i].slice(n.name.length), 6 + ctx.measureText(n.name).width, textY);
      boxes.labels.push([6, textY - size / 2, ctx.measureText(labels[i]).width, size]);
      boxes.bars.push(bar);
    });
    this.boxes = boxes; // [x, y, width, height] in CSS pixels of the canvas, for tests
  }
}

/** |v| in at most 7 characters: 0.233, 0.0068, 12.5, 3.1e-5, 0. */
function formatNudge(v) {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e-4 && a < 1) return String(Number(a.toPrecision(2)));
  if (a >= 1 && a < 1e4) return a.toFixed(a < 100 ? 2 : 0);
  return a.toExponential(1);
}
