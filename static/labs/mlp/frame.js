// The MLP lab's frames (docs/protocol.md, "Frames" / "The mlp lab") as the plain object its views read
// (docs/page.md).

import { decodeArrays, decodeHeader } from '../../core/frame.js';

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
    ...decodeHeader(raw),
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
