// The search lab's line and bar charts: the best value so far after each finished trial (one line per sampler,
// each trial a faint dot), the learning curves of the trials training now (and the last ones finished, faded),
// and the parameter importances. Each reads the race model; the chart scheduler calls `draw`, which returns at
// once when nothing it shows has changed.

import { colors, baseLayout, axis, fontSize } from '../../core/theme.js';
import { RaceChart, waiting } from './race-chart.js';
import { SAMPLER_COLORS, SAMPLER_LABELS, objectiveLabel, niceTicks } from './race-model.js';

/**
 * A y axis for the objective over `values`: a loss on a log scale (a good trial's 0.05 and a bad one's 0.7 both
 * readable), ticked at 1, 2, 5 × 10^k; an accuracy in percent.
 */
function objectiveAxis(objective, values, heightPx, extra = {}) {
  const title = { text: objectiveLabel(objective), standoff: 6 };
  if (objective === 'test_accuracy') return axis({ title, tickformat: '.0%', automargin: true, ...extra });
  const finite = values.filter((v) => Number.isFinite(v) && v > 0);
  const most = Math.max(2, Math.floor(heightPx / (2.2 * fontSize(14)))); // labels that do not touch
  const ticks = finite.length
    ? niceTicks(Math.log10(Math.min(...finite)), Math.log10(Math.max(...finite)), most) : [];
  return axis({ title, type: 'log', automargin: true, ...(ticks.length > 1 ? { tickmode: 'array', tickvals: ticks,
    ticktext: ticks.map(String) } : {}), ...extra });
}

function legend() {
  return { orientation: 'h', x: 0, y: 1.01, yanchor: 'bottom', font: { color: colors.text, size: fontSize(14) },
    bgcolor: 'rgba(0,0,0,0)', itemwidth: 30, tracegroupgap: 0 };
}

export class BestChart extends RaceChart {
  key() {
    const m = this.model;
    return `${m.number}:${m.versions.trials}:${m.samplers.join()}`;
  }

  build() {
    const m = this.model;
    const objective = m.progress?.objective;
    if (!m.allTrials().length) return waiting(m.progress ? 'the first trials are on their way…' : 'no race yet');
    const traces = [];
    for (const sampler of m.samplers) {
      const trials = m.trials[sampler] ?? [];
      const x = trials.map((_, i) => i + 1);
      const color = SAMPLER_COLORS[sampler];
      traces.push({ // each trial's own value: the spread the best line is the lower envelope of
        x, y: trials.map((t) => (t.state === 'complete' ? t.value : null)), type: 'scatter', mode: 'markers',
        name: `${SAMPLER_LABELS[sampler]} trials`, legendgroup: sampler, showlegend: false, hoverinfo: 'skip',
        marker: { color, size: 7, opacity: 0.35 },
      });
      traces.push({
        x, y: trials.map((t) => t.best_so_far), type: 'scatter', mode: 'lines', name: SAMPLER_LABELS[sampler],
        legendgroup: sampler, line: { color, width: 4, shape: 'hv' },
      });
    }
    const budget = m.progress?.trials ?? 10;
    return [traces, baseLayout({
      showlegend: true, legend: legend(),
      xaxis: axis({ title: { text: 'trials finished', standoff: 4 }, range: [0.5, budget + 0.5], zeroline: false }),
      yaxis: objectiveAxis(objective, traces.flatMap((t) => t.y), this.el.clientHeight - 100),
      margin: { l: 64, r: 12, t: 44, b: 48 },
    })];
  }
}

export class CurvesChart extends RaceChart {
  key() {
    const m = this.model;
    return `${m.number}:${m.versions.curves}`;
  }

  build() {
    const m = this.model;
    const objective = m.progress?.objective;
    if (!m.samplers.some((s) => m.curves[s]?.some((t) => t.curve.length))) {
      return waiting(m.progress ? 'each trial’s test loss appears here after its first epoch' : 'no race yet');
    }
    const traces = [];
    for (const sampler of m.samplers) {
      const color = SAMPLER_COLORS[sampler];
      for (const trial of m.curves[sampler] ?? []) {
        const running = trial.state === 'running';
        traces.push({
          x: trial.curve.map((_, i) => i + 1), y: trial.curve, type: 'scatter', mode: 'lines',
          name: SAMPLER_LABELS[sampler], hoverinfo: 'skip',
          line: { color, width: running ? 3.5 : 1.5 }, opacity: running ? 1 : 0.35,
        });
      }
    }
    const epochs = m.progress?.epochs ?? 10;
    return [traces, baseLayout({
      xaxis: axis({ title: { text: 'epoch', standoff: 4 }, range: [0.5, epochs + 0.5], zeroline: false }),
      yaxis: objectiveAxis(objective, traces.flatMap((t) => t.y), this.el.clientHeight - 100),
      margin: { l: 64, r: 12, t: 16, b: 48 },
    })];
  }
}

export class ImportanceChart extends RaceChart {
  constructor(el, model, caption) {
    super(el, model);
    this.caption = caption;
  }

  key() {
    const m = this.model;
    return `${m.number}:${m.versions.importances}`;
  }

  build() {
    const importances = this.model.importances;
    if (!importances) {
      this.caption.textContent = 'which hyperparameters the objective depends on';
      return waiting(this.model.progress ? 'after a few finished trials' : 'no race yet');
    }
    const all = importances.all;
    const names = Object.keys(all).sort((a, b) => all[a] - all[b]); // the largest on top
    const traces = [{
      type: 'bar', orientation: 'h', x: names.map((n) => all[n]), y: names.map((n) => this.labels[n] ?? n),
      name: 'all trials',
      marker: { color: colors.positive },
      text: names.map((n) => `${Math.round(all[n] * 100)}%`), textposition: 'outside', cliponaxis: false,
      textfont: { color: colors.text },
    }];
    this.caption.textContent = `share of the objective's variation each explains, over ${importances.trials} trials`;
    return [traces, baseLayout({
      xaxis: axis({ range: [0, 1.2], tickformat: '.0%', showgrid: false, zeroline: false, showticklabels: false }),
      yaxis: axis({ automargin: true, tickfont: { size: fontSize(16), color: colors.text } }),
      margin: { l: 12, r: 12, t: 12, b: 20 },
      bargap: 0.35,
    })];
  }
}
