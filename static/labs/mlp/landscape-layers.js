// What the loss-landscape view draws from one `landscape` bundle (docs/protocol.md): the contour of the cost over
// the plane of two weights, the −∇C arrow field over it, the path descent has taken and the arrow at the current
// point, as Plotly traces and canvas strokes. Pure functions of the bundle; landscape-view.js places them.

import { colors } from '../../core/theme.js';

// Valley dark, hills bright: the colour runs over log10 C, so a valley a thousand times lower than the hills
// still shows its shape.
const SURFACE_SCALE = [[0, '#0b0e14'], [0.3, '#132a40'], [0.65, '#24607a'], [1, colors.positive]];
const CONTOURS = 16;

/** The contour of one landscape bundle, coloured by log10 C, hover in C. */
export function contourTrace(landscape) {
  const a = landscape.arrays;
  const w1 = Array.from(a['landscape.w1']);
  const w2 = Array.from(a['landscape.w2']);
  const loss = a['landscape.loss'];
  const R = w1.length;
  let floor = Infinity;
  for (const c of loss) if (c > 0 && c < floor) floor = c;
  floor = Number.isFinite(floor) ? floor : 1e-12;
  const z = [];
  const text = [];
  for (let i = 0; i < R; i += 1) {
    const row = [];
    const words = [];
    for (let j = 0; j < R; j += 1) {
      const c = loss[i * R + j];
      row.push(Number.isFinite(c) ? Math.log10(Math.max(c, floor)) : null);
      words.push(Number.isFinite(c) ? formatNumber(c) : 'diverges');
    }
    z.push(row);
    text.push(words);
  }
  return {
    type: 'contour', x: w1, y: w2, z, text, ncontours: CONTOURS, showscale: false, connectgaps: false,
    colorscale: SURFACE_SCALE, contours: { coloring: 'heatmap', showlines: true },
    line: { color: 'rgba(242,242,242,0.22)', width: 1, smoothing: 0.8 },
    hovertemplate: 'x = %{x:.3f}<br>y = %{y:.3f}<br>C = %{text}<extra></extra>',
  };
}

/**
 * −∇C at each arrow point as a segment [x0, y0, x1, y1], in weight units (so it points where descent moves the pair,
 * and the path follows it). Lengths grow with sqrt(|∇C|) so the gentle slopes near the valley still show;
 * the longest is 90 % of the spacing between arrows.
 */
export function arrowField(landscape) {
  const a = landscape.arrays;
  const xs = a['landscape.arrow_w1'];
  const ys = a['landscape.arrow_w2'];
  const grad = a['landscape.grad']; // (A, A, 2): [i, j] at (xs[j], ys[i])
  const A = xs.length;
  const dx = A > 1 ? xs[1] - xs[0] : 1;
  const dy = A > 1 ? ys[1] - ys[0] : 1;
  let largest = 0;
  for (let k = 0; k < A * A; k += 1) {
    const g = Math.hypot(grad[2 * k] / dx, grad[2 * k + 1] / dy);
    if (Number.isFinite(g)) largest = Math.max(largest, g);
  }
  const arrows = [];
  for (let i = 0; i < A; i += 1) {
    for (let j = 0; j < A; j += 1) {
      const k = i * A + j;
      const g1 = grad[2 * k];
      const g2 = grad[2 * k + 1];
      const cells = Math.hypot(g1 / dx, g2 / dy); // the arrow's length in arrow spacings, before scaling
      if (!(largest > 0) || !Number.isFinite(cells) || cells === 0) continue;
      const scale = (0.9 * Math.sqrt(cells / largest)) / cells;
      arrows.push([xs[j], ys[i], xs[j] - g1 * scale, ys[i] - g2 * scale]);
    }
  }
  return arrows;
}

