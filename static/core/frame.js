// Decoding the server's frames (docs/protocol.md, "Frames") into the plain object every view reads
// (docs/page.md). Arrays stay typed views on the received ArrayBuffer: no copies, no JSON lists.

const VIEWS = { f4: Float32Array, u1: Uint8Array, i4: Int32Array };

/**
 * Every array of a bundle by name. Quantized u1 arrays (with low/high) come back as
 * {shape, values: Float32Array} already scaled; the rest as typed arrays with a .shape property.
 */
export function decodeArrays(bundle) {
  const out = {};
  if (!bundle?.arrays) return out;
  const buffer = bundle.data instanceof ArrayBuffer ? bundle.data : bundle.data?.buffer;
  const base = bundle.data instanceof ArrayBuffer ? 0 : bundle.data?.byteOffset ?? 0;
  for (const d of bundle.arrays) {
    const size = d.shape.reduce((n, s) => n * s, 1);
    const raw = new VIEWS[d.dtype](buffer, base + d.byte_offset, size);
    const array = d.low && d.high ? dequantize(raw, d.shape, d.low, d.high) : raw;
    array.shape = d.shape;
    out[d.name] = array;
  }
  return out;
}

/** value = low[i] + (high[i] - low[i]) * q / 255, one (low, high) per index of the first axis. */
function dequantize(q, shape, low, high) {
  const values = new Float32Array(q.length);
  const block = q.length / shape[0];
  for (let i = 0; i < shape[0]; i += 1) {
    const lo = low[i];
    const span = (high[i] - lo) / 255;
    for (let k = i * block; k < (i + 1) * block; k += 1) values[k] = lo + span * q[k];
  }
  return values;
}

/** The per-layer arrays named `${prefix}.${k}` for k = 0 … count − 1 (missing ones are null). */
function perLayer(arrays, prefix, count) {
  return Array.from({ length: count }, (_, k) => arrays[`${prefix}.${k}`] ?? null);
}

/**
 * A frame as the views read it (docs/page.md). `state` is the latest `state` event, for what frames do not
 * repeat (feature names, task, probe, grid extent).
 */
export function decodeFrame(raw, state) {
  const a = decodeArrays(raw);
  const sizes = raw.layer_sizes;
  const L = sizes.length - 1;
  const input = a['probe.input'];
  const inputShape = input && input.shape.length === 2 ? input.shape : null;
  const activations = perLayer(a, 'probe.activation', L);
  return {
    seq: raw.seq,
    step: raw.step,
    epoch: raw.epoch,
    status: raw.status,
    divergence: raw.divergence,
    configVersion: raw.config_version,
    learningRate: raw.learning_rate,
    batchLoss: raw.batch_loss,
    trainLoss: raw.train_loss,
    testLoss: raw.test_loss,
    trainAccuracy: raw.train_accuracy,
    testAccuracy: raw.test_accuracy,
    metricsStep: raw.metrics_step ?? raw.step,
    layerSizes: sizes,
    probeLabel: raw.probe_label,
    histRange: raw.hist_range,
    histBins: raw.hist_bins,
    weights: perLayer(a, 'weight', L),
    biases: perLayer(a, 'bias', L),
    weightGrads: perLayer(a, 'weight_grad', L),
    biasGrads: perLayer(a, 'bias_grad', L),
    gradNorm: a.grad_norm,
    input,
    inputShape,
    preActivations: perLayer(a, 'probe.pre_activation', L),
    activations: [input, ...activations], // activations[l] is neuron layer l; 0 is the probe input
    probeTarget: a['probe.target'] ?? null,
    backprop: raw.backprop ?? null, // {cost, output_activation, cost_value} when the probe has a target
    arrays: a, // every array by its wire name (backprop.*, probe.output_weight_grad, ...)
    preActivationHist: a.pre_activation_hist,
    preActivationStats: a.pre_activation_stats,
    outputGrid: a.output_grid ?? null, // (C, R, R), row 0 at the bottom
    neuronGrids: perLayer(a, 'neuron_grid', L - 1), // hidden layers only: (out, r, r)
    inputNames: state?.input_kind === 'image' ? null : state?.feature_names ?? null,
    outputNames: outputNames(state, sizes[L]),
    task: state?.task ?? 'classification',
    outputActivation: state?.output_activation ?? 'tanh',
    hiddenActivations: state?.hidden_activations ?? [],
    extent: state?.grid?.extent ?? [-6, 6],
  };
}

function outputNames(state, count) {
  if (!state) return null;
  if (state.task === 'regression') return ['ŷ'];
  if (count === 1) return ['class'];
  if (state.input_kind === 'image') return Array.from({ length: count }, (_, i) => String(i));
  return Array.from({ length: count }, (_, i) => `class ${i}`);
}
