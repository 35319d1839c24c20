// Where each sampler looked: the trials over the plane of two hyperparameters, one panel per sampler, coloured by
// the objective (Bergstra & Bengio 2012, Figure 1, live). Grid's lattice, random's spread and TPE closing in on
// the good region side by side; under (or beside) each panel the trials projected onto the more important of
// the two axes, where grid's trials pile up on a few values and random's cover the axis. Trials training now are
// open rings; each sampler's best is a star.

import { colors, baseLayout, axis, fontSize } from '../../core/theme.js';
import { RaceChart, waiting } from './race-chart.js';
import { SAMPLER_COLORS, SAMPLER_TITLES, objectiveLabel, formatParam, formatValue, niceTicks, decadeTicks }
  from './race-model.js';

const GAP = 0.055; // between panels, as a fraction of the plot's width
const RUG = 0.09; // the projection strip's share of a panel

/** A stable small offset for trial `number`, so choices (relu, tanh) do not hide each other's trials. */
function jitter(number) {
  return (((number * 0.6180339887) % 1) - 0.5) * 0.36;
}

export class PlaneView extends RaceChart {
  constructor(el, caption, model) {
    super(el, model);
    this.caption = caption;
    this.axes = { x: null, y: null };
  }

  setAxes(x, y) {
    this.axes = { x, y };
  }

  key() {
    const m = this.model;
    return `${m.number}:${m.versions.trials}:${m.versions.curves}:${m.versions.importances}:`
      + `${this.axes.x}:${this.axes.y}:${m.progress?.phase}:${this.el.clientWidth}x${this.el.clientHeight}`;
  }

  /** The two hyperparameters drawn: the chosen axes if the race searched them (y null: the objective). */
  plane(race) {
    const searched = race.params;
    const x = searched.includes(this.axes.x) ? this.axes.x : searched[0];
    const y = searched.includes(this.axes.y) && this.axes.y !== x ? this.axes.y
      : searched.find((name) => name !== x) ?? null;
    return { x, y };
  }

