// Parallel coordinates (Plotly `parcoords`): one line per finished trial through the sampler, every
// hyperparameter searched and the objective, coloured like the plane. Dragging along an axis keeps the trials in
// that range: "which learning rates gave a low loss?" is one gesture.

import { colors, baseLayout, chartConfig, fontSize } from '../../core/theme.js';
import { RaceChart, waiting } from './race-chart.js';
import { SAMPLER_LABELS, objectiveLabel } from './race-model.js';
import { colorScale } from './plane-view.js';

export class ParcoordsView extends RaceChart {
  constructor(el, model) {
    super(el, model, { ...chartConfig, staticPlot: false }); // the axes can be brushed
  }

  key() {
    const m = this.model;
    return `${m.number}:${m.versions.trials}`;
  }

  build() {
    const m = this.model;
    const race = m.progress;
    const trials = m.allTrials().filter((t) => t.state !== 'fail' && Number.isFinite(t.value));
    if (!race || !trials.length) return waiting(race ? 'one line per finished trial' : 'no race yet');
    const layout = baseLayout({ margin: { l: 92, r: 70, t: 56, b: 24 } }); // room for the sampler names
    const color = colorScale(m, race.objective);
    const samplers = m.samplers;
    const dimensions = [];
    if (samplers.length > 1) {
      dimensions.push({ label: 'sampler', values: trials.map((t) => samplers.indexOf(t.sampler)),
        tickvals: samplers.map((_, i) => i), ticktext: samplers.map((s) => SAMPLER_LABELS[s]),
        range: [-0.3, samplers.length - 0.7] });
    }
    for (const name of race.params) dimensions.push(this.dimension(race, name, trials));
    const loss = race.objective !== 'test_accuracy';
    const objective = { label: objectiveLabel(race.objective), values: trials.map((t) => color.of(t.value)) };
    if (loss) {
      objective.tickvals = color.axis.colorbar.tickvals;
      objective.ticktext = color.axis.colorbar.ticktext;
    } else {
      objective.tickformat = '.0%';
    }
    dimensions.push(objective);
    const { colorscale, reversescale, cmin, cmax } = color.axis;
    return [[{
      type: 'parcoords', dimensions,
      line: { color: objective.values, colorscale, reversescale, cmin, cmax, showscale: false },
      labelfont: { size: fontSize(15), color: colors.text }, tickfont: { size: fontSize(13), color: colors.muted },
      rangefont: { size: fontSize(13), color: colors.muted },
    }], layout];
  }

  dimension(race, name, trials) {
    const space = race.space?.[name] ?? {};
    const label = this.labels[name] ?? name;
    const values = trials.map((t) => t.params[name]);
    if (space.choices) {
      return { label, values: values.map((v) => space.choices.indexOf(v)), tickvals: space.choices.map((_, i) => i),
        ticktext: space.choices, range: [-0.3, space.choices.length - 0.7] };
    }
    if (space.log) { // log10 on the axis, the values themselves as its labels
      const lo = Math.floor(Math.log10(space.low));
      const hi = Math.ceil(Math.log10(space.high));
      const tickvals = [];
      for (let k = lo; k <= hi; k += 1) tickvals.push(k);
      return { label, values: values.map((v) => Math.log10(v)), tickvals,
        ticktext: tickvals.map((k) => String(Number((10 ** k).toPrecision(1)))),
        range: [Math.log10(space.low), Math.log10(space.high)] };
    }
    return { label, values, range: [space.low, space.high] };
  }
}
