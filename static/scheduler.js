// When each view draws. The network and the decision boundary are painted on canvases every animation frame
// that has a new server frame. Plotly charts cost 10-40 ms a redraw in software rendering, so they take turns
// within a budget: all charts together get at most CHART_SHARE of the main thread's time (measured), each at most
// every `intervalMs` of its own, and they always end on the newest data. The canvases keep their frame rate; on a
// slow or busy machine the charts update less often instead.

const CHART_SHARE = 0.25;
const MAX_CREDIT_MS = 50; // unused budget carried over, at most: one slow chart, not a burst of them

export class ChartScheduler {
  constructor() {
    this.parts = []; // {name, draw, intervalMs, dirty, last}
    this.credit = 0; // ms of main-thread time the charts may still spend
    this.lastTick = null;
    this.drawMs = {};
    this.draws = {}; // how many times each chart drew (bench/render.py prints the rates)
  }

  /**
   * Register one chart drawing, redrawn at most every `intervalMs`; `draw()` reads the data its view took last.
   * `shown()` false skips it (a chart the current dataset does not show).
   */
  add(name, draw, intervalMs, shown = () => true) {
    this.parts.push({ name, draw, intervalMs, shown, dirty: false, last: -Infinity });
  }

  /** True when every chart shows the newest data (tests wait for this before a screenshot). */
  idle() {
    return !this.parts.some((part) => part.dirty);
  }

  /** New data for every chart. */
  touch() {
    for (const part of this.parts) part.dirty = part.shown();
  }

  /** Draw at most one chart that is due and affordable; true while some chart still waits (call again next frame). */
  tick(now) {
    if (this.lastTick !== null) this.credit = Math.min(MAX_CREDIT_MS, this.credit + (now - this.lastTick) * CHART_SHARE);
    this.lastTick = now;
    if (this.credit <= 0) return !this.idle();
    // The most overdue chart first: one with a shorter interval gets more of the turns.
    let part = null;
    for (const candidate of this.parts) {
      const overdue = now - candidate.last - candidate.intervalMs;
      if (candidate.dirty && overdue >= 0 && (!part || overdue > now - part.last - part.intervalMs)) part = candidate;
    }
    if (part) {
      part.dirty = false;
      part.last = now;
      const start = performance.now();
      try {
        part.draw();
      } catch (error) {
        console.error(`${part.name}:`, error);
      }
      const spent = performance.now() - start;
      this.credit -= spent;
      this.drawMs[part.name] = 0.8 * (this.drawMs[part.name] ?? 0) + 0.2 * spent;
      this.draws[part.name] = (this.draws[part.name] ?? 0) + 1;
    }
    return !this.idle();
  }
}
