// Loss landscape: the cost over a plane of two chosen weights (every other weight held where it is), the −∇C arrow
// field (where descent pushes those two weights from each point), and the path gradient descent has taken, ending
// at the current point. The server computes the surface and the arrows (app/landscape.py) at a few per second and
// sends them as the `landscape` bundle (docs/protocol.md); the current point moves with every frame's weights.
//
// Reads frame.landscape ({meta, arrays}), frame.weights, biases, layerSizes, step (docs/page.md).
// Two selects choose the weights; `choose(which, parameter)` lets another view (the weight editor opened by
// clicking a link of the network view) choose one. Either way `hooks.onChoose(weights)` is called with
// [[layer, neuron, input] | [layer, neuron], ...] (null: the server's automatic choice) for the page to send.

import { Plotly, fitToElement } from '../../core/plotly.js';
import { sizeCanvas } from '../../core/canvas.js';
import { parameterName } from './gradient-view.js';
import { colors, baseLayout, axis, plotConfig, fontSize } from '../../core/theme.js';
import { arrowField, contourTrace, descentArrow, drawArrow, drawField, formatNumber, pathPoints } from './landscape-layers.js';

const MAX_OPTIONS_PER_LAYER = 400; // bigger layers (image inputs) are chosen by clicking a link instead
const AUTO = 'auto';

const refKey = (ref) => (ref ? ref.join(',') : '');
const isBias = (ref) => ref.length === 2;

/** Every view's name for a parameter: its state_dict entry and index, 2.weight[0, 5] or 2.bias[0]. */
export function shortName(ref, names) {
  const [layer, row, col] = ref;
  return parameterName({ kind: isBias(ref) ? 'bias' : 'weight', layer, row, col }, names);
}

/** The weight-editor's parameter ({kind, layer, row, col}) as a landscape reference. */
export function refOf(parameter) {
  return parameter.kind === 'bias' ? [parameter.layer, parameter.row] : [parameter.layer, parameter.row, parameter.col];
}

/** A parameter's value in a frame, or undefined when the network has no such parameter. */
function valueOf(frame, ref) {
  const [layer, neuron, input] = ref;
  const sizes = frame.layerSizes;
  if (!sizes || layer >= sizes.length - 1 || neuron >= sizes[layer + 1]) return undefined;
  if (isBias(ref)) return frame.biases?.[layer]?.[neuron];
  if (input >= sizes[layer]) return undefined;
  return frame.weights?.[layer]?.[neuron * sizes[layer] + input];
}

export class LandscapeView {
  /**
   * @param {HTMLElement} container where the view draws (its own selects and plot go inside)
   * @param {{onChoose: Function}} hooks onChoose([ref, ref] | null): ask the server for another pair
   */
  constructor(container, hooks = {}) {
    this.container = container;
    this.hooks = hooks;
    container.classList.add('landscape-view');
    Object.assign(container.style, { display: 'flex', flexDirection: 'column', minHeight: '0', minWidth: '0' });
    this.bar = document.createElement('div');
    this.bar.className = 'landscape-choice';
    Object.assign(this.bar.style, {
      display: 'flex', gap: '6px', alignItems: 'center', padding: '2px 6px 0', flex: 'none', flexWrap: 'nowrap',
      overflow: 'hidden', whiteSpace: 'nowrap',
      fontSize: '0.85rem', color: colors.muted,
    });
    this.selects = ['x', 'y'].map((axisName, which) => {
      const label = document.createElement('label');
      label.textContent = `${axisName} `;
      const select = document.createElement('select');
      select.id = `landscape-${axisName}`;
      select.title = `The weight on the landscape's ${axisName} axis`;
      Object.assign(select.style, {
        background: colors.background, border: `1px solid ${colors.grid}`, borderRadius: '4px', padding: '1px 2px',
        maxWidth: '6.8em', fontSize: '0.85rem',
      });
      select.addEventListener('change', () => this.selected(which, select.value));
      label.append(select);
      this.bar.append(label);
      return select;
    });
    this.autoButton = document.createElement('button');
    this.autoButton.className = 'tool';
    this.autoButton.id = 'landscape-auto';
    this.autoButton.textContent = 'steepest';
    this.autoButton.title = "Let the server pick the first layer's two steepest weights";
    Object.assign(this.autoButton.style, { fontSize: '0.85rem', padding: '1px 6px' });
    this.autoButton.addEventListener('click', () => this.hooks.onChoose?.(null));
    this.bar.append(this.autoButton);
    // The contour and the arrow field are a Plotly figure, redrawn only for a new surface (40-85 ms of JavaScript
    // and ~23 ms of paint in software rendering); the path, the current point and its arrow move every frame, so
    // they are drawn on a canvas over the figure's plot area (under a millisecond), placed by Plotly's own axes.
    const stack = document.createElement('div');
    Object.assign(stack.style, { flex: '1', minHeight: '0', minWidth: '0', position: 'relative' });
    this.plot = document.createElement('div');
    this.plot.id = 'landscape-plot';
    Object.assign(this.plot.style, { position: 'absolute', inset: '0' });
    this.overlay = document.createElement('canvas');
    this.overlay.className = 'landscape-overlay';
    Object.assign(this.overlay.style, { position: 'absolute', inset: '0', width: '100%', height: '100%',
      pointerEvents: 'none' });
    stack.append(this.plot, this.overlay);
    container.append(this.bar, stack);
    fitToElement(this.plot);
    this.optionsKey = '';
    this.surfaceKey = ''; // the landscape version and plot size the Plotly figure was last drawn for
    this.moving = null; // {path: {x, y}, current, arrow, weights}: what the overlay draws
    this.drawnPath = 0; // points of the path on the overlay (for scripts and tests)
    this.drawnArrows = 0; // arrows of the −∇C field on the overlay (for scripts and tests)
    this.field = null; // the arrow field of the drawn surface: [x0, y0, x1, y1] per arrow, in weights
    this.drawnWeights = ''; // the pair the drawn surface is over
    this.frame = null;
    this.emptyKey = ''; // what the "computing…" figure was drawn for
    this.listening = false;
  }

