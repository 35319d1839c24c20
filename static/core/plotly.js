// Plotly.js is loaded by a classic <script> tag before the modules (templates/index.html).
export const { Plotly } = window;

/** Keep a plot the size of its element: Plotly's own `responsive` only follows the window. */
export function fitToElement(el) {
  let queued = false;
  new ResizeObserver(() => {
    if (queued || !el.data) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      Plotly.Plots.resize(el);
    });
  }).observe(el);
}

// Redrawing a chart in full (Plotly.react) costs 25-35 ms of JavaScript in software rendering, most of it the
// axes' autorange and margins and rebuilding every trace. Charts that only grow (cost, minibatch cost, gradient
// norms) append their new points instead, on axes whose ranges are set here, in steps, so they rarely change.

/** The axis range [0, hi] for steps up to `max`: hi grows in steps of ×1.25, so a new range is rare. */
export function stepRange(max) {
  const hi = Math.max(10, max * 1.05);
  return [0, Number((1.25 ** Math.ceil(Math.log(hi) / Math.log(1.25))).toPrecision(2))];
}

/**
 * The y range for values in [min, max]: on a log axis ([log10 lo, log10 hi], as Plotly wants it) whole
 * half-decades; on a linear one [0, hi] with hi a quarter-step of max's order of magnitude (null when no data).
 */
export function valueRange(min, max, log) {
  if (!(max > 0) || !Number.isFinite(max)) return null;
  if (log) {
    const lo = Math.floor(Math.log10(Math.max(min, max * 1e-12)) * 2) / 2;
    const hi = Math.ceil(Math.log10(max) * 2) / 2;
    return hi - lo < 0.5 ? [lo - 0.25, hi + 0.25] : [lo, hi];
  }
  const quarter = 10 ** Math.floor(Math.log10(max)) / 4;
  return [0, Math.ceil((max * 1.05) / quarter) * quarter];
}

/** [min, max] over arrays of numbers (null, NaN and, for `positive`, values ≤ 0 left out). */
export function extent(arrays, positive = false) {
  let min = Infinity;
  let max = -Infinity;
  for (const values of arrays) {
    for (const v of values) {
      if (v === null || !Number.isFinite(v) || (positive && v <= 0)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return [min, max];
}

/**
 * A chart of line traces that only grow: Plotly.react when `key` (the structure, the axis ranges) changes or a
 * history's `generation` does (cleared, thinned), else Plotly.extendTraces with the points added since the
 * last draw.
 */
export class GrowingChart {
  constructor(el, config) {
    this.el = el;
    this.config = config;
    this.drawn = null; // {key, generations, lengths}
    this.fullDraws = 0; // Plotly.react calls (bench and tests: should stay few)
  }

  /**
   * @param {string} key the structure and ranges: a change redraws in full
   * @param {{x: number[], y: number[], generation: number}[]} series one per trace, in trace order
   * @param {() => [object[], object]} build the traces (with copies of the arrays) and layout for a full draw
   */
  draw(key, series, build) {
    const { drawn } = this;
    const lengths = series.map((s) => s.x.length);
    const extendable = drawn && this.el.data && drawn.key === key && drawn.lengths.length === series.length
      && series.every((s, i) => s.generation === drawn.generations[i] && lengths[i] >= drawn.lengths[i]);
    if (!extendable) {
      const [traces, layout] = build();
      Plotly.react(this.el, traces, layout, this.config);
      this.fullDraws += 1;
    } else {
      const indices = [];
      const update = { x: [], y: [] };
      series.forEach((s, i) => {
        if (lengths[i] === drawn.lengths[i]) return;
        indices.push(i);
        update.x.push(s.x.slice(drawn.lengths[i]));
        update.y.push(s.y.slice(drawn.lengths[i]));
      });
      if (indices.length) Plotly.extendTraces(this.el, update, indices);
    }
    this.drawn = { key, generations: series.map((s) => s.generation), lengths };
  }
}
