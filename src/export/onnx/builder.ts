/**
 * A small graph builder over the ONNX protobuf definitions of `onnx-proto` (generated from onnx's own
 * onnx.proto): constants, nodes with typed attributes, dynamic-dimension inputs and outputs, and the
 * serialised ModelProto. It names every intermediate value uniquely, so graph code reads as a list of
 * operations: `const h = g.op('Relu', [g.op('Add', [x, b])])`.
 *
 * Pinned to opset 17 and IR version 8 (ONNX 1.12): the newest pair that older ranking stacks load.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const OPSET = 17;
export const IR_VERSION = 8;
export const PRODUCER = 'batchrl-mtf';

type Dim = number | string;
type AttrValue = number | number[] | { float: number } | { ints: number[] };

/** The ONNX element types the fusion graphs use. */
const DT = { float: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64 } as const;

function floatBytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true); // ONNX raw_data is little-endian
  return out;
}

function int64Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i]), true);
  return out;
}

function valueInfo(name: string, elem: keyof typeof DT, dims: Dim[], doc: string): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    docString: doc,
    type: {
      tensorType: {
        elemType: DT[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new RangeError(`attribute ${name}: ${v} is not an integer; pass { float: ${v} }`);
    return { name, type: T.INT, i: v };
  }
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INTS, ints: v.ints };
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();

  constructor(readonly graphName: string) {}

  private fresh(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  input(name: string, elem: keyof typeof DT, dims: Dim[], doc: string): string {
    if (this.names.has(name)) throw new Error(`graph ${this.graphName}: value ${name} already exists`);
    this.names.add(name);
    this.inputs.push(valueInfo(name, elem, dims, doc));
    return name;
  }

  /** Declares `value` (an existing value) as a graph output under the name `name`. */
  output(value: string, name: string, elem: keyof typeof DT, dims: Dim[], doc: string): void {
    if (value !== name) this.op('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, elem, dims, doc));
  }

  /** A float32 constant of shape `dims` (row-major values). */
  floats(name: string, dims: number[], values: ArrayLike<number>): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new RangeError(`constant ${name}: ${values.length} values for shape [${dims.join(', ')}] (${size})`);
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new RangeError(`constant ${name}: value ${i} is ${values[i]}; a model with non-finite weights cannot be exported`);
    }
    const n = this.fresh(name);
    this.initializers.push({ name: n, dims, dataType: DT.float, rawData: floatBytes(values) });
    return n;
  }

  int64s(name: string, dims: number[], values: ArrayLike<number>): string {
    const n = this.fresh(name);
    this.initializers.push({ name: n, dims, dataType: DT.int64, rawData: int64Bytes(values) });
    return n;
  }

  /** One node; returns the name of its (single) output. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string): string {
    const out = outName ?? this.fresh(opType.toLowerCase());
    if (outName) this.names.add(outName);
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** The serialised ModelProto (opset 17, IR 8) with `metadata` as metadata_props. */
  encode(opts: { doc: string; producerVersion: string; metadata: Record<string, string> }): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: PRODUCER,
      producerVersion: opts.producerVersion,
      docString: opts.doc,
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** Reads a serialised model back (tests, manifest checks): opset, IR version, metadata, value names. */
export function describeModel(bytes: Uint8Array): { irVersion: number; opset: number; metadata: Record<string, string>; inputs: string[]; outputs: string[]; ops: string[] } {
  const m = onnx.ModelProto.decode(bytes);
  const opset = m.opsetImport.find((o) => !o.domain)?.version;
  return {
    irVersion: Number(m.irVersion),
    opset: Number(opset ?? 0),
    metadata: Object.fromEntries(m.metadataProps.map((p) => [p.key ?? '', p.value ?? ''])),
    inputs: (m.graph?.input ?? []).map((v) => v.name ?? ''),
    outputs: (m.graph?.output ?? []).map((v) => v.name ?? ''),
    ops: [...new Set((m.graph?.node ?? []).map((n) => n.opType ?? ''))].sort(),
  };
}