  build() {
    const m = this.model;
    const race = m.progress;
    if (!race) {
      this.caption.textContent = '';
      return waiting('Press “Start race”: every sampler’s trials appear here as they finish');
    }
    const { x: xName, y: yName } = this.plane(race);
    const importances = m.importances?.all;
    const project = yName && importances && (importances[yName] ?? 0) > (importances[xName] ?? 0) ? 'y' : 'x';
    const projected = project === 'x' ? xName : yName;
    const color = colorScale(m, race.objective);
    const samplers = m.samplers;
    const width = (1 - GAP * (samplers.length - 1)) / samplers.length;
    const traces = [];
    const layout = baseLayout({
      margin: { l: 70, r: 86, t: 8, b: 56 },
      coloraxis: color.axis,
      annotations: [],
      showlegend: false,
    });
    const label = this.labels[projected] ?? projected;
    const narrow = this.el.clientWidth * width < 330; // px of one panel: every other decade on a log axis
    const TOP = 1 - (fontSize(17) * 2.9) / Math.max(150, this.el.clientHeight - 60); // the titles above the panels
    samplers.forEach((sampler, i) => {
      const n = i + 1;
      const main = { x: axisId('x', n), y: axisId('y', n) };
      const strip = n + samplers.length; // the projection's own axis, numbered after every panel's
      const rug = project === 'x' ? { x: main.x, y: axisId('y', strip) } : { x: axisId('x', strip), y: main.y };
      const left = i * (width + GAP);
      const right = left + width;
      const rugSpan = project === 'x' ? [0, RUG * TOP] : [left, left + RUG * width];
      const mainX = project === 'x' ? [left, right] : [rugSpan[1] + 0.012, right];
      const mainY = project === 'x' ? [rugSpan[1] + 0.02, TOP] : [0, TOP];
      const xAxis = this.axisFor(race, xName, narrow, { domain: mainX, anchor: project === 'x' ? rug.y : main.y });
      const yAxis = yName ? this.axisFor(race, yName, false,
        { domain: mainY, anchor: project === 'y' ? rug.x : main.x })
        : objectiveAxis(race.objective, { domain: mainY, anchor: main.x });
      if (i > 0) yAxis.title = { text: '' };
      layout[axisKey(main.x)] = xAxis;
      layout[axisKey(main.y)] = yAxis;
      if (project === 'x') {
        layout[axisKey(rug.y)] = axis({ domain: rugSpan, anchor: main.x, range: [-1, 1], showticklabels: false,
          showgrid: false, zeroline: false, fixedrange: true });
      } else {
        layout[axisKey(rug.x)] = axis({ domain: rugSpan, anchor: main.y, range: [-1, 1], showticklabels: false,
          showgrid: false, zeroline: false, fixedrange: true });
      }

      const trials = m.trials[sampler] ?? [];
      const coordinate = (name, trial) => (name ? this.coordinate(race, name, trial.params[name], trial.number)
        : trial.value);
      const point = (trial) => ({ x: coordinate(xName, trial), y: coordinate(yName, trial) });
      const groups = { complete: [], pruned: [], fail: [] };
      for (const trial of trials) (groups[trial.state] ?? groups.fail).push(trial);
      const hover = (trial) => `trial ${trial.number}: ${formatValue(trial.value, race.objective)}`
        + `${trial.state === 'complete' ? '' : ` (${trial.state}${trial.reason ? `: ${trial.reason}` : ''})`}<br>`
        + race.params.map((p) => `${p} = ${formatParam(trial.params[p])}`).join('<br>');
      const scatter = (list, marker) => ({
        type: 'scatter', mode: 'markers', xaxis: main.x, yaxis: main.y, x: list.map((t) => point(t).x),
        y: list.map((t) => point(t).y), text: list.map(hover), hoverinfo: 'text', marker,
      });
      traces.push(scatter(groups.complete, { size: 12, color: groups.complete.map((t) => color.of(t.value)),
        coloraxis: 'coloraxis', line: { color: colors.background, width: 1 } }));
      traces.push(scatter(groups.pruned, { size: 11, symbol: 'circle-open', line: { width: 2.5 },
        color: groups.pruned.map((t) => color.of(t.value)), coloraxis: 'coloraxis' }));
      traces.push(scatter(groups.fail, { size: 11, symbol: 'x-thin-open', color: colors.negative,
        line: { width: 2.5, color: colors.negative } }));
      const running = (m.curves[sampler] ?? []).filter((t) => t.state === 'running' && t.params);
      traces.push(scatter(running, { size: 15, symbol: 'circle-open', color: colors.text,
        line: { width: 2, color: colors.text } }));
      const best = groups.complete.reduce((b, t) => (!b || color.better(t.value, b.value) ? t : b), null);
      if (best) {
        traces.push(scatter([best], { size: 24, symbol: 'star', color: [color.of(best.value)], coloraxis: 'coloraxis',
          line: { color: colors.accent, width: 2 } }));
      }
      // The projection: every trial's value of the more important hyperparameter, as a tick on its axis.
      const shown = [...groups.complete, ...groups.pruned];
      const along = shown.map((t) => coordinate(projected, t));
      const ticks = shown.map((t) => color.of(t.value));
      traces.push({
        type: 'scatter', mode: 'markers', xaxis: rug.x, yaxis: rug.y, hoverinfo: 'skip',
        x: project === 'x' ? along : along.map(() => 0), y: project === 'x' ? along.map(() => 0) : along,
        marker: { symbol: project === 'x' ? 'line-ns-open' : 'line-ew-open', size: 22, line: { width: 2.5 },
          color: ticks, coloraxis: 'coloraxis' },
      });
      const values = new Set(trials.map((t) => String(t.params[projected])));
      layout.annotations.push({
        text: `<b>${SAMPLER_TITLES[sampler]}</b><br><span style="font-size:${fontSize(14)}px;color:${colors.muted}">`
          + `${trials.length} trials · ${values.size} ${plural(label)}</span>`,
        showarrow: false,
        xref: 'paper', yref: 'paper', x: (left + right) / 2, y: 1, yanchor: 'top', xanchor: 'center',
        font: { color: SAMPLER_COLORS[sampler], size: fontSize(17) },
      });
    });
    this.caption.textContent = `the ticks: every trial projected on ${label}`
      + `${importances ? ', the more important of the two' : ''}`;
    return [traces, layout];
  }

