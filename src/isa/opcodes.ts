// Opcode fields of an eBPF instruction (RFC 9669 section 3, Linux UAPI
// <linux/bpf_common.h> and <linux/bpf.h>). Numbers are facts of the ABI.
//
// One instruction slot is 8 bytes, little-endian:
//
//   0       8      12      16              32                              64
//   +-------+-------+-------+---------------+-------------------------------+
//   |opcode |  dst  |  src  |    offset     |           immediate           |
//   +-------+-------+-------+---------------+-------------------------------+
//            (low 4)  (high 4)  signed 16        signed 32
//
// The opcode byte has three layouts depending on its class (low 3 bits):
//
//   ALU/ALU64/JMP/JMP32:   +--------+-+-----+      LD/LDX/ST/STX:  +---+--+-----+
//                          |  op(4) |s|cls3 |                      |md3|sz|cls3 |
//                          +--------+-+-----+                      +---+--+-----+
//   s = source (0 = K, immediate; 1 = X, register)
//   md = mode (IMM, ABS, IND, MEM, MEMSX, ATOMIC), sz = size (W, H, B, DW)
//
// LD_IMM64 (opcode 0x18) takes two slots; the second slot holds the upper
// 32 bits of the immediate and must be zero everywhere else.

export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

export const BPF_K = 0x00;
export const BPF_X = 0x08;

// ALU operations (high nibble).
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

// Byte-order source bit of BPF_END.
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// Jump operations (high nibble).
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

// Load/store sizes.
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// Load/store modes.
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// Atomic operations (in imm).
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// src values of LD_IMM64 (RFC 9669 section 5.4, UAPI BPF_PSEUDO_*).
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

// src values of BPF_CALL.
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

export const CLASS_MASK = 0x07;
export const SIZE_MASK = 0x18;
export const MODE_MASK = 0xe0;
export const OP_MASK = 0xf0;
export const SRC_MASK = 0x08;

export const SLOT_SIZE = 8;
export const MAX_BPF_REG = 11;
export const BPF_REG_FP = 10;
export const STACK_SIZE = 512;
export const MAX_CALL_FRAMES = 8;

/** Bytes moved by a load/store of the given size field. */
export function sizeBytes(size: number): 1 | 2 | 4 | 8 {
  switch (size & SIZE_MASK) {
    case BPF_B: return 1;
    case BPF_H: return 2;
    case BPF_W: return 4;
    default: return 8;
  }
}
