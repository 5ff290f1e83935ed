// The conv variants' tagged union (src/kernels/conv/variant.ts): parseVariant, the one validator that
// reads a variant back from a tuning file, parseRunnable, the kind sets and unknownKind (no device needed).
// parseVariant refuses with null (it gives no message), and rebuilds what it accepts in the order the
// kernels write a variant, so JSON.stringify of the result is the candidate's own string.
import { describe, expect, it, vi } from 'vitest';
import {
  CONV2D_KINDS,
  type Conv2dVariant,
  INPUT_GRAD_KINDS,
  type RegisterTile,
  WEIGHT_GRAD_KINDS,
  parseRunnable,
  parseVariant,
  unknownKind,
} from '../../src/kernels/conv/variant.js';

const REGISTER = { kind: 'register', tm: 8, nv: 2, wg: 64 };
const SHARED = { kind: 'shared', tm: 32, nv: 1, wg: 8 };
const WORKGROUP = { kind: 'workgroup', wx: 16, wy: 8, tm: 8, nv: 1, bk: 32 };

describe('the kind sets', () => {
  it('name exactly the kinds each kernel runs', () => {
    expect(CONV2D_KINDS).toStrictEqual({ register: true, shared: true, workgroup: true, winograd: true });
    expect(INPUT_GRAD_KINDS).toStrictEqual({ register: true, shared: true, viaForward: true });
    expect(WEIGHT_GRAD_KINDS).toStrictEqual({ register: true, shared: true, workgroup: true, winograd: true });
  });
});

describe('parseVariant accepts', () => {
  it('a register tile, its fields rebuilt in the order tm, nv, wg', () => {
    const v = parseVariant({ wg: 64, kind: 'register', nv: 2, tm: 8 }, CONV2D_KINDS);
    expect(v).toStrictEqual({ kind: 'register', tm: 8, nv: 2, wg: 64 });
    expect(JSON.stringify(v)).toBe('{"kind":"register","tm":8,"nv":2,"wg":64}');
  });

  it('a shared tile, in the order tm, nv, wg', () => {
    const v = parseVariant({ nv: 1, wg: 8, tm: 32, kind: 'shared' }, INPUT_GRAD_KINDS);
    expect(v).toStrictEqual({ kind: 'shared', tm: 32, nv: 1, wg: 8 });
    expect(JSON.stringify(v)).toBe('{"kind":"shared","tm":32,"nv":1,"wg":8}');
  });

  it('a workgroup tile, in the order wx, wy, tm, nv, bk', () => {
    const v = parseVariant({ bk: 32, nv: 1, tm: 8, wy: 8, wx: 16, kind: 'workgroup' }, CONV2D_KINDS);
    expect(v).toStrictEqual({ kind: 'workgroup', wx: 16, wy: 8, tm: 8, nv: 1, bk: 32 });
    expect(JSON.stringify(v)).toBe('{"kind":"workgroup","wx":16,"wy":8,"tm":8,"nv":1,"bk":32}');
  });

  it('a winograd tile, in the order tm, nv, wg; of conv2d and the weight gradient (no split target), and the forward of a viaForward', () => {
    const v = parseVariant({ wg: 8, nv: 1, tm: 32, kind: 'winograd' }, CONV2D_KINDS);
    expect(JSON.stringify(v)).toBe('{"kind":"winograd","tm":32,"nv":1,"wg":8}');
    expect(parseVariant({ kind: 'winograd', tm: 16, nv: 1, wg: 8 }, WEIGHT_GRAD_KINDS, ['targetInvocations'])).toStrictEqual({ kind: 'winograd', tm: 16, nv: 1, wg: 8 });
    // A Winograd weight gradient never splits its sum: a split target on one is not a variant.
    expect(parseVariant({ kind: 'winograd', tm: 16, nv: 1, wg: 8, targetInvocations: 4096 }, WEIGHT_GRAD_KINDS, ['targetInvocations'])).toBeNull();
    expect(parseVariant({ kind: 'winograd', tm: 32, nv: 1, wg: 8 }, INPUT_GRAD_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'winograd', tm: 32, nv: 0, wg: 8 }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'viaForward', forward: { kind: 'winograd', tm: 16, nv: 2, wg: 8 } }, INPUT_GRAD_KINDS)).toStrictEqual({
      kind: 'viaForward',
      forward: { kind: 'winograd', tm: 16, nv: 2, wg: 8 },
    });
  });

  it('a viaForward whose forward is a register or workgroup conv2d variant, the forward rebuilt too', () => {
    const v = parseVariant({ forward: { wg: 64, tm: 8, nv: 2, kind: 'register' }, kind: 'viaForward' }, INPUT_GRAD_KINDS);
    expect(v).toStrictEqual({ kind: 'viaForward', forward: { kind: 'register', tm: 8, nv: 2, wg: 64 } });
    expect(JSON.stringify(v)).toBe('{"kind":"viaForward","forward":{"kind":"register","tm":8,"nv":2,"wg":64}}');
    expect(parseVariant({ kind: 'viaForward', forward: { bk: 16, wx: 16, wy: 16, tm: 4, nv: 2, kind: 'workgroup' } }, INPUT_GRAD_KINDS)).toStrictEqual({
      kind: 'viaForward',
      forward: { kind: 'workgroup', wx: 16, wy: 16, tm: 4, nv: 2, bk: 16 },
    });
  });

  it('the weight gradient split target when it is one of the optional fields, after the kind fields', () => {
    const v = parseVariant({ targetInvocations: 65536, kind: 'shared', wg: 8, nv: 1, tm: 8 }, WEIGHT_GRAD_KINDS, ['targetInvocations']);
    expect(v).toStrictEqual({ kind: 'shared', tm: 8, nv: 1, wg: 8, targetInvocations: 65536 });
    expect(JSON.stringify(v)).toBe('{"kind":"shared","tm":8,"nv":1,"wg":8,"targetInvocations":65536}');
    const w = parseVariant({ kind: 'workgroup', wx: 16, wy: 8, tm: 8, nv: 1, bk: 32, targetInvocations: 16384 }, WEIGHT_GRAD_KINDS, ['targetInvocations']);
    expect(JSON.stringify(w)).toBe('{"kind":"workgroup","wx":16,"wy":8,"tm":8,"nv":1,"bk":32,"targetInvocations":16384}');
  });

  it('an optional field left out (or undefined) without adding the key', () => {
    const v = parseVariant({ kind: 'register', tm: 2, nv: 2, wg: 64 }, WEIGHT_GRAD_KINDS, ['targetInvocations']);
    expect(v).toStrictEqual({ kind: 'register', tm: 2, nv: 2, wg: 64 });
    expect(Object.keys(v!)).toEqual(['kind', 'tm', 'nv', 'wg']);
    const u = parseVariant({ kind: 'register', tm: 2, nv: 2, wg: 64, targetInvocations: undefined }, WEIGHT_GRAD_KINDS, ['targetInvocations']);
    expect(Object.keys(u!)).toEqual(['kind', 'tm', 'nv', 'wg']);
  });

  it('a copy, not the object it was given', () => {
    const t = { kind: 'register', tm: 8, nv: 2, wg: 64 };
    const v = parseVariant(t, CONV2D_KINDS);
    expect(v).not.toBe(t);
    (v as RegisterTile).tm = 1;
    expect(t.tm).toBe(8);
  });

  it('what a tuning file holds, round-tripping the string a candidate is written as', () => {
    const written = [
      '{"kind":"register","tm":4,"nv":4,"wg":64}',
      '{"kind":"shared","tm":16,"nv":2,"wg":32}',
      '{"kind":"workgroup","wx":16,"wy":16,"tm":8,"nv":2,"bk":16}',
      '{"kind":"viaForward","forward":{"kind":"shared","tm":32,"nv":1,"wg":8}}',
    ];
    for (const s of written) expect(JSON.stringify(parseVariant(JSON.parse(s), { ...CONV2D_KINDS, ...INPUT_GRAD_KINDS }))).toBe(s);
  });
});

