// The CNN lab's frames (docs/protocol.md, "The cnn lab's frames") as the plain object its views read.

import { decodeArrays, decodeHeader } from '../../core/frame.js';

/** `state` is the lab's latest state: which layers the frame carries, the probe, the image shape. */
export function decodeFrame(raw, state) {
  const a = decodeArrays(raw);
  const input = a['probe.input'] ?? null;
  const pick = (prefix, layers) => Object.fromEntries((layers ?? []).map((k) => [k, a[`${prefix}.${k}`] ?? null]));
  return {
    ...decodeHeader(raw),
    input, // (C, H, W)
    inputShape: input ? input.shape.slice(1) : null, // [H, W]: what the drawing pad reads
    outputs: a['probe.probabilities'] ?? null, // the class probabilities for the probe
    probeLabel: raw.probe_label,
    probe: state?.probe,
    layerOutputs: pick('probe.output', state?.shown_layers),
    kernels: pick('weight', state?.conv_layers),
    kernelGrads: pick('weight_grad', state?.conv_layers),
    gradNorm: a.grad_norm ?? null, // one per layer with parameters (state.parameter_layers)
    detail: raw.detail ?? null, // the inspected pixel's numbers (labs/cnn/detail-view.js)
    arrays: a,
  };
}