  /** Put `parameter` ({kind, layer, row, col}, or [layer, neuron, input?]) on axis `which` (0 = x, 1 = y). */
  choose(which, parameter) {
    const ref = Array.isArray(parameter) ? parameter : refOf(parameter);
    const current = this.weights ?? [null, null];
    const pair = [...current];
    pair[which] = ref;
    if (!pair[1 - which] || refKey(pair[1 - which]) === refKey(ref)) pair[1 - which] = current[which];
    if (!pair[0] || !pair[1] || refKey(pair[0]) === refKey(pair[1])) return;
    this.hooks.onChoose?.(pair);
  }

  selected(which, value) {
    if (value === AUTO) {
      this.hooks.onChoose?.(null);
      return;
    }
    this.choose(which, value.split(',').map(Number));
  }

  /** Every frame: remember it, and move the path and the current point on the overlay (well under 1 ms). */
  take(frame) {
    this.frame = frame;
    const landscape = frame.landscape;
    const meta = landscape?.meta;
    // Only over the surface drawn for the same two weights: the axes are theirs.
    const over = this.surfaceKey && meta && meta.layer_sizes?.join('-') === frame.layerSizes.join('-')
      && meta.weights.map(refKey).join('|') === this.drawnWeights;
    if (!over) return;
    const current = meta.weights.map((ref) => valueOf(frame, ref));
    this.moving = { path: pathPoints(landscape, frame.step, current), current, arrow: descentArrow(landscape, current) };
    this.drawOverlay();
  }

  /** The Plotly figure, when the surface (a new landscape bundle) or the plot's size changed: the chart scheduler's. */
  draw() {
    const { frame } = this;
    if (!frame) return;
    const landscape = frame.landscape;
    const meta = landscape?.meta;
    const usable = meta && meta.layer_sizes?.join('-') === frame.layerSizes.join('-');
    this.weights = usable ? meta.weights : null;
    this.syncOptions(frame, usable ? meta : null);
    if (!usable) {
      this.drawEmpty(frame, meta);
      return;
    }
    const key = `${meta.version}|${this.plot.clientWidth}x${this.plot.clientHeight}`;
    if (key !== this.surfaceKey) {
      this.surfaceKey = key;
      this.emptyKey = '';
      this.drawnWeights = meta.weights.map(refKey).join('|');
      this.field = arrowField(landscape);
      this.drawSurface(landscape);
    }
    this.take(frame);
  }

  /** take(frame) and draw(): the whole view at once. */
  update(frame) {
    this.take(frame);
    this.draw();
  }

  /** The Plotly figure: the contour of one landscape bundle, on fixed axes (the overlay draws the rest). */
  drawSurface(landscape) {
    const { meta } = landscape;
    const [xRange, yRange] = [landscape.arrays['landscape.w1'], landscape.arrays['landscape.w2']]
      .map((a) => [a[0], a[a.length - 1]]);
    const loss = Number.isFinite(meta.loss) ? `C = ${formatNumber(meta.loss)}` : 'C diverged';
    const layout = baseLayout({
      margin: { l: 58, r: 10, t: 30, b: 48 },
      title: {
        text: `loss landscape · ${loss}`,
        font: { size: fontSize(13), color: colors.muted }, x: 0.02, xanchor: 'left', y: 0.985,
      },
      xaxis: axis({ title: { text: meta.labels[0], font: { size: fontSize(13) }, standoff: 4 }, range: xRange,
        zeroline: false }),
      yaxis: axis({ title: { text: meta.labels[1], font: { size: fontSize(13) }, standoff: 2 }, range: yRange,
        zeroline: false }),
      uirevision: meta.weights.map(refKey).join('|'),
    });
    Plotly.react(this.plot, [contourTrace(landscape)], layout, plotConfig);
    if (!this.listening) {
      // Zoom, resize and every redraw move the axes: the overlay follows.
      this.listening = true;
      this.plot.on('plotly_afterplot', () => this.drawOverlay());
    }
  }

