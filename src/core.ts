// Everything that runs in a browser as well as in Node.js.
export * from './errors.js';
export * from './isa/index.js';
export * as net from './net/index.js';
export * from './elf/index.js';
export * from './runtime/memory.js';
export * from './runtime/helpers.js';
export {
  DEFAULT_BUDGET, CODE_ADDR_TAG, STACK_AREA, prepare, execute, Interpreter,
  type PreparedProgram, type RunEnv, type RunResult,
} from './runtime/interpreter.js';
export {
  JitProgram, jitCompile, jitExecute, type BatchInputs, type BatchResult, type CompileStats, type JitMode,
} from './runtime/jit/index.js';
export { runRaw, validate, type RawOptions, type RawResult, type ValidateOptions } from './runtime/raw.js';
export { parseConformance, runCase, judge, type ConformanceCase, type CaseOutcome, type CaseVerdict } from './runtime/conformance.js';
export * from './runtime/maps/index.js';
export * from './runtime/runtime.js';
export {
  defineHook, layoutContext, contextDescription, HookRunHost,
  type Hook, type HookLink, type HookLinkInfo, type HookSpec, type HookSchema, type HookBtfContext, type HookFieldSpec,
  type HookField, type HookFieldType, type HookScalarType, type HookValue, type HookProgram, type HostHelper,
  type AttachOptions, type Attachable,
} from './runtime/hooks.js';
export {
  replay, packetRunner, replayKind, classify, newSummary, account, formatSummary, formatStats, summaryJson, packetJson,
  XDP_VERDICTS, TC_VERDICTS,
  type ReplayPacket, type PacketVerdict, type PacketRunner, type ReplayKind, type ReplaySummary, type ReplayOptions,
  type RunnerOptions, type VerdictCount, type Route as ReplayRoute,
} from './runtime/replay.js';
export {
  KernelMemory, PROG_TYPES, progTypeById, progTypeByName, XDP_ACTION, TC_ACT, SK_BUFF_FIELDS, XDP_MD_FIELDS, PT_REGS_FIELDS,
  type ProgType, type HostEnv, type TaskInfo, type FibRoute, type CtxField, type RedirectRecord, type TestRunInput,
  type TestRunOutput,
} from './runtime/progtypes/index.js';
export * as verifier from './verifier/index.js';
export { verify, verifyBytes, type VerifyOptions, type VerifyResult } from './verifier/index.js';
