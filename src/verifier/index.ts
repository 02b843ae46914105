// The verifier layer: structure checks, abstract interpretation, the log.
export * from './tnum.js';
export { Scalar, scalarAlu, branchTaken, refine } from './bounds.js';
export { buildCfg, liveness, type Cfg, type Subprog } from './cfg.js';
export {
  verify, verifyBytes, type VerifyOptions, type VerifyResult, type VerifyStats, type Proof, type MapInfo, type FuncInfo,
  type LineInfo, type InsnState,
} from './verifier.js';
export { progTypeContext, checkCtxAccess, PROG_TYPE, type ContextDescription, type CtxField } from './progtypes.js';
export { helperProto, helperProtos, MAP_TYPE, type HelperProto, type ArgType } from './helper-protos.js';
export { formatKernelInsn, formatReg, formatRanges } from './log.js';
export { verifyInputsFromSpec, type ElfVerifyInputs } from './from-elf.js';
