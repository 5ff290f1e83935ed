// A pickle reader that executes nothing. Python's pickle is a small stack machine whose programs may
// import and call anything; a state dict needs only containers, numbers, strings and a handful of
// globals. So this machine knows only the opcodes a state dict uses, and GLOBAL resolves names against
// a whitelist the caller hands in, whose entries are plain data or TypeScript functions of our own.
// Anything else stops the read with a one-line error naming the file and the opcode or global.
// The values it makes are in pickle-values.ts, its opcodes in pickle-opcodes.ts, and the reading of
// their operands in pickle-operands.ts.
import { errorMessage } from '../util/files.js';
import { HIGHEST_PROTOCOL, OP, REFUSED_OPCODES } from './pickle-opcodes.js';
import { OperandReader } from './pickle-operands.js';
import { PickleCallable, describePickled, isMap } from './pickle-values.js';
import { WeightFileError } from './safetensors.js';

export interface UnpickleOptions {
  /** Names the file in errors. */
  source: string;
  /** 'module.name' -> what GLOBAL pushes; names not here are refused. */
  globals: ReadonlyMap<string, unknown>;
  /** Turns a persistent id (BINPERSID) into a value; without it persistent ids are refused. */
  persistentLoad?: (pid: unknown) => unknown;
}

export interface Unpickled {
  value: unknown;
  /** The byte after STOP, where a following pickle starts. */
  end: number;
}

class Machine extends OperandReader {
  private readonly stack: unknown[] = [];
  /** Stack heights at each open MARK. */
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, unknown>();

  constructor(
    bytes: Uint8Array,
    start: number,
    private readonly options: UnpickleOptions,
  ) {
    super(bytes, start, options.source);
  }

  // --- the stack ---

  private push(value: unknown): void {
    this.stack.push(value);
  }

