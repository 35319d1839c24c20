// When each view draws. The network and the decision boundary are painted on canvases every animation frame
// that has a new server frame. Plotly charts cost 10-60 ms a redraw in software rendering, and more than their
// JavaScript: the SVG they rebuild costs the browser style, layout and paint after the script has returned. So
// they take turns within a budget that counts both: all charts together get at most CHART_SHARE of the page's
// time, where a chart's cost is its JavaScript time plus how much later than its script's end the next animation
// frame came (the style, layout and paint it caused, measured from requestAnimationFrame timestamps). Each chart also waits at least
// its own `intervalMs`, and they always end on the newest data. The canvases keep their frame rate; on a slow or
// busy machine the charts update less often instead.

const CHART_SHARE = 0.2;
const MAX_CREDIT_MS = 40; // unused budget carried over, at most: one slow chart, not a burst of them
const VSYNC_MS = 1000 / 60;
const MAX_PAINT_MS = 250; // a longer gap is the tab in the background, not paint

export class ChartScheduler {
  constructor() {
    this.parts = []; // {name, draw, intervalMs, dirty, last}
    this.credit = 0; // ms of the page's time the charts may still spend
    this.lastTick = null;
    this.charged = null; // the chart drawn in the previous tick: the next frame's gap tells what its paint cost
    this.paused = false; // true: no chart draws (bench/render.py measures the page without them)
    this.drawMs = {}; // mean JavaScript ms per draw of each chart
    this.paintMs = {}; // mean extra ms the frame after its draw took (style, layout, paint)
    this.draws = {}; // how many times each chart drew (bench/render.py prints the rates)
  }

  /**
   * Register one chart drawing, redrawn at most every `intervalMs`; `draw()` reads the data its view took last.
   * `shown()` false skips it (a chart the current dataset does not show, or one scrolled out of sight).
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

  /**
   * Called once per animation frame (`now`: its timestamp). Draw at most one chart that is due and affordable;
   * true while some chart still waits (call again next frame).
   */
  tick(now) {
    const before = performance.now() - now; // this frame's work so far (the canvases): not the charts'
    if (this.lastTick !== null) {
      const gap = now - this.lastTick;
      if (this.charged) {
        // The frame right after a chart's draw: whatever that frame took beyond its script (the canvases and the
        // chart's JavaScript) was style, layout and paint, the chart's doing. Frames come on vsync, so at least
        // VSYNC_MS apart: work that fits in one is free.
        const { part, work } = this.charged;
        const paint = Math.min(MAX_PAINT_MS, Math.max(0, gap - Math.max(VSYNC_MS, work)));
        this.credit -= paint;
        this.paintMs[part.name] = 0.7 * (this.paintMs[part.name] ?? paint) + 0.3 * paint;
        this.charged = null;
      }
      this.credit = Math.min(MAX_CREDIT_MS, this.credit + Math.min(gap, MAX_PAINT_MS) * CHART_SHARE);
    }
    this.lastTick = now;
    if (this.credit <= 0 || this.paused) return !this.idle();
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
      const js = performance.now() - start;
      this.credit -= js;
      this.charged = { part, work: before + js };
      this.drawMs[part.name] = 0.8 * (this.drawMs[part.name] ?? js) + 0.2 * js;
      this.draws[part.name] = (this.draws[part.name] ?? 0) + 1;
    }
    return !this.idle() || this.charged !== null;
  }
}
