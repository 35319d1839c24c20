// Decoding the server's frames and bundles (docs/protocol.md, "Frames"): the arrays, and the fields every lab's
// frame carries. Arrays stay typed views on the received ArrayBuffer: no copies, no JSON lists. Each lab decodes
// the rest of its frames itself (static/labs/<name>/frame.js).

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

/** The fields every lab's frame carries (docs/protocol.md, "Frames"), as the core's readouts read them. */
export function decodeHeader(raw) {
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
    cpu: raw.cpu ?? null, // {share, fair} of the server's time while other sessions run too, else null
  };
}