  private pop(): unknown {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) this.fail(`malformed pickle: stack underflow at byte ${this.opAt}`);
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) this.fail(`malformed pickle: empty stack at byte ${this.opAt}`);
    return this.stack[this.stack.length - 1];
  }

  /** The items pushed since the last MARK, which is removed with them. */
  private popMark(): unknown[] {
    const height = this.marks.pop();
    if (height === undefined) return this.fail(`malformed pickle: no MARK before byte ${this.opAt}`);
    return this.stack.splice(height);
  }

  private topAs<T>(guard: (v: unknown) => v is T, opname: string): T {
    const target = this.top();
    if (!guard(target)) this.fail(`malformed pickle: ${opname} on a ${describePickled(target)} at byte ${this.opAt}`);
    return target;
  }

  private memoGet(index: number): void {
    if (!this.memo.has(index)) this.fail(`malformed pickle: memo entry ${index} read before it was written`);
    this.push(this.memo.get(index));
  }

  private resolveGlobal(module: string, name: string): void {
    const qualified = `${module}.${name}`;
    if (!this.options.globals.has(qualified)) {
      this.fail(`refusing global ${qualified} at byte ${this.opAt}: a state dict does not need it`);
    }
    this.push(this.options.globals.get(qualified));
  }

  /** Runs our own code for a whitelisted global; its errors get the file and the global's name. */
  private within<T>(what: string, action: () => T): T {
    try {
      return action();
    } catch (err) {
      if (err instanceof WeightFileError) throw err;
      return this.fail(`${what} at byte ${this.opAt}: ${errorMessage(err)}`);
    }
  }

  run(): Unpickled {
    for (;;) {
      this.opAt = this.pos;
      if (this.pos >= this.bytes.byteLength) {
        this.fail(`truncated pickle: no STOP before the end of the file (byte ${this.pos})`);
      }
      const op = this.bytes[this.pos++];
      switch (op) {
        case OP.PROTO: {
          const protocol = this.u8('PROTO');
          if (protocol > HIGHEST_PROTOCOL) this.fail(`unsupported pickle protocol ${protocol}`);
          break;
        }
        case OP.FRAME: // a buffering hint; the whole file is in memory already
          this.take(8, 'FRAME');
          break;
        case OP.STOP:
          if (this.marks.length > 0) this.fail(`malformed pickle: STOP inside an open MARK at byte ${this.opAt}`);
          return { value: this.pop(), end: this.pos };

        case OP.NONE: this.push(null); break;
        case OP.NEWTRUE: this.push(true); break;
        case OP.NEWFALSE: this.push(false); break;
        case OP.BININT: this.push(this.i32('BININT')); break;
        case OP.BININT1: this.push(this.u8('BININT1')); break;
        case OP.BININT2: this.push(this.u16('BININT2')); break;
        case OP.LONG1: this.push(this.long(this.u8('LONG1'))); break;
        case OP.BINFLOAT: this.push(this.view.getFloat64(this.take(8, 'BINFLOAT'), false)); break;

        case OP.SHORT_BINUNICODE: this.push(this.text(this.u8('SHORT_BINUNICODE'), 'SHORT_BINUNICODE')); break;
        case OP.BINUNICODE: this.push(this.text(this.u32('BINUNICODE'), 'BINUNICODE')); break;
        case OP.BINUNICODE8: this.push(this.text(this.u64('BINUNICODE8'), 'BINUNICODE8')); break;
        // Python 2's str: torch.load decodes it as UTF-8, and so do we.
        case OP.SHORT_BINSTRING: this.push(this.text(this.u8('SHORT_BINSTRING'), 'SHORT_BINSTRING')); break;
        case OP.BINSTRING: this.push(this.text(this.i32('BINSTRING'), 'BINSTRING')); break;
        case OP.SHORT_BINBYTES: this.push(this.raw(this.u8('SHORT_BINBYTES'), 'SHORT_BINBYTES').slice()); break;
        case OP.BINBYTES: this.push(this.raw(this.u32('BINBYTES'), 'BINBYTES').slice()); break;

        case OP.MARK: this.marks.push(this.stack.length); break;
        case OP.EMPTY_TUPLE: this.push([]); break;
        case OP.EMPTY_LIST: this.push([]); break;
        case OP.EMPTY_DICT: this.push(new Map()); break;
        case OP.TUPLE: this.push(this.popMark()); break;
        case OP.TUPLE1: this.push([this.pop()]); break;
        case OP.TUPLE2: { const b = this.pop(); this.push([this.pop(), b]); break; }
        case OP.TUPLE3: { const c = this.pop(); const b = this.pop(); this.push([this.pop(), b, c]); break; }
        case OP.APPEND: { const item = this.pop(); this.topAs(Array.isArray, 'APPEND').push(item); break; }
        case OP.APPENDS: {
          // One push per item: push(...items) overflows the call stack past ~100,000 items.
          const items = this.popMark();
          const list = this.topAs(Array.isArray, 'APPENDS');
          for (const item of items) list.push(item);
          break;
        }
        case OP.SETITEM: {
          const value = this.pop();
          const key = this.pop();
          this.topAs(isMap, 'SETITEM').set(key, value);
          break;
        }
        case OP.SETITEMS: {
          const items = this.popMark();
          if (items.length % 2 !== 0) {
            this.fail(`malformed pickle: SETITEMS with an odd number of items at byte ${this.opAt}`);
          }
          const dict = this.topAs(isMap, 'SETITEMS');
          for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
          break;
        }

        case OP.BINPUT: this.memo.set(this.u8('BINPUT'), this.top()); break;
        case OP.LONG_BINPUT: this.memo.set(this.u32('LONG_BINPUT'), this.top()); break;
        case OP.MEMOIZE: this.memo.set(this.memo.size, this.top()); break;
        case OP.BINGET: this.memoGet(this.u8('BINGET')); break;
        case OP.LONG_BINGET: this.memoGet(this.u32('LONG_BINGET')); break;

        case OP.GLOBAL: {
          const module = this.line('GLOBAL module');
          this.resolveGlobal(module, this.line('GLOBAL name'));
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') {
            this.fail(`malformed pickle: STACK_GLOBAL on non-strings at byte ${this.opAt}`);
          }
          this.resolveGlobal(module, name);
          break;
        }
        case OP.REDUCE: {
          const args = this.pop();
          const callable = this.pop();
          if (!(callable instanceof PickleCallable)) {
            this.fail(`refusing REDUCE on a ${describePickled(callable)} at byte ${this.opAt}`);
          }
          if (!Array.isArray(args)) {
            this.fail(`malformed pickle: REDUCE with a ${describePickled(args)} for arguments at byte ${this.opAt}`);
          }
          this.push(this.within(callable.name, () => callable.call(args)));
          break;
        }
        case OP.BUILD: {
          // torch.save sets one attribute this way, OrderedDict._metadata, which no tensor needs. Any
          // other state (what Python would hand to __setstate__) is refused, not dropped in silence.
          const state = this.pop();
          const target = this.top();
          const metadataOnly = state instanceof Map && [...state.keys()].every((k) => k === METADATA_ATTRIBUTE);
          if (!isMap(target) || !metadataOnly) {
            this.fail(`refusing BUILD of a ${describePickled(target)} with ${describePickled(state)} state at byte ${this.opAt}: a state dict sets only ${METADATA_ATTRIBUTE}`);
          }
          break;
        }
        case OP.BINPERSID: {
          const pid = this.pop();
          const load = this.options.persistentLoad;
          if (!load) this.fail(`refusing BINPERSID at byte ${this.opAt}: this pickle should hold no storage`);
          this.push(this.within('persistent id', () => load(pid)));
          break;
        }

        default: {
          const name = REFUSED_OPCODES[op];
          const hex = `0x${op.toString(16).padStart(2, '0')}`;
          const which = name ? `refusing pickle opcode ${name} (${hex})` : `unknown pickle opcode ${hex}`;
          this.fail(`${which} at byte ${this.opAt}`);
        }
      }
    }
  }
}

/** The one attribute torch.save sets with BUILD, on the state dict's OrderedDict. */
const METADATA_ATTRIBUTE = '_metadata';

/** Reads the one pickle that starts at byte `start`. */
export function unpickle(bytes: Uint8Array, start: number, options: UnpickleOptions): Unpickled {
  return new Machine(bytes, start, options).run();
}
