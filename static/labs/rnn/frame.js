// The RNN lab's frames (docs/protocol.md, "The rnn lab") as the plain object its views read.

import { decodeArrays, decodeHeader } from '../../core/frame.js';

/**
 * A frame as the views read it. `state` is the latest `state` event (sizes, task, vocabulary, shapes).
 * hidden[k]: (L, D·H) Float32Array of layer k for the probe; gradH: (num_layers, D, L) mean ‖∂L/∂h_t‖ from the
 * last training step (null before one); gradH0: (num_layers·D,).
 */
export function decodeFrame(raw, state) {
  const a = decodeArrays(raw);
  const layers = state?.num_layers ?? 0;
  return {
    ...decodeHeader(raw),
    gradNorm: raw.grad_norm,
    probeIndex: raw.probe_index,
    hidden: Array.from({ length: layers }, (_, k) => a[`hidden.${k}`] ?? null),
    gradH: a.grad_h ?? null,
    gradH0: a.grad_h0 ?? null,
    probe: {
      input: a['probe.input'] ?? null, // (L, H_in) waves and adding
      target: a['probe.target'] ?? null, // (L,) waves, (1,) adding, (L,) ids for chars
      prediction: a['probe.prediction'] ?? null,
      ids: a['probe.ids'] ?? null, // chars: the input characters' ids (L,)
      predicted: a['probe.predicted'] ?? null, // chars: the likeliest next character's id at each step
      targetProbability: a['probe.target_probability'] ?? null, // chars: p(the right next character)
    },
    state,
  };
}