describe('parseVariant refuses (null)', () => {
  it('anything but a plain object', () => {
    for (const t of [null, undefined, 'register', 42, true, [REGISTER], () => REGISTER]) expect(parseVariant(t, CONV2D_KINDS)).toBeNull();
  });

  it('a missing, non-string or unknown kind', () => {
    expect(parseVariant({ tm: 8, nv: 2, wg: 64 }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ ...REGISTER, kind: 1 }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ ...REGISTER, kind: 'Register' }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ ...REGISTER, kind: 'tiled' }, CONV2D_KINDS)).toBeNull();
    // Keys of every object's prototype are not kinds.
    expect(parseVariant({ ...REGISTER, kind: 'toString' }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ ...REGISTER, kind: 'constructor' }, CONV2D_KINDS)).toBeNull();
  });

  it('a real kind the kernel does not run', () => {
    expect(parseVariant({ kind: 'viaForward', forward: REGISTER }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'viaForward', forward: REGISTER }, WEIGHT_GRAD_KINDS)).toBeNull();
    expect(parseVariant(WORKGROUP, INPUT_GRAD_KINDS)).toBeNull();
    // ...and accepts the same where it does: the refusals above are the kind set's.
    expect(parseVariant(WORKGROUP, CONV2D_KINDS)).toStrictEqual(WORKGROUP);
  });

  it('an extra field: another kind\'s, an unknown one, or an optional one not asked for', () => {
    expect(parseVariant({ ...REGISTER, bk: 16 }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ ...SHARED, wx: 8 }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ ...WORKGROUP, wg: 64 }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ ...REGISTER, note: 'fast' }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ ...REGISTER, targetInvocations: 65536 }, WEIGHT_GRAD_KINDS)).toBeNull();
    expect(parseVariant({ ...REGISTER, targetInvocations: 65536 }, CONV2D_KINDS)).toBeNull();
  });

  it('a missing field', () => {
    expect(parseVariant({ kind: 'register', tm: 8, nv: 2 }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'shared', nv: 1, wg: 8 }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'workgroup', wx: 16, wy: 8, tm: 8, nv: 1 }, CONV2D_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'register', tm: 8, nv: 2, wg: undefined }, CONV2D_KINDS)).toBeNull();
  });

  it('a field that is not a positive integer', () => {
    for (const bad of [0, -8, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '8', true, null, [8], { n: 8 }]) {
      expect(parseVariant({ ...REGISTER, tm: bad }, CONV2D_KINDS)).toBeNull();
      expect(parseVariant({ ...SHARED, wg: bad }, CONV2D_KINDS)).toBeNull();
      expect(parseVariant({ ...WORKGROUP, bk: bad }, CONV2D_KINDS)).toBeNull();
    }
    // Each workgroup field is checked, not just the first or last.
    for (const field of ['wx', 'wy', 'tm', 'nv', 'bk']) expect(parseVariant({ ...WORKGROUP, [field]: 0 }, CONV2D_KINDS)).toBeNull();
  });

  it('an optional field that is not a positive integer', () => {
    for (const bad of [0, -1, 2.5, '65536', null]) {
      expect(parseVariant({ ...REGISTER, targetInvocations: bad }, WEIGHT_GRAD_KINDS, ['targetInvocations'])).toBeNull();
    }
  });

  it('a viaForward with a bad forward, no forward, or a field besides it', () => {
    expect(parseVariant({ kind: 'viaForward' }, INPUT_GRAD_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'viaForward', forward: null }, INPUT_GRAD_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'viaForward', forward: 'register' }, INPUT_GRAD_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'viaForward', forward: { ...REGISTER, tm: 0 } }, INPUT_GRAD_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'viaForward', forward: { kind: 'register', tm: 8, nv: 2 } }, INPUT_GRAD_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'viaForward', forward: { ...REGISTER, bk: 16 } }, INPUT_GRAD_KINDS)).toBeNull();
    // The forward is a conv2d variant: not a viaForward itself.
    expect(parseVariant({ kind: 'viaForward', forward: { kind: 'viaForward', forward: REGISTER } }, INPUT_GRAD_KINDS)).toBeNull();
    expect(parseVariant({ kind: 'viaForward', forward: REGISTER, tm: 8 }, INPUT_GRAD_KINDS)).toBeNull();
    // The optional fields are the outer kernel's: neither the viaForward nor its forward takes them.
    expect(parseVariant({ kind: 'viaForward', forward: REGISTER, targetInvocations: 4096 }, INPUT_GRAD_KINDS, ['targetInvocations'])).toBeNull();
    expect(parseVariant({ kind: 'viaForward', forward: { ...REGISTER, targetInvocations: 4096 } }, INPUT_GRAD_KINDS, ['targetInvocations'])).toBeNull();
  });
});

