// The part of ONNX's protobuf schema (onnx.proto3) that an inference graph of dense float tensors needs,
// declared here with protobufjs's reflection (no .proto file to ship, no generated code). Field numbers
// and enum values are the ONNX specification's; the message interfaces below use the schema's own
// snake_case names, which the descriptor keeps, so an object of these types encodes as it reads.
import protobuf from 'protobufjs';

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;

/** AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface OnnxTensor {
  name: string;
  dims: number[];
  data_type: number;
  /** Little-endian element bytes (TensorProto.raw_data). */
  raw_data: Uint8Array;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface OnnxNode {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
}

/** A tensor dimension: a fixed size or a symbolic name (dim_param). */
export type OnnxDimension = { dim_value: number } | { dim_param: string };

export interface OnnxValueInfo {
  name: string;
  doc_string?: string;
  type: { tensor_type: { elem_type: number; shape: { dim: OnnxDimension[] } } };
}

export interface OnnxGraph {
  name: string;
  doc_string?: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

export interface OnnxModel {
  ir_version: number;
  producer_name: string;
  producer_version?: string;
  doc_string?: string;
  opset_import: { domain: string; version: number }[];
  graph: OnnxGraph;
  metadata_props: { key: string; value: string }[];
}

const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id });
const single = (type: string, id: number) => ({ type, id });

/** onnx.proto3's field numbers for the messages above (and the fields a reader may meet in ours). */
const ONNX_SCHEMA: protobuf.INamespace = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            ir_version: single('int64', 1),
            opset_import: repeated('OperatorSetIdProto', 8),
            producer_name: single('string', 2),
            producer_version: single('string', 3),
            domain: single('string', 4),
            model_version: single('int64', 5),
            doc_string: single('string', 6),
            graph: single('GraphProto', 7),
            metadata_props: repeated('StringStringEntryProto', 14),
          },
        },
        StringStringEntryProto: { fields: { key: single('string', 1), value: single('string', 2) } },
        OperatorSetIdProto: { fields: { domain: single('string', 1), version: single('int64', 2) } },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: single('string', 2),
            initializer: repeated('TensorProto', 5),
            doc_string: single('string', 10),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            value_info: repeated('ValueInfoProto', 13),
          },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: single('string', 3),
            op_type: single('string', 4),
            attribute: repeated('AttributeProto', 5),
            doc_string: single('string', 6),
            domain: single('string', 7),
          },
        },
        AttributeProto: {
          fields: {
            name: single('string', 1),
            f: single('float', 2),
            i: single('int64', 3),
            s: single('bytes', 4),
            t: single('TensorProto', 5),
            floats: repeated('float', 7),
            ints: repeated('int64', 8),
            strings: repeated('bytes', 9),
            doc_string: single('string', 13),
            type: single('int32', 20),
          },
        },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1),
            data_type: single('int32', 2),
            float_data: repeated('float', 4),
            int32_data: repeated('int32', 5),
            int64_data: repeated('int64', 7),
            name: single('string', 8),
            raw_data: single('bytes', 9),
            doc_string: single('string', 12),
          },
        },
        ValueInfoProto: {
          fields: { name: single('string', 1), type: single('TypeProto', 2), doc_string: single('string', 3) },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensor_type'] } },
          fields: { tensor_type: single('TypeProtoTensor', 1), denotation: single('string', 6) },
        },
        // TypeProto.Tensor in the specification: the name of a nested message is not on the wire.
        TypeProtoTensor: { fields: { elem_type: single('int32', 1), shape: single('TensorShapeProto', 2) } },
        TensorShapeProto: { fields: { dim: repeated('TensorShapeDimension', 1) } },
        // TensorShapeProto.Dimension.
        TensorShapeDimension: {
          oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
          fields: { dim_value: single('int64', 1), dim_param: single('string', 2), denotation: single('string', 3) },
        },
      },
    },
  },
};

let modelType: protobuf.Type | null = null;

function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

/** The model's bytes (a ModelProto), as ONNX Runtime and every other ONNX reader loads them. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const type = onnxModelType();
  const problem = type.verify(model);
  if (problem) throw new Error(`onnx: the model does not fit the schema: ${problem}`);
  return type.encode(model).finish();
}

/** Reads a ModelProto back (for tests and tools); int64 fields come back as numbers, bytes as Uint8Array. */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  const type = onnxModelType();
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Uint8Array, defaults: false, arrays: true }) as OnnxModel;
}
