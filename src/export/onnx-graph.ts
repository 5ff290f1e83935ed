// A small builder for ONNX graphs of float32 tensors: initializers in, nodes appended in execution
// order (ONNX requires a topologically sorted node list, and appending as we go gives one), each node's
// output named by the caller so that the graph reads like the model's own module names.
import { endianness } from 'node:os';
import { AttributeType, DataType, type OnnxAttribute, type OnnxDimension, type OnnxGraph, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './onnx-proto.js';

/** float32 elements as ONNX's raw_data wants them: little-endian, whatever the host. */
function float32Bytes(data: Float32Array): Uint8Array {
  if (endianness() === 'LE') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
  return out;
}

export const attr = {
  ints: (name: string, ints: number[]): OnnxAttribute => ({ name, type: AttributeType.INTS, ints }),
  int: (name: string, i: number): OnnxAttribute => ({ name, type: AttributeType.INT, i }),
  float: (name: string, f: number): OnnxAttribute => ({ name, type: AttributeType.FLOAT, f }),
  string: (name: string, s: string): OnnxAttribute => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(s) }),
};

/** A float32 tensor input or output of the graph. */
export function floatValue(name: string, dims: (number | string)[], doc?: string): OnnxValueInfo {
  const dim = dims.map((d): OnnxDimension => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, ...(doc ? { doc_string: doc } : {}), type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim } } } };
}

export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly names = new Set<string>();

  /** Adds a float32 initializer; returns its name. */
  constant(name: string, dims: number[], data: Float32Array): string {
    const count = dims.reduce((n, d) => n * d, 1);
    if (data.length !== count) throw new Error(`onnx: initializer '${name}' has ${data.length} values for [${dims.join(', ')}]`);
    this.claim(name);
    this.initializers.push({ name, dims, data_type: DataType.FLOAT, raw_data: float32Bytes(data) });
    return name;
  }

  /** Appends a node whose single output is `output`; returns that name. '' marks an omitted optional input. */
  node(opType: string, inputs: string[], output: string, attributes: OnnxAttribute[] = []): string {
    for (const input of inputs) {
      if (input !== '' && !this.names.has(input)) throw new Error(`onnx: ${opType} '${output}' reads '${input}' before it is defined`);
    }
    this.claim(output);
    this.nodes.push({ name: output, op_type: opType, input: inputs, output: [output], attribute: attributes });
    return output;
  }

  /** Declares a graph input's name so that nodes may read it. */
  input(name: string): string {
    this.claim(name);
    return name;
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  build(name: string, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[], doc: string): OnnxGraph {
    for (const o of outputs) if (!this.names.has(o.name)) throw new Error(`onnx: graph output '${o.name}' is never computed`);
    return { name, doc_string: doc, node: this.nodes, initializer: this.initializers, input: inputs, output: outputs };
  }

  /** Every value name is defined once (ONNX's static single assignment). */
  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`onnx: the name '${name}' is defined twice`);
    this.names.add(name);
  }
}
