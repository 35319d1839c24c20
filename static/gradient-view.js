// Gradient view: 3Blue1Brown's −∇C column — each weight's nudge, largest first, blue when gradient descent
// raises the weight and red when it lowers it. (The loss landscape beside it is landscape-view.js.)
//
// Reads frame.weightGrads, biasGrads, layerSizes (docs/page.md).

import { Plotly, fitToElement } from './plotly.js';
import { colors, baseLayout, axis, chartConfig, fontSize } from './theme.js';

const COLUMN_LENGTH = 20; // bars in the −∇C column: the largest nudges, readable from the back row

// The names every view uses (and the server's landscape labels): w[layer][neuron,input] and b[layer][neuron].
export const parameterName = ({ kind, layer, row, col }) => (kind === 'bias' ? `b[${layer}][${row}]` : `w[${layer}][${row},${col}]`);

/** The −∇C entries with the largest size: [{name, nudge}] sorted by |nudge| descending; and how many there are. */
function largestNudges(frame, count) {
  // One pass keeping the `count` largest (sorted, largest first): 60,000 parameters cost well under a millisecond.
  const best = [];
  let total = 0;
  const consider = (g, parameter) => {
    total += g.length;
    for (let i = 0; i < g.length; i += 1) {
      const size = Math.abs(g[i]);
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
    return { name: parameterName({ ...parameter, ...where }), nudge };
  });
  return { nudges, total };
}

export class GradientView {
  constructor(columnEl) {
    this.columnEl = columnEl;
    fitToElement(columnEl);
    this.frame = null;
  }

  /** Every frame: remember it (drawing is the scheduler's call). */
  take(frame) {
    this.frame = frame;
  }

  drawColumn() {
    const { frame } = this;
    if (!frame) return;
    const { nudges, total } = largestNudges(frame, COLUMN_LENGTH);
    const labels = nudges.map((n) => n.name);
    const values = nudges.map((n) => n.nudge);
    const scale = Math.max(1e-12, ...values.map(Math.abs));
    const signColors = values.map((v) => (v >= 0 ? colors.positive : colors.negative));
    const bars = {
      type: 'bar', orientation: 'h', y: labels, x: values, marker: { color: signColors },
      hovertemplate: '%{y}: −∂C/∂w = %{x:.3e}<extra></extra>',
    };
    // 3Blue1Brown's column of numbers beside each name: ▲ the weight goes up, ▼ it goes down.
    const ticktext = labels.map((name, i) => `${name} <span style="color:${signColors[i]}">`
      + `${values[i] >= 0 ? '▲' : '▼'}${formatNudge(values[i]).padStart(7, '\u2007')}</span>`);
    const layout = baseLayout({
      margin: { l: 8, r: 12, t: 34, b: 16 },
      title: { text: `the ${nudges.length} largest of ${total}`, font: { size: fontSize(14), color: colors.muted },
        x: 0.02, xanchor: 'left', y: 0.98 },
      xaxis: axis({ range: [-scale * 1.04, scale * 1.04], showticklabels: false, showgrid: false, zeroline: true,
        zerolinecolor: colors.muted, fixedrange: true }),
      yaxis: axis({ autorange: 'reversed', type: 'category', fixedrange: true, automargin: true, tickvals: labels,
        ticktext, tickfont: { size: fontSize(12), family: '"DejaVu Sans Mono", monospace', color: colors.text } }),
      bargap: 0.25,
      annotations: scale > 1e-12 ? [] : [{ text: 'no gradient yet:<br>press step or play', showarrow: false,
        xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, font: { size: fontSize(16), color: colors.muted } }],
    });
    Plotly.react(this.columnEl, [bars], layout, chartConfig);
  }
}

/** |v| in at most 7 characters: 0.233, 0.0068, 12.5, 3.1e-5. */
function formatNudge(v) {
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1) return String(Number(a.toPrecision(2)));
  if (a >= 1 && a < 1e4) return a.toFixed(a < 100 ? 2 : 0);
  return a.toExponential(1);
}