  /** A trial's position along hyperparameter `name`: its value, or a choice's index (spread a little). */
  coordinate(race, name, value, number) {
    const space = race.space?.[name];
    if (space?.choices) return space.choices.indexOf(value) + jitter(number);
    return value;
  }

  axisFor(race, name, narrow, extra) {
    const space = race.space?.[name] ?? {};
    const title = { text: this.labels[name] ?? name, standoff: 4 };
    if (space.choices) {
      return axis({ title, tickvals: space.choices.map((_, i) => i), ticktext: space.choices,
        range: [-0.6, space.choices.length - 0.4], zeroline: false, ...extra });
    }
    if (space.log) {
      const pad = (Math.log10(space.high) - Math.log10(space.low)) * 0.06;
      return axis({ title, type: 'log', range: [Math.log10(space.low) - pad, Math.log10(space.high) + pad],
        ...decadeTicks(space.low, space.high, narrow ? 2 : 1), tickangle: 0, zeroline: false, ...extra });
    }
    const pad = (space.high - space.low) * 0.06 || 0.5;
    return axis({ title, range: [space.low - pad, space.high + pad], tickangle: 0, zeroline: false, ...extra });
  }
}

/** "learning rates", "widths", "L2 values": what the distinct values tried are counted in. */
function plural(label) {
  return /\d$/.test(label) ? `${label} values` : `${label}s`;
}

/** Plotly's name for axis `n` of a letter ('x', 'x2', …) and its layout key ('xaxis', 'xaxis2', …). */
function axisId(letter, n) {
  return n === 1 ? letter : `${letter}${n}`;
}

function axisKey(id) {
  return `${id[0]}axis${id.slice(1)}`;
}

function objectiveAxis(objective, extra) {
  const loss = objective !== 'test_accuracy';
  return axis({ title: { text: objectiveLabel(objective), standoff: 4 }, type: loss ? 'log' : 'linear',
    zeroline: false, ...extra });
}

/**
 * The colour of a trial: Viridis, yellow for the best values. A loss is coloured by its logarithm (0.05 and 0.1
 * must look different, 2.3 and 4.6 hardly); the scale spans the race's best to its 80th percentile, so one
 * diverged trial does not wash the others out.
 */
export function colorScale(model, objective) {
  const loss = objective !== 'test_accuracy';
  const values = model.allTrials().filter((t) => t.state === 'complete' && Number.isFinite(t.value))
    .map((t) => t.value).sort((a, b) => a - b);
  const of = (v) => (Number.isFinite(v) ? (loss ? Math.log10(Math.max(v, 1e-12)) : v) : null);
  const better = (a, b) => (loss ? a < b : a > b);
  let cmin = 0;
  let cmax = 1;
  if (values.length) {
    const spread = loss ? values.slice(0, Math.max(1, Math.ceil(values.length * 0.8))) : values;
    cmin = of(spread[0]);
    cmax = of(spread[spread.length - 1]);
    if (!loss) [cmin, cmax] = [of(values[Math.floor(values.length * 0.2)]), of(values[values.length - 1])];
    if (cmax - cmin < 1e-6) [cmin, cmax] = [cmin - 0.5, cmax + 0.5];
  }
  const colorbar = { title: { text: objectiveLabel(objective), side: 'right' }, thickness: 14, len: 0.85, x: 1.005,
    xpad: 6, outlinewidth: 0, tickfont: { size: fontSize(13), color: colors.muted } };
  if (loss) {
    const ticks = niceTicks(cmin, cmax);
    colorbar.tickvals = ticks.map((t) => Math.log10(t));
    colorbar.ticktext = ticks.map((t) => String(t));
  } else {
    colorbar.tickformat = '.0%';
  }
  return { of, better, axis: { colorscale: 'Viridis', reversescale: loss, cmin, cmax, colorbar } };
}
