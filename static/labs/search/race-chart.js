// What every chart of the search lab is: a Plotly chart of the race model, redrawn in full only when what it
// shows has changed (`key()`), with the hyperparameters' labels from the schema.

import { Plotly, fitToElement } from '../../core/plotly.js';
import { baseLayout, chartConfig, colors, fontSize } from '../../core/theme.js';

export class RaceChart {
  constructor(el, model, config = chartConfig) {
    this.el = el;
    this.model = model;
    this.config = config;
    this.labels = {};
    this.drawnKey = null;
    this.draws = 0;
    fitToElement(el);
  }

  setHyperparameters(list) {
    this.labels = Object.fromEntries(list.map((h) => [h.name, h.label]));
  }

  /** The chart scheduler's turn: a full redraw when the key moved, else nothing. */
  draw() {
    const key = this.key();
    if (key === this.drawnKey) return;
    this.drawnKey = key;
    const [traces, layout] = this.build();
    // Plotly.react from one set of axes to another (three panels to none) can leave axis paths at NaN: start
    // afresh when the axes change (rarely: a race starts, the samplers or the projection change).
    const axes = Object.keys(layout).filter((k) => /^[xy]axis/.test(k)).join();
    if (axes !== this.drawnAxes) Plotly.purge(this.el);
    this.drawnAxes = axes;
    Plotly.react(this.el, traces, layout, this.config);
    this.draws += 1;
  }

  restyle() {
    this.drawnKey = null;
  }
}

/** A chart with nothing to show yet: no axes, one line saying what will come. */
export function waiting(text) {
  return [[], baseLayout({ xaxis: { visible: false }, yaxis: { visible: false }, annotations: [{
    text, showarrow: false, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5,
    font: { color: colors.muted, size: fontSize(16) } }] })];
}