  /**
   * The −∇C arrow field, the path, the current point and its −∇C arrow, on the canvas over the plot area
   * (placed by Plotly's own axes, so they follow a zoom or a resize).
   */
  drawOverlay() {
    const canvas = this.overlay;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    const ctx = sizeCanvas(canvas, width, height);
    ctx.clearRect(0, 0, width, height);
    this.drawnPath = 0;
    this.drawnArrows = 0;
    const xa = this.plot._fullLayout?.xaxis;
    const ya = this.plot._fullLayout?.yaxis;
    if (!this.moving || !xa?.l2p || !ya?.l2p || !this.surfaceKey) return;
    const px = (x) => xa._offset + xa.l2p(x);
    const py = (y) => ya._offset + ya.l2p(y);
    ctx.save();
    ctx.beginPath();
    ctx.rect(xa._offset, ya._offset, xa._length, ya._length);
    ctx.clip();
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    this.drawnArrows = drawField(ctx, this.field, px, py);
    const { path, current, arrow } = this.moving;
    ctx.strokeStyle = colors.accentSoft;
    ctx.lineWidth = 3;
    ctx.beginPath();
    path.x.forEach((x, k) => (k ? ctx.lineTo(px(x), py(path.y[k])) : ctx.moveTo(px(x), py(path.y[k]))));
    ctx.stroke();
    this.drawnPath = path.x.length;
    if (current.every(Number.isFinite)) {
      const [x0, y0] = [px(current[0]), py(current[1])];
      if (arrow) drawArrow(ctx, x0, y0, px(arrow[0]), py(arrow[1]), colors.accent, 3, 12);
      ctx.fillStyle = colors.accent;
      ctx.strokeStyle = colors.background;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x0, y0, 7.5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
    ctx.restore();
  }

  drawEmpty(frame, meta) {
    this.moving = null;
    this.field = null;
    this.drawOverlay();
    const key = `empty|${meta ? 'stale' : 'none'}`;
    if (key === this.emptyKey) return;
    this.emptyKey = key;
    this.surfaceKey = ''; // a landscape that comes back is drawn again
    const layout = baseLayout({
      xaxis: axis({ visible: false }), yaxis: axis({ visible: false }),
      annotations: [{
        text: 'loss landscape: computing…', showarrow: false, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5,
        font: { size: fontSize(15), color: colors.muted },
      }],
    });
    Plotly.react(this.plot, [], layout, plotConfig);
  }

  /** The selects list every parameter of the current network (big layers: only the chosen one). */
  syncOptions(frame, meta) {
    const sizes = frame.layerSizes;
    const chosen = meta ? meta.weights.map(refKey) : [AUTO, AUTO];
    const names = frame.parameterNames;
    const key = `${sizes.join('-')}|${chosen.join('|')}|${meta?.auto ?? ''}|${names?.flat().join()}`;
    if (key === this.optionsKey) return;
    this.optionsKey = key;
    this.selects.forEach((select, which) => {
      select.replaceChildren();
      // The server's automatic pair shows as the pair itself; the "steepest" button says it is automatic.
      select.append(new Option(meta?.auto ? shortName(meta.weights[which], names) : 'steepest', AUTO));
      for (let layer = 0; layer < sizes.length - 1; layer += 1) {
        const group = document.createElement('optgroup');
        group.label = `layer ${layer}`;
        const nIn = sizes[layer];
        const nOut = sizes[layer + 1];
        const listAll = nIn * nOut <= MAX_OPTIONS_PER_LAYER;
        for (let neuron = 0; neuron < nOut; neuron += 1) {
          for (let input = 0; input < nIn; input += 1) {
            const ref = [layer, neuron, input];
            if (listAll || refKey(ref) === chosen[which]) group.append(new Option(shortName(ref, names), refKey(ref)));
          }
          group.append(new Option(shortName([layer, neuron], names), refKey([layer, neuron])));
        }
        select.append(group);
      }
      select.value = meta?.auto ? AUTO : chosen[which];
    });
    this.autoButton.setAttribute('aria-pressed', String(Boolean(meta?.auto)));
    this.autoButton.style.borderColor = meta?.auto ? colors.positive : '';
  }
}
