// A lab's loss over training, from the server's history bundle (one row per evaluation, arriving whenever a new
// evaluation is in): the loss on the training data and on the test data (left axis) with the gap between them
// shaded — overfitting made visible — and, where the history carries them, both accuracies (right axis). Shared by the labs (CNN, RNN); the MLP's cost chart (labs/mlp/cost-chart.js) grows point
// by point instead.

import { Plotly, fitToElement } from './plotly.js';
import { colors, baseLayout, axis, chartConfig, fontSize } from './theme.js';

const finite = (values) => Array.from(values, (v) => (Number.isFinite(v) ? v : null));
const measured = (values) => values !== undefined && Array.prototype.some.call(values, Number.isFinite);

export class Curves {
  constructor(el) {
    this.el = el;
    fitToElement(el);
    this.history = null;
    this.drawnVersion = -1;
    this.version = 0;
  }

  /** The history bundle's arrays: history.step, train_loss, test_loss and, if the lab keeps them,
   * train_accuracy and test_accuracy. */
  load(arrays) {
    this.history = arrays;
    this.version += 1;
  }

  draw() {
    const h = this.history;
    if (!h || this.drawnVersion === this.version) return;
    this.drawnVersion = this.version;
    const step = Array.from(h['history.step'] ?? []);
    const line = (y, name, color, yaxis, { dash = 'solid', width = 3, ...extra } = {}) => ({
      type: 'scatter', mode: step.length > 1 ? 'lines' : 'markers', x: step, y: finite(y ?? []), name, yaxis,
      line: { color, width, dash }, marker: { color }, connectgaps: true,
      hovertemplate: `${name} %{y:.4g}<extra>step %{x}</extra>`, ...extra,
    });
    const accuracy = measured(h['history.train_accuracy']) || measured(h['history.test_accuracy']);
    const traces = [
      line(h['history.train_loss'], 'train loss', colors.positive, 'y'),
      // Filled down to the train loss: the shaded band is the train–test gap.
      line(h['history.test_loss'], 'test loss', colors.accentSoft, 'y', { fill: 'tonexty', fillcolor: 'rgba(244,211,69,0.18)' }),
    ];
    if (accuracy) {
      traces.push(line(h['history.train_accuracy'], 'train accuracy', colors.positive, 'y2', { dash: 'dot', width: 2 }),
        line(h['history.test_accuracy'], 'test accuracy', colors.green, 'y2', { dash: 'dot', width: 2 }));
    }
    const layout = baseLayout({
      margin: { l: 60, r: accuracy ? 60 : 16, t: 34, b: 44 },
      showlegend: true,
      legend: { orientation: 'h', x: 0, y: 1.01, yanchor: 'bottom', font: { size: fontSize(13) } },
      xaxis: axis({ title: { text: 'step', font: { size: fontSize(14) } }, automargin: true }),
      yaxis: axis({ title: { text: 'loss', font: { size: fontSize(14) } }, rangemode: 'tozero', automargin: true }),
    });
    if (accuracy) {
      layout.yaxis2 = axis({ overlaying: 'y', side: 'right', range: [0, 1.02], showgrid: false, tickformat: '.0%',
        title: { text: 'accuracy', font: { size: fontSize(14) } } });
    }
    Plotly.react(this.el, traces, layout, chartConfig);
  }
}
