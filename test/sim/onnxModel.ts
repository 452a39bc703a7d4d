/**
 * Test helper: tiny ONNX fusion models written by hand as protobuf (no onnx package needed).
 * fusion_weights = state · W + b, input `state` float32 [N, d], output `fusion_weights` float32 [N, k].
 */
import { writeFileSync } from 'node:fs';

class Pb {
  private bytes: number[] = [];
  varint(v: number): this {
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      this.bytes.push(b);
    } while (x > 0n);
    return this;
  }
  int(field: number, v: number): this {
    return this.varint((field << 3) | 0).varint(v);
  }
  raw(field: number, data: Uint8Array): this {
    this.varint((field << 3) | 2).varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }
  str(field: number, s: string): this {
    return this.raw(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    return this.raw(field, m.done());
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const FLOAT = 1;

function tensor(name: string, dims: number[], values: Float32Array): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  t.int(2, FLOAT).str(8, name);
  return t.raw(9, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

function valueInfo(name: string, dims: (number | string)[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  const tensorType = new Pb().int(1, FLOAT).msg(2, shape);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensorType));
}

function node(op: string, inputs: string[], outputs: string[], name: string): Pb {
  const n = new Pb();
  for (const i of inputs) n.str(1, i);
  for (const o of outputs) n.str(2, o);
  return n.str(3, name).str(4, op);
}

export interface LinearModel {
  /** [d × k] row-major */
  W: Float32Array;
  /** [k] */
  b: Float32Array;
  d: number;
  k: number;
  inputName?: string;
  outputName?: string;
}

/** The bytes of a model computing `state · W + b`. */
export function linearOnnx(m: LinearModel): Uint8Array {
  const input = m.inputName ?? 'state';
  const output = m.outputName ?? 'fusion_weights';
  const graph = new Pb()
    .msg(1, node('MatMul', [input, 'W'], ['xw'], 'matmul'))
    .msg(1, node('Add', ['xw', 'b'], [output], 'add'))
    .str(2, 'fusion_policy')
    .msg(5, tensor('W', [m.d, m.k], m.W))
    .msg(5, tensor('b', [m.k], m.b))
    .msg(11, valueInfo(input, ['N', m.d]))
    .msg(12, valueInfo(output, ['N', m.k]));
  return new Pb()
    .int(1, 8)
    .str(2, 'batchrl-mtf-test')
    .msg(7, graph)
    .msg(8, new Pb().str(1, '').int(2, 17))
    .done();
}

/** Writes a model whose output is the constant α (W = 0, b = α). */
export function writeConstantOnnx(file: string, alpha: ArrayLike<number>, d: number): void {
  const k = alpha.length;
  writeFileSync(file, linearOnnx({ W: new Float32Array(d * k), b: Float32Array.from(alpha), d, k }));
}

/** Writes a linear model with the given W and b. */
export function writeLinearOnnx(file: string, m: LinearModel): void {
  writeFileSync(file, linearOnnx(m));
}