/** The arrow field in pixels (px, py: weight → pixel): all shafts in one stroke, all heads in one fill. */
export function drawField(ctx, field, px, py) {
  if (!field) return 0;
  const head = 6;
  ctx.strokeStyle = 'rgba(242,242,242,0.55)';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  const heads = new Path2D();
  for (const [x0, y0, x1, y1] of field) {
    const [a, b, c, d] = [px(x0), py(y0), px(x1), py(y1)];
    const angle = Math.atan2(d - b, c - a);
    ctx.moveTo(a, b);
    ctx.lineTo(c, d);
    heads.moveTo(c + head * 0.5 * Math.cos(angle), d + head * 0.5 * Math.sin(angle));
    heads.lineTo(c - head * Math.cos(angle - 0.5), d - head * Math.sin(angle - 0.5));
    heads.lineTo(c - head * Math.cos(angle + 0.5), d - head * Math.sin(angle + 0.5));
    heads.closePath();
  }
  ctx.stroke();
  ctx.fillStyle = 'rgba(242,242,242,0.75)';
  ctx.fill(heads);
  return field.length;
}

/** The path descent took (the server's record, thinned), extended to this frame's weights: {x, y} in weights. */
export function pathPoints(landscape, step, current) {
  const path = landscape.arrays['landscape.path'];
  const steps = landscape.arrays['landscape.path_step'];
  const x = [];
  const y = [];
  for (let k = 0; k < steps.length; k += 1) {
    x.push(path[2 * k]);
    y.push(path[2 * k + 1]);
  }
  const last = steps.length ? steps[steps.length - 1] : -1;
  if (current.every(Number.isFinite) && step > last) {
    x.push(current[0]);
    y.push(current[1]);
  }
  return { x, y };
}

/**
 * Where the −∇C arrow from the current point ends ([w1, w2]). The steepest slope on the plot gets a fifth of the
 * plot; smaller slopes shrink with sqrt(|∇C|), as the field's arrows do — so at the bottom of the valley the
 * nudge is visibly tiny instead of a big arrow pointing wherever rounding says.
 */
export function descentArrow(landscape, current) {
  if (!current.every(Number.isFinite)) return null;
  const [g1, g2] = landscape.meta.gradient ?? [0, 0];
  const a = landscape.arrays;
  const spanX = a['landscape.w1'][a['landscape.w1'].length - 1] - a['landscape.w1'][0];
  const spanY = a['landscape.w2'][a['landscape.w2'].length - 1] - a['landscape.w2'][0];
  const cells = Math.hypot(g1 / spanX, g2 / spanY);
  if (!(cells > 0) || !Number.isFinite(cells)) return null;
  const grad = a['landscape.grad'];
  let steepest = cells;
  for (let k = 0; k + 1 < grad.length; k += 2) {
    const g = Math.hypot(grad[k] / spanX, grad[k + 1] / spanY);
    if (Number.isFinite(g)) steepest = Math.max(steepest, g);
  }
  const scale = (0.2 * Math.sqrt(cells / steepest)) / cells;
  return [current[0] - g1 * scale, current[1] - g2 * scale];
}

/** A line from (x0, y0) to (x1, y1) in pixels with a filled head of `head` pixels at its end. */
export function drawArrow(ctx, x0, y0, x1, y1, color, width, head) {
  const angle = Math.atan2(y1 - y0, x1 - x0);
  const length = Math.hypot(x1 - x0, y1 - y0);
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = width;
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x0 + Math.cos(angle) * Math.max(0, length - head * 0.8), y0 + Math.sin(angle) * Math.max(0, length - head * 0.8));
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - head * Math.cos(angle - 0.45), y1 - head * Math.sin(angle - 0.45));
  ctx.lineTo(x1 - head * Math.cos(angle + 0.45), y1 - head * Math.sin(angle + 0.45));
  ctx.closePath();
  ctx.fill();
}

export function formatNumber(v) {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 0.001 && a < 10000) return String(Number(v.toPrecision(4)));
  return v.toExponential(2);
}