describe('parseRunnable', () => {
  it('is the parsed variant when the kernel finds no problem, null when it finds one', () => {
    expect(parseRunnable({ wg: 64, nv: 2, tm: 8, kind: 'register' }, CONV2D_KINDS, () => null)).toStrictEqual({ kind: 'register', tm: 8, nv: 2, wg: 64 });
    expect(parseRunnable(REGISTER, CONV2D_KINDS, () => 'needs subgroups of at least 8 lanes')).toBeNull();
  });

  it('asks about the rebuilt variant, and not at all about one parseVariant refuses', () => {
    const problem = vi.fn((v: Conv2dVariant) => (v.kind === 'workgroup' ? 'too big' : null));
    expect(parseRunnable({ ...REGISTER, tm: 0 }, CONV2D_KINDS, problem)).toBeNull();
    expect(problem).not.toHaveBeenCalled();
    expect(parseRunnable(WORKGROUP, CONV2D_KINDS, problem)).toBeNull();
    expect(problem).toHaveBeenCalledTimes(1);
    expect(problem).toHaveBeenCalledWith({ kind: 'workgroup', wx: 16, wy: 8, tm: 8, nv: 1, bk: 32 });
  });

  it('passes the optional fields through to parseVariant', () => {
    const t = { ...SHARED, targetInvocations: 131072 };
    expect(parseRunnable(t, WEIGHT_GRAD_KINDS, () => null)).toBeNull();
    expect(parseRunnable(t, WEIGHT_GRAD_KINDS, () => null, ['targetInvocations'])).toStrictEqual({ kind: 'shared', tm: 32, nv: 1, wg: 8, targetInvocations: 131072 });
  });
});

describe('unknownKind', () => {
  it('throws, naming the value', () => {
    expect(() => unknownKind({ kind: 'tiled', tm: 4 } as never)).toThrow('unknown conv variant kind in {"kind":"tiled","tm":4}');
  });
});
